"""l2population and the ARP responder on br-tun: the messages of each
builder against neutron's (built here by hand with os-ken's parser, with
the tables, priorities, matches and action lists neutron's native br_tun
uses), and what the plan and the scenario make of them: floods only to
nodes with ports on the network, tunnels only toward nodes that need one."""


from os_ken.ofproto import ofproto_v1_3 as ofp, ofproto_v1_3_parser as parser

from controller.neutron.br_tun import TunnelBridge
from controller.neutron.pipeline import node_flows
from stacklab import naming
from stacklab.errors import ScenarioError
from stacklab.scenario.loader import load_scenario
from topologies.plans import node_plan

from .test_flow_builders import expected, resubmit, sent

PORTS = {"patch-int": 1, "vxlan-ac10000b": 2, "vxlan-ac10000c": 3}


def test_unicast_to_a_remote_port_goes_to_its_node():
    br = TunnelBridge("br-tun", PORTS)
    br.install_unicast_to_tun(3, 203, "vxlan-ac10000c", "fa:16:3e:11:22:33")
    assert sent(br) == {expected(20, 2, dict(vlan_vid=0x1003, eth_dst="fa:16:3e:11:22:33"),
                                 [parser.OFPActionPopVlan(), parser.OFPActionSetField(tunnel_id=203),
                                  parser.OFPActionOutput(3, 0)])}


def test_arp_responder_turns_the_request_into_the_reply():
    br = TunnelBridge("br-tun", PORTS)
    br.install_arp_responder(3, "192.168.0.7", "fa:16:3e:11:22:33")
    assert sent(br) == {expected(21, 1, dict(vlan_vid=0x1003, eth_type=0x0806, arp_tpa="192.168.0.7"), [
        parser.OFPActionSetField(arp_op=2),
        parser.NXActionRegMove(src_field="arp_sha", dst_field="arp_tha", n_bits=48),
        parser.NXActionRegMove(src_field="arp_spa", dst_field="arp_tpa", n_bits=32),
        parser.OFPActionSetField(arp_sha="fa:16:3e:11:22:33"),
        parser.OFPActionSetField(arp_spa="192.168.0.7"),
        parser.NXActionRegMove(src_field="eth_src", dst_field="eth_dst", n_bits=48),
        parser.OFPActionSetField(eth_src="fa:16:3e:11:22:33"),
        parser.OFPActionOutput(ofp.OFPP_IN_PORT, 0)])}


def test_arp_responder_default_tables():
    with_responder, without = TunnelBridge("br-tun", PORTS), TunnelBridge("br-tun", PORTS)
    with_responder.setup_default_tables("patch-int", 0x1234, arp_responder=True)
    without.setup_default_tables("patch-int", 0x1234)
    added = sent(with_responder) - sent(without)
    assert added == {expected(2, 1, dict(eth_dst="ff:ff:ff:ff:ff:ff", eth_type=0x0806), [resubmit(21)]),
                     expected(21, 0, {}, [resubmit(22)])}
    assert sent(without) <= sent(with_responder)


# -- from the scenario ------------------------------------------------------------
THREE = """\
name: l2pop
agent: {l2_population: true, arp_responder: true}
nodes:
  controller: {role: controller, nics: {eth0: {physical_network: provider, address: 172.16.0.11/24}}}
  compute1: {role: compute, nics: {eth0: {physical_network: provider, address: 172.16.0.31/24}}}
  compute2: {role: compute, nics: {eth0: {physical_network: provider, address: 172.16.0.32/24}}}
  compute3: {role: compute, nics: {eth0: {physical_network: provider, address: 172.16.0.33/24}}}
networks:
  blue: {type: vxlan, segmentation_id: 300, subnet: {cidr: 192.168.30.0/24, dhcp: false}}
  red: {type: vxlan, segmentation_id: 301, subnet: {cidr: 192.168.31.0/24, dhcp: false}}
instances:
  vm1: {node: compute1, network: blue}
  vm2: {node: compute2, network: blue}
  vm3: {node: compute3, network: red}
"""


def load(text):
    return load_scenario("l2pop.yaml", text=text)


def tun_flows(sc, node):
    plan = node_plan(sc, node)
    ports = {"patch-int": 1, **{p: 2 + i for i, p in enumerate(sorted(plan.tunnel_ports))}}
    return plan, ports, node_flows(plan, {"br-tun": ports}, 0x1234)["br-tun"]


def test_tunnels_only_between_nodes_that_share_a_network():
    sc = load(THREE)
    ip = {n: str(sc.nodes[n].tunnel_ip) for n in sc.nodes}
    assert [str(p) for p in sc.tunnel_peers("compute1")] == [ip["compute2"]]
    assert [str(p) for p in sc.tunnel_peers("compute2")] == [ip["compute1"]]
    assert sc.tunnel_peers("compute3") == []          # red has no port elsewhere
    assert sc.tunnel_peers("controller") == []        # no DHCP, no port at all
    plain = load(THREE.replace("agent: {l2_population: true, arp_responder: true}\n", ""))
    assert len(plain.tunnel_peers("compute3")) == 3   # without l2pop: a full mesh


def test_flood_unicast_and_arp_from_the_plan():
    sc = load(THREE)
    plan, ports, flows = tun_flows(sc, "compute1")
    vm2 = sc.instances["vm2"].port
    blue = next(n for n in plan.networks.values() if n.name == "blue")
    tunnel = naming.vxlan_port_name(sc.nodes["compute2"].tunnel_ip)
    assert plan.fdb == {blue.id: {tunnel: [[vm2.mac, str(vm2.ip)]]}}
    out = ports[tunnel]
    lv = 0x1000 | blue.local_vlan
    mine = {(f.table, f.priority) for f in flows}
    assert (22, 1) in mine and (20, 2) in mine and (21, 1) in mine
    br = TunnelBridge("br-tun", ports)
    br.install_flood_to_tun(blue.local_vlan, 300, [tunnel])
    br.install_unicast_to_tun(blue.local_vlan, 300, tunnel, vm2.mac)
    br.install_arp_responder(blue.local_vlan, str(vm2.ip), vm2.mac)
    assert sent(br) <= sent(flows)
    assert expected(22, 1, dict(vlan_vid=lv), [parser.OFPActionPopVlan(), parser.OFPActionSetField(tunnel_id=300),
                                               parser.OFPActionOutput(out, 0)]) in sent(flows)


def test_a_node_alone_on_its_network_floods_nowhere():
    sc = load(THREE)
    plan, _, flows = tun_flows(sc, "compute3")
    assert plan.tunnel_ports == {}
    assert not [f for f in flows if f.table in (20, 21, 22) and f.priority > 0]


def test_without_l2pop_nothing_changes():
    sc = load(THREE.replace("agent: {l2_population: true, arp_responder: true}\n", ""))
    plan, ports, flows = tun_flows(sc, "compute3")
    assert plan.fdb == {} and not plan.l2_population
    flood = [f for f in flows if f.table == 22 and f.priority == 1]
    assert len(flood) == 1 and len([a for a in flood[0].instructions()[0].actions if a.cls_action_type == 0]) == 3
    assert not [f for f in flows if f.table in (20, 21) and f.priority > 0]


def test_arp_responder_needs_l2population():
    try:
        load(THREE.replace("l2_population: true, ", ""))
    except ScenarioError as e:
        assert "agent.arp_responder" in str(e) and "l2_population: true" in str(e)
    else:
        raise AssertionError("accepted arp_responder without l2_population")
