"""Every port a deployment has can be pinned (issue 25): the DHCP port's
id, MAC, address and ofport, a router port's ofport, the amphora VRRP
port's security groups; derived as before when not given; clashes and what
is not emulated refused at the key."""

import os
import textwrap

import pytest

from stacklab.errors import ScenarioError
from stacklab.scenario.loader import SCENARIO_DIR, load_scenario

from .test_scenario_validation import BASE, problems

PINNED_DHCP = BASE.replace("    subnet: {cidr: 192.168.101.0/24}\n", """\
    subnet: {cidr: 192.168.101.0/24}
    dhcp_port: {port_id: 34a023b5-05c6-4a5e-8f1d-2b3c4d5e6f70, mac: "fa:16:3e:0a:18:e4", ip: 192.168.101.3,
                ofport: 3}
""")


def test_the_dhcp_port_as_pinned():
    port = load_scenario("t.yaml", PINNED_DHCP).dhcp_ports["selfservice"]
    assert (port.id, port.name, port.mac, str(port.ip), port.ofport, port.node) == (
        "34a023b5-05c6-4a5e-8f1d-2b3c4d5e6f70", "tap34a023b5-05", "fa:16:3e:0a:18:e4", "192.168.101.3", 3,
        "controller")


def test_the_dhcp_port_derived_as_before_when_not_pinned():
    port = load_scenario("t.yaml", BASE).dhcp_ports["selfservice"]
    assert str(port.ip) == "192.168.101.2" and port.ofport is None and port.mac.startswith("fa:16:3e:")
    again = load_scenario("t.yaml", BASE).dhcp_ports["selfservice"]
    assert (again.id, again.mac) == (port.id, port.mac)


def test_a_pinned_dhcp_address_is_taken_before_the_instances():
    text = PINNED_DHCP.replace("    ip: 192.168.101.19\n", "    ip: 192.168.101.3\n")
    # (an instance's fixed address is claimed first: the pinned DHCP address is the one that clashes)
    assert problems(text) == ["t.yaml:18: networks.selfservice.dhcp_port.ip: 192.168.101.3 is also the address "
                              "of vm1"]


def test_dhcp_port_clashes_are_refused_at_the_key():
    text = PINNED_DHCP.replace("    ip: 192.168.101.19\n", "    ip: 192.168.101.19\n    mac: \"fa:16:3e:0a:18:e4\"\n")
    assert problems(text) == ["t.yaml:18: networks.selfservice.dhcp_port.mac: MAC fa:16:3e:0a:18:e4 is also the "
                              "MAC of instances.vm1"]
    outside = PINNED_DHCP.replace("ip: 192.168.101.3", "ip: 10.0.0.3")
    assert problems(outside) == ["t.yaml:18: networks.selfservice.dhcp_port.ip: 10.0.0.3 is outside subnet "
                                 "192.168.101.0/24 of network selfservice"]


def _lb_amphora(edit=lambda text: text):
    with open(os.path.join(SCENARIO_DIR, "lb-amphora.yaml")) as f:
        return load_scenario(os.path.join(SCENARIO_DIR, "lb-amphora.yaml"), edit(f.read()))


def test_router_ports_take_an_ofport():
    sc = _lb_amphora(lambda t: t.replace("external_gateway: {network: provider, ip: 172.17.0.101}",
                                         "external_gateway: {network: provider, ip: 172.17.0.101, ofport: 9}")
                     .replace("    interfaces: [selfservice]", "    interfaces: [{network: selfservice, ofport: 10}]"))
    router = next(iter(sc.routers.values()))
    assert (router.gateway.ofport, router.interfaces[0].ofport) == (9, 10)
    assert next(iter(_lb_amphora().routers.values())).gateway.ofport is None


def test_a_router_port_ofport_clash_is_refused():
    with pytest.raises(ScenarioError) as e:
        _lb_amphora(lambda t: t.replace("external_gateway: {network: provider, ip: 172.17.0.101}",
                                        "external_gateway: {network: provider, ip: 172.17.0.101, ofport: 9}")
                    .replace("    interfaces: [selfservice]", "    interfaces: [{network: selfservice, ofport: 9}]"))
    assert [str(p).split(": ", 1)[1] for p in e.value.problems] == [
        "routers.router.interfaces.0.ofport: ofport 9 on controller is also taken by router router"]


def test_the_vrrp_ports_groups_as_given_or_octavias_own():
    default = _lb_amphora()
    lb = default.load_balancers["lb"]
    vrrp = default.instances[lb.amphora].ports[1]
    assert vrrp.security_groups == ["lb-" + lb.id] and "lb-" + lb.id in default.security_groups
    given = _lb_amphora(lambda t: t.replace("      keypair: demo\n",
                                            "      keypair: demo\n      vrrp_security_groups: [default]\n"))
    lb = given.load_balancers["lb"]
    assert given.instances[lb.amphora].ports[1].security_groups == ["default"]
    assert "lb-" + lb.id not in given.security_groups
    with pytest.raises(ScenarioError) as e:
        _lb_amphora(lambda t: t.replace("      keypair: demo\n", "      keypair: demo\n      vrrp_security_groups: [nope]\n"))
    assert any("vrrp_security_groups.0: no security group named nope" in str(p) for p in e.value.problems)


def test_a_netvirt_router_port_has_no_ofport():
    with open(os.path.join(SCENARIO_DIR, "netvirt-dvr.yaml")) as f:
        text = f.read()
    itf = '- {network: net100, mac: "fa:16:3e:33:77:83"}'
    assert itf in text
    text = text.replace(itf, '- {network: net100, mac: "fa:16:3e:33:77:83", ofport: 40}')
    with pytest.raises(ScenarioError) as e:
        load_scenario(os.path.join(SCENARIO_DIR, "netvirt-dvr.yaml"), textwrap.dedent(text))
    assert any("a netvirt router's ports are on no bridge: no ofport" in str(p) for p in e.value.problems)
