"""L3 HA routers (neutron's VRRP routers) into the model. An HA router has
a qrouter- on each of its nodes with the same qr- and qg- ports
(network:ha_router_replicated_interface), and an ha- port per node on the
project's HA network ("HA network tenant <project id>", a tenant network on
169.254.192.0/18 without DHCP or gateway), over which keepalived elects the
master (topologies/ha_router.py). Functions take the loader's builder (`b`),
as l3.py."""

import ipaddress
from dataclasses import replace

from stacklab.scenario import dvr, model

HA_CIDR = ipaddress.IPv4Network("169.254.192.0/18")
HA_NETWORK = "HA network tenant %s"
HA_OWNER = "network:router_ha_interface"
REPLICATED_OWNER = "network:ha_router_replicated_interface"
GATEWAY_OWNER = "network:router_gateway"
MAX_AGENTS = 3              # neutron's max_l3_agents_per_router
L3_MODES = ("legacy", "dvr_snat")


def wanted(b):
    return b.sdn == "neutron" and any(r["ha"] and not r["distributed"] for r in b.d["routers"].values())


def add_network(b, networks):
    """The HA network of the (one) project, when a router wants it: a VXLAN
    network with the lowest free VNI, as neutron makes it with the first HA
    router of a project (l3_ha_network_type: the tenant network type)."""
    if not wanted(b):
        return None
    project = b.derived_id("project", "admin")
    name = HA_NETWORK % project
    taken = {n.segmentation_id for n in networks.values() if n.type in model.TUNNEL_TYPES}
    vni = next(v for v in range(1, 1 << 24) if v not in taken)
    hosts = list(HA_CIDR.hosts())
    subnet = model.Subnet(HA_CIDR, None, hosts[0], hosts[-1], False, [])
    networks[name] = model.Network(name, b.derived_id("network", name), "vxlan", vni, None, 1450, subnet)
    return name


def router(b, scenario, name, r, router_id):
    path = ("routers", name)
    if r["distributed"]:
        b.report(path + ("ha",), "distributed HA routers (DVR with its SNAT kept by keepalived) are not emulated "
                 "yet")
        return None
    if r["node"] is not None:
        b.report(path + ("node",), "an HA router has no node: it runs on each of its ha_nodes")
        return None
    if dvr.proxy_refused(b, r, path + ("ha",), "an HA router (on its master only)"):
        return None
    nodes = _nodes(b, scenario, name, r)
    if nodes is None:
        return None

    interfaces = dvr.replicated_interfaces(b, scenario, name, r, router_id, REPLICATED_OWNER)
    if interfaces is None:
        return None
    gateway = None
    gw = r["external_gateway"]
    gpath = path + ("external_gateway",)
    if gw is not None:
        net = scenario.networks.get(gw["network"])
        if net is None or not net.external:
            b.report(gpath + ("network",), "no external network named %s" % gw["network"])
            return None
        if gw["ofport"] is not None:
            b.report(gpath + ("ofport",), "an HA router's qg- port is on each of its nodes: it has no one ofport")
            return None
        if gw["mac"]:
            b.claim_mac(gw["mac"], gpath + ("mac",))
        gateway = b.make_port(gpath, "router %s" % name, None, net, gw["ip"], gw["mac"], gw["port_id"], "qg-",
                              GATEWAY_OWNER, router_id, seed="router/%s/gateway" % name)
        gateway.interface = gateway.name
    elif r["snat"] and b.given(path + ("snat",)):
        b.report(path + ("snat",), "SNAT needs an external_gateway")
    for node in nodes:
        for port in ([gateway] if gateway else []) + interfaces:
            net = scenario.networks[port.network]
            if not b.node_reaches(scenario.nodes[node], net):
                b.report(path + ("ha_nodes",), "router %s runs on %s, which does not reach physical network %s of "
                         "network %s (no bridge_mappings entry)" % (name, node, net.physical_network, net.name))
                return None
    ha_net = scenario.networks[b.ha_network]
    ha_ports, hosts = {}, {}
    for node in nodes:
        hosts[node] = [replace(p, node=node, security_groups=list(p.security_groups))
                       for p in ([gateway] if gateway else []) + interfaces]
        port = b.make_port(path + ("ha_nodes",), "router %s" % name, node, ha_net, None, None, None, "ha-", HA_OWNER,
                           router_id, seed="router/%s/ha/%s" % (name, node))
        port.interface = port.name
        ha_ports[node] = port
    return model.Router(name, router_id, None, gateway, interfaces, r["snat"], hosts=hosts, ha=True,
                        ha_ports=ha_ports, vrid=_vrid(b, scenario, name, r))


def _nodes(b, scenario, name, r):
    path = ("routers", name, "ha_nodes")
    if r["ha_nodes"] is None:
        nodes = [n.name for n in scenario.nodes.values() if n.l3_agent_mode in L3_MODES][:MAX_AGENTS]
        if len(nodes) < 2:
            b.report(("routers", name, "ha"), "an HA router needs two nodes with an L3 agent in legacy or dvr_snat "
                     "mode; %s" % ("only %s has one" % nodes[0] if nodes else "none has one"))
            return None
        return nodes
    nodes = list(r["ha_nodes"])
    for k, node in enumerate(nodes):
        n = scenario.nodes.get(node)
        if n is None:
            b.report(path + (k,), "no node named %s" % node)
            return None
        if n.l3_agent_mode not in L3_MODES:
            b.report(path + (k,), "%s runs %s: an HA router needs L3 agents in legacy or dvr_snat mode"
                     % (node, "no L3 agent" if n.l3_agent_mode is None else "its L3 agent in %s mode"
                        % n.l3_agent_mode))
            return None
    if len(set(nodes)) != len(nodes) or not 2 <= len(nodes) <= MAX_AGENTS:
        b.report(path, "two or three different nodes (neutron's max_l3_agents_per_router is %d)" % MAX_AGENTS)
        return None
    return nodes


def _vrid(b, scenario, name, r):
    """The given VRID, else the lowest one no other HA router of the project has."""
    taken = {x.vrid for x in scenario.routers.values() if x.ha}
    taken |= {x["vrid"] for n, x in b.d["routers"].items() if n != name and x["vrid"]}
    if r["vrid"] is not None:
        if r["vrid"] in {x.vrid for x in scenario.routers.values() if x.ha}:
            b.report(("routers", name, "vrid"), "VRID %d is another HA router's" % r["vrid"])
        return r["vrid"]
    return next(v for v in range(1, 256) if v not in taken)
