#!/usr/bin/env bash
# Print the acceleration the VM should use here: kvm when a guest kernel really runs under
# KVM, tcg otherwise. /dev/kvm answering is not enough: on some hosts a KVM guest hangs right
# after the boot loader, so boot a kernel for a few seconds and look for its banner.
set -uo pipefail
box="${STACKLAB_BOX_DIR:-/var/cache/stacklab/box}"
if [ ! -w /dev/kvm ]; then
  echo tcg; exit 0
fi
kernel=""
for k in "$box/vmlinuz" /boot/vmlinuz-*; do
  [ -f "$k" ] && { kernel=$k; break; }
done
if [ -z "$kernel" ] || ! command -v qemu-system-x86_64 >/dev/null; then
  echo kvm; exit 0                # nothing to try it with: trust /dev/kvm
fi
log=$(mktemp)
timeout 10 qemu-system-x86_64 -accel kvm -m 256 -nographic -no-reboot -nodefaults -serial stdio \
  -kernel "$kernel" -append "console=ttyS0 panic=-1" >"$log" 2>&1 </dev/null
if grep -q "Linux version" "$log"; then echo kvm; else echo tcg; fi
rm -f "$log"
