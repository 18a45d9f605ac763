"""netvirt's services against the OpenFlow messages 004's flows are: each
expected message is built here by hand with os-ken's parser from the numbers
the document prints, and compared byte for byte with what the service
module sends. Then the metadata layout, the id allocation, and what a port's
arrival or departure changes in a node's pipeline."""

import os

import pytest
from os_ken.lib.packet import ether_types
from os_ken.ofproto import nicira_ext, ofproto_v1_3 as ofp, ofproto_v1_3_parser as parser

from controller import openflow
from controller.netvirt import acl, dispatcher, elan, l3, metadata as md, nat
from controller.netvirt.groups import Groups
from controller.netvirt.pipeline import node_pipeline
from controller.netvirt.plan import FloatingIp, Plan
from stacklab.errors import ScenarioError
from stacklab.scenario.loader import load_scenario
from topologies.plans import netvirt_plan

from .ofwire import DP, wire

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "..", "..", "scenarios", "netvirt-dvr.yaml")

# 004's numbers
A_LPORT, B_LPORT, C_LPORT, D_LPORT, E_LPORT = 0x41, 0x42, 0x37, 0x48, 0x4a
A_MAC, B_MAC, C_MAC, D_MAC = "fa:16:3e:d2:41:24", "fa:16:3e:06:e1:36", "fa:16:3e:76:69:01", "fa:16:3e:cd:7e:e8"
GW_MAC = "fa:16:3e:33:77:83"
ELAN_TAG, VPN_ID = 0x1388, 0x1117f
VRF = (0x222fe, 0xfffffffe)          # metadata=0x222fe/0xfffffffe


def sent(flows):
    return {wire(openflow.flow_add(DP, f)) for f in flows}


def fm(cookie, table, priority, match, instructions=(), actions=None):
    """004's line as a flow mod: `actions` are apply-actions."""
    if actions is not None:
        instructions = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
    return wire(parser.OFPFlowMod(DP, cookie=cookie, table_id=table, command=ofp.OFPFC_ADD, priority=priority,
                                  match=parser.OFPMatch(**match), instructions=list(instructions)))


def wm(value, mask):
    return parser.OFPInstructionWriteMetadata(value, mask)


def goto(table):
    return parser.OFPInstructionGotoTable(table)


def write(*actions):
    return parser.OFPInstructionActions(ofp.OFPIT_WRITE_ACTIONS, list(actions))


def load(field, value, bits=32):
    return parser.NXActionRegLoad(ofs_nbits=nicira_ext.ofs_nbits(0, bits - 1), dst=field, value=value)


def move(src, dst, bits):
    return parser.NXActionRegMove(src_field=src, dst_field=dst, n_bits=bits)


def resubmit(table):
    return parser.NXActionResubmitTable(table_id=table)


def set_field(**kw):
    return parser.OFPActionSetField(**kw)


def output(port):
    return parser.OFPActionOutput(port, 0)


def group_action(group_id):
    return parser.OFPActionGroup(group_id)


def flows_of(service_class, build):
    flows = openflow.FlowSet()
    build(service_class(flows))
    return sent(flows)


# -- metadata and reg6 --------------------------------------------------------
def test_metadata_layout_decodes_004():
    # table 17's three writes for A: ELAN next (L3 wrote it), with the VPN id; then the ELAN tag
    assert md.service(6) | md.lport(A_LPORT) | md.vrf(VPN_ID) == 0xc0004100000222fe
    assert md.service(7) | md.lport(A_LPORT) | md.elan(ELAN_TAG) == 0xe000411388000000
    assert md.service(5) | md.lport(A_LPORT) == 0xa000410000000000
    assert md.lport(0x45) | 1 == 0x450000000001                 # from a tunnel: split horizon
    assert md.vrf(VPN_ID) == 0x222fe
    assert (md.reg6(B_LPORT), md.reg6(B_LPORT, dispatcher.LAST)) == (0x4200, 0xe0004200)
    assert md.MASK_LPORT_AND_ELAN == 0x1fffffffff000000 and md.MASK_ELAN == 0xffff000000


# -- one service at a time, 004's lines ------------------------------------------
def test_dispatcher_classifies_ports_and_chains_services():
    def build(d):
        d.classify_vm_port(2, A_LPORT)
        d.classify_tunnel_port(6, 0x44, elan.INTERNAL_TUNNEL)
        d.bind_services(A_LPORT, [(dispatcher.ACL, 40, 0), (dispatcher.L3, 19, md.vrf(VPN_ID)),
                                  (dispatcher.ELAN, 50, md.elan(ELAN_TAG))])
        d.bind_egress(A_LPORT, 2, 251)
    full = 0xfffffffffffffffe
    assert flows_of(dispatcher.Dispatcher, build) == {
        fm(0x8000000, 0, 4, dict(in_port=2), [wm(0x410000000000, 0xffffff0000000001), goto(17)]),
        fm(0x8000001, 0, 5, dict(in_port=6), [wm(0x440000000001, 0x1fffff0000000001), goto(36)]),
        fm(0x6900000, 17, 1, dict(metadata=(0x410000000000, 0xffffff0000000000)),
           [wm(0xa000410000000000, full), goto(40)]),
        fm(0x8000001, 17, 5, dict(metadata=(0xa000410000000000, 0xffffff0000000000)),
           [wm(0xc0004100000222fe, full), goto(19)]),
        fm(0x8040000, 17, 6, dict(metadata=(0xc000410000000000, 0xffffff0000000000)),
           [wm(0xe000411388000000, full), goto(50)]),
        fm(0x6900000, 220, 6, dict(reg6=0x4100),
           [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [load("reg6", 0xe0004100)]),
            wm(0xe000410000000000, full), goto(251)]),
        fm(0x8000007, 220, 7, dict(reg6=0xe0004100), actions=[output(2)]),
    }


def test_the_provider_nic_is_an_external_interface_with_the_split_horizon_bit():
    """What 004 does not show: the provider NIC's classifier writes its lport
    tag and bit 0 (split horizon), as genius does for an external interface."""
    flows = flows_of(dispatcher.Dispatcher, lambda d: d.classify_provider_port(1, 0x1))
    assert flows == {fm(0x8000000, 0, 4, dict(in_port=1, vlan_vid=0x0000),
                        [wm(0x10000000001, 0xffffff0000000001), goto(17)])}


def test_acl_permits_the_ports_traffic_both_ways():
    port = dict(metadata=(0x410000000000, 0x1fffff0000000000))
    ip, arp = dict(eth_type=ether_types.ETH_TYPE_IP), dict(eth_type=ether_types.ETH_TYPE_ARP)
    assert flows_of(acl.Acl, lambda a: a.permit_port(A_LPORT, 17, 220)) == {
        fm(0x6900000, 40, 61005, {**ip, **port}, actions=[resubmit(17)]),
        fm(0x6900000, 40, 61005, {**arp, **port}, actions=[resubmit(17)]),
        fm(0x6900000, 251, 61005, {**ip, **port}, actions=[resubmit(220)]),
        fm(0x6900000, 251, 61005, {**arp, **port}, actions=[resubmit(220)]),
    }


def test_elan_smac_dmac_and_tunnel_termination():
    def build(e):
        e.learn_local_mac(ELAN_TAG, A_LPORT, A_MAC)
        e.local_destination(ELAN_TAG, B_MAC, B_LPORT, 220)
        e.remote_destination(ELAN_TAG, C_MAC, C_LPORT, 6)
        e.terminate_port(C_LPORT, 220)
    elan_md = dict(metadata=(0x1388000000, 0xffff000000))
    assert flows_of(elan.Elan, build) == {
        fm(0x8051388, 50, 20, dict(metadata=(0x411388000000, 0x1fffffffff000000), eth_src=A_MAC), [goto(51)]),
        fm(0x8031388, 51, 20, dict(**elan_md, eth_dst=B_MAC), actions=[load("reg6", 0x4200), resubmit(220)]),
        fm(0x8031388, 51, 20, dict(**elan_md, eth_dst=C_MAC), actions=[set_field(tunnel_id=0x37), output(6)]),
        fm(0x9000037, 36, 5, dict(tunnel_id=0x37), actions=[load("reg6", 0x3700), resubmit(220)]),
    }


def test_l3_gateway_fib_icmp_responder_and_labels():
    ip = dict(eth_type=ether_types.ETH_TYPE_IP, metadata=VRF)

    def build(r):
        r.setup_default_tables(17)
        r.gateway_mac(VPN_ID, GW_MAC)
        r.local_route(VPN_ID, "192.168.101.4", 150011)
        r.remote_route(VPN_ID, "192.168.101.6", 0x1118f, 6)
        r.terminate_label(0x1118f, 150013)
        r.icmp_responder(VPN_ID, "192.168.100.1", GW_MAC)
    flows = flows_of(l3.L3, build)
    assert fm(0x1080000, 19, 0, {}, actions=[resubmit(17)]) in flows
    assert fm(0x8000009, 19, 20, dict(metadata=VRF, eth_dst=GW_MAC), [goto(21)]) in flows
    assert fm(0x8000003, 21, 42, dict(**ip, ipv4_dst="192.168.101.4"), [write(parser.OFPActionGroup(150011))]) \
        in flows
    assert fm(0x8000003, 21, 42, dict(**ip, ipv4_dst="192.168.101.6"),
              [write(set_field(tunnel_id=0x1118f), output(6))]) in flows
    assert fm(0x901118f, 36, 5, dict(tunnel_id=0x1118f), [write(parser.OFPActionGroup(150013))]) in flows
    # 2.2: move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:fa:16:3e:33:77:83->eth_src,
    # move:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[],set_field:192.168.100.1->ip_src,set_field:0->icmp_type,
    # load:0->NXM_OF_IN_PORT[],resubmit(,21)
    assert fm(0x8000003, 21, 10, dict(eth_type=ether_types.ETH_TYPE_IP, ip_proto=1, metadata=VRF,
                                      ipv4_dst="192.168.100.1", icmpv4_type=8, icmpv4_code=0),
              actions=[move("eth_src_nxm", "eth_dst_nxm", 48), set_field(eth_src=GW_MAC),
                       move("ipv4_src_nxm", "ipv4_dst_nxm", 32), set_field(ipv4_src="192.168.100.1"),
                       set_field(icmpv4_type=0), load("in_port_nxm", 0, 16), resubmit(21)]) in flows


def test_arp_responder_answers_from_the_switch_out_of_the_asking_port():
    flows = flows_of(l3.L3, lambda r: r.answer_arp(A_LPORT, "192.168.100.1", GW_MAC, 220))
    assert flows == {fm(l3.COOKIE_ARP_RESPONDER, 81, 100,
                        dict(eth_type=ether_types.ETH_TYPE_ARP, arp_op=1, arp_tpa="192.168.100.1",
                             metadata=(0x410000000000, 0x1fffff0000000000)),
                        actions=[move("eth_src_nxm", "eth_dst_nxm", 48), set_field(eth_src=GW_MAC),
                                 set_field(arp_op=2), move("arp_sha_nxm", "arp_tha_nxm", 48),
                                 set_field(arp_sha=GW_MAC), move("arp_spa_nxm", "arp_tpa_nxm", 32),
                                 set_field(arp_spa="192.168.100.1"), load("in_port_nxm", 0, 16),
                                 load("reg6", 0x4100), resubmit(220)])}


def test_next_hop_group_rewrites_eth_dst():
    groups = openflow.GroupSet()
    Groups(groups).next_hop(150011, D_MAC, D_LPORT, 220)
    [group] = groups
    # group_id=150011,type=all,bucket=actions=set_field:fa:16:3e:cd:7e:e8->eth_dst,load:0x4800->NXM_NX_REG6[],
    # resubmit(,220)
    assert wire(openflow.group_mod(DP, group, "add")) == wire(parser.OFPGroupMod(
        DP, ofp.OFPGC_ADD, ofp.OFPGT_ALL, 150011,
        [parser.OFPBucket(actions=[set_field(eth_dst=D_MAC), load("reg6", 0x4800), resubmit(220)])]))


def test_floating_ip_dnat_and_snat_tables():
    fip = FloatingIp("192.168.30.39", "fa:16:3e:03:58:47", "tapA", "ext")
    ext_vpn = 70000
    ext = (ext_vpn << 1, 0xfffffffe)
    flows = flows_of(nat.Nat, lambda n: (n.floating_ip(fip, "192.168.100.4", VPN_ID, ext_vpn, 0x1389),
                                         n.default_route(VPN_ID)))
    ip = dict(eth_type=ether_types.ETH_TYPE_IP)
    apply = lambda *a: parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(a))  # noqa: E731
    assert flows == {
        fm(0x8000009, 19, 20, dict(metadata=ext, eth_dst=fip.mac), [goto(21)]),
        fm(0x8000003, 21, 42, dict(**ip, metadata=ext, ipv4_dst=fip.address), [goto(25)]),
        # 004's releases: the floating IP alone (no eth_dst), whichever way it came in
        fm(0x8000004, 25, 10, dict(**ip, ipv4_dst=fip.address),
           [apply(set_field(ipv4_dst="192.168.100.4")), wm(*VRF), goto(27)]),
        fm(0x8000004, 27, 10, dict(**ip, metadata=VRF, ipv4_dst="192.168.100.4"), actions=[resubmit(21)]),
        fm(0x8000004, 26, 10, dict(**ip, metadata=VRF, ipv4_src="192.168.100.4"),
           [apply(set_field(ipv4_src=fip.address)), wm(*ext), goto(28)]),
        # ... and the external network's group: out to its gateway, even toward a floating IP of this node
        fm(0x8000004, 28, 10, dict(**ip, metadata=ext, ipv4_src=fip.address),
           actions=[set_field(eth_src=fip.mac), group_action(200000 + 0x1389)]),
        fm(0x8000006, 21, 9, dict(**ip, metadata=VRF), [goto(26)]),
    }


# -- the scenario's allocation and a node's whole pipeline ----------------------------
def _plan():
    return netvirt_plan(load_scenario(SCENARIO))


def test_scenario_pins_004s_ids_and_allocates_the_rest():
    plan = _plan()
    by_ip = {p.ip: p for p in plan.ports.values()}
    assert [(by_ip[ip].lport_tag, by_ip[ip].label, by_ip[ip].group) for ip in ("192.168.100.4", "192.168.101.6")] \
        == [(0x41, 0x11186, 150004), (0x4a, 0x1118f, 150013)]
    assert plan.networks["net100"].elan_tag == 0x1388 and plan.routers["r1"].vpn_id == 0x1117f
    # allocated: the lowest free id of each pool, never one the scenario pinned
    assert plan.networks["net101"].elan_tag == 0x1389
    assert by_ip["192.168.100.5"].group == 150000 and by_ip["192.168.100.6"].group == 150001
    assert plan.nodes["compute1"].tunnels == {"compute2": "tun4a3b08ef6e9"}
    assert "controller" not in plan.nodes              # OpenDaylight's own node has no br-int
    assert Plan.from_json(plan.to_json()) == plan


def _ofports(plan, node):
    ports = {"compute1": {"tap27884864-4a": 2, "tapff264b2f-3a": 3, "tap9882552a-cc": 7, "tun4a3b08ef6e9": 6,
                          "eth1": 1},
             "compute2": {"tap277ea1d6-7b": 2, "tapc93414f4-31": 7, "tun843fe0e497d": 5, "eth1": 1}}
    return ports[node]


def _names(flow, port, fips=()):
    """Whether a flow is about `port`: it matches or writes its lport tag
    (metadata, reg6), its MAC, address, floating IPs (`fips`: (address, MAC)),
    label; or sends to its group."""
    def lport_in(value, shift):
        return (value >> shift) & 0x1fffff == port.lport_tag
    m = dict(flow.match.items())
    if "metadata" in m and m["metadata"][1] & md.MASK_LPORT and lport_in(m["metadata"][0], md.LPORT_SHIFT):
        return True
    if "reg6" in m and lport_in(m["reg6"] if isinstance(m["reg6"], int) else m["reg6"][0], md.REG6_LPORT_SHIFT):
        return True
    if port.mac in (m.get("eth_src"), m.get("eth_dst")) or port.ip in (m.get("ipv4_dst"), m.get("arp_tpa")):
        return True
    if fips and port.ip == m.get("ipv4_src"):       # its floating IP's SNAT (table 26)
        return True
    for address, mac in fips:
        if address in (m.get("ipv4_dst"), m.get("ipv4_src"), m.get("arp_tpa")) or mac == m.get("eth_dst"):
            return True
    if m.get("tunnel_id") in (port.lport_tag, port.label):
        return True
    for inst in flow.instructions():
        if isinstance(inst, parser.OFPInstructionWriteMetadata) and lport_in(inst.metadata, md.LPORT_SHIFT):
            return True
        for action in getattr(inst, "actions", []):
            if isinstance(action, parser.OFPActionGroup) and action.group_id == port.group:
                return True
            if isinstance(action, parser.NXActionRegLoad) and action.dst == "reg6" \
                    and lport_in(action.value, md.REG6_LPORT_SHIFT):
                return True
    return False


def test_a_port_leaving_takes_only_its_own_flows_on_every_node():
    plan = _plan()
    b = next(p for p in plan.ports.values() if p.ip == "192.168.100.5")
    everywhere = {n: set(_ofports(plan, n)) for n in ("compute1", "compute2")}
    for node in ("compute1", "compute2"):
        ports = _ofports(plan, node)
        flows, groups = node_pipeline(plan, node, ports, everywhere)
        less = {k: v for k, v in ports.items() if k != b.name}
        after, groups_after = node_pipeline(plan, node, less, {n: p - {b.name} for n, p in everywhere.items()})
        send, delete = after.difference(flows)
        assert not send, "a flow appeared on %s when B left: %s" % (node, send)
        assert delete, "B's flows stayed on %s" % node
        assert sum(_names(f, b) for f in flows) < len(flows) / 2       # (_names tells ports apart)
        fips = [(f.address, f.mac) for f in plan.floating_ips if f.port == b.name]
        for flow in delete:
            assert _names(flow, b, fips), "%s lost a flow that is not B's: %r" % (node, flow)
        added, modified, removed = groups_after.difference(groups)
        assert not added
        assert removed == ([b.group] if node == "compute1" else [])
        # the flood group of B's network loses B's bucket, nothing else changes
        assert all(len(g.buckets) < len(groups.get(g.group_id).buckets) for g in modified)


def test_remote_flows_wait_for_the_port_on_its_own_node():
    plan = _plan()
    c = next(p for p in plan.ports.values() if p.ip == "192.168.100.6")
    bound = {"compute1": set(_ofports(plan, "compute1")), "compute2": set(_ofports(plan, "compute2")) - {c.name}}
    with_c, _ = node_pipeline(plan, "compute1", _ofports(plan, "compute1"))
    without_c, _ = node_pipeline(plan, "compute1", _ofports(plan, "compute1"), bound)
    send, delete = without_c.difference(with_c)
    # its DMAC (set tun_id 0x37), its /32 route (its label), and, C being the network's last port
    # on compute2, the flooding from compute2 (table 36, tun_id = the ELAN tag)
    assert not send
    assert sorted((f.table, dict(f.match.items()).get("tunnel_id")) for f in delete) == [(21, None), (36, 0x1388),
                                                                                      (51, None)]
    assert all(_names(f, c) for f in delete if f.table != 36)


# -- validation, golden messages ---------------------------------------------------
NETVIRT = """\
name: t
sdn: {type: netvirt}
nodes:
  controller:
    role: controller
    nics:
      eth0: {physical_network: mgmt, address: 10.0.0.10/24}
  compute1:
    role: compute
    nics:
      eth0: {physical_network: data, address: 192.168.10.22/24}
      eth1: {physical_network: ext}
      eth2: {physical_network: mgmt, address: 10.0.0.22/24}
    bridge_mappings: {data: br-phy}
    provider_mappings: {ext: eth1}
networks:
  net100:
    type: vxlan
    subnet: {cidr: 192.168.100.0/24}
  ext:
    type: flat
    physical_network: ext
    external: true
    subnet: {cidr: 192.168.30.0/24}
instances:
  A: {node: compute1, network: net100, ip: 192.168.100.4, netvirt: {lport_tag: 0x41}}
  B: {node: compute1, network: net100, ip: 192.168.100.5}
"""


def problems(text):
    with pytest.raises(ScenarioError) as e:
        load_scenario("t.yaml", text)
    return [str(p) for p in e.value.problems]


def test_netvirt_scenario_loads_static_and_distributed():
    sc = load_scenario("t.yaml", NETVIRT)
    assert sc.sdn == "netvirt" and sc.sdn_controller == "controller" and sc.sdn_port == 6653
    assert all(i.address_mode == "static" for i in sc.instances.values())
    assert not sc.dhcp_ports
    # the pinned tag kept, the rest the lowest free: nodes first (tunnel, provider NIC), then ports
    c1 = sc.nodes["compute1"]
    assert (c1.tunnel_lport_tag, c1.provider_lport_tag) == (1, 2)
    assert (sc.instances["A"].port.lport_tag, sc.instances["B"].port.lport_tag) == (0x41, 3)
    assert sc.nodes["controller"].datapath_id is None


def test_provider_mappings_are_netvirts():
    text = NETVIRT.replace("sdn: {type: netvirt}\n", "")
    assert "t.yaml:14: nodes.compute1.provider_mappings: provider_mappings is OpenDaylight's: use it with sdn: " \
           "{type: netvirt} (neutron's agent uses bridge_mappings)" in problems(text)


def test_provider_mapping_to_a_nic_on_another_network():
    assert problems(NETVIRT.replace("provider_mappings: {ext: eth1}", "provider_mappings: {ext: eth2}")) == [
        "t.yaml:15: nodes.compute1.provider_mappings.ext: eth2 is on physical network mgmt, not ext"]
    assert problems(NETVIRT.replace("provider_mappings: {ext: eth1}", "provider_mappings: {ext: eth7}")) == [
        "t.yaml:15: nodes.compute1.provider_mappings.ext: node compute1 has no NIC eth7"]


def test_pinned_lport_tag_used_twice():
    text = NETVIRT.replace("ip: 192.168.100.5}", "ip: 192.168.100.5, netvirt: {lport_tag: 0x41}}")
    assert problems(text) == ["t.yaml:27: instances.B.netvirt.lport_tag: lport tag 65 is also the id of A"]


def test_dhcp_asked_for_under_netvirt():
    text = NETVIRT.replace("subnet: {cidr: 192.168.100.0/24}", "subnet: {cidr: 192.168.100.0/24, dhcp: true}")
    assert problems(text) == ["t.yaml:19: networks.net100.subnet.dhcp: netvirt scenarios have no DHCP agent here: "
                              "instances are configured statically"]


def test_controller_must_be_reachable():
    assert problems(NETVIRT.replace("sdn: {type: netvirt}", "sdn: {type: netvirt, controller: ctl}")) == [
        "t.yaml:2: sdn.controller: no node named ctl"]
    text = NETVIRT.replace("eth2: {physical_network: mgmt, address: 10.0.0.22/24}", "eth2: {physical_network: mgmt}")
    assert problems(text) == ["t.yaml:10: nodes.compute1.nics: no NIC of compute1 is on a subnet of the netvirt "
                              "controller controller (10.0.0.0/24): its br-int could not connect"]


def test_no_load_balancers_under_netvirt():
    text = NETVIRT + """\
load_balancers:
  lb:
    vip: net100
    amphora: {node: compute1, management_network: ext}
    listeners: {web: {port: 80, pool: p}}
    pools: {p: {members: [{instance: A, port: 80}]}}
"""
    assert problems(text) == ["t.yaml:29: load_balancers.lb: load balancers (Octavia) need sdn: {type: neutron}"]
