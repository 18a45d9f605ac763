"""L3 HA in a scenario (the HA network, ha- ports, VRIDs, where the router's
ports go), keepalived.conf as neutron renders it, and the golden errors."""

import textwrap

import pytest

from stacklab.errors import ScenarioError
from stacklab.scenario.loader import find_scenario, load_scenario
from topologies.ha_router import keepalived_conf, link_local, primary_vip

EXPECTED = """\
global_defs {
    notification_email_from neutron@openstack.local
    router_id neutron
}
vrrp_instance VR_1 {
    state BACKUP
    interface ha-81b4fcf1-8e
    virtual_router_id 1
    priority 50
    garp_master_delay 60
    nopreempt
    advert_int 2
    track_interface {
        ha-81b4fcf1-8e
    }
    virtual_ipaddress {
        169.254.0.1/24 dev ha-81b4fcf1-8e
    }
    virtual_ipaddress_excluded {
        172.17.0.101/24 dev qg-8897f45f-d0 no_track
        172.17.0.120/32 dev qg-8897f45f-d0 no_track
        192.168.101.1/24 dev qr-fb480a7d-cb no_track
        fe80::f816:3eff:fe42:3f3e/64 dev qg-8897f45f-d0 scope link no_track
        fe80::f816:3eff:fe59:45d2/64 dev qr-fb480a7d-cb scope link no_track
    }
    virtual_routes {
        0.0.0.0/0 via 172.17.0.1 dev qg-8897f45f-d0 no_track
    }
}"""


def l3_ha():
    return load_scenario(find_scenario("l3-ha"))


def test_keepalived_conf_as_neutron_renders_it():
    sc = l3_ha()
    r = sc.routers["router"]
    assert keepalived_conf(r, r.ha_ports["network1"], sc.networks, sc.floating_ips) == EXPECTED
    # the other node's differs by its ha- port only
    other = keepalived_conf(r, r.ha_ports["network2"], sc.networks, sc.floating_ips)
    assert other == EXPECTED.replace("ha-81b4fcf1-8e", r.ha_ports["network2"].name)


def test_link_local_and_primary_vip():
    assert str(link_local("fa:16:3e:59:45:d2")) == "fe80::f816:3eff:fe59:45d2"
    r = l3_ha().routers["router"]
    assert primary_vip(r) == "169.254.0.1/24"


def test_the_ha_network_and_the_routers_ports():
    sc = l3_ha()
    r = sc.routers["router"]
    [ha_net] = [n for n in sc.networks.values() if n.name.startswith("HA network tenant ")]
    assert ha_net.type == "vxlan" and str(ha_net.subnet.cidr) == "169.254.192.0/18" and not ha_net.subnet.dhcp
    assert ha_net.subnet.gateway is None and ha_net.segmentation_id == 1           # the lowest free VNI
    assert r.ha and r.node is None and r.vrid == 1 and list(r.hosts) == ["network1", "network2"]
    assert [(p.node, str(p.ip)) for p in r.ha_ports.values()] == [("network1", "169.254.192.1"),
                                                                   ("network2", "169.254.192.2")]
    assert all(p.name.startswith("ha-") and p.device_owner == "network:router_ha_interface"
               for p in r.ha_ports.values())
    for node, ports in r.hosts.items():
        assert [(p.name, p.mac, p.ip, p.node) for p in ports] == [(x.name, x.mac, x.ip, node) for x in r.ports()]
    assert r.interfaces[0].device_owner == "network:ha_router_replicated_interface"
    assert sorted(ha_net.local_vlans) == ["network1", "network2"]
    assert "sg-" not in " ".join(p.name for p in sc.ports())


BASE = """\
name: t
agent: {force_metadata: true}
nodes:
  n1:
    role: network
    nics: {eth0: {physical_network: provider, address: 172.16.0.21/24}}
    bridge_mappings: {provider: br-provider}
  n2:
    role: network
    nics: {eth0: {physical_network: provider, address: 172.16.0.22/24}}
    bridge_mappings: {provider: br-provider}
  c1:
    role: compute
    nics: {eth0: {physical_network: provider, address: 172.16.0.31/24}}
networks:
  blue: {type: vxlan, segmentation_id: 1, subnet: {cidr: 10.0.1.0/24}}
  ext:
    type: flat
    physical_network: provider
    external: true
    subnet: {cidr: 172.17.0.0/24, dhcp: false}
routers:
  r1: {ha: true, external_gateway: {network: ext}, interfaces: [blue]}
  r2: {ha: true, interfaces: [blue]}
"""


def problems(text):
    with pytest.raises(ScenarioError) as e:
        load_scenario("t.yaml", textwrap.dedent(text))
    return [str(p) for p in e.value.problems]


def test_defaults_vnis_and_vrids():
    sc = load_scenario("t.yaml", BASE.replace("  r2: {ha: true, interfaces: [blue]}\n",
                                              "  r2: {ha: true, interfaces: [{network: blue, ip: 10.0.1.254}]}\n"))
    assert [r.vrid for r in sc.routers.values()] == [1, 2]
    assert list(sc.routers["r1"].hosts) == ["n1", "n2"]                 # every legacy L3 agent's node
    ha_net = next(n for n in sc.networks.values() if n.name.startswith("HA network"))
    assert ha_net.segmentation_id == 2                                    # 1 is blue's


@pytest.mark.parametrize("change, message", [
    (("  r1: {ha: true,", "  r1: {ha: true, ha_nodes: [n1, c1],"),
     "t.yaml:23: routers.r1.ha_nodes.1: c1 runs no L3 agent: an HA router needs L3 agents in legacy or dvr_snat mode"),
    (("  r1: {ha: true,", "  r1: {ha: true, ha_nodes: [n1],"),
     "t.yaml:23: routers.r1.ha_nodes: two or three different nodes (neutron's max_l3_agents_per_router is 3)"),
    (("  r1: {ha: true,", "  r1: {ha: true, node: n1,"),
     "t.yaml:23: routers.r1.node: an HA router has no node: it runs on each of its ha_nodes"),
    (("  r1: {ha: true,", "  r1: {ha: true, vrid: 7, ha_nodes: [n1, n2],"),
     None),
])
def test_what_is_refused(change, message):
    text = BASE.replace(*change).replace("  r2: {ha: true, interfaces: [blue]}\n", "")
    if message is None:
        assert load_scenario("t.yaml", textwrap.dedent(text)).routers["r1"].vrid == 7
    else:
        assert message in problems(text), problems(text)


def test_the_metadata_proxy_of_an_ha_router_is_on_each_of_its_nodes():
    from topologies import metadata
    from topologies.routers import nat_table
    text = BASE.replace("agent: {force_metadata: true}\n", "").replace("  r2: {ha: true, interfaces: [blue]}\n", "")
    sc = load_scenario("t.yaml", textwrap.dedent(text))
    r = sc.routers["r1"]
    assert r.metadata_proxy and metadata.proxy_nodes(r) == ["n1", "n2"]        # haproxy on the master only
    assert set(metadata.agent_nodes(sc)) >= {"n1", "n2"}
    assert "-A neutron-l3-agent-PREROUTING %s" % metadata.iptables_nat_rule() in nat_table(r, [])


def test_one_l3_agent_is_not_enough():
    text = BASE.replace("  n2:\n    role: network\n", "  n2:\n    role: compute\n").replace(
        "  r2: {ha: true, interfaces: [blue]}\n", "")
    assert "t.yaml:23: routers.r1.ha: an HA router needs two nodes with an L3 agent in legacy or dvr_snat mode; " \
           "only n1 has one" in problems(text)


# -- a distributed HA router: DVR on the computes, its SNAT kept by keepalived in snat- ----------
def dvr_ha():
    return load_scenario(find_scenario("dvr-ha"))


def test_a_distributed_ha_router_keeps_its_snat_on_each_dvr_snat_node():
    sc = dvr_ha()
    r = sc.routers["router"]
    assert r.distributed and r.ha and r.snat_node == "network1"
    assert list(r.hosts) == ["network1", "network2", "compute1", "compute2"]     # qrouter-: DVR's, everywhere
    assert list(r.snat_hosts) == list(r.ha_ports) == ["network1", "network2"]
    one, two = r.snat_hosts.values()
    # the same sg- and qg- ports (names, MACs, addresses) on both, each bound on its own node
    assert [(p.name, p.mac, p.ip) for p in one] == [(p.name, p.mac, p.ip) for p in two]
    assert [p.name[:3] for p in one] == ["sg-", "sg-", "sg-", "qg-"]          # blue, green, red; the gateway
    assert {p.node for p in one} == {"network1"} and {p.node for p in two} == {"network2"}
    bound = {(p.node, p.name) for p in r.bound_ports()}
    assert ("network2", one[0].name) in bound and ("network2", r.ha_ports["network2"].name) in bound
    assert not any(p.name.startswith("ha-") for node in ("compute1", "compute2") for p in r.hosts[node])


def test_keepalived_in_snat_keeps_the_sg_and_qg_addresses_not_the_floating_ips():
    sc = dvr_ha()
    r = sc.routers["router"]
    conf = keepalived_conf(r, r.ha_ports["network1"], sc.networks, sc.floating_ips)
    sg = [p for p in r.snat_hosts["network1"] if p.name.startswith("sg-")]
    excluded = conf.split("virtual_ipaddress_excluded {\n")[1].split("    }")[0].splitlines()
    assert [line.strip() for line in excluded] == sorted(
        ["%s/24 dev %s no_track" % (p.ip, p.name) for p in sg] + ["172.17.0.101/24 dev qg-8897f45f-d0 no_track"]
        + ["%s/64 dev %s scope link no_track" % (link_local(p.mac), p.name) for p in r.snat_hosts["network1"]],
        key=lambda line: line.split()[0])
    assert "172.17.0.120" not in conf               # compute1's fip- namespace serves it
    assert "interface %s" % r.ha_ports["network1"].name in conf
    assert "0.0.0.0/0 via 172.17.0.1 dev qg-8897f45f-d0 no_track" in conf


DVR_BASE = """\
name: t
agent: {force_metadata: true}
nodes:
  n1: {role: network, l3_agent_mode: dvr_snat, nics: {eth0: {physical_network: provider, address: 10.9.0.1/24}}, bridge_mappings: {provider: br-provider}}
  n2: {role: network, l3_agent_mode: dvr_snat, nics: {eth0: {physical_network: provider, address: 10.9.0.2/24}}, bridge_mappings: {provider: br-provider}}
  n3: {role: network, nics: {eth0: {physical_network: provider, address: 10.9.0.3/24}}, bridge_mappings: {provider: br-provider}}
  c1: {role: compute, l3_agent_mode: dvr, nics: {eth0: {physical_network: provider, address: 10.9.0.4/24}}, bridge_mappings: {provider: br-provider}}
networks:
  blue: {type: vxlan, segmentation_id: 1, subnet: {cidr: 10.0.1.0/24}}
  ext: {type: flat, physical_network: provider, external: true, subnet: {cidr: 172.17.0.0/24, dhcp: false}}
instances:
  vm1: {node: c1, network: blue}
routers:
  r: {distributed: true, ha: true, external_gateway: {network: ext}, interfaces: [blue]}
"""


@pytest.mark.parametrize("change, message", [
    (("ha: true, external", "ha: true, ha_nodes: [n1, n3], external"),
     "t.yaml:14: routers.r.ha_nodes.1: n3 runs its L3 agent in legacy mode: a distributed HA router needs L3 "
     "agents in dvr_snat mode"),
    (("ha: true, external_gateway: {network: ext}, ", "ha: true, "),
     "t.yaml:14: routers.r.ha: a distributed router's L3 HA keeps its SNAT (snat-<id> on two or three dvr_snat "
     "nodes): give it an external_gateway, or drop ha"),
    (("nics: {eth0: {physical_network: provider, address: 10.9.0.2/24}}, bridge_mappings: {provider: br-provider}",
      "nics: {eth0: {physical_network: other, address: 10.9.0.2/24}}"),
     "t.yaml:14: routers.r.ha_nodes: router r keeps its SNAT on n2, which does not reach ext or one of its "
     "internal networks (no bridge_mappings entry)"),
    (("{network: ext}", "{network: ext, ofport: 9}"),
     "t.yaml:14: routers.r.external_gateway.ofport: an HA router's qg- port is on each of its nodes: it has no one "
     "ofport"),
])
def test_what_a_distributed_ha_router_refuses(change, message):
    assert change[0] in DVR_BASE
    assert message in problems(DVR_BASE.replace(*change)), problems(DVR_BASE.replace(*change))


def test_a_distributed_ha_router_defaults_to_the_dvr_snat_nodes():
    r = load_scenario("t.yaml", DVR_BASE).routers["r"]
    assert list(r.ha_ports) == list(r.snat_hosts) == ["n1", "n2"]       # not n3 (legacy)
    assert list(r.hosts) == ["n1", "n2", "c1"]
