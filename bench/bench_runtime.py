"""Figures for the runtime's targets (printed, never asserted):
  - `stacklab up vxlan-instance` (target < 5 s) and `down` (target < 2 s)
  - scale: 1 controller + 10, 25, 50, 100 computes with 2 instances each,
    with and without l2population: up, down, memory in total and per node,
    leases obtained (targets at 100 computes: up < 60 s, down < 30 s,
    < 4 GB PSS); the largest size without l2population three times, its
    median printed (the figure README gives). BENCH_SCALE="10 25" picks
    other sizes.
Run as root: sudo make bench"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stacklab.runtime.state import LabState  # noqa: E402
from stacklab.runtime.teardown import lab_processes  # noqa: E402
from stacklab.scenario.synth import mesh_scenario  # noqa: E402

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

    print("\n== scale: 1 controller + N computes, 2 instances each (targets at 100: up < 60 s, "
          "down < 30 s, < 4 GB)")
    print("%5s %7s %8s %8s %9s %12s %8s" % ("nodes", "l2pop", "up s", "down s", "PSS MB", "MB per node", "leases"))
    memory, largest = None, []
    for computes in SCALE:
        for l2pop in (False, True):
            row = scale_run(computes, l2pop)
            print("%5d %7s %8.1f %8.2f %9.0f %12.1f %8s" % row[:7], flush=True)
            if computes == max(SCALE) and not l2pop:
                memory, largest = row[7], [row]
    for _ in range(2):          # the largest twice more: its median is the figure
        row = scale_run(max(SCALE), False)
        print("%5d %7s %8.1f %8.2f %9.0f %12.1f %8s" % row[:7], flush=True)
        largest.append(row)
    ups = [row[2] for row in largest]
    print("%d nodes, no l2pop, up: median %.1f s of %s (every lease: %s)"
          % (max(SCALE) + 1, statistics.median(ups), ", ".join("%.1f" % u for u in ups),
             "yes" if all(row[6] == "%d/%d" % (2 * max(SCALE), 2 * max(SCALE)) for row in largest) else "NO"))
    memory = memory or {}
    print("   memory by process (%d nodes, no l2pop):" % (max(SCALE) + 1))
    for comm, (count, kb) in sorted(memory.items(), key=lambda kv: -kv[1][1])[:6]:
        print("     %-16s x%-4d %8.1f MB" % (comm, count, kb / 1024.0))


SCALE = tuple(int(n) for n in os.environ.get("BENCH_SCALE", "10 25 50 100").split())


def scale_run(computes, l2pop):
    """Up, memory, leases, down of the synth mesh: a table row."""
    text = mesh_scenario(computes, 2, name="bench-scale")
    if l2pop:
        text = text.replace("nodes:", "agent: {l2_population: true, arp_responder: true}\nnodes:", 1)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        try:
            up = sh("up", f.name)
        except subprocess.CalledProcessError:       # printed as such, not hidden
            return (computes + 1, "yes" if l2pop else "no", float("nan"), float("nan"), float("nan"),
                    float("nan"), "up failed", {})
        mem = lab_memory("bench-scale")
        total_mb = sum(kb for _, kb in mem.values()) / 1024.0
        leases = subprocess.run(STACKLAB + ["exec", "--lab", "bench-scale", "controller", "--", "sh", "-c",
                                            "cat /var/lib/neutron/dhcp/*/leases"],
                                capture_output=True, text=True).stdout
        down = sh("down", "bench-scale")
    finally:
        os.unlink(f.name)
        subprocess.run(STACKLAB + ["down", "bench-scale"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nodes = computes + 1
    got = "%d/%d" % (len(leases.split()) // 5, computes * 2)
    return (nodes, "yes" if l2pop else "no", up, down, total_mb, total_mb / nodes, got, mem)


if __name__ == "__main__":
    main()
