"""Figures for the netvirt controller's target (printed, never asserted): the
time from a compute's br-int connecting to the central controller until the
switch confirms its whole netvirt flow set (flows and groups, a barrier
after the last), with 2 computes (netvirt-dvr, 004) and with 20 computes of
4 VMs each on one controller (target: under 1 s). Measured when every
compute's ovs-vswitchd restarts at once, VMs in place, so the controller
programs all of them together; and `stacklab up` of both.
Run as root: sudo make bench"""

import os
import signal
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from stacklab import runner  # noqa: E402
from stacklab.runtime.running import RunningLab  # noqa: E402
from stacklab.scenario.loader import find_scenario, load_scenario  # noqa: E402

VSWITCHD = "ovs-vswitchd --pidfile --detach --no-chdir --log-file -vconsole:off"


def many_computes(n, vms_per_compute):
    """A netvirt scenario: a controller, n computes, two subnets on one router, VMs spread over both."""
    lines = ["name: netvirt-bench", "sdn: {type: netvirt}", "nodes:", "  controller:", "    role: controller",
             "    nics:", "      eth0: {physical_network: mgmt, address: 10.0.0.2/16}"]
    for i in range(1, n + 1):
        lines += ["  compute%d:" % i, "    role: compute", "    nics:",
                  "      eth0: {physical_network: data, address: 192.168.10.%d/24}" % (10 + i),
                  "      eth1: {physical_network: mgmt, address: 10.0.1.%d/16}" % i,
                  "    bridge_mappings: {data: br-phy}"]
    lines += ["networks:",
              "  net1: {type: vxlan, subnet: {cidr: 10.1.0.0/16}}",
              "  net2: {type: vxlan, subnet: {cidr: 10.2.0.0/16}}",
              "routers:", "  r1: {interfaces: [net1, net2]}", "instances:"]
    for i in range(1, n + 1):
        for j in range(vms_per_compute):
            net = 1 + j % 2
            lines.append("  vm%d-%d: {node: compute%d, network: net%d, ip: 10.%d.%d.%d}" % (i, j, i, net, net, i,
                                                                                        10 + j))
    return "\n".join(lines) + "\n"


def wait_programmed(lab, nodes, newer_than, timeout=60):
    """The controller's status once every node reports a full sync after `newer_than`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = lab.plane.status() or {}
        got = st.get("nodes", {})
        if st.get("time", 0) > newer_than and all(
                n in got and got[n]["full_sync_seconds"] is not None and got[n].get("connected", 0) > newer_than
                for n in nodes):
            return st
        time.sleep(0.05)
    raise RuntimeError("netvirt did not report %s" % nodes)


def measure(scenario):
    t0 = time.monotonic()
    lab = runner.build(scenario)
    up = time.monotonic() - t0
    try:
        run = RunningLab(lab.state)
        computes = [n.name for n in scenario.nodes.values() if n.datapath_id is not None]
        at_up = wait_programmed(lab, computes, 0)
        flows = sum(at_up["nodes"][n]["flows"] for n in computes)
        groups = sum(at_up["nodes"][n]["groups"] for n in computes)
        # every compute's ovs-vswitchd at once: all flows gone, all reconnect to the one controller
        pids = []
        for name in computes:
            with open(os.path.join(lab.nodes[name].workdir, "run", "ovs-vswitchd.pid")) as f:
                pids.append(int(f.read().split()[0]))
        killed = time.time()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        for name in computes:
            run.run(name, VSWITCHD, check=True)
        st = wait_programmed(lab, computes, killed)
        back = time.time() - killed
        syncs = [st["nodes"][n]["full_sync_seconds"] for n in computes]
        print("  %-28s up %5.2f s; %5d flows, %4d groups on %d computes" % (
            "%d computes, %d VMs" % (len(computes), len(scenario.instances)), up, flows, groups, len(computes)))
        print("  %-28s connect -> whole set confirmed: median %.3f s, max %.3f s (target < 1 s); "
              "all back %.2f s after the kill" % ("", statistics.median(syncs), max(syncs), back))
    finally:
        runner.teardown(lab)


def main():
    if os.geteuid() != 0:
        sys.exit("run as root: sudo make bench")
    print("netvirt: a compute's whole flow set from connecting to confirmed, every compute reconnecting at once:")
    measure(load_scenario(find_scenario("netvirt-dvr")))
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="netvirt-bench-") as f:
        f.write(many_computes(20, 4))
        f.flush()
        measure(load_scenario(f.name))


if __name__ == "__main__":
    main()
