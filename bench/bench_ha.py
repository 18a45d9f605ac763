"""Figures for DVR and L3 HA (printed, never asserted):
  - `stacklab up` / `down` of the dvr and l3-ha scenarios (median of 3; an
    HA router's first master takes keepalived's three adverts of 2 s)
  - L3 HA failover under a continuous ping (one every 10 ms) through the
    router's SNAT (vm1 -> workstation) and its floating IP (workstation ->
    vm2): the master's keepalived killed (the lab starts it again, as
    neutron's process monitor does), the master's HA link down, and back up
    (nopreempt: nothing should move); the longest outage in ms, whether a
    TCP connection open across each event survives, and the masters after
Run as root: sudo make bench."""

import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bench_runtime import STACKLAB, sh  # noqa: E402
from stacklab.observe import failover  # noqa: E402
from stacklab.observe.ha import states  # noqa: E402
from stacklab.runtime.running import RunningLab  # noqa: E402
from stacklab.runtime.state import LabState  # noqa: E402

LAB = "l3-ha"
ROUTER = "6a1f3c9e-2b7d-4e5a-8c1f-9d2e3b4a5c6e"
QROUTER = "qrouter-" + ROUTER
SECONDS = 20

SERVER = """
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000)); s.listen(4)
def echo(c):
    while True:
        d = c.recv(100)
        if not d:
            return
        c.sendall(d)
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
"""

CLIENT = """
import socket, sys, time
c = socket.create_connection((sys.argv[1], 7000), timeout=5); c.settimeout(20)
t0 = time.monotonic(); worst = 0.0
try:
    while time.monotonic() - t0 < float(sys.argv[2]):
        t = time.monotonic(); c.sendall(b"x")
        if c.recv(1) != b"x":
            raise OSError("closed")
        worst = max(worst, time.monotonic() - t); time.sleep(0.05)
    print("survived, longest wait %.0f ms" % (worst * 1000))
except OSError as e:
    print("broken after %.1f s (%s)" % (time.monotonic() - t0, e))
"""


def exec_(where, *argv, **kw):
    return subprocess.Popen(STACKLAB + ["exec", "--lab", LAB, where, "--"] + list(argv), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def event(lab, name, action):
    """One failover event under pings and TCP connections, printed."""
    workstation = str(lab.scenario.hosts["workstation"].address.ip)
    servers = [exec_("workstation", "timeout", str(SECONDS + 10), "python3", "-c", SERVER),
               exec_("vm2", "timeout", str(SECONDS + 10), "python3", "-c", SERVER)]
    time.sleep(0.5)
    clients = [exec_("vm1", "python3", "-c", CLIENT, workstation, str(SECONDS - 3)),
               exec_("workstation", "python3", "-c", CLIENT, "172.17.0.120", str(SECONDS - 3))]
    snat = failover.start_ping(LAB, "vm1", workstation, SECONDS)
    fip = failover.start_ping(LAB, "workstation", "172.17.0.120", SECONDS)
    time.sleep(2.0)
    action(lab)
    (s_ms, _, _), (f_ms, _, _) = failover.result(snat), failover.result(fip)
    tcp = [c.communicate()[0].strip().splitlines()[-1:] or ["?"] for c in clients]
    for s in servers:
        s.wait()
    masters = states(lab, lab.scenario.routers["router"])
    print("%-34s %9.0f %9.0f  %-32s %-32s %s" % (name, s_ms, f_ms, tcp[0][0], tcp[1][0],
                                                  ", ".join("%s %s" % kv for kv in masters.items())), flush=True)


def master(lab):
    return next(n for n, s in states(lab, lab.scenario.routers["router"]).items() if s == "primary")


def kill_keepalived(lab):
    node = master(lab)
    for p in LabState.load(LAB).processes:
        if p.what == "%s@%s keepalived" % (QROUTER, node):
            vrrp = lab.run(node, ["cat", "/var/lib/neutron/ha_confs/%s.pid-vrrp" % ROUTER]).stdout.split()[0]
            os.kill(p.pid, signal.SIGKILL)
            lab.run(node, ["kill", "-9", vrrp])
    time.sleep(SECONDS - 4)


def link(state):
    def action(lab):
        node = getattr(link, "node", None) or master(lab)
        link.node = node            # the same node comes back up
        port = lab.scenario.routers["router"].ha_ports[node].name
        lab.run(node, ["ip", "-n", QROUTER, "link", "set", port, state])
        time.sleep(SECONDS - 4)
    return action


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (sudo make bench)")
    for scenario in ("dvr", "l3-ha"):
        print("== %s: up / down (3 runs)" % scenario)
        ups, downs = [], []
        for _ in range(3):
            ups.append(sh("up", scenario))
            downs.append(sh("down", scenario))
        print("up    median %.2fs  min %.2fs  max %.2fs" % (statistics.median(ups), min(ups), max(ups)))
        print("down  median %.2fs  min %.2fs  max %.2fs\n" % (statistics.median(downs), min(downs), max(downs)))

    print("== L3 HA failover under 10 ms pings (SNAT: vm1 -> workstation, FIP: workstation -> vm2)")
    print("%-34s %9s %9s  %-32s %-32s %s" % ("event", "SNAT ms", "FIP ms", "TCP via SNAT", "TCP via FIP", "after"))
    sh("up", LAB)
    try:
        lab = RunningLab.open(LAB)
        event(lab, "master's keepalived killed", kill_keepalived)
        link.node = None
        event(lab, "master's HA link down", link("down"))
        event(lab, "that HA link back up (nopreempt)", link("up"))
    finally:
        sh("down", LAB)


if __name__ == "__main__":
    main()
