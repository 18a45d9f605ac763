"""Figures for the runtime's targets (printed, never asserted):
  - `stacklab up vxlan-instance` (target < 5 s) and `down` (target < 2 s)
  - 20 nodes (1 controller + 19 computes, 2 instances each): up time and
    memory in total and per node (target < 60 s, < 1.5 GB).
Run as root: sudo make bench"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stacklab.scenario.synth import mesh_scenario  # noqa: E402
from stacklab.state import LabState  # noqa: E402
from stacklab.teardown import lab_processes  # noqa: E402

STACKLAB = [sys.executable, "-m", "stacklab.cli"]


def sh(*args):
    t0 = time.monotonic()
    subprocess.run(STACKLAB + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def pss_kb(pid):
    """Proportional set size: shared pages counted once across processes."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def lab_memory(name):
    state = LabState.load(name)
    procs = lab_processes(state)
    if state.keeper and state.keeper.alive():
        procs.append(state.keeper)
    by_kind = {}
    for p in procs:
        try:
            comm = open("/proc/%d/comm" % p.pid).read().strip()
        except OSError:
            continue
        by_kind.setdefault(comm, [0, 0])
        by_kind[comm][0] += 1
        by_kind[comm][1] += pss_kb(p.pid)
    return by_kind


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (sudo make bench)")
    print("== vxlan-instance: up / down (5 runs)")
    ups, downs = [], []
    for _ in range(5):
        ups.append(sh("up", "vxlan-instance"))
        downs.append(sh("down", "vxlan-instance"))
    print("up    median %.2fs  min %.2fs  max %.2fs   (target < 5 s)" % (statistics.median(ups), min(ups), max(ups)))
    print("down  median %.2fs  min %.2fs  max %.2fs   (target < 2 s)" % (statistics.median(downs), min(downs),
                                                                       max(downs)))

    print("\n== scale: 1 controller + N computes, 2 instances each")
    print("%5s %8s %8s %10s %12s %10s" % ("nodes", "up s", "down s", "PSS MB", "MB per node", "instances"))
    for computes in (4, 9, 19):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(mesh_scenario(computes, 2, name="bench-scale"))
        try:
            up = sh("up", f.name)
            mem = lab_memory("bench-scale")
            total_mb = sum(kb for _, kb in mem.values()) / 1024.0
            down = sh("down", "bench-scale")
        finally:
            os.unlink(f.name)
            subprocess.run(STACKLAB + ["down", "bench-scale"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nodes = computes + 1
        print("%5d %8.2f %8.2f %10.1f %12.1f %10d" % (nodes, up, down, total_mb, total_mb / nodes, computes * 2))
        if computes == 19:
            print("   memory by process (20 nodes):")
            for comm, (count, kb) in sorted(mem.items(), key=lambda kv: -kv[1][1]):
                print("     %-16s x%-3d %8.1f MB" % (comm, count, kb / 1024.0))
    print("   targets: 20 nodes up < 60 s and < 1.5 GB in total")


if __name__ == "__main__":
    main()
