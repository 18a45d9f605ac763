"""The slow suite (`make test-scale`): a 50-compute lab where every instance
gets its lease and every agent confirms its flows, with and without
l2population; 100 up/down cycles of vxlan-instance that leak nothing."""

import re
import time

import pytest

from stacklab.scenario.synth import mesh_scenario

from .conftest import Snapshot, stacklab, wait_clean

pytestmark = pytest.mark.scale


@pytest.mark.parametrize("l2pop", [False, True], ids=["flood", "l2pop"])
def test_fifty_computes_every_lease(tmp_path, l2pop):
    text = mesh_scenario(50, 2, name="it-scale")
    if l2pop:
        text = text.replace("nodes:", "agent: {l2_population: true, arp_responder: true}\nnodes:", 1)
    path = tmp_path / "scale.yaml"
    path.write_text(text)
    before = Snapshot()
    t0 = time.monotonic()
    proc = stacklab("up", str(path), timeout=300)
    out = proc.stdout + proc.stderr             # the build's progress is on stderr
    try:
        up = time.monotonic() - t0
        # `up` returns only once every agent confirmed every port and every instance has its lease
        assert re.search(r"addresses\s+100 by DHCP", out), out
        leases = stacklab("exec", "controller", "--", "sh", "-c", "cat /var/lib/neutron/dhcp/*/leases").stdout
        assert len(leases.split()) // 5 == 100, leases          # dnsmasq's own record: 100 leases
        print("50 computes (%s): up in %.1f s" % ("l2pop" if l2pop else "flood", up))
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
