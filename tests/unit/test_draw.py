"""stacklab draw: the SVG parses and names every node, bridge and instance."""

import xml.etree.ElementTree as ET

import pytest

from stacklab.draw import bridges, render
from stacklab.errors import StacklabError
from stacklab.scenario.loader import find_scenario, list_scenarios, load_scenario


@pytest.mark.parametrize("path", list_scenarios(), ids=lambda p: p.rsplit("/", 1)[-1])
def test_svg_names_everything(path, tmp_path):
    scenario = load_scenario(path)
    out = render(scenario, str(tmp_path / "lab.svg"))
    root = ET.parse(out).getroot()
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    for node in scenario.nodes.values():
        assert any(t.startswith(node.name + " (") for t in texts), node.name
        for bridge in bridges(scenario, node):
            assert "%s/%s" % (node.name, bridge) in titles and bridge in texts
    for inst in scenario.instances.values():
        assert any(t.startswith(inst.name) for t in texts), inst.name
        assert any(str(inst.port.ip) in t for t in texts)
    for host in scenario.hosts.values():
        assert host.name in texts


def test_other_formats_and_errors(tmp_path):
    scenario = load_scenario(find_scenario("lb-amphora"))
    assert render(scenario, str(tmp_path / "a.png"))
    with open(tmp_path / "a.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    dot = open(render(scenario, str(tmp_path / "a.dot"))).read()
    assert "floating 172.17.0.146 -> 192.168.101.228" in dot
    with pytest.raises(StacklabError, match="draw writes"):
        render(scenario, str(tmp_path / "a.jpeg"))


def _declared_and_used(g):
    import re
    declared, used = set(), set()
    for line in g.source.splitlines():
        line = line.strip()
        m = re.match(r'^("(?:[^"\\]|\\.)*"|[\w./-]+) -- ("(?:[^"\\]|\\.)*"|[\w./-]+)', line)
        if m:
            used.update(x.strip('"') for x in m.groups())
            continue
        m = re.match(r'^("(?:[^"\\]|\\.)*"|[\w./-]+) \[', line)
        if m:
            declared.add(m.group(1).strip('"'))
    return declared, used


@pytest.mark.parametrize("path", list_scenarios(), ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_edge_joins_drawn_boxes(path):
    """An edge to an undeclared node makes Graphviz draw a stray ellipse
    named by its id (netvirt's controller/br-int was one)."""
    from stacklab.draw import graph
    declared, used = _declared_and_used(graph(load_scenario(path)))
    assert used <= declared, "edges to undrawn nodes: %s" % sorted(used - declared)


def test_netvirt_management_nic_is_not_on_br_int():
    from stacklab.draw import graph
    scenario = load_scenario(find_scenario("netvirt-dvr"))
    source = graph(scenario).source
    for node in scenario.nodes.values():
        provider = set(node.provider_mappings.values())
        for nic in node.nics.values():
            if nic.name not in provider and not nic.bridge:
                assert '"%s/br-int" -- "physnet/%s"' % (node.name, nic.physical_network) not in source \
                    or any(n.physical_network == nic.physical_network and n.name in provider
                           for n in node.nics.values()), (node.name, nic.name)


def _live(scenario):
    """A running lab's snapshot as observe.live makes it, equal to the scenario."""
    from stacklab.draw import scenario_view
    view = scenario_view(scenario)
    nodes = {}
    for node, names in view.bridges.items():
        nodes[node] = {b: {"controller": ["tcp:127.0.0.1:6633"], "connected": True, "ports": {}} for b in names}
        for t in view.tunnels.get(node, []):
            nodes[node][t.bridge]["ports"][t.port] = {"tag": None, "type": "vxlan", "mtu": None,
                                                      "options": {"local_ip": t.local_ip, "remote_ip": t.remote_ip}}
    for inst in scenario.instances.values():
        for p in inst.ports:
            nodes[p.node]["br-int"]["ports"][p.name] = {"tag": view.tags[p.name], "type": "system", "mtu": None,
                                                        "options": {}}
    instances = {i.name: {p.interface: {"mtu": scenario.networks[p.network].mtu, "up": True, "addresses": []}
                          for p in i.ports} for i in scenario.instances.values()}
    return {"nodes": nodes, "instances": instances, "unreadable": {}}


def test_a_running_lab_is_drawn_as_it_runs_with_its_differences_marked():
    from stacklab.draw import graph, running_view
    scenario = load_scenario(find_scenario("vxlan-instance"))
    live = _live(scenario)
    assert running_view(scenario, live, mark=True).differences == []
    live["nodes"]["compute1"]["br-tun"]["ports"]["vxlan-ac10000b"]["options"]["remote_ip"] = "172.16.0.12"
    tap = scenario.instances["instance02"].port.name
    live["nodes"]["compute1"]["br-int"]["ports"][tap]["tag"] = 4095
    live["instances"]["instance02"]["eth0"]["mtu"] = 1500
    live["nodes"]["compute1"]["br-int"]["connected"] = False
    view = running_view(scenario, live, mark=True)
    text = "\n".join(view.differences)
    assert "vxlan-ac10000b leads 172.16.0.31 -> 172.16.0.12, the scenario 172.16.0.31 -> 172.16.0.11" in text
    assert "tag 4095, the scenario's local VLAN is 3" in text
    assert "instance02: eth0 has MTU 1500, its network 1450" in text
    assert "br-int is not connected" in text
    source = graph(scenario, view).source
    assert "172.16.0.12" in source and "tag 4095" in source and "MTU 1500" in source and "#c00000" in source
    # for a learner: the same state, nothing marked, no right value anywhere
    quiet = running_view(scenario, live, mark=False)
    assert quiet.differences == []
    source = graph(scenario, quiet).source
    assert "172.16.0.12" in source and "tag 4095" in source and "MTU 1500" in source
    assert "#c00000" not in source and "scenario:" not in source


def test_the_picture_names_vnis_vlans_mtus_and_security_groups():
    from stacklab.draw import graph
    source = graph(load_scenario(find_scenario("three-networks"))).source
    assert "VNI" in source and "VLAN 101" in source and "MTU 1450" in source and "security groups:" in source
    assert "tag " in source


def test_an_ovn_lab_drawn_with_its_logical_topology():
    from stacklab.draw import graph, scenario_view
    from stacklab.scenario.loader import find_scenario, load_scenario
    scenario = load_scenario(find_scenario("ovn-router"))
    source = graph(scenario).source
    assert "OVN northbound (logical)" in source and "gateway chassis: controller" in source
    assert "ovn-central" in source and "OpenDaylight" not in source
    assert source.count("lrp-") == 3            # the router's three ports, to their switches
    view = scenario_view(scenario)
    assert view.bridges["compute1"] == ["br-int", "br-provider"]     # no br-tun on OVN
    assert sorted(t.remote_ip for t in view.tunnels["controller"]) == ["172.16.0.31", "172.16.0.32"]
    assert sorted(t.port for t in view.tunnels["controller"]) == ["ovn-comput-0", "ovn-comput-1"]
    assert all(tag is None for tag in view.tags.values())         # no local VLANs either
