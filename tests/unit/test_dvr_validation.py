"""DVR and L3 HA in a scenario: what loads (modes, DVR MACs, where a
distributed router's qr-, sg- and qg- ports go) and the golden one-line
errors for what neutron refuses or the lab does not emulate."""

import textwrap

import pytest

from stacklab.errors import ScenarioError
from stacklab.scenario.loader import find_scenario, load_scenario

BASE = """\
name: t
agent: {force_metadata: true}
nodes:
  network:
    role: network
    l3_agent_mode: dvr_snat
    nics:
      eth0: {physical_network: provider, address: 172.16.0.21/24}
    bridge_mappings: {provider: br-provider}
  compute1:
    role: compute
    l3_agent_mode: dvr
    nics:
      eth0: {physical_network: provider, address: 172.16.0.31/24}
  compute2:
    role: compute
    nics:
      eth0: {physical_network: provider, address: 172.16.0.32/24}
networks:
  blue:
    type: vxlan
    segmentation_id: 301
    subnet: {cidr: 10.0.1.0/24}
  ext:
    type: flat
    physical_network: provider
    external: true
    subnet: {cidr: 172.17.0.0/24, dhcp: false}
instances:
  vm1: {node: compute1, network: blue}
routers:
  r:
    distributed: true
    external_gateway: {network: ext}
    interfaces: [blue]
"""


def load(text=BASE):
    return load_scenario("t.yaml", textwrap.dedent(text))


def problems(text):
    with pytest.raises(ScenarioError) as e:
        load(text)
    return [str(p) for p in e.value.problems]


def test_a_distributed_router_is_on_its_instances_computes_and_its_snat_on_the_dvr_snat_node():
    sc = load()
    r = sc.routers["r"]
    assert r.distributed and r.node is None and r.snat_node == "network"
    assert list(r.hosts) == ["network", "compute1"]        # the scenario's node order; not compute2
    for node, ports in r.hosts.items():
        assert [(p.name, p.ip, p.mac, p.node) for p in ports] == \
            [(i.name, i.ip, i.mac, node) for i in r.interfaces]
    assert r.interfaces[0].device_owner == "network:router_interface_distributed"
    assert str(r.interfaces[0].ip) == "10.0.1.1"
    [sg] = r.snat_ports
    assert sg.name.startswith("sg-") and sg.node == "network" and sg.device_owner == "network:router_centralized_snat"
    assert sg.ip in sc.networks["blue"].subnet.cidr and sg.ip != r.interfaces[0].ip
    assert r.gateway.node == "network" and r.gateway.name.startswith("qg-")
    # the ports each node binds: its copy of qr-, the SNAT node its sg- and qg- too
    assert {p.name for p in sc.ports("compute1")} >= {r.interfaces[0].name}
    assert {p.name for p in sc.ports("network")} >= {r.interfaces[0].name, sg.name, r.gateway.name}
    assert not any(p.name.startswith("qr-") for p in sc.ports("compute2"))


def test_modes_default_and_dvr_macs_for_every_node():
    sc = load()
    assert [n.l3_agent_mode for n in sc.nodes.values()] == ["dvr_snat", "dvr", None]
    assert sc.distributed_routing
    macs = [n.dvr_mac for n in sc.nodes.values()]
    assert all(m.startswith("fa:16:3f:") for m in macs) and len(set(macs)) == 3
    assert load().nodes["compute1"].dvr_mac == macs[1]          # derived from the names, the same every time
    legacy = load_scenario(find_scenario("vxlan-instance"))
    assert not legacy.distributed_routing and legacy.nodes["controller"].l3_agent_mode == "legacy"
    assert legacy.nodes["controller"].dvr_mac is None


def test_dvr_mac_pinned():
    sc = load(BASE.replace("    l3_agent_mode: dvr\n", "    l3_agent_mode: dvr\n    dvr_mac: fa:16:3f:01:02:03\n"))
    assert sc.nodes["compute1"].dvr_mac == "fa:16:3f:01:02:03"


@pytest.mark.parametrize("change, message", [
    (("    distributed: true\n", "    distributed: true\n    ha: true\n"),
     "t.yaml:34: routers.r.ha: a distributed HA router needs two nodes with an L3 agent in dvr_snat mode; only "
     "network has one"),
    (("    distributed: true\n", "    distributed: true\n    node: network\n"),
     "t.yaml:34: routers.r.node: a distributed router has no node: it runs on every dvr node hosting its "
     "instances, its SNAT on a dvr_snat node"),
    (("  vm1: {node: compute1, network: blue}\n", "  vm1: {node: compute2, network: blue}\n"),
     "t.yaml:30: instances.vm1.node: vm1 is on network blue of distributed router r, but compute2 runs no L3 "
     "agent (set nodes.compute2.l3_agent_mode: dvr)"),
    (("    l3_agent_mode: dvr_snat\n", "    l3_agent_mode: dvr\n"),
     "t.yaml:34: routers.r.external_gateway.network: router r is distributed: its SNAT needs a node whose L3 "
     "agent runs in dvr_snat mode (nodes.NAME.l3_agent_mode) and reaches ext; no node has one"),
    (("    interfaces: [blue]\n", "    interfaces: [{network: blue, ofport: 9}]\n"),
     "t.yaml:35: routers.r.interfaces.0.ofport: a distributed router's qr- port is on every node hosting the "
     "router: it has no one ofport"),
    (("    l3_agent_mode: dvr\n", "    l3_agent_mode: centralized\n"),
     "t.yaml:12: nodes.compute1.l3_agent_mode: 'centralized' is not one of: legacy, dvr, dvr_snat"),
])
def test_what_is_refused(change, message):
    assert message in problems(BASE.replace(*change)), problems(BASE.replace(*change))


def test_a_floating_ip_lives_in_its_instances_computes_fip_namespace():
    text = BASE.replace("      eth0: {physical_network: provider, address: 172.16.0.31/24}\n",
                        "      eth0: {physical_network: provider, address: 172.16.0.31/24}\n"
                        "    bridge_mappings: {provider: br-provider}\n")
    sc = load(text + "floating_ips:\n  - {address: 172.17.0.50, instance: vm1}\n")
    [fip] = sc.floating_ips
    r = sc.routers["r"]
    assert fip.router == "r" and fip.node == "compute1" and fip.rule_priority == 32768
    [fg] = sc.fip_gateways
    assert fg.name.startswith("fg-") and fg.node == "compute1" and fg.network == "ext"
    assert fg.device_owner == "network:floatingip_agent_gateway" and fg.ip in sc.networks["ext"].subnet.cidr
    assert fg.ip != fip.address and fg in sc.ports("compute1")
    rfp, fpr = r.fip_links["compute1"]
    assert int(rfp) % 2 == 0 and fpr == rfp + 1 and str(rfp).startswith("169.254.")
    assert r.rfp == "rfp-" + r.id[:11] and r.fpr == "fpr-" + r.id[:11]


def test_floating_ips_a_distributed_router_cannot_serve():
    # the compute does not reach the external network
    assert problems(BASE + "floating_ips:\n  - {address: 172.17.0.50, instance: vm1}\n") == [
        "t.yaml:37: floating_ips.0: vm1's floating IP leaves compute1 by its fip- namespace, but compute1 does not "
        "reach physical network provider of ext (add a bridge_mappings entry)"]


def test_a_legacy_router_needs_a_legacy_or_dvr_snat_node():
    text = BASE.replace("    distributed: true\n", "    node: compute1\n").replace(
        "    external_gateway: {network: ext}\n", "")
    assert "t.yaml:33: routers.r.node: compute1 runs its L3 agent in dvr mode: a legacy router needs a node whose " \
           "L3 agent runs in legacy or dvr_snat mode" in problems(text)
    # on the dvr_snat node it is fine (neutron's dvr_snat agents host legacy routers too)
    assert load(BASE.replace("    distributed: true\n", "    node: network\n")).routers["r"].node == "network"


def test_ovn_and_netvirt_routers_are_distributed_already():
    sc = load_scenario(find_scenario("ovn-router"))
    assert all(not r.distributed for r in sc.routers.values())


def test_the_metadata_proxy_is_in_each_qrouter_of_a_distributed_router():
    from topologies import metadata
    from topologies.dvr import nat_table
    sc = load_scenario("t.yaml", BASE.replace("agent: {force_metadata: true}\n", ""))
    r = sc.routers["r"]
    assert r.metadata_proxy
    assert metadata.proxy_nodes(r) == list(r.hosts) and "compute1" in r.hosts
    assert "compute1" in metadata.agent_nodes(sc)               # its metadata agent serves the local proxy
    assert r.id in metadata.agent_ports(sc, "compute1")["routers"]
    assert "-A neutron-l3-agent-PREROUTING %s" % metadata.iptables_nat_rule() in nat_table(r, [])
    off = load_scenario("t.yaml", BASE.replace("agent: {force_metadata: true}\n", "agent: {metadata_proxy: false}\n"))
    assert not off.routers["r"].metadata_proxy and metadata.iptables_nat_rule() not in "\n".join(
        nat_table(off.routers["r"], []))
