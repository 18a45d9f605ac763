"""The slow suite (`make test-scale`): a 50-compute lab where every instance
gets its lease and every agent confirms its flows, with and without
l2population; the same with 100 computes (once: `make bench` times it);
100 up/down cycles of vxlan-instance that leak nothing."""

import re
import time

import pytest

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


def test_a_hundred_up_down_cycles_leak_nothing():
    before = Snapshot()
    for cycle in range(100):
        stacklab("up", "vxlan-instance")
        stacklab("down", "vxlan-instance")
        leaks = Snapshot().leaks_since(before)
        assert not leaks, "cycle %d left: %s" % (cycle, leaks)
