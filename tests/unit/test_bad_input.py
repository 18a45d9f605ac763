"""Bad input refused up front, one line at the key (golden messages): ids
given twice of any kind, MACs, OpenFlow port numbers and interface names
that clash on a node, what netvirt does not emulate; lab names that could
leave the run directory; and a lab too big for the machine, estimated. And
the other side: a scenario copied under another lab name is the same cloud
(ids, taps, MACs), for every shipped scenario and exercise."""

import dataclasses
import os
import textwrap

import pytest

from stacklab.errors import LabError
from stacklab.exercises.model import find_exercise, list_exercises
from stacklab.runtime.state import check_lab_name
from stacklab.scenario import estimate
from stacklab.scenario.loader import list_scenarios, load_scenario
from stacklab.scenario.synth import mesh_scenario

from .test_scenario_validation import BASE, problems

NETVIRT = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "netvirt-dvr.yaml")


@pytest.mark.parametrize("name", [".", "..", "./../victim", "../x", "/etc", "a/b", "", " x", "x" * 25, "-x"])
def test_no_path_passes_for_a_lab_name(name):
    with pytest.raises(LabError, match="is not a lab name"):
        check_lab_name(name)


@pytest.mark.parametrize("name", ["vxlan-instance", "it-two-node", "a", "A.b_c-1", "x" * 24])
def test_lab_names(name):
    assert check_lab_name(name) == name


def test_ids_given_twice_are_refused_whatever_they_name():
    text = BASE.replace("    segmentation_id: 203\n", "    segmentation_id: 203\n    id: 9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1\n")
    text += textwrap.dedent("""\
          vm2:
            node: compute1
            network: other
            port_id: 9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1
        security_groups:
          web: {id: 87fd4685-d317-42fb-a487-28382d2c2750}
          ssh: {id: 87fd4685-d317-42fb-a487-28382d2c2750}
        """)
    text = text.replace("instances:\n", "  other:\n    type: vxlan\n    id: 9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1\n"
                                        "    subnet: {cidr: 10.9.0.0/24}\ninstances:\n", 1)
    assert problems(text) == [
        "t.yaml:21: networks.other.id: id 9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1 is also the id of networks.selfservice",
        "t.yaml:34: security_groups.ssh.id: id 87fd4685-d317-42fb-a487-28382d2c2750 is also the id of "
        "security_groups.web",
        "t.yaml:31: instances.vm2.port_id: id 9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1 is also the id of "
        "networks.selfservice",
    ]


def test_ofports_and_device_names_are_one_port_s_on_a_node():
    text = BASE.replace("    ip: 192.168.101.19\n", "    ip: 192.168.101.19\n    ofport: 5\n")
    text += "  vm2: {node: compute1, network: selfservice, ofport: 5}\n"
    assert problems(text) == ["t.yaml:24: instances.vm2.ofport: ofport 5 on compute1 is also taken by vm1"]


def test_a_nic_named_as_an_agent_s_bridge_or_patch_is_refused():
    text = BASE.replace("      eth0: {physical_network: provider, address: 172.16.0.31/24}\n",
                        "      eth0: {physical_network: provider, address: 172.16.0.31/24}\n"
                        "      br-tun: {physical_network: other}\n"
                        "      int-br-provider: {physical_network: other}\n")
    found = problems(text)
    assert found == [
        "t.yaml:12: nodes.compute1.nics.br-tun: br-tun on compute1 is already the agent's bridge br-tun",
        "t.yaml:13: nodes.compute1.nics.int-br-provider: int-br-provider on compute1 is already the patch port "
        "int-br-provider of br-provider"]


def _netvirt(replace):
    text = open(NETVIRT).read()
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new)
    return text


def test_netvirt_tunnel_port_names_and_numbers_are_checked():
    text = _netvirt([("tunnels: {compute2: {name: tun4a3b08ef6e9, ofport: 6}}",
                      "tunnels: {compute2: {name: eth1, ofport: 1}}")])
    assert problems(text) == [
        "t.yaml:33: nodes.compute1.netvirt.tunnels.compute2.name: eth1 on compute1 is already NIC eth1",
        "t.yaml:33: nodes.compute1.netvirt.tunnels.compute2.ofport: ofport 1 on compute1's br-int is already "
        "the provider NIC"]
    text = _netvirt([("tunnels: {compute2: {name: tun4a3b08ef6e9, ofport: 6}}",
                      "tunnels: {compute2: {name: br-int, ofport: 6}}")])
    assert problems(text) == ["t.yaml:33: nodes.compute1.netvirt.tunnels.compute2.name: br-int on compute1 is "
                              "already the agent's bridge br-int"]
    text = _netvirt([("tunnels: {compute2: {name: tun4a3b08ef6e9, ofport: 6}}",
                      "tunnels: {compute2: {name: tun/../x, ofport: 6}}")])
    assert problems(text)[0].startswith("t.yaml:33: nodes.compute1.netvirt.tunnels.compute2.name: 'tun/../x' is not")


def test_netvirt_refuses_what_it_would_tunnel_instead():
    text = _netvirt([("  net101:\n    type: vxlan\n    segmentation_id: 101",
                      "  net101:\n    type: vlan\n    physical_network: ext\n    segmentation_id: 101")])
    found = problems(text)
    assert found[0].startswith("t.yaml:56: networks.net101.type: VLAN networks are not emulated with sdn: "
                               "{type: netvirt}"), found
    assert "t.yaml:91: instances.D.network: net101 is a vlan network: with sdn: {type: netvirt} instances are " \
           "on vxlan networks" in found
    text = _netvirt([("    external: true\n", "")])
    assert "with sdn: {type: netvirt} a flat network is the external network" in problems(text)[0]


def test_the_estimate_refuses_what_the_machine_cannot_hold():
    small = load_scenario("t.yaml", BASE)
    big = load_scenario("m.yaml", mesh_scenario(300, 2, name="m300"))
    a, b = estimate.estimate(small), estimate.estimate(big)
    assert a.memory_mb < 200 and a.seconds < 10
    assert 8000 < b.memory_mb < 12000 and b.seconds > 120
    assert estimate.refusal(a, 1000, 2000) is None
    why = estimate.refusal(b, 6144, 8192)
    assert why.startswith("this lab needs 9.") and "6.0 GB available (819 MB kept free" in why and "--force" in why
    assert str(b).startswith("about 9.") and "min to build" in str(b)


def _identity(sc):
    """What a cloud is made of, whatever the lab is called."""
    out = {"networks": {n: (net.id, net.local_vlans) for n, net in sc.networks.items()},
           "groups": {g: grp.id for g, grp in sc.security_groups.items()},
           "ports": sorted((p.id, p.name, p.mac, str(p.ip), p.node) for p in sc.ports()),
           "nics": {n: {k: nic.mac for k, nic in node.nics.items()} for n, node in sc.nodes.items()},
           "hosts": {h: host.mac for h, host in sc.hosts.items()},
           "routers": {r: (router.id, [(p.id, p.mac) for p in router.ports()]) for r, router in sc.routers.items()},
           "fips": [(str(f.address), f.id, f.mac) for f in sc.floating_ips],
           "instances": {i: inst.id for i, inst in sc.instances.items()}}
    return out


@pytest.mark.parametrize("path", list_scenarios() + [find_exercise(e).scenario_file for e in list_exercises()],
                         ids=os.path.basename)
def test_a_copy_under_another_name_is_the_same_cloud(path):
    text = open(path).read()
    original = load_scenario(path)
    copy = load_scenario("copy.yaml", text.replace("name: %s\n" % original.name, "name: someone-elses\n", 1))
    assert copy.name == "someone-elses"
    assert _identity(copy) == _identity(original)
    assert [dataclasses.astuple(c)[:2] for c in copy.checks] == [dataclasses.astuple(c)[:2] for c in original.checks]
