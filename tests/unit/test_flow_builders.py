"""The bridge classes against the OpenFlow messages they must produce, built
here by hand with os-ken's parser and compared byte for byte; and the
firewall's and pipeline's logic (priorities, conjunction ids, port ranges,
what a port's arrival or departure changes)."""

from os_ken.ofproto import nicira_ext, ofproto_v1_3 as ofp, ofproto_v1_3_parser as parser

from controller import openflow
from controller.neutron.br_int import IntegrationBridge
from controller.neutron.br_phys import PhysicalBridge
from controller.neutron.br_tun import TunnelBridge
from controller.neutron.firewall import ConjunctionIds, Firewall, FirewallPort, link_local, port_masks
from controller.neutron.pipeline import node_flows
from controller.neutron.plan import NetworkBinding, NodePlan, PortBinding, SecurityGroup, SecurityGroupRule

from .ofwire import DP, wire

COOKIE = 0x1234


def expected(table, priority, match, actions):
    instructions = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)] if actions else []
    return wire(parser.OFPFlowMod(DP, cookie=COOKIE, table_id=table, command=ofp.OFPFC_ADD, priority=priority,
                                  match=parser.OFPMatch(**match), instructions=instructions))


def sent(bridge):
    return {wire(openflow.flow_add(DP, f, COOKIE)) for f in bridge}


def resubmit(t):
    return parser.NXActionResubmitTable(table_id=t)


NORMAL = parser.OFPActionOutput(ofp.OFPP_NORMAL, 0)


# -- physical bridge -----------------------------------------------------------
def test_physical_bridge_flat_strips_and_vlan_rewrites():
    br = PhysicalBridge("br-provider", {"eth0": 1, "phy-br-provider": 2})
    br.setup_default_table()
    br.provision_local_vlan("phy-br-provider", 1, None)
    br.provision_local_vlan("phy-br-provider", 2, 100)
    br.drop_from_integration_bridge("phy-br-provider")
    assert sent(br) == {
        expected(0, 0, {}, [NORMAL]),
        expected(0, 4, dict(in_port=2, vlan_vid=0x1001), [parser.OFPActionPopVlan(), NORMAL]),
        expected(0, 4, dict(in_port=2, vlan_vid=0x1002), [parser.OFPActionSetField(vlan_vid=0x1064), NORMAL]),
        expected(0, 2, dict(in_port=2), []),
    }


# -- integration bridge ---------------------------------------------------------------
def test_integration_bridge_tags_frames_from_physical_bridges():
    br = IntegrationBridge("br-int", {"int-br-provider": 1}, "2024.1")
    br.provision_local_vlan("int-br-provider", 1, None)          # flat: untagged on the wire
    br.provision_local_vlan("int-br-provider", 2, 100)           # vlan 100
    assert sent(br) == {
        expected(0, 3, dict(in_port=1, vlan_vid=0), [parser.OFPActionPushVlan(),
                                                     parser.OFPActionSetField(vlan_vid=0x1001), resubmit(58)]),
        expected(0, 3, dict(in_port=1, vlan_vid=0x1064), [parser.OFPActionSetField(vlan_vid=0x1002),
                                                          resubmit(58)]),
    }


def test_release_picks_the_rate_limit_table():
    for release, table in (("2023.2", 59), ("2024.1", 58)):
        br = IntegrationBridge("br-int", {}, release)
        br.setup_default_tables()
        assert expected(0, 0, {}, [resubmit(table)]) in sent(br)
        assert expected(table, 0, {}, [resubmit(60)]) in sent(br)


# -- tunnel bridge ------------------------------------------------------------------
def test_tunnel_bridge_vni_to_local_vlan_and_flood():
    br = TunnelBridge("br-tun", {"patch-int": 1, "vxlan-ac10000b": 2, "vxlan-ac10000c": 3})
    br.setup_tunnel_port("vxlan-ac10000b")
    br.provision_local_vlan(3, 203)
    br.install_flood_to_tun(3, 203, ["vxlan-ac10000b", "vxlan-ac10000c"])
    out = [parser.OFPActionOutput(2, 0), parser.OFPActionOutput(3, 0)]
    assert sent(br) == {
        expected(0, 1, dict(in_port=2), [resubmit(4)]),
        expected(4, 1, dict(tunnel_id=203), [parser.OFPActionPushVlan(), parser.OFPActionSetField(vlan_vid=0x1003),
                                             resubmit(10)]),
        expected(22, 1, dict(vlan_vid=0x1003), [parser.OFPActionPopVlan(), parser.OFPActionSetField(tunnel_id=203)]
                 + out),
    }


def test_tunnel_bridge_learns_the_reverse_path_with_the_run_cookie():
    br = TunnelBridge("br-tun", {"patch-int": 1})
    br.setup_default_tables("patch-int", COOKIE)
    learn = parser.NXActionLearn(table_id=20, hard_timeout=300, priority=1, cookie=COOKIE, specs=[
        parser.NXFlowSpecMatch(src=("vlan_tci", 0), dst=("vlan_tci", 0), n_bits=12),
        parser.NXFlowSpecMatch(src=("eth_src", 0), dst=("eth_dst", 0), n_bits=48),
        parser.NXFlowSpecLoad(src=0, dst=("vlan_tci", 0), n_bits=16),
        parser.NXFlowSpecLoad(src=("tunnel_id", 0), dst=("tunnel_id", 0), n_bits=64),
        parser.NXFlowSpecOutput(src=("in_port", 0), dst="", n_bits=32)])
    assert expected(10, 1, {}, [learn, parser.OFPActionOutput(1, 0)]) in sent(br)
    assert expected(2, 0, dict(eth_dst=("01:00:00:00:00:00", "01:00:00:00:00:00")), [resubmit(22)]) in sent(br)
    assert len(br) == 10


def test_no_tunnel_port_no_flood_flow():
    br = TunnelBridge("br-tun", {"patch-int": 1})
    br.install_flood_to_tun(3, 203, [])
    assert len(br) == 0


# -- firewall ---------------------------------------------------------------------
NET = NetworkBinding("n1", "selfservice", "vxlan", 203, None, 3)
FLAT = NetworkBinding("n2", "provider", "flat", None, "provider", 1)


def port(binding, ofport=3, net=NET):
    return FirewallPort(binding, ofport, net)


def fw_port(ip="192.168.101.19", mac="fa:16:3e:55:18:7a", groups=("sg",)):
    return PortBinding("p1", "tap8811e933-5c", "n1", mac, [ip], security_groups=list(groups))


def ct(table=None, commit=False, mark=None):
    inner = [parser.OFPActionSetField(ct_mark=mark)] if mark else []
    return parser.NXActionCT(flags=1 if commit else 0, zone_src="reg6", zone_ofs_nbits=nicira_ext.ofs_nbits(0, 15),
                             recirc_table=255 if table is None else table, alg=0, actions=inner)


def firewall_flows(groups, binding=None, release="2023.2", net=NET):
    br = IntegrationBridge("br-int", {}, release)
    fw = Firewall(br, ConjunctionIds())
    fw.setup_port_firewall(port(binding or fw_port(), net=net), groups)
    fw.flush_conjunctions()
    return br


def test_port_identification_and_anti_spoofing():
    br = firewall_flows({})
    regs = [parser.OFPActionSetField(reg5=3), parser.OFPActionSetField(reg6=3)]
    flows = sent(br)
    assert expected(60, 100, dict(in_port=3), regs + [resubmit(71)]) in flows
    assert expected(60, 90, dict(vlan_vid=0x1003, eth_dst="fa:16:3e:55:18:7a"),
                    regs + [parser.OFPActionPopVlan(), resubmit(81)]) in flows
    assert expected(71, 95, dict(eth_type=0x0806, reg5=3, in_port=3, eth_src="fa:16:3e:55:18:7a",
                                 arp_spa="192.168.101.19"), [resubmit(94)]) in flows
    assert expected(71, 65, dict(eth_type=0x0800, reg5=3, in_port=3, eth_src="fa:16:3e:55:18:7a",
                                 ipv4_src="192.168.101.19"), [ct(table=72)]) in flows
    assert expected(73, 100, dict(reg6=3, eth_dst="fa:16:3e:55:18:7a"),
                    [parser.OFPActionSetField(reg5=3), resubmit(81)]) in flows
    # a vxlan port has no direct-from-the-wire flow; a flat one does (vlan_tci=0x0000/0x1fff)
    assert not any(f.table == 60 and dict(f.match.items()).get("vlan_vid") == 0 for f in br)
    flat = firewall_flows({}, net=FLAT)
    assert expected(60, 90, dict(vlan_vid=0, eth_dst="fa:16:3e:55:18:7a"),
                    [parser.OFPActionSetField(reg5=3), parser.OFPActionSetField(reg6=1), resubmit(81)]) in sent(flat)


def test_rarp_only_from_release_2024_1():
    rarp = dict(eth_type=0x8035, reg5=3, in_port=3, eth_src="fa:16:3e:55:18:7a")
    assert expected(71, 95, rarp, [resubmit(94)]) in sent(firewall_flows({}, release="2024.1"))
    assert expected(71, 95, rarp, [resubmit(94)]) not in sent(firewall_flows({}, release="2023.2"))


def test_allowed_address_pairs_as_neutron_installs_them():
    """003's VIP port: 192.168.101.143 with the VIP 192.168.101.228 as a pair on
    the same MAC; and a pair with a MAC of its own, which also identifies the port."""
    vip = "fa:16:3e:46:89:39"
    binding = PortBinding("p", "tap57ff88f0-a4", "n1", vip, ["192.168.101.143"], security_groups=[],
                          allowed_address_pairs=[["192.168.101.228", vip], ["192.168.101.229", "fa:16:3e:00:00:99"]])
    flows = sent(firewall_flows({}, binding, release="2024.1"))
    me = dict(reg5=3, in_port=3)
    for mac, ip in ((vip, "192.168.101.143"), (vip, "192.168.101.228"), ("fa:16:3e:00:00:99", "192.168.101.229")):
        assert expected(71, 95, dict(eth_type=0x0806, eth_src=mac, arp_spa=ip, **me), [resubmit(94)]) in flows
        assert expected(71, 65, dict(eth_type=0x0800, eth_src=mac, ipv4_src=ip, **me), [ct(table=72)]) in flows
        assert expected(71, 80, dict(eth_type=0x0800, ip_proto=17, eth_src=mac, ipv4_src=ip, udp_src=68, udp_dst=67,
                                     **me), [resubmit(73)]) in flows
    regs = [parser.OFPActionSetField(reg5=3), parser.OFPActionSetField(reg6=3)]
    for mac in (vip, "fa:16:3e:00:00:99"):
        assert expected(71, 80, dict(eth_type=0x0800, ip_proto=17, eth_src=mac, ipv4_src="0.0.0.0", udp_src=68,
                                     udp_dst=67, **me), [resubmit(73)]) in flows
        assert expected(71, 95, dict(eth_type=0x8035, eth_src=mac, **me), [resubmit(94)]) in flows
        assert expected(60, 90, dict(vlan_vid=0x1003, eth_dst=mac), regs + [parser.OFPActionPopVlan(),
                                                                            resubmit(81)]) in flows
        assert expected(73, 100, dict(reg6=3, eth_dst=mac), [parser.OFPActionSetField(reg5=3), resubmit(81)]) in flows
    # and nothing lets a pair's address out with another MAC
    assert expected(71, 65, dict(eth_type=0x0800, eth_src=vip, ipv4_src="192.168.101.229", **me),
                    [ct(table=72)]) not in flows


def test_ingress_rules_priorities_and_actions():
    rules = [SecurityGroupRule("ingress", "IPv4", "icmp"), SecurityGroupRule("ingress", "IPv4", "tcp", 22, 22),
             SecurityGroupRule("egress", "IPv4")]
    br = firewall_flows({"sg": SecurityGroup("sg", "web", rules)})
    flows = sent(br)
    est, new = openflow.ct_state("+est-rel-rpl"), openflow.ct_state("+new-est")
    out = parser.OFPActionOutput(3, 0)
    assert expected(82, 77, dict(eth_type=0x0800, ip_proto=6, ct_state=new, reg5=3, tcp_dst=22),
                    [ct(commit=True), out, resubmit(92)]) in flows
    assert expected(82, 77, dict(eth_type=0x0800, ip_proto=6, ct_state=est, reg5=3, tcp_dst=22), [out]) in flows
    assert expected(82, 75, dict(eth_type=0x0800, ip_proto=1, ct_state=est, reg5=3), [out]) in flows
    assert expected(72, 74, dict(eth_type=0x0800, ct_state=new, reg5=3), [resubmit(73)]) in flows
    # TCP is accepted on port 22 only
    assert [dict(f.match.items()).get("tcp_dst") for f in br if f.table == 82 and
            dict(f.match.items()).get("ip_proto") == 6] == [22, 22]


def test_remote_group_uses_conjunctions_from_16():
    rules = [SecurityGroupRule("ingress", "IPv4", remote_group="sg"), SecurityGroupRule("ingress", "IPv6",
                                                                                         remote_group="sg")]
    group = SecurityGroup("sg", "default", rules, {"IPv4": [["192.168.101.19", "fa:16:3e:55:18:7a"],
                                                            ["192.168.101.20", "fa:16:3e:00:00:01"]]})
    flows = sent(firewall_flows({"sg": group}))
    est, new = openflow.ct_state("+est-rel-rpl"), openflow.ct_state("+new-est")
    out = parser.OFPActionOutput(3, 0)

    def conj(i, clause):
        return parser.NXActionConjunction(clause=clause - 1, n_clauses=2, id_=i)
    assert expected(82, 70, dict(eth_type=0x0800, conj_id=16, ct_state=est, reg5=3),
                    [parser.OFPActionSetField(reg7=16), out]) in flows
    assert expected(82, 70, dict(eth_type=0x86DD, conj_id=25, ct_state=new, reg5=3),
                    [parser.OFPActionSetField(reg7=25), ct(commit=True), out, resubmit(92)]) in flows
    assert expected(82, 70, dict(eth_type=0x0800, ct_state=new, reg5=3), [conj(17, 2)]) in flows
    for member in ("192.168.101.19", "192.168.101.20"):
        assert expected(82, 70, dict(eth_type=0x0800, ct_state=est, reg6=3, ipv4_src=member), [conj(16, 1)]) in flows


def test_conjunction_ids_are_stable_per_group_pair():
    ids = ConjunctionIds()
    assert ids.get("a", "a", "ingress", "IPv4") == 16
    assert ids.get("a", "a", "ingress", "IPv6") == 24
    assert ids.get("a", "a", "ingress", "IPv4") == 16
    assert ids.get("b", "a", "egress", "IPv4") == 32


def test_port_ranges_become_masks():
    assert port_masks(22, 22) == [22]
    assert port_masks(1024, 2047) == [(1024, 0xFC00)]
    assert port_masks(80, 83) == [(80, 0xFFFC)]
    assert port_masks(1, 65535) == [1, (2, 0xFFFE), (4, 0xFFFC), (8, 0xFFF8), (16, 0xFFF0), (32, 0xFFE0),
                                    (64, 0xFFC0), (128, 0xFF80), (256, 0xFF00), (512, 0xFE00), (1024, 0xFC00),
                                    (2048, 0xF800), (4096, 0xF000), (8192, 0xE000), (16384, 0xC000),
                                    (32768, 0x8000)]


def test_link_local_address_of_a_mac():
    assert link_local("fa:16:3e:55:2a:5d") == "fe80::f816:3eff:fe55:2a5d"


# -- the node's whole set: ports come and go --------------------------------------------
def plan(ports):
    rules = [SecurityGroupRule("ingress", "IPv4", "icmp")]
    return NodePlan("compute1", "2023.2", {"n1": NET}, {p.name: p for p in ports},
                    {"sg": SecurityGroup("sg", "web", rules)}, {}, {"vxlan-ac10000b": "172.16.0.11"}, "172.16.0.31")


def test_a_port_leaving_removes_only_its_flows():
    a = PortBinding("pa", "tapa", "n1", "fa:16:3e:00:00:0a", ["192.168.101.10"], security_groups=["sg"])
    b = PortBinding("pb", "tapb", "n1", "fa:16:3e:00:00:0b", ["192.168.101.11"], security_groups=["sg"])
    ofports = {"br-int": {"patch-tun": 1, "tapa": 5, "tapb": 6},
               "br-tun": {"patch-int": 1, "vxlan-ac10000b": 2}}
    both = node_flows(plan([a, b]), ofports, COOKIE)
    only_a = node_flows(plan([a]), ofports, COOKIE)
    send, delete = only_a["br-int"].difference(both["br-int"])
    assert send == []
    def of_b(flow):
        fields = dict(flow.match.items())
        return (fields.get("reg5") == 6 or fields.get("in_port") == 6
                or "fa:16:3e:00:00:0b" in (fields.get("eth_dst"), fields.get("eth_src")))
    assert delete and all(of_b(f) for f in delete), [f for f in delete if not of_b(f)]
    # br-tun does not care which ports are on br-int
    assert only_a["br-tun"].difference(both["br-tun"]) == ([], [])
    # and back: adding it sends exactly what was deleted
    send, delete = both["br-int"].difference(only_a["br-int"])
    assert delete == [] and {f.key for f in send} == {f.key for f in node_flows(plan([a, b]), ofports, COOKIE)
                                                      ["br-int"] if f.key not in only_a["br-int"].keys()}


def test_a_port_not_on_the_bridge_yet_gets_no_flows():
    a = PortBinding("pa", "tapa", "n1", "fa:16:3e:00:00:0a", ["192.168.101.10"], security_groups=["sg"])
    without = node_flows(plan([a]), {"br-int": {"patch-tun": 1}}, COOKIE)["br-int"]
    assert not any("fa:16:3e:00:00:0a" in repr(f.match) for f in without)


def test_plan_round_trips_through_json():
    a = PortBinding("pa", "tapa", "n1", "fa:16:3e:00:00:0a", ["192.168.101.10"], security_groups=["sg"])
    p = plan([a])
    assert NodePlan.from_json(p.to_json()) == p
