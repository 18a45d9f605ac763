"""Figures for DVR and L3 HA (printed, never asserted):
  - `stacklab up` / `down` of the dvr, l3-ha and dvr-ha scenarios (median
    of 3; an HA router's first master takes keepalived's three adverts of 2 s)
  - L3 HA failover under a continuous ping (one every 10 ms) through the
    router's SNAT (l3-ha: vm1 -> workstation; dvr-ha: green-2 ->
    workstation) and its floating IP (workstation -> vm2; -> blue-1, which
    lives on compute1 and never meets keepalived): the master's keepalived
    killed (the lab starts it again, as neutron's process monitor does), the
    master's HA link down, and back up (nopreempt: nothing should move); the
    longest outage in ms, whether a TCP connection open across each event
    survives, and the masters after
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

SECONDS = 20


class Case:
    """A scenario's HA router: where keepalived runs, who pings through what."""

    def __init__(self, lab, router_id, namespace, snat_client, fip_server):
        self.lab, self.router_id, self.namespace = lab, router_id, namespace + router_id
        self.snat_client, self.fip_server = snat_client, fip_server


CASES = [Case("l3-ha", "6a1f3c9e-2b7d-4e5a-8c1f-9d2e3b4a5c6e", "qrouter-", "vm1", "vm2"),
         Case("dvr-ha", "4c2e8a1b-7d3f-4b6e-9a5c-2f1d0e3b4a5c", "snat-", "green-2", "blue-1")]

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


def exec_(case, where, *argv, **kw):
    return subprocess.Popen(STACKLAB + ["exec", "--lab", case.lab, where, "--"] + list(argv), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def event(lab, case, name, action):
    """One failover event under pings and TCP connections, printed."""
    workstation = str(lab.scenario.hosts["workstation"].address.ip)
    servers = [exec_(case, "workstation", "timeout", str(SECONDS + 10), "python3", "-c", SERVER),
               exec_(case, case.fip_server, "timeout", str(SECONDS + 10), "python3", "-c", SERVER)]
    time.sleep(0.5)
    clients = [exec_(case, case.snat_client, "python3", "-c", CLIENT, workstation, str(SECONDS - 3)),
               exec_(case, "workstation", "python3", "-c", CLIENT, "172.17.0.120", str(SECONDS - 3))]
    snat = failover.start_ping(case.lab, case.snat_client, workstation, SECONDS)
    fip = failover.start_ping(case.lab, "workstation", "172.17.0.120", SECONDS)
    time.sleep(2.0)
    action(lab, case)
    (s_ms, _, _), (f_ms, _, _) = failover.result(snat), failover.result(fip)
    tcp = [c.communicate()[0].strip().splitlines()[-1:] or ["?"] for c in clients]
    for s in servers:
        s.wait()
    masters = states(lab, lab.scenario.routers["router"])
    print("%-34s %9.0f %9.0f  %-32s %-32s %s" % (name, s_ms, f_ms, tcp[0][0], tcp[1][0],
                                                  ", ".join("%s %s" % kv for kv in masters.items())), flush=True)


def master(lab):
    return next(n for n, s in states(lab, lab.scenario.routers["router"]).items() if s == "primary")


def kill_keepalived(lab, case):
    node = master(lab)
    for p in LabState.load(case.lab).processes:
        if p.what == "%s@%s keepalived" % (case.namespace, node):
            vrrp = lab.run(node, ["cat", "/var/lib/neutron/ha_confs/%s.pid-vrrp" % case.router_id]).stdout.split()[0]
            os.kill(p.pid, signal.SIGKILL)
            lab.run(node, ["kill", "-9", vrrp])
    time.sleep(SECONDS - 4)


def link(state):
    def action(lab, case):
        node = getattr(link, "node", None) or master(lab)
        link.node = node            # the same node comes back up
        port = lab.scenario.routers["router"].ha_ports[node].name
        lab.run(node, ["ip", "-n", case.namespace, "link", "set", port, state])
        time.sleep(SECONDS - 4)
    return action


def main():
    if os.geteuid() != 0:
        sys.exit("bench: run as root (sudo make bench)")
    for scenario in ("dvr", "l3-ha", "dvr-ha"):
        print("== %s: up / down (3 runs)" % scenario)
        ups, downs = [], []
        for _ in range(3):
            ups.append(sh("up", scenario))
            downs.append(sh("down", scenario))
        print("up    median %.2fs  min %.2fs  max %.2fs" % (statistics.median(ups), min(ups), max(ups)))
        print("down  median %.2fs  min %.2fs  max %.2fs\n" % (statistics.median(downs), min(downs), max(downs)))

    for case in CASES:
        print("== %s: L3 HA failover under 10 ms pings (SNAT: %s -> workstation, FIP: workstation -> %s)"
              % (case.lab, case.snat_client, case.fip_server))
        print("%-34s %9s %9s  %-32s %-32s %s" % ("event", "SNAT ms", "FIP ms", "TCP via SNAT", "TCP via FIP",
                                                "after"))
        sh("up", case.lab)
        try:
            lab = RunningLab.open(case.lab)
            event(lab, case, "master's keepalived killed", kill_keepalived)
            link.node = None
            event(lab, case, "master's HA link down", link("down"))
            event(lab, case, "that HA link back up (nopreempt)", link("up"))
        finally:
            sh("down", case.lab)
        print()


if __name__ == "__main__":
    main()
