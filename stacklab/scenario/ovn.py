"""What a scenario with `sdn: {type: ovn}` (ML2/OVN) needs beyond the rest:
the node that holds OVN's central databases and ovn-northd, Geneve for
self-service networks, and the metadata port neutron makes per network in
place of a DHCP port. What this lab does not run on OVN yet is refused at
its key, not built some other way. Functions here take the loader's builder
(`b`), as in l3.py and netvirt.py."""

import uuid

# device_owner of the metadata port neutron's OVN driver makes on every network
DISTRIBUTED = "network:distributed"
_NAMESPACE = uuid.UUID("5c7a1ab0-0000-4000-8000-0000000000ac")


def port_group_name(group):
    """A security group's Port_Group: pg_ and its id with underscores (OVN's names may not hold '-')."""
    return "pg_" + group.id.replace("-", "_")


def rule_id(group, index):
    """A rule's id: the scenario names rules by their place in the group."""
    return str(uuid.uuid5(_NAMESPACE, "%s/%d" % (group.id, index)))


def derived(kind, ident):
    """Ids of what neutron makes alongside (a subnet's, a provider segment's), from the network's id."""
    return str(uuid.uuid5(_NAMESPACE, "%s/%s" % (kind, ident)))


def network_types(b, networks):
    """Geneve is ML2/OVN's tunnel, VXLAN the OVS agent's (and netvirt's here);
    distributed floating IPs are an OVN setting."""
    if b.sdn != "ovn" and b.d["sdn"]["distributed_floating_ips"]:
        b.report(("sdn", "distributed_floating_ips"), "distributed_floating_ips is ML2/OVN's: give type: ovn "
                 "(neutron's OVS agent distributes floating IPs with DVR routers)")
    for net in networks.values():
        path = ("networks", net.name, "type")
        if b.sdn == "ovn" and net.type == "vxlan":
            b.report(path, "ML2/OVN tunnels self-service networks with Geneve: give type: geneve")
        elif b.sdn != "ovn" and net.type == "geneve":
            b.report(path, "geneve networks are ML2/OVN's: give sdn: {type: ovn}")


def check(b, scenario):
    """What an OVN lab needs, reported with file, line and key; then the
    DHCP ports become the networks' metadata ports (OVN answers DHCP itself)."""
    ctl = central_node(b, scenario)
    if ctl is not None:
        scenario.sdn_controller = ctl
    agent = b.d["agent"]
    for key in ("l2_population", "arp_responder"):
        if agent[key]:
            b.report(("agent", key), "%s is neutron's OVS agent's; with sdn: {type: ovn} ovn-controller "
                     "programs the switches" % key)
    for key in b.d["load_balancers"]:
        b.report(("load_balancers", key), "load balancers are not emulated with sdn: {type: ovn} yet (docs/ovn.md)")
    for node in scenario.nodes.values():
        if node.provider_mappings:
            b.report(("nodes", node.name, "provider_mappings"), "provider_mappings is OpenDaylight's: "
                     "ovn-controller maps physical networks with bridge_mappings (ovn-bridge-mappings)")
    for net_name, port in list(scenario.dhcp_ports.items()):
        net = scenario.networks[net_name]
        port.device_owner = DISTRIBUTED
        port.device_id = "ovnmeta-" + net.id
        port.security_groups = []
        scenario.metadata_ports[net_name] = port
    scenario.dhcp_ports.clear()


def check_routers(b, scenario):
    """Every router gateway needs a chassis to be scheduled on (after l3.routers)."""
    for router in scenario.routers.values():
        if router.gateway is not None and not gateway_chassis(scenario, router):
            net = scenario.networks[router.gateway.network]
            b.report(("routers", router.name, "external_gateway"), "no gateway chassis for %s: a controller or "
                     "network node mapping physical network %s (bridge_mappings) hosts a router's gateway"
                     % (net.name, net.physical_network))


def central_node(b, scenario):
    """Where ovn-central runs: sdn.controller, else the controller node. It
    needs an address the other nodes' ovn-controller reach (ovn-remote)."""
    ctl = b.d["sdn"]["controller"]
    if ctl is None:
        ctl = next((n.name for n in scenario.nodes.values() if n.role == "controller"), None)
        if ctl is None:
            b.report(("sdn",), "OVN's databases and ovn-northd run on a controller node: give one "
                     "role: controller, or sdn.controller")
            return None
    elif ctl not in scenario.nodes:
        b.report(("sdn", "controller"), "no node named %s" % ctl)
        return None
    if not scenario.nodes[ctl].addresses():
        b.report(("sdn", "controller"), "node %s has no address for ovn-controller to reach the "
                 "southbound database on" % ctl)
        return None
    for node in scenario.nodes.values():
        if node.name != ctl and not _same_subnet(node, scenario.nodes[ctl]):
            b.report(("nodes", node.name), "node %s has no address in a subnet of %s's, where OVN's "
                     "southbound database listens" % (node.name, ctl))
    return ctl


def _same_subnet(a, b):
    return any(x.network == y.network for x in a.addresses() for y in b.addresses())


def central_address(scenario):
    """The address OVN's databases listen on: the central node's first."""
    return scenario.nodes[scenario.sdn_controller].addresses()[0].ip


def sb_remote(scenario):
    """ovn-remote, as every chassis has it."""
    return "tcp:%s:6642" % central_address(scenario)


def gateway_chassis(scenario, router):
    """The chassis that may host `router`'s gateway port, in priority order
    (neutron schedules it on chassis with enable-chassis-as-gw that map the
    external network's physical network, at most five)."""
    physnet = scenario.networks[router.gateway.network].physical_network
    return [n.name for n in scenario.nodes.values()
            if n.role in ("controller", "network") and physnet in n.bridge_mappings][:5]


def metadata_chassis(scenario):
    """[(node, network)] where the OVN metadata agent makes ovnmeta-<network
    id>: each node with an instance port on a network with a metadata port."""
    out = []
    for port in scenario.instance_ports():
        if port.network in scenario.metadata_ports and (port.node, port.network) not in out:
            out.append((port.node, port.network))
    return out
