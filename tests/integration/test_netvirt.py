"""OpenDaylight netvirt's DVR for real (004): one central controller programs
both computes' br-int; the document's five cases pass with real packets and
walk the document's tables; a tap that goes takes only its own flows (on
every node) and brings them back when it returns; the controller and
ovs-vswitchd restart into the same flows with nothing stale; the walk and
the ping fail when a flow they need is missing."""

import os
import time

import pytest

from stacklab.checks import FAIL, PASS
from stacklab.checks import run_checks
from stacklab.checks.flows import WalkCheck
from stacklab.checks.probes import PingCheck
from stacklab.observe import flows, probes
from stacklab.observe.walk import Walker
from stacklab.scenario import endpoints
from stacklab.runtime.procs import read_pidfile
from stacklab.scenario.netvirt import controller_address

from .conftest import built_lab, kill_dead, wait_for
from .half_open import WATCHDOG, assert_watchdog_at

NODES = ("compute1", "compute2")


@pytest.fixture(scope="module")
def dvr():
    with built_lab("netvirt-dvr", rename="it-dvr", env=WATCHDOG) as (lab, built):
        yield lab, built


def check(lab, checker, **params):
    filled = checker.params.check(params, (), lambda p, m: pytest.fail("bad check params: %s %s" % (p, m)))
    return checker.run(lab, filled)


def state(lab, node):
    """What br-int holds, cookies included: flows and groups."""
    return set(flows.dump(lab, node, "br-int", flows.NETVIRT)) | set(flows.dump_groups(lab, node, "br-int"))


def ping(lab, src, dst):
    return lab.probe(src, probes.ping, endpoints.address(lab.scenario, dst), 1, 1.0)["replies"] == 1


def test_netvirt_dvr_reproduces_004(dvr):
    """Every check of the scenario, built under another lab name: 004's flows
    and groups with their cookies, the five cases' pings and walks, the
    floating IP both ways, and A reaching B's floating IP on their own node
    (out to the external gateway and back, as 004's releases do)."""
    lab, built = dvr
    results = run_checks(lab, built.scenario)
    failed = ["%s: %s" % (r.check.title, r.detail) for r in results if not r.ok]
    assert not failed, "\n".join(failed)
    assert len(results) == 22 and sum(r.check.kind == "walk" for r in results) == 8
    hairpin = [r for r in results if r.check.kind == "walk" and r.check.params["to"] == "192.168.30.40"]
    assert len(hairpin) == 1 and "group:205002" in hairpin[0].detail
    # one controller for both nodes, on the controller node, not one per node
    status = built.plane.status()
    assert sorted(status["nodes"]) == list(NODES)
    for node in NODES:
        assert 'Controller "tcp:10.0.0.10:6653"' in lab.run(node, ["ovs-vsctl", "show"]).stdout


def test_gateway_reply_comes_from_the_switch(dvr):
    """2.2: no namespace holds 192.168.100.1; the reply is table 21's."""
    lab, built = dvr
    assert not built.routers
    r = lab.probe("A", probes.ping, "192.168.100.1", 1, 1.0)
    assert r["replies"] == 1
    hops = Walker(lab).walk("A", "192.168.100.1")
    assert [s for s in hops[0].matched if s[0] == "21"][0][1].startswith("icmp,metadata=0x222fe/0xfffffffe,"
                                                                         "nw_dst=192.168.100.1,icmp_type=8")


def test_a_walk_ends_at_a_host_as_it_starts_at_one(dvr):
    lab, _ = dvr
    hops = Walker(lab).walk("A", "outside")
    assert [str(h) for h in hops] == ["compute1: 0 17 40 17 19 21 26 28 group:205002 220 -> output:1 (eth1, ext)"]


def test_walk_and_ping_fail_without_the_route(dvr):
    lab, _ = dvr
    route = "table=21,priority=42,ip,metadata=0x222fe/0xfffffffe,nw_dst=192.168.101.4"
    lab.run("compute1", ["ovs-ofctl", "-O", "OpenFlow13", "--strict", "del-flows", "br-int", route], check=True)
    try:
        walk = check(lab, WalkCheck(), **{"from": "A", "to": "D", "path": [
            "compute1: 0 17 40 17 19 21 group:150011 220 251 220 -> output:7 (D)"]})
        assert walk.verdict == FAIL and "compute1: 0 17 40 17 19 21 26 28" in walk.detail, walk.detail
        r = check(lab, PingCheck(), **{"from": "A", "to": "D", "count": 1})
        # without its /32 the packet takes the default route out to SNAT: the ping fails, its walk says where
        assert r.verdict == FAIL and "walk: compute1: 0 17 40 17 19 21 26 28 group:205002 220 -> output:1" \
            in r.detail, r.detail
    finally:
        lab.run("compute1", ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int",
                             "cookie=0x8000003," + route + ",actions=write_actions(group:150011)"], check=True)
    assert ping(lab, "A", "D")


def _marks(scenario, name):
    """How B's flows name it in a dump: lport tag 0x42 (metadata, reg6,
    tun_id), its MAC, address, ofport, next-hop group, L3 label and its
    floating IP (address and MAC)."""
    port = scenario.instances[name].port
    fips = [f for f in scenario.floating_ips if f.port_id == port.id]
    return [port.mac, "=%s," % port.ip, "=%s " % port.ip, "420000000000", "421388", "reg6=0x4200",
            "reg6=0xe0004200", "0x4200->", "0xe0004200->", "tun_id=0x42 ", "in_port=3 ", "output:3",
            "group:%d" % port.group, "group_id=%d," % port.group, "tun_id=%s " % hex(port.l3_label)] + \
        ["=%s," % f.address for f in fips] + ["=%s " % f.address for f in fips] + [f.mac for f in fips]


def test_a_tap_that_goes_takes_only_its_flows_and_brings_them_back(dvr):
    lab, built = dvr
    scenario = built.scenario
    port = scenario.instances["B"].port
    before = {n: state(lab, n) for n in NODES}
    lab.run("compute1", ["ovs-vsctl", "del-port", "br-int", port.name], check=True)
    assert wait_for(lambda: all(state(lab, n) != before[n] for n in NODES))
    time.sleep(0.3)
    marks = _marks(scenario, "B")
    for node in NODES:
        after = state(lab, node)
        gone, new = before[node] - after, after - before[node]
        assert gone, "B's flows stayed on %s" % node
        for item in gone:
            assert any(m in str(item) + " " for m in marks), "%s lost what is not B's: %s" % (node, item)
        # what changed, not vanished: only the flood groups of B's network lose B's bucket
        for item in new:
            assert str(item).startswith("group_id=235000,"), "%s gained %s" % (node, item)
    assert ping(lab, "A", "C") and not ping(lab, "A", "B")
    lab.run("compute1", ["ovs-vsctl", "add-port", "br-int", port.name, "--", "set", "Interface", port.name,
                         "ofport_request=%d" % port.ofport, "external_ids:iface-id=" + port.id], check=True)
    for node in NODES:
        assert wait_for(lambda: state(lab, node) == before[node]), \
            flows.diff(before[node], state(lab, node)).render()
    assert wait_for(lambda: ping(lab, "A", "B")) and ping(lab, "C", "B") and ping(lab, "E", "B")


def test_controller_restart_resyncs_both_nodes_with_nothing_stale(dvr):
    lab, built = dvr
    before = {n: state(lab, n) for n in NODES}
    old = built.plane.status()
    kill_dead(built.plane.process.pid(built.nodes[built.plane.node].pid))
    # what nobody should keep: a flow and a group the controller never made, added while it is away
    for node in NODES:
        lab.run(node, ["ovs-ofctl", "-O", "OpenFlow13", "add-group", "br-int",
                       "group_id=159999,type=all,bucket=actions=drop"], check=True)
        lab.run(node, ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int",
                       "cookie=0x8000003,table=21,priority=42,ip,metadata=0x222fe/0xfffffffe,nw_dst=192.168.100.99,"
                       "actions=write_actions(group:159999)"], check=True)
    assert ping(lab, "A", "E")      # the switches keep forwarding while the controller is away
    assert built.supervisor.tick() == ["controller netvirt"]       # started again, as systemd would
    assert built.state.daemons["controller netvirt"]["restarts"] == 1
    assert wait_for(lambda: (built.plane.status() or {}).get("pid") not in (None, old["pid"])
                    and len(built.plane.status()["nodes"]) == 2, 15)
    for node in NODES:
        assert wait_for(lambda: state(lab, node) == before[node]), flows.diff(before[node], state(lab, node)).render()
    assert ping(lab, "A", "E") and ping(lab, "outside", "192.168.30.39")


def test_flows_come_back_after_vswitchd_restart(dvr):
    lab, built = dvr
    node = built.nodes["compute2"]
    before = state(lab, "compute2")
    pid = read_pidfile(os.path.join(node.workdir, "run", "ovs-vswitchd.pid"), node.pid)
    kill_dead(pid)
    assert built.supervisor.tick() == ["compute2 ovs-vswitchd"]
    assert wait_for(lambda: state(lab, "compute2") == before, 15), \
        flows.diff(before, state(lab, "compute2")).render()
    assert wait_for(lambda: ping(lab, "E", "A")) and ping(lab, "C", "B")
    # the dead process's connection never said goodbye (compute2's address was its port): closed
    assert "compute2 connected again from" in open(built.plane.log_path()).read()


def test_a_stalled_handshake_is_asked_again_then_closed_and_a_slow_one_is_not(dvr):
    """Two fake switches at netvirt, from compute1 where its br-int connects:
    the one silent after its hello is asked again, then closed once silent
    past the limit, with a warning; the one that keeps talking is not."""
    lab, built = dvr
    address = str(controller_address(built.scenario))
    assert_watchdog_at(lab, "compute1", address, built.scenario.sdn_port, built.plane.log_path())


def test_scenario_checks_still_pass_after_all_that(dvr):
    lab, built = dvr
    results = run_checks(lab, built.scenario)
    assert all(r.verdict == PASS for r in results), [(r.check.title, r.detail) for r in results if not r.ok]
