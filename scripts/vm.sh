#!/usr/bin/env bash
# stacklab in its Vagrant VM (Debian 12, vagrant-libvirt), from the host, as root:
#   scripts/vm.sh up         box (built or reused), stacklab's libvirtd, vagrant up
#   scripts/vm.sh smoke      up, the README's scenario inside with the kernel datapath, destroy
#   scripts/vm.sh test       up, the README's two commands inside (plus the kernel datapath runs
#                            and the throughput figure), results to reports/vm/, destroy
#   scripts/vm.sh destroy    vagrant destroy, stop stacklab's libvirtd
#   scripts/vm.sh possible   whether a VM can run here (if not, prints why and exits 1)
# smoke and test destroy the VM whatever happens (failure, Ctrl-C) and exit with the result.
# Each step prints how long it took; the figures land in reports/vm/figures.txt.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/reports/vm"
box_dir="${STACKLAB_BOX_DIR:-/var/cache/stacklab/box}"
wheels="${STACKLAB_WHEELS-/var/cache/stacklab/wheels}"      # empty: the VM's pip uses its own index
cd "$here"

say() { echo "vm: $*"; }
figure() { echo "vm: $*"; echo "$*" >> "$out/figures.txt"; }

timed() {   # timed LABEL CMD...: run CMD, print and remember how long it took
  local label=$1 t0 rc
  shift
  t0=$(date +%s)
  "$@"
  rc=$?
  figure "$label: $(($(date +%s) - t0)) s$([ $rc -ne 0 ] && echo " (failed, exit $rc)")"
  return $rc
}

need_tools() {
  local missing=()
  command -v vagrant >/dev/null || missing+=(vagrant)
  [ -d /usr/share/rubygems-integration/all/gems ] && ls /usr/share/rubygems-integration/all/gems | grep -q '^vagrant-libvirt-' \
    || missing+=(vagrant-libvirt)
  command -v libvirtd >/dev/null || missing+=(libvirt-daemon libvirt-daemon-driver-qemu)
  command -v virsh >/dev/null || missing+=(libvirt-clients)
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v qemu-img >/dev/null || missing+=(qemu-utils)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v rsync >/dev/null || missing+=(rsync)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} (no libvirt-daemon-system: it would start a default network on the host)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
}

wheels_for_the_vm() {
  # The VM installs stacklab's Python packages from these: its pip may have no index it can
  # reach (no internet, or a proxy whose certificate only the host trusts). Only a host with
  # the VM's Python (3.11, Debian 12) can download the right wheels; elsewhere the VM uses PyPI.
  [ -n "$wheels" ] || return 0
  if [ "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != 3.11 ]; then
    say "this host's Python is not the VM's 3.11: the VM installs its Python packages from PyPI"
    return 0
  fi
  # Wheels only, built here where it is quick: a source package (ovs) would be
  # built again in every new VM, under emulation.
  local stamp
  stamp="$(sha256sum pyproject.toml | cut -c1-16) wheels"
  [ -f "$wheels/.stamp" ] && [ "$(cat "$wheels/.stamp")" = "$stamp" ] && return 0
  [ -x .venv/bin/python ] || bash scripts/setup.sh
  mkdir -p "$wheels" && rm -f "$wheels"/*.whl "$wheels"/*.tar.gz "$wheels"/*.zip
  .venv/bin/python -m pip wheel -q --disable-pip-version-check -w "$wheels" ".[test]" setuptools wheel \
    2>&1 | grep -v '^WARNING: Location' || true
  rm -f "$wheels"/stacklab-*
  if ls "$wheels" | grep -qv '\.whl$'; then
    say "not all of the VM's Python packages are wheels: $(ls "$wheels" | grep -v '\.whl$' | tr '\n' ' ')"
  fi
  echo "$stamp" > "$wheels/.stamp"
}

libvirt_uri() { echo "qemu:///system?socket=${STACKLAB_LIBVIRT_DIR:-/var/cache/stacklab/libvirt}/run/libvirt-sock"; }

in_vm() { vagrant ssh -c "$*" -- -o LogLevel=ERROR </dev/null; }

up() {
  mkdir -p "$out"
  : > "$out/figures.txt"
  need_tools || return 1
  local added_before=""
  if [ "${STACKLAB_VM_BOX:-stacklab/bookworm}" = stacklab/bookworm ]; then
    local t0
    t0=$(date +%s)
    added_before=$(cat "$box_dir/added" 2>/dev/null)
    bash scripts/build-box.sh || return 1
    figure "box (build or reuse, vagrant box add): $(($(date +%s) - t0)) s"
  fi
  # after the box: its kernel is what the probe boots (a fresh host may have none of its own)
  local accel
  accel=$(STACKLAB_BOX_DIR="$box_dir" bash scripts/vm-accel.sh)
  export STACKLAB_VM_ACCEL=$accel
  mkdir -p .vagrant && echo "$accel" > .vagrant/stacklab-accel
  say "acceleration: $accel$([ "$accel" = tcg ] && echo " (no KVM guest boots here: qemu's software emulation)")"
  wheels_for_the_vm
  bash scripts/vm-libvirtd.sh start >/dev/null || return 1
  if [ -n "$added_before" ] && [ "$added_before" != "$(cat "$box_dir/added")" ]; then
    # a new build: the storage pool's copies of older ones would only take space
    for vol in $(virsh -c "$(libvirt_uri)" vol-list default 2>/dev/null | awk '/stacklab-VAGRANTSLASH-bookworm_vagrant_box_image/ {print $1}'); do
      virsh -c "$(libvirt_uri)" vol-delete --pool default "$vol" >/dev/null && say "removed $vol (an older box)"
    done
  fi
  timed "vagrant up (volume, domain, boot, SSH, rsync)" \
    bash -c 'vagrant up --provider libvirt 2>&1 | grep -v "Progress:" > "$0/vagrant-up.log"; exit ${PIPESTATUS[0]}' "$out" \
    || { tail -20 "$out/vagrant-up.log"; return 1; }
  # the guest's clock from boot to sshd's first accepted login (vagrant's own waiting excluded)
  figure "VM boot to SSH: $(in_vm "sudo journalctl -b -o short-monotonic -t sshd -g 'Accepted publickey' -q | head -1 | sed 's/^\\[ *\\([0-9]*\\).*/\\1/'") s"
  figure "VM: $(in_vm 'nproc') vCPUs, $(in_vm "free -m | awk '/^Mem:/ {print \$2}'") MB, kernel $(in_vm 'uname -r')"
}

qemu_rss() {   # the VM's qemu, as the host sees it
  local f pid=""
  for f in "${STACKLAB_LIBVIRT_DIR:-/var/cache/stacklab/libvirt}"/run/qemu/*.pid; do
    [ "${f##*/}" = driver.pid ] || pid=$(cat "$f" 2>/dev/null)    # driver.pid is libvirtd's own
  done
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || { echo "?"; return; }
  awk '/^VmRSS:/ {rss = $2} /^VmHWM:/ {hwm = $2} END {printf "%d MB (peak %d MB)", rss / 1024, hwm / 1024}' "/proc/$pid/status"
}

destroy() {
  if [ -f .vagrant/machines/default/libvirt/id ]; then
    bash scripts/vm-libvirtd.sh start >/dev/null     # running already, or back to the domain it left
    vagrant destroy -f >/dev/null 2>&1 || vagrant destroy -f
  fi
  bash scripts/vm-libvirtd.sh stop >/dev/null
  say "destroyed"
}

run_destroying() {   # run_destroying FUNCTION: the VM goes away however FUNCTION ends
  # fd 3: the caller's output (the trap may run inside a step whose output goes to a log)
  exec 3>&1
  trap '{ echo; figure "result: interrupted"; destroy; } >&3 2>&3; exit 130' INT TERM
  local rc=0
  "$1" || rc=$?
  destroy
  trap - INT TERM
  figure "result: $([ $rc -eq 0 ] && echo pass || echo "FAIL (exit $rc)")"
  return $rc
}

kernel_datapath_look() {   # the documents' commands on a kernel-datapath lab, kept in reports/vm/
  in_vm "cd /vagrant && sudo .venv/bin/stacklab up --datapath system $1 >/dev/null 2>&1 &&
         sudo .venv/bin/stacklab exec compute1 -- ovs-vsctl show; sudo .venv/bin/stacklab exec compute1 -- ovs-dpctl show;
         sudo .venv/bin/stacklab exec controller -- sh -c 'for ns in \$(ip netns | cut -d\" \" -f1); do echo \$ns:; ip -n \$ns -d link show | grep -A2 \"^[0-9]*: \\(tap\\|qr-\\|qg-\\)\"; done';
         sudo .venv/bin/stacklab down $1 >/dev/null" > "$out/$1-system.txt"
  grep -q "datapath_type: system" "$out/$1-system.txt" && grep -q "system@ovs-system" "$out/$1-system.txt" || {
    say "$1 with the kernel datapath: no datapath_type: system / system@ovs-system in ovs-vsctl/ovs-dpctl show"
    cat "$out/$1-system.txt"; return 1; }
  # the DHCP port in qdhcp- (and qr-/qg- in qrouter-) as neutron's interface driver plugs them
  grep -q "^    openvswitch " "$out/$1-system.txt" && ! grep -A2 "^[0-9]*: \(tap\|qr-\|qg-\)" "$out/$1-system.txt" | grep -q "@if" || {
    say "$1 with the kernel datapath: the agents' ports in their namespaces are no openvswitch internal ports"
    cat "$out/$1-system.txt"; return 1; }
  say "$1 with the kernel datapath: ovs-vsctl show says datapath_type: system, ovs-dpctl show system@ovs-system," \
      "the DHCP port in qdhcp- is an openvswitch internal port"
}

smoke_steps() {
  up || return 1
  timed "in the VM: sudo make scenario vxlan-instance DATAPATH=system (setup included)" \
    in_vm 'cd /vagrant && sudo make scenario vxlan-instance DATAPATH=system' > "$out/scenario-vxlan-system.log" 2>&1 \
    || { tail -30 "$out/scenario-vxlan-system.log"; return 1; }
  grep -E "^(PASS|FAIL)|checks" "$out/scenario-vxlan-system.log" | tail -3
  kernel_datapath_look vxlan-instance
}

test_steps() {
  up || return 1
  local rc=0
  timed "in the VM: sudo make scenario vxlan-instance (setup included)" \
    in_vm 'cd /vagrant && sudo make scenario vxlan-instance' > "$out/scenario-vxlan.log" 2>&1 || rc=1
  tail -3 "$out/scenario-vxlan.log"
  for s in vxlan-instance flat-instance; do
    timed "in the VM: sudo make scenario $s DATAPATH=system" \
      in_vm "cd /vagrant && sudo make scenario $s DATAPATH=system" > "$out/scenario-$s-system.log" 2>&1 || rc=1
    tail -2 "$out/scenario-$s-system.log"
    kernel_datapath_look "$s" || rc=1
  done
  in_vm 'cd /vagrant && sudo .venv/bin/python bench/bench_datapath.py' | tee -a "$out/figures.txt" || rc=1
  timed "in the VM: sudo make test" \
    in_vm 'cd /vagrant && sudo env PYTEST_ADDOPTS="--junitxml=reports/junit.xml --durations=25" make test' > "$out/make-test.log" 2>&1 || rc=1
  tail -5 "$out/make-test.log"
  figure "VM memory: guest $(in_vm "free -m | awk '/^Mem:/ {print \$3}'") MB used after the tests; qemu resident on the host $(qemu_rss)"
  in_vm 'cd /vagrant && tar -cf - reports' | tar -C "$out" -xf - && mv "$out/reports/junit.xml" "$out/junit.xml" 2>/dev/null
  rm -rf "$out/reports"
  [ -f "$out/junit.xml" ] && say "JUnit report: $out/junit.xml"
  return $rc
}

possible() {   # whether a VM can run here; if not, why (printed)
  if ! command -v vagrant >/dev/null && ! command -v apt-get >/dev/null; then
    echo "no vagrant and no apt-get to install it"; return 1
  fi
  local avail_mb disk_mb
  avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
  if [ "$avail_mb" -lt $((${STACKLAB_VM_MEMORY:-4096} + 1024)) ]; then
    echo "only $avail_mb MB of memory available; the VM takes ${STACKLAB_VM_MEMORY:-4096} MB"; return 1
  fi
  mkdir -p /var/cache/stacklab
  disk_mb=$(df -Pm /var/cache/stacklab | awk 'NR == 2 {print $4}')
  if [ "$disk_mb" -lt 6000 ]; then
    echo "only $disk_mb MB free under /var/cache/stacklab; the box and the VM's disk need 6 GB"; return 1
  fi
  if [ ! -e /dev/kvm ] && [ "${STACKLAB_VM_TCG:-yes}" = no ]; then
    echo "no /dev/kvm and software emulation turned off (STACKLAB_VM_TCG=no)"; return 1
  fi
  return 0
}

case "${1:-}" in
  possible) possible ;;
  up) up ;;
  destroy) destroy ;;
  smoke) run_destroying smoke_steps ;;
  test) run_destroying test_steps ;;
  *) echo "usage: $0 up|smoke|test|destroy" >&2; exit 2 ;;
esac
