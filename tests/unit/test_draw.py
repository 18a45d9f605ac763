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
