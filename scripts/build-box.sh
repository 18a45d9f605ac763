#!/usr/bin/env bash
# Build the Vagrant box stacklab/bookworm (Debian 12, provider libvirt) from the
# distribution's mirror alone, for machines where Vagrant Cloud is out of reach:
# mmdebstrap makes the root file system with the cloud kernel, the vagrant user
# (Vagrant's insecure key, or a generated one without internet), sudo, ssh,
# rsync, the QEMU guest agent, systemd-networkd and stacklab's apt packages
# preinstalled; mkfs.ext4 -d turns it into a disk image without mounting
# anything on the host. The box boots by direct kernel boot (vmlinuz and
# initrd.img travel in the box; its own Vagrantfile points libvirt at them), so
# there is no boot loader to install. The result is cached outside the clone:
#   $STACKLAB_BOX_DIR (default /var/cache/stacklab/box): stacklab-bookworm.box,
#   the key pair, box.json (inputs stamp, when, how long)
# and added to Vagrant (`vagrant box add stacklab/bookworm`). A second run with
# the same inputs reuses both. Usage: sudo scripts/build-box.sh [--force]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out="${STACKLAB_BOX_DIR:-/var/cache/stacklab/box}"
mirror="${STACKLAB_MIRROR:-}"        # default: the host's own apt sources (a Debian 12 host's)
keyring=()
if [ -n "$mirror" ] && [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
  keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)   # e.g. on an Ubuntu CI runner
fi
size="${STACKLAB_BOX_SIZE:-8G}"

if [ "$(id -u)" -ne 0 ]; then
  echo "build-box: run as root (sudo make box)" >&2
  exit 1
fi

# stacklab's apt packages, from setup.sh's list, preinstalled to save the VM's time
mapfile -t apt_packages < <(sed -n '/^packages=(/,/^)/p' "$here/scripts/setup.sh" | sed -n 's/^ *\([a-z0-9.+-]*\):.*/\1/p')
include="linux-image-cloud-amd64,systemd-sysv,systemd-resolved,udev,openssh-server,sudo,make,rsync,ca-certificates,python3-pip,kmod,qemu-guest-agent"
include="$include,$(IFS=,; echo "${apt_packages[*]}")"
stamp=$(printf '%s\n' "$include" "$size" "$(sha256sum "$0" | cut -c1-16)" | sha256sum | cut -c1-16)

name=stacklab/bookworm

add_box() {     # to Vagrant, unless this very build is there already
  command -v vagrant >/dev/null || { echo "build-box: vagrant is not installed; box not added"; return 0; }
  if [ -f "$out/added" ] && [ "$(cat "$out/added")" = "$stamp" ] && vagrant box list 2>/dev/null | grep -q "^$name "; then
    return 0
  fi
  # from / : a Vagrantfile in the current directory would be read too
  (cd / && vagrant box add --force --name "$name" "$out/stacklab-bookworm.box" >/dev/null)
  echo "$stamp" > "$out/added"
  echo "build-box: added to vagrant as $name"
}

if [ "${1:-}" != "--force" ] && [ -f "$out/box.json" ] && grep -q "\"inputs\": \"$stamp\"" "$out/box.json" \
   && [ -f "$out/stacklab-bookworm.box" ]; then
  echo "build-box: cached in $out ($(sed -n 's/.*"built": "\([^"]*\)".*/\1/p' "$out/box.json"))"
  add_box
  exit 0
fi

need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if [ "${#need[@]}" -gt 0 ]; then
  echo "build-box: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

t0=$(date +%s)
work=$(mktemp -d /var/tmp/stacklab-box.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root" "$out"

# Vagrant's published insecure key pair: a box is for throwaway VMs, and vagrant replaces it on first boot
key_url=https://raw.githubusercontent.com/hashicorp/vagrant/main/keys
if [ ! -f "$out/vagrant.key" ]; then
  if ! { curl -fsS -m 20 "$key_url/vagrant" -o "$out/vagrant.key" && curl -fsS -m 20 "$key_url/vagrant.pub" -o "$out/vagrant.pub"; } 2>/dev/null; then
    # no internet: a key pair of our own; the Vagrantfile points vagrant at it
    echo "build-box: vagrant's insecure key not reachable ($key_url): generating the box's own key pair"
    rm -f "$out/vagrant.key" "$out/vagrant.pub"
    ssh-keygen -q -t ed25519 -N "" -C stacklab-box -f "$out/vagrant.key"
    mv "$out/vagrant.key.pub" "$out/vagrant.pub"
  fi
  chmod 600 "$out/vagrant.key"
fi

echo "build-box: mmdebstrap bookworm with $(echo "$include" | tr , '\n' | wc -l) packages"
# hooks run on the host with the new root as $1
mmdebstrap --quiet "${keyring[@]}" --variant=minbase --components=main --include="$include" \
  --customize-hook='echo stacklab > "$1/etc/hostname"; printf "127.0.1.1 stacklab\n" >> "$1/etc/hosts"' \
  --customize-hook='printf "/dev/vda / ext4 rw,discard,errors=remount-ro 0 1\n" > "$1/etc/fstab"' \
  --customize-hook='printf "[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n" > "$1/etc/systemd/network/80-dhcp.network"' \
  --customize-hook='printf "[Match]\nMACAddress=52:54:00:5a:b0:01\n\n[Network]\nAddress=192.0.2.15/32\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n" > "$1/etc/systemd/network/10-vagrant-probe.network"' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd systemd-resolved ssh >/dev/null 2>&1' \
  --customize-hook='for u in openvswitch-switch haproxy keepalived ovn-central ovn-host ovn-northd ovn-controller ovn-ovsdb-server-nb ovn-ovsdb-server-sb; do chroot "$1" systemctl disable $u >/dev/null 2>&1 || true; done' \
  --customize-hook='chroot "$1" useradd -m -s /bin/bash -G sudo vagrant; echo "vagrant:vagrant" | chroot "$1" chpasswd' \
  --customize-hook='echo "vagrant ALL=(ALL) NOPASSWD: ALL" > "$1/etc/sudoers.d/vagrant"; chmod 440 "$1/etc/sudoers.d/vagrant"' \
  --customize-hook="mkdir -p \"\$1/home/vagrant/.ssh\"; cp '$out/vagrant.pub' \"\$1/home/vagrant/.ssh/authorized_keys\"; chroot \"\$1\" chown -R vagrant:vagrant /home/vagrant/.ssh; chmod 700 \"\$1/home/vagrant/.ssh\"" \
  --customize-hook='echo "UseDNS no" > "$1/etc/ssh/sshd_config.d/stacklab.conf"' \
  --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_Packages' \
  bookworm "$root" ${mirror:+"$mirror"}

cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
kernel=$(basename "$root"/boot/vmlinuz-*)
echo "build-box: disk image ($size, ext4) from the root file system"
mkfs.ext4 -q -L stacklab-root -d "$root" "$work/disk.raw" "$size"
qemu-img convert -O qcow2 "$work/disk.raw" "$work/box.img"
rm -f "$work/disk.raw"
cp "$out/vmlinuz" "$out/initrd.img" "$work/"
cat > "$work/metadata.json" <<EOF
{"provider": "libvirt", "format": "qcow2", "virtual_size": ${size%G}}
EOF
# the box's own Vagrantfile: direct kernel boot from the files beside it
cat > "$work/Vagrantfile" <<'EOF'
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.kernel = File.join(__dir__, "vmlinuz")
    libvirt.initrd = File.join(__dir__, "initrd.img")
    libvirt.cmd_line = "root=/dev/vda rw console=ttyS0 net.ifnames=0"
    libvirt.disk_bus = "virtio"
  end
end
EOF
echo "build-box: packaging the Vagrant box"
tar -C "$work" -cf - metadata.json Vagrantfile box.img vmlinuz initrd.img | gzip -1 > "$out/stacklab-bookworm.box.tmp"
mv "$out/stacklab-bookworm.box.tmp" "$out/stacklab-bookworm.box"
t1=$(date +%s)
cat > "$out/box.json" <<EOF
{"inputs": "$stamp", "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "seconds": $((t1 - t0)),
 "kernel": "$kernel", "box_mb": $(($(stat -c %s "$out/stacklab-bookworm.box") / 1048576))}
EOF
echo "build-box: built in $((t1 - t0)) s: $out/stacklab-bookworm.box ($(du -h "$out/stacklab-bookworm.box" | cut -f1), $kernel)"
add_box
