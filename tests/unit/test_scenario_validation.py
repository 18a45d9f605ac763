"""Scenario loading and every validation error, with golden messages naming
file, line and key. No root needed: nothing is built."""

import textwrap

import pytest

from stacklab.errors import ScenarioError
from stacklab.scenario.loader import list_scenarios, load_scenario

BASE = """\
name: t
nodes:
  controller:
    role: controller
    nics:
      eth0: {physical_network: provider, address: 172.16.0.11/24}
    bridge_mappings: {provider: br-provider}
  compute1:
    role: compute
    nics:
      eth0: {physical_network: provider, address: 172.16.0.31/24}
    bridge_mappings: {provider: br-provider}
networks:
  selfservice:
    type: vxlan
    segmentation_id: 203
    subnet: {cidr: 192.168.101.0/24}
instances:
  vm1:
    node: compute1
    network: selfservice
    ip: 192.168.101.19
"""


def problems(text):
    with pytest.raises(ScenarioError) as e:
        load_scenario("t.yaml", textwrap.dedent(text))
    return [str(p) for p in e.value.problems]


def test_base_loads_with_defaults():
    sc = load_scenario("t.yaml", BASE)
    assert sc.name == "t"
    assert str(sc.nodes["compute1"].tunnel_ip) == "172.16.0.31"       # defaulted: first address
    assert sc.nodes["compute1"].nics["eth0"].bridge == "br-provider"
    vm = sc.instances["vm1"]
    assert vm.port.mac.startswith("fa:16:3e:")
    assert vm.port.name == "tap" + vm.port.id[:11]
    assert vm.mtu == 1450
    net = sc.networks["selfservice"]
    assert net.local_vlans == {"compute1": 1, "controller": 1}          # instance + DHCP port
    assert str(net.subnet.gateway) == "192.168.101.1"
    assert str(sc.dhcp_ports["selfservice"].ip) == "192.168.101.2"
    assert sc.dhcp_node == "controller"
    assert sc.instances["vm1"].port.security_groups == ["default"]
    assert "default" in sc.security_groups


def test_defaults_are_stable():
    a = load_scenario("t.yaml", BASE)
    b = load_scenario("t.yaml", BASE)
    assert a.instances["vm1"].port.mac == b.instances["vm1"].port.mac
    assert a.networks["selfservice"].id == b.networks["selfservice"].id


def test_unknown_key_with_suggestion():
    text = BASE.replace("    role: compute\n", "    role: compute\n    tunel_ip: 172.16.0.31\n")
    assert problems(text) == ["t.yaml:10: nodes.compute1.tunel_ip: unknown key (did you mean 'tunnel_ip'?)"]


def test_wrong_type():
    text = BASE.replace("segmentation_id: 203", "segmentation_id: many")
    assert problems(text) == ["t.yaml:16: networks.selfservice.segmentation_id: expected a whole number, got text"]


def test_bad_choice_and_missing_required():
    text = BASE.replace("role: compute", "role: hypervisor").replace("    network: selfservice\n", "")
    assert problems(text) == [
        "t.yaml:9: nodes.compute1.role: 'hypervisor' is not one of: controller, network, compute",
        "t.yaml:19: instances.vm1: missing required key 'network'",
    ]


def test_address_outside_subnet():
    text = BASE.replace("ip: 192.168.101.19", "ip: 10.0.0.5")
    assert problems(text) == [
        "t.yaml:22: instances.vm1.ip: 10.0.0.5 is outside subnet 192.168.101.0/24 of network selfservice"]


def test_duplicate_ip_and_mac():
    text = BASE + """\
    mac: "fa:16:3e:00:00:01"
  vm2:
    node: compute1
    network: selfservice
    ip: 192.168.101.19
    mac: "fa:16:3e:00:00:01"
"""
    assert problems(text) == [
        "t.yaml:27: instances.vm2.ip: 192.168.101.19 is also the address of vm1",
        "t.yaml:28: instances.vm2.mac: MAC fa:16:3e:00:00:01 is also the MAC of instances.vm1",
    ]


def test_duplicate_node_address():
    text = BASE.replace("address: 172.16.0.31/24", "address: 172.16.0.11/24")
    assert problems(text) == [
        "t.yaml:11: nodes.compute1.nics.eth0.address: 172.16.0.11 is already the address of controller eth0"]


def test_undefined_references():
    text = BASE.replace("node: compute1", "node: compute9").replace("network: selfservice", "network: nowhere")
    text += "    security_groups: [web]\n    keypair: nokey\n"
    assert problems(text) == [
        "t.yaml:20: instances.vm1.node: no node named compute9",
        "t.yaml:21: instances.vm1.network: no network named nowhere",
        "t.yaml:23: instances.vm1.security_groups.0: no security group named web",
        "t.yaml:24: instances.vm1.keypair: no key pair named nokey",
    ]


def test_vxlan_without_tunnel_path():
    # compute1's only NIC is on another physical network: no wire joins the tunnel IPs
    text = BASE.replace("eth0: {physical_network: provider, address: 172.16.0.31/24}",
                        "eth0: {physical_network: other, address: 10.9.0.31/24}")
    text = text.replace("    bridge_mappings: {provider: br-provider}\nnetworks", "networks")
    assert problems(text) == [
        "t.yaml:13: networks.selfservice: vxlan network selfservice has no tunnel path between controller "
        "(172.16.0.11) and compute1 (10.9.0.31): no physical network joins both tunnel IPs in one subnet"]


def test_vxlan_node_without_address():
    text = BASE.replace("      eth0: {physical_network: provider, address: 172.16.0.31/24}\n",
                        "      eth0: {physical_network: provider}\n")
    assert problems(text) == [
        "t.yaml:14: networks.selfservice: vxlan network selfservice is on node compute1, which has no tunnel "
        "path: it has no address to tunnel from (give it a NIC address or tunnel_ip)"]


def test_flat_network_needs_mapping_on_instance_node():
    text = BASE.replace("""  selfservice:
    type: vxlan
    segmentation_id: 203
    subnet: {cidr: 192.168.101.0/24}""", """  selfservice:
    type: flat
    physical_network: external
    subnet: {cidr: 192.168.101.0/24}""")
    assert problems(text) == [
        "t.yaml:16: networks.selfservice.physical_network: no node maps physical network external in its "
        "bridge_mappings",
        "t.yaml:20: instances.vm1.node: node compute1 does not reach physical network external of network "
        "selfservice (no bridge_mappings entry)",
        "t.yaml:16: networks.selfservice.physical_network: DHCP for selfservice runs on controller, which does "
        "not reach physical network external",
    ]


def test_subnet_problems():
    text = BASE.replace("subnet: {cidr: 192.168.101.0/24}",
                        "subnet: {cidr: 192.168.101.0/24, gateway: 192.168.102.1,\n"
                        "             allocation_pool: {start: 192.168.101.50, end: 192.168.101.10}}")
    assert problems(text) == [
        "t.yaml:17: networks.selfservice.subnet.gateway: 192.168.102.1 is not a host address of 192.168.101.0/24",
        "t.yaml:18: networks.selfservice.subnet.allocation_pool: start 192.168.101.50 is after end 192.168.101.10",
    ]


def test_bad_cidr_and_mac_and_address_forms():
    text = BASE.replace("cidr: 192.168.101.0/24", "cidr: 192.168.101.1/24")
    text = text.replace("address: 172.16.0.31/24", "address: 172.16.0.31")
    text += '    mac: "01:16:3e:00:00:01"\n'
    assert problems(text) == [
        "t.yaml:11: nodes.compute1.nics.eth0.address: '172.16.0.31' is not an IPv4 address with its prefix "
        "length (e.g. 172.16.0.31/24)",
        "t.yaml:17: networks.selfservice.subnet.cidr: '192.168.101.1/24' is not an IPv4 network in CIDR form "
        "(e.g. 192.168.101.0/24)",
        "t.yaml:23: instances.vm1.mac: '01:16:3e:00:00:01' is a multicast MAC address; a port needs a unicast one",
    ]


def test_network_type_rules():
    text = BASE.replace("""networks:
  selfservice:""", """networks:
  phys:
    type: vlan
    physical_network: provider
    subnet: {cidr: 10.1.0.0/24}
  flat1:
    type: flat
    physical_network: provider
    segmentation_id: 5
    subnet: {cidr: 10.2.0.0/24}
  selfservice:""")
    assert problems(text) == [
        "t.yaml:14: networks.phys: a vlan network needs a segmentation_id (the VLAN id)",
        "t.yaml:21: networks.flat1.segmentation_id: a flat network has no segmentation id",
    ]


def test_security_group_rule_problems():
    text = BASE + """\
security_groups:
  web:
    rules:
      - {direction: ingress, protocol: icmp, port: 22}
      - {direction: ingress, protocol: tcp, port_range: 90-80, remote_group: nope}
"""
    assert problems(text) == [
        "t.yaml:26: security_groups.web.rules.0: ports need protocol tcp or udp",
        "t.yaml:27: security_groups.web.rules.1.port_range: '90-80' is not a range within 1-65535",
        "t.yaml:27: security_groups.web.rules.1.remote_group: no security group named nope",
    ]


def test_checks_are_validated_up_front():
    text = BASE + """\
checks:
  - bridge: {node: compute7, name: br-int}
  - bridg: {node: compute1, name: br-int}
  - address: {instance: vm1, mtu: big}
"""
    assert problems(text) == [
        "t.yaml:25: checks.1.bridg: unknown kind (did you mean 'bridge'?); kinds: address, bridge, command, daemons, dhcp, flows, lb, metadata, ovn, ping, port, router_state, snat, ssh, tcp, walk",
        "t.yaml:26: checks.2.address.mtu: expected a whole number, got text",
    ]


def test_check_reference_errors_after_format_errors_are_fixed():
    text = BASE + "checks:\n  - bridge: {node: compute7, name: br-int}\n"
    assert problems(text) == ["t.yaml:24: checks.0.bridge.node: no node named compute7"]


def test_all_problems_of_a_file_in_one_run():
    text = BASE.replace("role: compute", "role: hypervisor").replace("segmentation_id: 203",
                                                                     "segmentation_id: x")
    assert len(problems(text)) == 2


def test_yaml_syntax_error_names_the_line():
    assert problems("name: t\nnodes:\n  a: [1, 2\n") == [
        "t.yaml:4: (top level): not valid YAML: expected ',' or ']', but got '<stream end>'"]


def test_duplicate_key():
    text = BASE.replace("networks:\n", "networks:\n  selfservice: {type: flat}\n", 1)
    assert problems(text) == ["t.yaml:15: networks.selfservice: duplicate key"]


def test_empty_file_and_missing_file():
    assert problems("") == ["t.yaml:1: (top level): the file is empty"]
    with pytest.raises(ScenarioError) as e:
        load_scenario("/nonexistent/x.yaml")
    assert str(e.value.problems[0]) == "/nonexistent/x.yaml: (top level): cannot read: No such file or directory"


def test_pinned_local_vlans_and_allocation():
    text = BASE.replace("    segmentation_id: 203\n", "    segmentation_id: 203\n    local_vlans: {compute1: 3}\n")
    text = text.replace("networks:\n", """networks:
  provider:
    type: flat
    physical_network: provider
    local_vlans: {compute1: 1}
    subnet: {cidr: 172.16.0.0/24, allocation_pool: {start: 172.16.0.100, end: 172.16.0.200}}
""")
    sc = load_scenario("t.yaml", text)
    assert sc.networks["selfservice"].local_vlans == {"compute1": 3, "controller": 2}
    assert sc.networks["provider"].local_vlans == {"compute1": 1, "controller": 1}


def test_shipped_scenarios_are_valid():
    paths = list_scenarios()
    assert paths, "no scenarios shipped"
    for path in paths:
        load_scenario(path)


def test_datapath_type():
    assert load_scenario("t.yaml", BASE).datapath_type == "netdev"           # userspace unless asked
    assert load_scenario("t.yaml", "datapath_type: system\n" + BASE).datapath_type == "system"
    assert problems("datapath_type: kernel\n" + BASE) == [
        "t.yaml:1: datapath_type: 'kernel' is not one of: netdev, system"]
