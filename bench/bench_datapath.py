"""TCP throughput between two instances on two computes, across VXLAN, with
the kernel datapath (datapath_type system) and the userspace one (netdev),
in one run. Figures are printed, never asserted. Where the openvswitch
kernel module cannot load, the system row says why and only netdev runs.
The sender writes 64 KiB blocks for SECONDS; the receiver counts what
arrived between its first and last byte.
Run as root: sudo make bench (inside the VM: make vm-test runs it)."""

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stacklab.datapath import kernel_module_error  # noqa: E402
from stacklab.scenario.loader import load_scenario  # noqa: E402
from stacklab.scenario.synth import mesh_scenario  # noqa: E402

STACKLAB = [sys.executable, "-m", "stacklab.cli"]
SECONDS = 5
PORT = 5001

RECEIVER = r"""
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", %d)); s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
total, first, last = 0, None, None
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    now = time.monotonic()
    first = first or now
    total, last = total + len(b), now
print(total, (last - first) if first else 0, flush=True)
""" % PORT

SENDER = r"""
import socket, sys, time
c = socket.create_connection((sys.argv[1], %d), timeout=10)
block = b"\0" * (1 << 16)
end = time.monotonic() + %d
while time.monotonic() < end:
    c.sendall(block)
c.close()
""" % (PORT, SECONDS)


def stacklab(*args, **kw):
    return subprocess.run(STACKLAB + list(args), check=True, **kw)


def throughput(lab, sender, receiver, receiver_ip):
    """Mbit/s from `sender` to `receiver` (instances of the running lab `lab`)."""
    rx = subprocess.Popen(STACKLAB + ["exec", "--lab", lab, receiver, "--", "python3", "-c", RECEIVER],
                          stdout=subprocess.PIPE, text=True)
    try:
        if rx.stdout.readline().strip() != "listening":
            raise RuntimeError("the receiver did not start")
        stacklab("exec", "--lab", lab, sender, "--", "python3", "-c", SENDER, receiver_ip)
        out, _ = rx.communicate(timeout=30)
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()
    total, seconds = out.split()
    return float(total) * 8 / float(seconds) / 1e6 if float(seconds) > 0 else 0.0


def main():
    if os.geteuid() != 0:
        sys.exit("run as root: sudo make bench")
    tmp = tempfile.mkdtemp(prefix="stacklab-bench-")
    path = os.path.join(tmp, "tput.yaml")
    with open(path, "w") as f:
        f.write(mesh_scenario(2, 1, name="tput"))
    ip = str(load_scenario(path).instances["vm2-0"].port.ip)
    rows = []
    for datapath in ("system", "netdev"):
        why = kernel_module_error() if datapath == "system" else None
        if why:
            rows.append("  %-7s not here: %s" % (datapath, why))
            continue
        t0 = time.monotonic()
        stacklab("up", "--datapath", datapath, path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            up = time.monotonic() - t0
            mbps = throughput("tput", "vm1-0", "vm2-0", ip)
            rows.append("  %-7s %8.0f Mbit/s  (lab up in %.1f s)" % (datapath, mbps, up))
        finally:
            stacklab("down", "tput", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("TCP throughput vm1-0 (compute1) -> vm2-0 (compute2) across VXLAN, %d s of 64 KiB writes:" % SECONDS)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
