"""Normalizing and diffing dump-flows output against the documents' dumps."""

import glob
import os

from stacklab.observe import flows

LINE = (' cookie=0x81e0f7737031ced9, duration=6068.195s, table=10, n_packets=69, n_bytes=8283, priority=1 '
        'actions=learn(table=20,hard_timeout=300,priority=1,cookie=0x81e0f7737031ced9,NXM_OF_VLAN_TCI[0..11],'
        'NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],'
        'output:OXM_OF_IN_PORT[]),output:"patch-int"')


def test_volatile_fields_are_ignored():
    a = flows.parse_flow(LINE)
    b = flows.parse_flow(LINE.replace("0x81e0f7737031ced9", "0x1234").replace("n_packets=69", "n_packets=0")
                         .replace("duration=6068.195s", "duration=1.0s"))
    assert a == b
    assert a.table == 10 and a.priority == 1
    assert "cookie=*" in a.actions


def test_match_order_does_not_matter_but_actions_order_does():
    x = flows.parse_flow("table=60, priority=90,dl_vlan=3,dl_dst=fa:16:3e:55:18:7a actions=strip_vlan,resubmit(,81)")
    y = flows.parse_flow("table=60, priority=90,dl_dst=fa:16:3e:55:18:7a,dl_vlan=3 actions=strip_vlan,resubmit(,81)")
    z = flows.parse_flow("table=60, priority=90,dl_vlan=3,dl_dst=fa:16:3e:55:18:7a actions=resubmit(,81),strip_vlan")
    assert x == y and x != z


def test_default_priority_and_table():
    f = flows.parse_flow(" cookie=0x1, duration=1s, n_packets=0, n_bytes=0, actions=drop")
    assert (f.table, f.priority, f.match) == (0, 32768, frozenset())


def test_diff_reports_missing_and_extra():
    ref = flows.parse_dump("table=0, priority=0 actions=NORMAL\ntable=0, priority=2,in_port=\"phy-br-mgmt\" actions=drop")
    act = flows.parse_dump("table=0, priority=0 actions=NORMAL\ntable=0, priority=3 actions=drop")
    d = flows.diff(ref, act)
    assert not d.clean
    assert [str(f) for f in d.missing] == ['table=0, priority=2,in_port="phy-br-mgmt" actions=drop']
    assert [str(f) for f in d.extra] == ["table=0, priority=3 actions=drop"]
    assert flows.diff(ref, act, elided=True).missing == d.missing


def test_references_are_extracted_with_their_document():
    paths = sorted(glob.glob(os.path.join(flows.REFERENCE_DIR, "*", "*.flows")))
    assert len(paths) >= 10
    for path in paths:
        ref = flows.load_reference(path)
        assert ref.document.endswith(".txt") and ref.flows, path
    br_int_000 = flows.load_reference("vxlan-instance/br-int")
    assert br_int_000.elided and br_int_000.document == "000_015d8bd505ee0f39.txt"
    assert len(flows.load_reference("flat-instance/br-int").flows) == 76
    assert not flows.load_reference("flat-instance/br-int").elided


def test_learned_flows_are_traffic_state_not_compared():
    learned = flows.parse_flow(" cookie=0x1, duration=1.0s, table=20, n_packets=0, n_bytes=0, hard_timeout=300, "
                               "idle_age=0, priority=1,vlan_tci=0x0003/0x0fff,dl_dst=fa:16:3e:4e:62:74 "
                               "actions=load:0->NXM_OF_VLAN_TCI[],load:0xcb->NXM_NX_TUN_ID[],output:2")
    assert learned.learned
    assert flows.diff([], [learned]).clean


def test_netvirt_references_compare_cookies_port_numbers_and_groups():
    ref = flows.load_reference("netvirt-dvr/compute1")
    assert ref.style == flows.NETVIRT == flows.Style("OpenFlow13", names=False, cookies=True)
    assert ref.style.dump_flows_argv("br-int") == ["ovs-ofctl", "-O", "OpenFlow13", "--no-names", "dump-flows",
                                                   "br-int"]
    assert ref.document == "004_1c6e0cbe1a8bfa55.txt" and ref.elided
    assert {g.group_id for g in ref.groups} == {150004, 150011}
    assert {f.cookie for f in ref.flows} >= {"0x8000000", "0x6900000", "0x8000001", "0x1080000", "0x8040000",
                                             "0x8051388", "0x8031388", "0x8000007", "0x8000009", "0x8000003"}
    # neutron's references keep ignoring their random cookies
    assert flows.load_reference("vxlan-instance/br-int").style == flows.NEUTRON


def test_a_wrong_cookie_or_a_missing_group_is_a_difference():
    line = (" cookie=0x8000000, duration=1.0s, table=0, n_packets=9, n_bytes=9, priority=4,in_port=2 "
            "actions=write_metadata:0x410000000000/0xffffff0000000001,goto_table:17")
    group = " group_id=150011,type=all,bucket=actions=set_field:fa:16:3e:cd:7e:e8->eth_dst,resubmit(,220)"
    ref = [flows.parse_flow(line, cookies=True), flows.parse_group(group)]
    same = flows.diff(ref, [flows.parse_flow(line.replace("n_packets=9", "n_packets=1"), cookies=True),
                            flows.parse_group(group)])
    assert same.clean
    d = flows.diff(ref, [flows.parse_flow(line.replace("0x8000000", "0x8000001"), cookies=True)])
    assert [str(x) for x in d.missing] == [str(ref[0]), group.strip()]
    assert str(d.extra[0]).startswith("cookie=0x8000001, table=0, priority=4")
    # without cookies (neutron) the same two lines are one flow
    assert flows.parse_flow(line) == flows.parse_flow(line.replace("0x8000000", "0x8000001"))
