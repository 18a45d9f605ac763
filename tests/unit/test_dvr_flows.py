"""DVR's flows on a compute, byte for byte: each flow neutron's OVS agent
installs with enable_distributed_routing (its native OpenFlow bridges' DVR
methods, the tables and priorities of neutron's ovs_constants), built here by
hand with os-ken's parser and compared with what controller/neutron/dvr.py
and the bridge classes send. Gotos are resubmits, as the lab's other flows
(the documents' `ovs-ofctl dump-flows` print them so)."""

from os_ken.ofproto import ofproto_v1_3 as ofp, ofproto_v1_3_parser as parser

from controller import openflow
from controller.neutron.pipeline import node_flows
from controller.neutron.plan import NetworkBinding, NodePlan, PortBinding

from .ofwire import DP, wire

COOKIE = 0x1234
OWN = "fa:16:3f:00:00:01"
OTHER = "fa:16:3f:00:00:02"
QR_A_MAC, QR_B_MAC = "fa:16:3e:00:0a:01", "fa:16:3e:00:0b:01"
VM_MAC, DHCP_MAC, VM_B_MAC = "fa:16:3e:00:0a:10", "fa:16:3e:00:0a:02", "fa:16:3e:00:0b:10"

NET_A = NetworkBinding("na", "blue", "vxlan", 101, None, 1)            # local VLAN 1, VNI 101
NET_B = NetworkBinding("nb", "green", "vlan", 200, "provider", 2)      # local VLAN 2, VLAN 200 on the wire

INT_PORTS = {"patch-tun": 1, "int-br-provider": 2, "qr-a": 3, "tap-vm": 4, "tap-dhcp": 5, "qr-b": 6, "tap-vmb": 7}
TUN_PORTS = {"patch-int": 1, "vxlan-ac10000b": 2}
PHY_PORTS = {"eth1": 1, "phy-br-provider": 2}


def plan():
    ports = [
        PortBinding("qa", "qr-a", "na", QR_A_MAC, ["10.0.1.1"], "network:router_interface_distributed"),
        PortBinding("vm", "tap-vm", "na", VM_MAC, ["10.0.1.10"], "compute:nova"),
        PortBinding("dh", "tap-dhcp", "na", DHCP_MAC, ["10.0.1.2"], "network:dhcp"),
        PortBinding("qb", "qr-b", "nb", QR_B_MAC, ["10.0.2.1"], "network:router_interface_distributed"),
        PortBinding("vb", "tap-vmb", "nb", VM_B_MAC, ["10.0.2.10"], "compute:nova"),
    ]
    return NodePlan("compute1", "2024.1", {"na": NET_A, "nb": NET_B}, {p.name: p for p in ports}, {},
                    {"provider": "br-provider"}, tunnel_ports={"vxlan-ac10000b": "172.16.0.11"},
                    tunnel_ip="172.16.0.10", dvr_mac=OWN, dvr_macs=[OTHER],
                    dvr_gateways={"na": ["10.0.1.1", QR_A_MAC], "nb": ["10.0.2.1", QR_B_MAC]})


def flows(bridge, ports):
    return {wire(openflow.flow_add(DP, f, COOKIE)) for f in node_flows(plan(), {bridge: ports}, COOKIE)[bridge]}


def expected(table, priority, match, actions):
    instructions = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)] if actions else []
    return wire(parser.OFPFlowMod(DP, cookie=COOKIE, table_id=table, command=ofp.OFPFC_ADD, priority=priority,
                                  match=parser.OFPMatch(**match), instructions=instructions))


def goto(table):
    return parser.NXActionResubmitTable(table_id=table)


def out(port):
    return parser.OFPActionOutput(port, 0)


def field(**kw):
    return parser.OFPActionSetField(**kw)


POP = parser.OFPActionPopVlan()
ARP = 0x0806


def test_br_int_dvr_tables_and_other_nodes_dvr_macs():
    got = flows("br-int", INT_PORTS)
    for flow in [
        expected(1, 1, {}, []),                                                    # DVR_TO_SRC_MAC default drop
        expected(2, 1, {}, []),                                                    # DVR_TO_SRC_MAC_PHYSICAL
        expected(0, 2, dict(in_port=1, eth_src=OTHER), [goto(1)]),                 # add_dvr_mac_tun
        expected(0, 4, dict(in_port=2, eth_src=OTHER), [goto(2)]),                 # add_dvr_mac_physical
        expected(0, 5, dict(in_port=1, eth_dst=OWN), [goto(3)]),                   # ARP to this node's DVR MAC
        expected(0, 5, dict(in_port=2, eth_dst=OWN), [goto(4)]),
        expected(0, 2, dict(in_port=2), []),                                       # from br-provider: drop the rest
    ]:
        assert flow in got


def test_br_int_routed_frames_for_local_ports_get_the_gateway_mac():
    got = flows("br-int", INT_PORTS)
    # vxlan network: matched on its local VLAN; the instance's and the DHCP port's MACs
    for mac, ofport in ((VM_MAC, 4), (DHCP_MAC, 5)):
        assert expected(1, 20, dict(vlan_vid=0x1001, eth_dst=mac), [field(eth_src=QR_A_MAC), goto(58)]) in got
        assert expected(60, 20, dict(vlan_vid=0x1001, eth_dst=mac), [POP, out(ofport)]) in got
    # vlan network: matched on the segment's VLAN, in the physical table
    assert expected(2, 20, dict(vlan_vid=0x10c8, eth_dst=VM_B_MAC), [field(eth_src=QR_B_MAC), goto(58)]) in got
    assert expected(60, 20, dict(vlan_vid=0x10c8, eth_dst=VM_B_MAC), [POP, out(7)]) in got
    # the router ports themselves are no destination of DVR_TO_SRC_MAC
    assert not any(f.table in (1, 2) and f.fields.get("eth_dst") in (QR_A_MAC, QR_B_MAC)
                   for f in node_flows(plan(), {"br-int": INT_PORTS}, COOKIE)["br-int"])


def test_br_int_arp_replies_to_the_dvr_mac_reach_the_router_port():
    got = flows("br-int", INT_PORTS)
    assert expected(3, 5, dict(vlan_vid=0x1001, eth_dst=OWN), [field(eth_dst=QR_A_MAC), POP, out(3)]) in got
    assert expected(4, 5, dict(vlan_vid=0x1002, eth_dst=OWN), [field(eth_dst=QR_B_MAC), POP, out(6)]) in got
    for gw in (QR_A_MAC, QR_B_MAC):
        assert expected(0, 99, dict(eth_type=ARP, eth_dst=OWN, arp_op=2, arp_tha=gw),
                        [field(eth_dst=gw), goto(58)]) in got


def test_br_tun_dvr_process_and_not_learn():
    got = flows("br-tun", TUN_PORTS)
    for flow in [
        expected(0, 1, dict(in_port=1), [goto(1)]),                       # from br-int: DVR_PROCESS first
        expected(1, 0, {}, [goto(2)]),
        expected(9, 0, {}, [goto(10)]),
        expected(9, 1, dict(eth_src=OTHER), [out(1)]),                    # another node's DVR MAC: not learned
        expected(4, 1, dict(tunnel_id=101), [parser.OFPActionPushVlan(), field(vlan_vid=0x1001), goto(9)]),
        expected(22, 3, dict(vlan_vid=0x1001, eth_type=ARP, arp_tpa="10.0.1.1"), []),   # the gateway's ARP stays
        expected(1, 2, dict(vlan_vid=0x1001, eth_dst=QR_A_MAC), []),
        expected(1, 1, dict(vlan_vid=0x1001, eth_src=QR_A_MAC), [field(eth_src=OWN), goto(2)]),
    ]:
        assert flow in got
    # the non-DVR entry from br-int is replaced, not kept beside
    assert expected(0, 1, dict(in_port=1), [goto(2)]) not in got
    assert expected(4, 1, dict(tunnel_id=101), [parser.OFPActionPushVlan(), field(vlan_vid=0x1001), goto(10)]) \
        not in got
    # the vlan network's router port is br-provider's business
    assert not any(f.fields.get("eth_src") == QR_B_MAC for f in node_flows(plan(), {"br-tun": TUN_PORTS},
                                                                            COOKIE)["br-tun"])


def test_br_phys_dvr_tables():
    got = flows("br-provider", PHY_PORTS)
    for flow in [
        expected(0, 2, dict(in_port=2), [goto(1)]),                       # from br-int: DVR_PROCESS_PHYSICAL
        expected(0, 1, {}, [goto(3)]),                                    # from the wire: DVR_NOT_LEARN_PHYSICAL
        expected(0, 0, {}, [parser.OFPActionOutput(ofp.OFPP_NORMAL, 0)]),
        expected(1, 0, {}, [goto(2)]),
        expected(2, 2, dict(in_port=2), []),
        expected(2, 4, dict(in_port=2, vlan_vid=0x1002), [field(vlan_vid=0x10c8),
                                                          parser.OFPActionOutput(ofp.OFPP_NORMAL, 0)]),
        expected(3, 1, {}, [parser.OFPActionOutput(ofp.OFPP_NORMAL, 0)]),
        expected(3, 2, dict(eth_src=OTHER), [out(2)]),
        expected(22, 3, dict(vlan_vid=0x1002, eth_type=ARP, arp_tpa="10.0.2.1"), []),
        expected(1, 2, dict(vlan_vid=0x1002, eth_dst=QR_B_MAC), []),
        expected(1, 1, dict(vlan_vid=0x1002, eth_src=QR_B_MAC), [field(eth_src=OWN), goto(2)]),
    ]:
        assert flow in got
    assert expected(0, 2, dict(in_port=2), []) not in got          # the non-DVR drop is replaced
    assert not any(f.table == 0 and f.priority == 4 for f in node_flows(plan(), {"br-provider": PHY_PORTS},
                                                                         COOKIE)["br-provider"])


def test_no_dvr_mac_no_dvr_flows():
    p = plan()
    p.dvr_mac = None
    for bridge, ports, tables in (("br-int", INT_PORTS, (1, 2, 3, 4)), ("br-tun", TUN_PORTS, (1, 9)),
                                  ("br-provider", PHY_PORTS, (1, 2, 3))):
        got = node_flows(p, {bridge: ports}, COOKIE)[bridge]
        assert not any(f.table in tables for f in got), bridge
