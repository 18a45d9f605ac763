"""ML2/OVN: the scenario as the northbound rows neutron's OVN driver writes
(names, external_ids, DHCP options, ACL matches and priorities), and the
scenario keys an OVN lab refuses with their line."""

import os

import pytest

from stacklab.errors import ScenarioError
from stacklab.scenario.loader import SCENARIO_DIR, load_scenario
from topologies import ovn_nb
from topologies.controlplanes.ovn import central_script, chassis_ids

OVN = load_scenario(os.path.join(SCENARIO_DIR, "ovn-instance.yaml"))
NET_ID = "9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1"
PORT_ID = "8811e933-5c4e-4bd2-a6a1-0c87c2f1a3b5"


def _by(rows, table, name):
    return next(r for r in rows[table] if r.get("name") == name)


def test_logical_switch_as_neutron_names_it():
    rows = ovn_nb.rows(OVN)
    ls = _by(rows, "Logical_Switch", "neutron-" + NET_ID)
    assert ls["external_ids"]["neutron:network_name"] == "selfservice"
    assert ls["external_ids"]["neutron:mtu"] == "1442"
    assert ls["other_config"] == {"mcast_flood_unregistered": "false", "mcast_snoop": "false",
                                  "vlan-passthru": "false"}
    meta = OVN.metadata_ports["selfservice"]
    assert ls["ports"] == ["@lsp:" + meta.id, "@lsp:" + PORT_ID,
                           "@lsp:" + OVN.instances["instance03"].port.id]


def test_instance_port_bound_by_its_id_with_port_security():
    rows = ovn_nb.rows(OVN)
    lsp = _by(rows, "Logical_Switch_Port", PORT_ID)
    assert lsp["type"] == ""
    assert lsp["addresses"] == ["fa:16:3e:55:18:7a 192.168.101.19"]
    assert lsp["port_security"] == ["fa:16:3e:55:18:7a 192.168.101.19"]
    assert lsp["options"] == {"mcast_flood_reports": "true", "requested-chassis": "compute1"}
    ids = lsp["external_ids"]
    assert ids["neutron:cidrs"] == "192.168.101.19/24"
    assert ids["neutron:device_id"] == "36b496b2-4976-4bf1-88c0-09f44385fd19"
    assert ids["neutron:device_owner"] == "compute:nova"
    assert ids["neutron:network_name"] == "neutron-" + NET_ID
    assert ids["neutron:security_group_ids"] == OVN.security_groups["mysecurity"].id
    assert lsp["dhcpv4_options"] == ["@dhcp:selfservice"]


def test_metadata_localport_and_localnet():
    rows = ovn_nb.rows(OVN)
    meta = OVN.metadata_ports["selfservice"]
    assert str(meta.ip) == "192.168.101.2"          # the first free address, as the DHCP port took it
    lsp = _by(rows, "Logical_Switch_Port", meta.id)
    assert lsp["type"] == "localport" and lsp["port_security"] == []
    assert lsp["external_ids"]["neutron:device_owner"] == "network:distributed"
    assert lsp["external_ids"]["neutron:device_id"] == "ovnmeta-" + NET_ID
    assert not OVN.dhcp_ports               # no dnsmasq on OVN
    provider = OVN.networks["provider"]
    localnet = _by(rows, "Logical_Switch_Port", "provnet-" + ovn_nb.segment_id(provider))
    assert localnet["type"] == "localnet" and localnet["addresses"] == ["unknown"]
    assert localnet["options"]["network_name"] == "provider"
    assert "tag" not in localnet            # flat: untagged


def test_dhcp_options_as_neutron_computes_them():
    rows = ovn_nb.rows(OVN)
    opts = next(r for r in rows["DHCP_Options"] if r["cidr"] == "192.168.101.0/24")
    o = opts["options"]
    assert o["lease_time"] == "43200" and o["mtu"] == "1442"
    assert o["router"] == o["server_id"] == "192.168.101.1"
    assert o["server_mac"].startswith("fa:16:3e:")
    # the metadata route via the metadata port, and the default route with it (RFC 3442)
    assert o["classless_static_route"] == "{169.254.169.254/32,192.168.101.2, 0.0.0.0/0,192.168.101.1}"
    assert opts["external_ids"]["subnet_id"]


def test_acls_of_a_group_and_the_default_drop():
    rows = ovn_nb.rows(OVN)
    default = OVN.security_groups["default"]
    pg = _by(rows, "Port_Group", "pg_87fd4685_d317_42fb_a487_28382d2c2750")
    assert pg["external_ids"] == {"neutron:security_group_id": default.id}
    assert pg["ports"] == []                # no instance is in default here
    acls = {a["_ref"]: a for a in rows["ACL"]}
    matches = sorted((acls[ref[1:]]["direction"], acls[ref[1:]]["match"]) for ref in pg["acls"])
    assert matches == [
        ("from-lport", "inport == @pg_87fd4685_d317_42fb_a487_28382d2c2750 && ip4"),
        ("from-lport", "inport == @pg_87fd4685_d317_42fb_a487_28382d2c2750 && ip6"),
        ("to-lport", "outport == @pg_87fd4685_d317_42fb_a487_28382d2c2750 && ip4 && icmp4"),
        ("to-lport", "outport == @pg_87fd4685_d317_42fb_a487_28382d2c2750 && ip4 && ip4.src == "
                     "$pg_87fd4685_d317_42fb_a487_28382d2c2750_ip4"),
        ("to-lport", "outport == @pg_87fd4685_d317_42fb_a487_28382d2c2750 && ip4 && tcp && tcp.dst == 22"),
        ("to-lport", "outport == @pg_87fd4685_d317_42fb_a487_28382d2c2750 && ip6 && ip6.src == "
                     "$pg_87fd4685_d317_42fb_a487_28382d2c2750_ip6"),
    ]
    assert {acls[ref[1:]]["priority"] for ref in pg["acls"]} == {1002}
    assert {acls[ref[1:]]["action"] for ref in pg["acls"]} == {"allow-related"}
    drop = _by(rows, "Port_Group", "neutron_pg_drop")
    assert sorted(acls[ref[1:]]["match"] for ref in drop["acls"]) == [
        "inport == @neutron_pg_drop && ip", "outport == @neutron_pg_drop && ip"]
    assert {acls[ref[1:]]["priority"] for ref in drop["acls"]} == {1001}
    # every instance port is in the drop group; the metadata port (trusted) is not
    assert sorted(drop["ports"]) == sorted("@lsp:" + p.id for p in OVN.instance_ports())


def test_port_ranges_and_remote_prefix():
    from stacklab.scenario import model
    import ipaddress
    names = {"_self": "pg_x"}
    rule = model.Rule("egress", "IPv4", "udp", 1000, 2000, ipaddress.IPv4Network("10.0.0.0/8"), None)
    assert ovn_nb.rule_match(rule, names) == ("inport == @pg_x && ip4 && ip4.dst == 10.0.0.0/8 && udp && "
                                              "udp.dst >= 1000 && udp.dst <= 2000")


def test_every_reference_resolves():
    rows = ovn_nb.rows(OVN)
    refs = {r["_ref"] for table in rows.values() for r in table}
    for table in ovn_nb.TABLES:
        for row in rows[table]:
            for value in row.values():
                if isinstance(value, list):
                    for item in value:
                        if isinstance(item, str) and item.startswith("@"):
                            assert item[1:] in refs


def test_chassis_external_ids_and_central():
    compute = OVN.nodes["compute1"]
    ids = chassis_ids(compute, OVN)
    assert ids["ovn-remote"] == "tcp:172.16.0.11:6642"
    assert ids["ovn-encap-type"] == "geneve" and ids["ovn-encap-ip"] == "172.16.0.31"
    assert ids["ovn-bridge-mappings"] == "provider:br-provider"
    assert "ovn-cms-options" not in ids
    assert chassis_ids(OVN.nodes["controller"], OVN)["ovn-cms-options"] == "enable-chassis-as-gw"
    text = central_script(OVN)
    assert "--remote=ptcp:6641:172.16.0.11" in text and "--remote=ptcp:6642:172.16.0.11" in text
    assert "0.0.0.0" not in text            # never on every address


BASE = """
sdn: {type: ovn}
nodes:
  controller: {role: controller, nics: {eth0: {physical_network: p, address: 10.0.0.11/24}},
               bridge_mappings: {p: br-p}}
  compute1: {role: compute, nics: {eth0: {physical_network: p, address: 10.0.0.31/24}},
             bridge_mappings: {p: br-p}}
networks:
  net: {type: %s, subnet: {cidr: 192.168.1.0/24}}
keypairs: {k: {}}
instances:
  vm: {node: compute1, network: net, keypair: k%s}
"""


def _problems(text):
    with pytest.raises(ScenarioError) as e:
        load_scenario("x.yaml", text)
    return str(e.value)


def test_ovn_refuses_vxlan_and_what_it_does_not_emulate_yet():
    said = _problems(BASE % ("vxlan", ""))
    assert "networks.net.type" in said and "Geneve" in said
    said = _problems(BASE % ("geneve", "") + "agent: {l2_population: true}\n")
    assert "agent.l2_population" in said and "ovn-controller programs the switches" in said
    load_scenario("x.yaml", BASE % ("geneve", ""))


def test_geneve_needs_ovn_and_its_mtu():
    said = _problems((BASE % ("geneve", ", config_drive: true")).replace("sdn: {type: ovn}\n", ""))
    assert "networks.net.type" in said and "sdn: {type: ovn}" in said
    said = _problems((BASE % ("geneve", ", config_drive: true")).replace("type: geneve,", "type: geneve, mtu: 1450,"))
    assert "networks.net.mtu" in said and "at most 1442" in said


ROUTED = load_scenario(os.path.join(SCENARIO_DIR, "ovn-router.yaml"))


def test_router_rows_as_neutron_writes_them():
    rows = ovn_nb.rows(ROUTED)
    router = ROUTED.routers["router"]
    lr = _by(rows, "Logical_Router", "neutron-" + router.id)
    assert lr["external_ids"]["neutron:router_name"] == "router"
    assert lr["external_ids"]["neutron:gw_port_id"] == router.gateway.id
    assert lr["options"]["dynamic_neigh_routers"] == "true"
    assert len(lr["ports"]) == 3 and len(lr["nat"]) == 3 and len(lr["static_routes"]) == 1
    gw = _by(rows, "Logical_Router_Port", "lrp-" + router.gateway.id)
    assert gw["networks"] == ["172.16.0.101/24"] and gw["external_ids"]["neutron:is_ext_gw"] == "True"
    assert gw["gateway_chassis"] == ["@gwc:lrp-%s_controller" % router.gateway.id]
    gwc = rows["Gateway_Chassis"][0]
    assert gwc["name"] == "lrp-%s_controller" % router.gateway.id and gwc["chassis_name"] == "controller"
    itf = _by(rows, "Logical_Router_Port", "lrp-" + router.interfaces[0].id)
    assert itf["networks"] == ["192.168.1.1/24"] and "gateway_chassis" not in itf
    # the switch's side: a router port peered by name; the gateway's answers for the NAT addresses
    lsp = _by(rows, "Logical_Switch_Port", router.interfaces[0].id)
    assert lsp["type"] == "router" and lsp["addresses"] == ["router"]
    assert lsp["options"] == {"router-port": "lrp-" + router.interfaces[0].id}
    assert lsp["external_ids"]["neutron:device_owner"] == "network:router_interface"
    glsp = _by(rows, "Logical_Switch_Port", router.gateway.id)
    assert glsp["options"]["nat-addresses"] == "router"
    assert glsp["external_ids"]["neutron:device_owner"] == "network:router_gateway"
    route = rows["Logical_Router_Static_Route"][0]
    assert (route["ip_prefix"], route["nexthop"]) == ("0.0.0.0/0", "172.16.0.1")
    nat = {(n["type"], n["logical_ip"]): n for n in rows["NAT"]}
    assert nat[("snat", "192.168.1.0/24")]["external_ip"] == "172.16.0.101"
    assert nat[("snat", "192.168.2.0/24")]["external_ip"] == "172.16.0.101"
    fip = nat[("dnat_and_snat", str(ROUTED.instances["vm1"].port.ip))]
    assert fip["external_ip"] == "172.16.0.150"
    assert fip["external_ids"]["neutron:fip_port_id"] == ROUTED.instances["vm1"].port.id
    assert "external_mac" not in fip and "logical_port" not in fip      # centralized: neutron's default
    # router ports are trusted: in no port group
    drop = _by(rows, "Port_Group", "neutron_pg_drop")
    assert "@lsp:" + router.interfaces[0].id not in drop["ports"]


def test_distributed_floating_ip_names_port_and_mac():
    text = open(os.path.join(SCENARIO_DIR, "ovn-router.yaml")).read()
    scenario = load_scenario("d.yaml", text.replace("sdn: {type: ovn}", "sdn: {type: ovn, distributed_floating_ips: true}"))
    fip = next(n for n in ovn_nb.rows(scenario)["NAT"] if n["type"] == "dnat_and_snat")
    assert fip["external_mac"] == [scenario.floating_ips[0].mac]
    assert fip["logical_port"] == [scenario.instances["vm1"].port.id]


def test_a_router_gateway_needs_a_gateway_chassis():
    text = open(os.path.join(SCENARIO_DIR, "ovn-router.yaml")).read()
    unmapped = text.replace("bridge_mappings: {provider: br-provider}", "bridge_mappings: {}", 1)
    assert unmapped != text
    said = _problems(unmapped)
    assert "routers.router.external_gateway" in said and "no gateway chassis" in said
    said = _problems(text.replace("sdn: {type: ovn}", "sdn: {type: neutron, distributed_floating_ips: true}"))
    assert "sdn.distributed_floating_ips" in said
