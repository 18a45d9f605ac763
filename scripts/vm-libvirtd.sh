#!/usr/bin/env bash
# A libvirt daemon of stacklab's own for the VM, in a private mount namespace, so that the
# machine's /etc/libvirt, /var/lib, /var/log and /run stay as they are: its configuration,
# state (the storage pool with the box's volume, which later runs reuse), logs and socket
# all live in $STACKLAB_LIBVIRT_DIR (default /var/cache/stacklab/libvirt). It defines no
# network, so it adds no bridge, iptables rule or dnsmasq to the host; the VM's NICs are qemu
# user-mode networking. Vagrant reaches it at $dir/run/libvirt-sock (the Vagrantfile knows).
#   start    start it unless it runs; prints its pid
#   stop     end it (only the pid it recorded) and wait until it is gone
set -euo pipefail
dir="${STACKLAB_LIBVIRT_DIR:-/var/cache/stacklab/libvirt}"
pidfile="$dir/libvirtd.pid"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

start() {
  if running; then echo "libvirtd: running (pid $(cat "$pidfile"))"; return; fi
  command -v libvirtd >/dev/null || {
    echo "libvirtd: installing libvirt-daemon"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients >/dev/null
  }
  mkdir -p "$dir"/{etc,lib,log,run}
  # qemu runs as root, without AppArmor/SELinux labels, its own /dev or cgroups: this daemon is
  # a throwaway for one VM on a CI machine, not a shared hypervisor
  cat > "$dir/etc/qemu.conf" <<'CONF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
CONF
  cat > "$dir/etc/libvirtd.conf" <<'CONF'
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
  # libvirt resolves its built-in qemu user before it reads qemu.conf: give it one, in the
  # namespace's own copy of /etc/passwd and /etc/group (the machine's files stay as they are)
  cp /etc/passwd "$dir/passwd"; cp /etc/group "$dir/group"
  getent passwd libvirt-qemu >/dev/null || echo "libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin" >> "$dir/passwd"
  getent group libvirt-qemu >/dev/null || echo "libvirt-qemu:x:64055:" >> "$dir/group"
  getent group kvm >/dev/null || echo "kvm:x:64056:" >> "$dir/group"
  rm -f "$dir/run/libvirt-sock"
  # binds first, then the tmpfs that would hide their sources; a session of its own, so that a
  # Ctrl-C meant for `make vm-test` does not end it before it has destroyed the VM
  setsid unshare --mount --propagation private -- sh -c '
    d=$1
    mount -t tmpfs -o mode=755 tmpfs /var/log && mkdir /var/log/libvirt && mount --bind "$d/log" /var/log/libvirt
    mount -t tmpfs -o mode=755 tmpfs /var/lib && mkdir /var/lib/libvirt && mount --bind "$d/lib" /var/lib/libvirt
    mount -t tmpfs -o mode=755 tmpfs /run && mkdir /run/libvirt && mount --bind "$d/run" /run/libvirt
    mount --bind "$d/etc" /etc/libvirt
    mount --bind "$d/passwd" /etc/passwd && mount --bind "$d/group" /etc/group
    mount -t tmpfs -o mode=755 tmpfs /var/cache && mkdir /var/cache/libvirt
    exec libvirtd --config /etc/libvirt/libvirtd.conf
  ' libvirtd "$dir" >"$dir/libvirtd.out" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 100); do
    [ -S "$dir/run/libvirt-sock" ] && { echo "libvirtd: started (pid $(cat "$pidfile"))"; return; }
    running || break
    sleep 0.1
  done
  echo "libvirtd: did not start; its output:" >&2
  cat "$dir/libvirtd.out" >&2
  exit 1
}

stop() {
  running || { rm -f "$pidfile"; return 0; }
  local pid
  pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$pidfile" "$dir/run/libvirt-sock"
  echo "libvirtd: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running && echo "running (pid $(cat "$pidfile"))" || { echo "not running"; exit 3; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
