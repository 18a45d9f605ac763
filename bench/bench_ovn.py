"""Figures for ML2/OVN's targets (printed, never asserted):
  - `stacklab up ovn-instance` (target < 5 s, every port up and every lease
    given) and `down`, median of 5
  - a northbound change reaching every chassis: one port added with
    `ovn-nbctl --wait=hv`, at 10 and 50 chassis (median of 5)
  - 1 controller + 50 computes x 2 instances on OVN: up (target < 90 s),
    down, every lease, memory per node with ovn-controller
  - the outage a continuous ping (one every 10 ms, instance03 -> instance02
    of ovn-instance) sees while ovn-northd, the southbound ovsdb-server or
    compute1's ovn-controller is killed and the lab starts it again
Run as root: sudo make bench (BENCH_OVN_SCALE="10 50" picks the sizes)."""

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bench_runtime import STACKLAB, lab_memory, sh  # noqa: E402
from stacklab.runtime.running import RunningLab  # noqa: E402
from stacklab.runtime.state import LabState  # noqa: E402
from stacklab.scenario.synth import mesh_scenario  # noqa: E402

SCALE = tuple(int(n) for n in os.environ.get("BENCH_OVN_SCALE", "10 50").split())


def leases(lab):
    """Instances holding an IPv4 address on eth0 (from OVN's DHCP), of all."""
    got = 0
    for name in lab.scenario.instances:
        out = lab.run(name, ["ip", "-4", "-o", "addr", "show", "eth0"]).stdout
        got += " inet " in out
    return "%d/%d" % (got, len(lab.scenario.instances))


def wait_hv(lab, network_id, runs=5):
    """Seconds for one logical port added to reach every chassis (`--wait=hv`)."""
    times = []
    for i in range(runs):
        port = "bench-port-%d" % i
        t0 = time.monotonic()
        lab.run("controller", ["ovn-nbctl", "--wait=hv", "lsp-add", "neutron-" + network_id, port, "--",
                               "lsp-set-addresses", port, "fa:16:3e:ee:00:%02x 192.168.15.%d" % (i, 200 + i)],
                check=True)
        times.append(time.monotonic() - t0)
        lab.run("controller", ["ovn-nbctl", "--wait=hv", "lsp-del", port], check=True)
    return statistics.median(times)


def mesh(computes):
    name = "bench-ovn"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(mesh_scenario(computes, 2, name=name, sdn="ovn"))
    try:
        up = sh("up", f.name)
        lab = RunningLab.open(name)
        mem = lab_memory(name)
        got = leases(lab)
        hv = wait_hv(lab, lab.scenario.networks["selfservice"].id)
        down = sh("down", name)
    finally:
        os.unlink(f.name)
        subprocess.run(STACKLAB + ["down", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return up, down, got, hv, mem


def outage(what):
    """Longest run of lost replies (ms) of a 10 ms ping while `what` is killed
    at 1 s and the lab starts it again; and how long the restart took."""
    lab = RunningLab.open("ovn-instance")
    target = str(lab.scenario.instances["instance02"].port.ip)
    ping = subprocess.Popen(STACKLAB + ["exec", "--lab", "ovn-instance", "instance03", "--", "ping", "-n", "-i", "0.01",
                                        "-w", "6", "-W", "1", target], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    old = next(p for p in LabState.load("ovn-instance").processes if p.what == what)
    os.kill(old.pid, signal.SIGKILL)
    t0 = time.monotonic()
    back = None
    while time.monotonic() - t0 < 10:
        now = next((p for p in LabState.load("ovn-instance").processes if p.what == what), None)
        if now is not None and now.pid != old.pid and now.alive():
            back = time.monotonic() - t0
            break
        time.sleep(0.02)
    out = ping.communicate()[0]
    seqs = sorted(int(s) for s in re.findall(r"icmp_seq=(\d+)", out))
    gaps = [b - a - 1 for a, b in zip(seqs, seqs[1:])]
    sent = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    return (max(gaps) * 10 if gaps else float("nan")), back, "%s/%s" % sent.groups() if sent else "?"


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (sudo make bench)")
    print("== ovn-instance (ML2/OVN): up / down (5 runs)")
    ups, downs, got = [], [], None
    for _ in range(5):
        ups.append(sh("up", "ovn-instance"))
        got = leases(RunningLab.open("ovn-instance"))
        downs.append(sh("down", "ovn-instance"))
    print("up    median %.2fs  min %.2fs  max %.2fs   (target < 5 s; leases %s)"
          % (statistics.median(ups), min(ups), max(ups), got))
    print("down  median %.2fs  min %.2fs  max %.2fs" % (statistics.median(downs), min(downs), max(downs)))

    print("\n== OVN: 1 controller + N computes, 2 instances each (target at 50: up < 90 s)")
    print("%6s %8s %8s %8s %16s %9s %12s" % ("nodes", "up s", "down s", "leases", "--wait=hv ms", "PSS MB",
                                             "MB per node"))
    for computes in SCALE:
        up, down, got, hv, mem = mesh(computes)
        total = sum(kb for _, kb in mem.values()) / 1024.0
        print("%6d %8.1f %8.2f %8s %16.0f %9.0f %12.1f" % (computes + 1, up, down, got, hv * 1000, total,
                                                            total / (computes + 1)), flush=True)
        if computes == max(SCALE):
            print("   memory by process (%d nodes):" % (computes + 1))
            for comm, (count, kb) in sorted(mem.items(), key=lambda kv: -kv[1][1])[:7]:
                print("     %-16s x%-4d %8.1f MB" % (comm, count, kb / 1024.0))

    print("\n== OVN daemons killed under a 10 ms ping (instance03 -> instance02 across Geneve)")
    sh("up", "ovn-instance")
    try:
        for what in ("controller ovn-northd", "controller ovsdb-server-sb", "compute1 ovn-controller"):
            lost, back, replies = outage(what)
            print("%-28s longest outage %5.0f ms, started again after %s, replies %s"
                  % (what, lost, "%.2f s" % back if back is not None else "NOT", replies), flush=True)
    finally:
        subprocess.run(STACKLAB + ["down", "ovn-instance"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
