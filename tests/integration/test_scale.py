"""The slow suite (`make test-scale`): a 50-compute lab where every instance
gets its lease and every agent confirms its flows, with and without
l2population; the same with 100 computes (once: `make bench` times it);
100 up/down cycles of vxlan-instance that leak nothing; 50 computes on ML2/OVN,
every port up, every instance holding its address from OVN's DHCP, pings
across Geneve between the first and the last compute."""

import re
import time

import pytest

from stacklab.observe import probes
from stacklab.runtime.running import RunningLab
from stacklab.scenario.synth import mesh_scenario

from .conftest import Snapshot, stacklab, wait_clean

pytestmark = pytest.mark.scale


@pytest.mark.parametrize("computes,l2pop", [(50, False), (50, True), (100, False)],
                         ids=["50-flood", "50-l2pop", "100-flood"])
def test_many_computes_every_lease(tmp_path, computes, l2pop):
    text = mesh_scenario(computes, 2, name="it-scale")
    if l2pop:
        text = text.replace("nodes:", "agent: {l2_population: true, arp_responder: true}\nnodes:", 1)
    path = tmp_path / "scale.yaml"
    path.write_text(text)
    before = Snapshot()
    t0 = time.monotonic()
    proc = stacklab("up", str(path), timeout=600)
    out = proc.stdout + proc.stderr             # the build's progress is on stderr
    try:
        up = time.monotonic() - t0
        # `up` returns only once every agent confirmed every port and every instance has its lease
        assert re.search(r"addresses\s+%d by DHCP" % (2 * computes), out), out
        leases = stacklab("exec", "--lab", "it-scale", "controller", "--", "sh", "-c",
                          "cat /var/lib/neutron/dhcp/*/leases").stdout
        assert len(leases.split()) // 5 == 2 * computes, leases          # dnsmasq's own record
        print("%d computes (%s): up in %.1f s" % (computes, "l2pop" if l2pop else "flood", up))
    finally:
        stacklab("down", "it-scale", timeout=120)
    assert not wait_clean(before)


def test_fifty_computes_on_ovn(tmp_path):
    path = tmp_path / "ovn-scale.yaml"
    path.write_text(mesh_scenario(50, 2, name="it-ovn-scale", sdn="ovn"))
    before = Snapshot()
    t0 = time.monotonic()
    proc = stacklab("up", str(path), timeout=600)
    out = proc.stdout + proc.stderr
    try:
        up = time.monotonic() - t0
        assert re.search(r"flows\s+51 chassis, 100 of 100 instance ports up", out), out
        lab = RunningLab.open("it-ovn-scale")
        without = [name for name in lab.scenario.instances
                   if " inet 192.168." not in lab.run(name, ["ip", "-4", "-o", "addr", "show", "eth0"]).stdout]
        assert not without, "no address from OVN's DHCP: %s" % without
        far = str(lab.scenario.instances["vm50-1"].port.ip)
        assert lab.probe("vm1-0", probes.ping, far, 3, 1.0)["replies"] == 3
        chassis = lab.run("controller", ["ovn-sbctl", "--bare", "--columns=name", "list", "Chassis"]).stdout.split()
        assert len(chassis) == 51
        print("50 computes on OVN: up in %.1f s" % up)
    finally:
        stacklab("down", "it-ovn-scale", timeout=120)
    assert not wait_clean(before)


def test_a_hundred_up_down_cycles_leak_nothing():
    before = Snapshot()
    for cycle in range(100):
        stacklab("up", "vxlan-instance")
        stacklab("down", "vxlan-instance")
        leaks = Snapshot().leaks_since(before)
        assert not leaks, "cycle %d left: %s" % (cycle, leaks)
