"""Reading ofproto/trace and dpif/show as the walk does, on texts OVS 3.1
printed in real labs (tests/unit/data/): netvirt's 004 cases and neutron's
pipelines with conntrack recirculations, patch ports and native tunnels."""

import os

from stacklab.observe.walk import Hop, Output, carried, datapath_outputs, parse_dpif_show, parse_trace

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def read(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def test_netvirt_across_subnets_same_node_goes_through_the_next_hop_group():
    t = parse_trace(read("trace-netvirt-1.3-compute1.txt"), "br-int")
    assert t.steps == "0 17 40 17 19 21 group:150011 220 251 220".split()
    assert [(o.ofport, o.skipped) for o in t.outputs] == [(7, False)]
    assert t.matched[5] == ("21", "ip,metadata=0x222fe/0xfffffffe,nw_dst=192.168.101.4, priority 42, cookie 0x8000003")


def test_netvirt_across_nodes_leaves_by_the_tunnel_with_the_label():
    t = parse_trace(read("trace-netvirt-1.4-compute1.txt"), "br-int")
    assert t.steps == "0 17 40 17 19 21".split()
    [out] = t.outputs
    assert (out.ofport, out.tun_id, out.bridge) == (6, "0x1118f", "br-int")
    assert "nw_dst=192.168.101.6" in t.final_flow


def test_neutron_recirculation_resumes_in_the_bridge_that_froze_it():
    # the trace heads the recirculation with the first bridge (br-provider), but table 82 is br-int's
    t = parse_trace(read("trace-neutron-vlan-compute2.txt"), "br-provider")
    assert t.steps == "0 br-int: 0 58 60 81 82 92".split()
    assert [(o.ofport, o.bridge) for o in t.outputs] == [(3, "br-int")]


def test_neutron_tunnel_output_leaves_the_underlay_bridge_out():
    t = parse_trace(read("trace-neutron-vxlan-compute1.txt"), "br-int")
    assert t.steps == "0 58 60 71 72 73 91 94 br-tun: 0 2 20".split()     # not br-provider's NORMAL
    [out] = t.outputs
    assert (out.bridge, out.ofport, out.tun_id) == ("br-tun", 2, "0x12c")    # load:0x12c->NXM_NX_TUN_ID[]
    assert t.normal and datapath_outputs(t.datapath_actions) == [4]          # (the underlay's port)


def test_dpif_show_gives_each_port_its_bridge_numbers_and_options():
    ports = {p.name: p for p in parse_dpif_show(read("dpif-show-neutron-compute1.txt"))}
    vx = ports["vxlan-0a0a0020"]
    assert (vx.bridge, vx.ofport, vx.dp_port, vx.type) == ("br-tun", 2, 2, "vxlan")
    assert vx.options["remote_ip"] == "10.10.0.32" and vx.options["local_ip"] == "10.10.0.31"
    assert (ports["patch-tun"].dp_port, ports["patch-tun"].type) == (None, "patch")
    assert (ports["eth0"].bridge, ports["eth0"].dp_port) == ("br-provider", 4)
    netvirt = {p.name: p for p in parse_dpif_show(read("dpif-show-netvirt-compute1.txt"))}
    assert netvirt["tun4a3b08ef6e9"].ofport == 6 and netvirt["tun4a3b08ef6e9"].options["key"] == "flow"


def test_datapath_outputs_skip_what_is_inside_actions():
    assert datapath_outputs("ct(commit,zone=2),6") == [6]
    assert datapath_outputs("push_vlan(vid=101,pcp=0),4,set(tunnel(tun_id=0x5)),7") == [4, 7]
    assert datapath_outputs("drop") == []


def test_the_packet_carried_to_the_next_node_keeps_only_its_own_fields():
    final = ("icmp,tun_id=0x1118f,metadata=0xc0004100000222fe,in_port=2,vlan_tci=0x0000,dl_src=fa:16:3e:d2:41:24,"
             "dl_dst=fa:16:3e:33:77:83,nw_src=192.168.100.4,nw_dst=192.168.101.6,nw_tos=0,nw_ecn=0,nw_ttl=0,"
             "nw_frag=no,icmp_type=8,icmp_code=0")
    assert carried(final) == ("icmp,dl_src=fa:16:3e:d2:41:24,dl_dst=fa:16:3e:33:77:83,nw_src=192.168.100.4,"
                              "nw_dst=192.168.101.6,icmp_type=8,icmp_code=0")
    # ofproto/trace takes UDP ports by their own names only
    assert carried("udp,reg6=0x1,nw_src=1.1.1.1,tp_src=40000,tp_dst=53") == "udp,nw_src=1.1.1.1,udp_src=40000,udp_dst=53"


def test_a_hop_reads_as_the_document_walks_it():
    hop = Hop("compute1", "br-int", "in_port=2,...", "0 17 40 17 19 21".split(),
              [Output(6, "br-int", "0x1118f", what="tun4a3b08ef6e9 to compute2")])
    assert str(hop) == "compute1: 0 17 40 17 19 21 -> output:6 tun_id=0x1118f (tun4a3b08ef6e9 to compute2)"
    hop = Hop("compute2", "br-provider", "", "0 br-int: 0 58".split(), [Output(3, "br-int", skipped=True)])
    assert str(hop) == "compute2: br-provider: 0 br-int: 0 58 -> drop"


OVN_TRACE = """# tcp,reg14=0x2,vlan_tci=0x0000,dl_src=fa:16:3e:f5:91:b3,dl_dst=fa:16:3e:55:18:7a
ingress(dp="selfservice", inport="0d207d")
------------------------------------------
 0. ls_in_check_port_sec (northd.c:8126): 1, priority 50, uuid 4b6e1c7a
    reg0[15] = check_in_port_sec();
    next;
27. ls_in_l2_lkup (northd.c:9400): eth.dst == fa:16:3e:55:18:7a, priority 50, uuid 2a8f8e4b
    outport = "8811e9";
    output;

egress(dp="selfservice", inport="0d207d", outport="8811e9")
-----------------------------------------------------------
 4. ls_out_acl (northd.c:6543): reg0[9] == 1 && (outport == @neutron_pg_drop && ip), priority 2001, uuid 2151f8a2
    drop;
"""


def test_ovn_trace_summarized_per_pipeline_with_what_dropped_it():
    from stacklab.observe.walk import ovn_trace_summary
    assert ovn_trace_summary(OVN_TRACE) == [
        "selfservice ingress: ls_in_check_port_sec ls_in_l2_lkup",
        "selfservice egress: ls_out_acl -> drop (reg0[9] == 1 && (outport == @neutron_pg_drop && ip), priority 2001)"]


def test_geneve_output_carries_ovn_logical_ports():
    """OVN sets tun_id under a mask and builds tun_metadata0 from two fields."""
    text = """Flow: icmp,in_port=1
bridge("br-int")
----------------
39. reg15=0x3,metadata=0x2, priority 100, cookie 0xc67324c7
    set_field:0x2/0xffffff->tun_id
    set_field:0x3->tun_metadata0
    move:NXM_NX_REG14[0..14]->NXM_NX_TUN_METADATA0[16..30]
     -> NXM_NX_TUN_METADATA0[16..30] is now 0x2
    output:3
     -> output to native tunnel
"""
    out = parse_trace(text, "br-int").outputs[0]
    assert (out.ofport, out.tun_id, out.tun_metadata0) == (3, "0x2", "0x20003")
