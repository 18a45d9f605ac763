"""l2population with the ARP responder, built for real (scenarios/l2pop.yaml):
two computes share `blue`, the third is alone on `red`. The third gets no
tunnel and no flood flow; blue floods only where it has ports; vm1's ARP
request for vm2 is answered by compute1's br-tun and never crosses a tunnel."""

import re

import pytest

from stacklab.checks import run_checks

from .conftest import built_lab, wait_for


@pytest.fixture(scope="module")
def l2pop():
    with built_lab("l2pop", rename="it-l2pop") as (lab, built):
        yield lab, built


def dump(lab, node, bridge, table):
    out = lab.run(node, ["ovs-ofctl", "dump-flows", bridge, "table=%d" % table], check=True).stdout
    return [line.strip() for line in out.splitlines() if "table=" in line]


def packets(line):
    return int(re.search(r"n_packets=(\d+)", line).group(1))


def ofports(lab, node):
    """vxlan port name -> ofport on the node's br-tun."""
    out = lab.run(node, ["ovs-vsctl", "--columns=name,ofport", "--format=csv", "--no-headings", "list",
                         "Interface"], check=True).stdout
    rows = [line.replace('"', "").split(",") for line in out.splitlines()]
    return {name: int(port) for name, port in rows if name.startswith("vxlan-")}


def test_the_scenario_checks_pass(l2pop):
    lab, built = l2pop
    results = run_checks(lab, built.scenario)
    failed = ["%s: %s" % (r.check.title, r.detail) for r in results if not r.ok]
    assert not failed, "\n".join(failed)


def test_the_lone_node_has_no_tunnel_and_floods_nowhere(l2pop):
    lab, _ = l2pop
    assert ofports(lab, "compute3") == {}
    assert [f for f in dump(lab, "compute3", "br-tun", 22) if "priority=1" in f] == []
    assert [f for f in dump(lab, "compute3", "br-tun", 20) if "priority=2" in f] == []


def test_blue_floods_only_to_the_nodes_with_ports_on_it(l2pop):
    lab, built = l2pop
    sc = built.scenario
    ports = ofports(lab, "controller")
    to = {n: "vxlan-%08x" % int(sc.nodes[n].tunnel_ip) for n in ("compute1", "compute2", "compute3")}
    assert set(ports) == {to["compute1"], to["compute2"]}          # no tunnel to compute3 at all
    flood = [f for f in dump(lab, "controller", "br-tun", 22) if "priority=1" in f]
    assert len(flood) == 1, flood
    outputs = sorted(int(p) for p in re.findall(r"output:(\d+)", flood[0]))
    assert outputs == sorted(ports.values())
    assert "set_field:0x12c->tun_id" in flood[0] or "load:0x12c->NXM_NX_TUN_ID[]" in flood[0], flood[0]


def test_arp_for_a_remote_port_is_answered_on_the_node(l2pop):
    lab, built = l2pop
    vm2 = built.scenario.instances["vm2"].port
    answer = [f for f in dump(lab, "compute1", "br-tun", 21) if "arp_tpa=%s" % vm2.ip in f]
    assert len(answer) == 1, dump(lab, "compute1", "br-tun", 21)
    unicast = [f for f in dump(lab, "compute1", "br-tun", 20) if "dl_dst=%s" % vm2.mac in f and "priority=2" in f]
    assert len(unicast) == 1
    answered, sent = packets(answer[0]), packets(unicast[0])
    lab.run("vm1", ["ip", "neigh", "flush", "all"], check=True)
    assert lab.run("vm1", ["ping", "-c", "2", "-i", "0.2", "-W", "1", str(vm2.ip)]).returncode == 0
    # vm1 learned vm2's MAC from compute1's br-tun (table 21 counted it) and the
    # echo requests went out through vm2's unicast flow, not a flood
    assert lab.run("vm1", ["ip", "neigh", "show", str(vm2.ip)], check=True).stdout.split()[4] == vm2.mac

    def counts():       # the userspace datapath adds up flow statistics every second or so
        answer = [f for f in dump(lab, "compute1", "br-tun", 21) if "arp_tpa=%s" % vm2.ip in f]
        unicast = [f for f in dump(lab, "compute1", "br-tun", 20) if "dl_dst=%s" % vm2.mac in f and "priority=2" in f]
        return packets(answer[0]), packets(unicast[0])
    assert wait_for(lambda: counts()[0] > answered and counts()[1] >= sent + 2, 5), (answered, sent, counts())
