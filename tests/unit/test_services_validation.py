"""Routers, floating IPs, external hosts and load balancers in a scenario:
what the loader makes of them, and every problem with its golden message."""

import textwrap

import pytest

from stacklab.errors import ScenarioError
from stacklab.scenario.loader import load_scenario

BASE = """\
name: t
nodes:
  controller:
    role: controller
    nics:
      eth0: {physical_network: provider, address: 172.16.0.11/24}
      eth1: {physical_network: mgmt, address: 10.0.0.11/24}
    bridge_mappings: {provider: br-provider, mgmt: br-mgmt}
  compute1:
    role: compute
    nics:
      eth0: {physical_network: provider, address: 172.16.0.31/24}
      eth1: {physical_network: mgmt}
    bridge_mappings: {provider: br-provider, mgmt: br-mgmt}
networks:
  selfservice:
    type: vxlan
    subnet: {cidr: 192.168.101.0/24}
  lb-mgmt:
    type: flat
    physical_network: mgmt
    subnet: {cidr: 10.0.0.0/24}
  provider:
    type: flat
    physical_network: provider
    external: true
    subnet: {cidr: 172.17.0.0/24, dhcp: false}
instances:
  vm1: {node: compute1, network: selfservice, ip: 192.168.101.19}
  vm2: {node: compute1, network: selfservice, ip: 192.168.101.20}
hosts:
  workstation: {physical_network: provider, address: 172.17.0.10/24}
routers:
  r1:
    external_gateway: provider
    interfaces: [selfservice]
load_balancers:
  lb:
    vip: selfservice
    amphora: {node: compute1, management_network: lb-mgmt}
    listeners:
      web: {port: 80, pool: pool1}
    pools:
      pool1:
        members:
          - {instance: vm1, port: 80}
          - {address: 192.168.101.20, port: 80}
floating_ips:
  - {address: 172.17.0.95, instance: vm1}
  - {address: 172.17.0.146, load_balancer: lb}
"""


def problems(text):
    with pytest.raises(ScenarioError) as e:
        load_scenario("t.yaml", textwrap.dedent(text))
    return [str(p) for p in e.value.problems]


def test_router_ports_and_floating_ips():
    sc = load_scenario("t.yaml", BASE)
    r1 = sc.routers["r1"]
    assert r1.node == "controller" and r1.namespace == "qrouter-" + r1.id
    assert r1.gateway.name == "qg-" + r1.gateway.id[:11] and r1.gateway.network == "provider"
    assert str(r1.gateway.ip) == "172.17.0.2"                         # the first free pool address
    [qr] = r1.interfaces
    assert (qr.name, str(qr.ip), qr.device_owner) == ("qr-" + qr.id[:11], "192.168.101.1",
                                                      "network:router_interface")
    fip, vip_fip = sc.floating_ips
    assert (str(fip.fixed_ip), fip.port_id, fip.router) == ("192.168.101.19", sc.instances["vm1"].port.id, "r1")
    assert str(vip_fip.fixed_ip) == str(sc.load_balancers["lb"].vip_address)
    # router ports are bound on the controller: its br-int has the external network
    assert "controller" in sc.networks["provider"].local_vlans
    assert {p.name for p in sc.ports("controller")} >= {r1.gateway.name, qr.name}


def test_load_balancer_becomes_an_amphora_instance():
    sc = load_scenario("t.yaml", BASE)
    lb = sc.load_balancers["lb"]
    amp = sc.instances[lb.amphora]
    assert amp.name == "amphora-lb" and amp.user == "cloud-user" and amp.node == "compute1"
    mgmt, vrrp = amp.ports
    assert (mgmt.network, mgmt.interface, mgmt.netns) == ("lb-mgmt", "ens3", None)
    assert (vrrp.network, vrrp.interface, vrrp.netns) == ("selfservice", "eth1", "amphora-haproxy")
    assert vrrp.allowed_address_pairs == [(lb.vip_address, vrrp.mac)]
    assert mgmt.security_groups == ["lb-mgmt-sec-grp"] and vrrp.security_groups == ["lb-" + lb.id]
    rules = [(r.direction, r.protocol, r.port_min) for r in sc.security_groups["lb-" + lb.id].rules]
    assert rules == [("ingress", "tcp", 80), ("egress", None, None), ("egress", None, None)]
    mgmt_rules = [(r.protocol, r.port_min) for r in sc.security_groups["lb-mgmt-sec-grp"].rules if r.direction == "ingress"]
    assert mgmt_rules == [("icmp", None), ("tcp", 22), ("tcp", 9443)]
    members = lb.pools["pool1"].members
    assert [(str(m.address), m.instance) for m in members] == [("192.168.101.19", "vm1"), ("192.168.101.20", "vm2")]
    assert lb.controller == "controller"


def test_allowed_address_pairs():
    text = BASE.replace("vm2: {node: compute1, network: selfservice, ip: 192.168.101.20}",
                        "vm2: {node: compute1, network: selfservice, ip: 192.168.101.20, allowed_address_pairs: "
                        "[192.168.101.50, {ip_address: 192.168.101.51, mac_address: 'fa:16:3e:00:00:51'}]}")
    port = load_scenario("t.yaml", text).instances["vm2"].port
    assert [(str(ip), mac) for ip, mac in port.allowed_address_pairs] == [
        ("192.168.101.50", port.mac), ("192.168.101.51", "fa:16:3e:00:00:51")]


def test_floating_ip_outside_the_external_subnet():
    assert problems(BASE.replace("172.17.0.95, instance", "10.9.9.9, instance")) == [
        "t.yaml:49: floating_ips.0.address: 10.9.9.9 is outside subnet 172.17.0.0/24 of network provider"]


def test_two_floating_ips_on_one_address():
    assert problems(BASE.replace("172.17.0.146, load_balancer", "172.17.0.95, load_balancer")) == [
        "t.yaml:50: floating_ips.1.address: floating IP 172.17.0.95 is listed twice"]


def test_floating_ip_on_the_router_gateway_address():
    text = BASE.replace("external_gateway: provider", "external_gateway: {network: provider, ip: 172.17.0.95}")
    assert problems(text) == [
        "t.yaml:49: floating_ips.0.address: 172.17.0.95 is also the address of router r1"]


def test_gateway_on_a_network_that_is_not_external():
    assert problems(BASE.replace("external_gateway: provider", "external_gateway: lb-mgmt")) == [
        "t.yaml:35: routers.r1.external_gateway.network: network lb-mgmt is not external (give it `external: true`)"]


def test_interface_on_the_external_network():
    assert problems(BASE.replace("interfaces: [selfservice]", "interfaces: [selfservice, provider]")) == [
        "t.yaml:36: routers.r1.interfaces.1.network: provider is external: it takes the router's "
        "external_gateway, not an interface"]


def test_router_interface_on_a_subnet_it_cannot_reach():
    text = BASE.replace("  lb-mgmt:\n", "  office:\n    type: flat\n    physical_network: office\n"
                                         "    subnet: {cidr: 10.5.0.0/24, dhcp: false}\n  lb-mgmt:\n")
    text = text.replace("interfaces: [selfservice]", "interfaces: [selfservice, office]")
    assert problems(text) == [
        "t.yaml:21: networks.office.physical_network: no node maps physical network office in its bridge_mappings",
        "t.yaml:40: routers.r1.interfaces.1.network: router r1 runs on controller, which does not reach physical "
        "network office of network office (no bridge_mappings entry)"]


def test_floating_ip_with_no_router_to_its_network():
    assert problems(BASE.replace("    interfaces: [selfservice]\n", "")) == [
        "t.yaml:48: floating_ips.0: vm1 is on network selfservice, which no router joins to provider (a floating "
        "IP needs one)",
        "t.yaml:49: floating_ips.1: load balancer lb is on network selfservice, which no router joins to provider "
        "(a floating IP needs one)"]


def test_external_network_must_ride_a_physical_network():
    text = BASE.replace("    type: flat\n    physical_network: provider\n    external: true",
                        "    type: vxlan\n    external: true")
    assert problems(text) == [
        "t.yaml:25: networks.provider.external: an external network rides a physical network: make provider "
        "flat or vlan"]


def test_load_balancer_problems():
    text = BASE.replace("web: {port: 80, pool: pool1}",
                        "web: {port: 80, pool: nopool}\n      web2: {port: 80, protocol: HTTP, pool: pool1}")
    text = text.replace("- {instance: vm1, port: 80}", "- {port: 80}")
    text = text.replace("management_network: lb-mgmt", "management_network: selfservice")
    assert problems(text) == [
        "t.yaml:40: load_balancers.lb.amphora.management_network: the management network must not be the VIP "
        "network selfservice",
        "t.yaml:47: load_balancers.lb.pools.pool1.members.0: give the member's address or its instance",
        "t.yaml:42: load_balancers.lb.listeners.web.pool: no pool named nopool in load balancer lb",
        "t.yaml:43: load_balancers.lb.listeners.web2.port: port 80 is also the port of listener web",
        "t.yaml:43: load_balancers.lb.listeners.web2.pool: listener web2 is HTTP, so its pool must be too; pool "
        "pool1 is TCP",
    ]


def test_member_instance_must_exist():
    assert problems(BASE.replace("- {instance: vm1, port: 80}", "- {instance: vm9, port: 80}")) == [
        "t.yaml:46: load_balancers.lb.pools.pool1.members.0.instance: no instance named vm9"]


def test_octavia_controller_needs_an_address_on_the_management_network():
    text = BASE.replace("eth1: {physical_network: mgmt, address: 10.0.0.11/24}", "eth1: {physical_network: mgmt}")
    assert problems(text) == [
        "t.yaml:40: load_balancers.lb.amphora.management_network: Octavia's controller reaches the amphora over "
        "lb-mgmt: no node has an address on 10.0.0.0/24 (give the controller a NIC there)"]


def test_external_host_problems():
    text = BASE.replace("workstation: {physical_network: provider, address: 172.17.0.10/24}",
                        "compute1: {physical_network: nowhere, address: 172.16.0.31/24}")
    assert problems(text) == [
        "t.yaml:32: hosts.compute1.physical_network: no node has a NIC on physical network nowhere",
        "t.yaml:32: hosts.compute1.address: 172.16.0.31 is already the address of compute1 eth0",
        "t.yaml:32: hosts.compute1: compute1 is also the name of node compute1",
    ]


def test_a_key_yaml_reads_as_a_boolean():
    assert problems(BASE.replace("    interfaces: [selfservice]\n", "    interfaces: [selfservice]\n    on: true\n")) == [
        "t.yaml:37: routers.r1: YAML reads the key 'on' as true: quote it ('on')"]
