"""L3 HA routers (neutron's VRRP routers) into the model. An HA router has
a qrouter- on each of its nodes with the same qr- and qg- ports
(network:ha_router_replicated_interface), and an ha- port per node on the
project's HA network ("HA network tenant <project id>", a tenant network on
169.254.192.0/18 without DHCP or gateway), over which keepalived elects the
master (topologies/ha_router.py). A distributed HA router (DVR with L3 HA)
is dvr.py's, with its snat- on two or three dvr_snat nodes: there the ha-
ports and keepalived keep the SNAT, as neutron's DvrEdgeHaRouter does.
Functions take the loader's builder (`b`), as l3.py."""

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
DVR_MODES = ("dvr_snat",)   # a distributed router's SNAT: only there


def wanted(b):
    return b.sdn == "neutron" and any(r["ha"] for r in b.d["routers"].values())


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
        return _distributed(b, scenario, name, r, router_id)
    if r["node"] is not None:
        b.report(path + ("node",), "an HA router has no node: it runs on each of its ha_nodes")
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
    hosts = {node: [replace(p, node=node, security_groups=list(p.security_groups))
                    for p in ([gateway] if gateway else []) + interfaces] for node in nodes}
    # the L3 agent's metadata proxy: in each qrouter-, running on the master only (metadata.py)
    return model.Router(name, router_id, None, gateway, interfaces, r["snat"], hosts=hosts, ha=True,
                        ha_ports=_ha_ports(b, scenario, name, router_id, nodes), vrid=_vrid(b, scenario, name, r),
                        metadata_proxy=b.d["agent"]["metadata_proxy"] and bool(interfaces))


def _distributed(b, scenario, name, r, router_id):
    """DVR with L3 HA: dvr.py's router, its snat- on each of the nodes, an
    ha- port there. Without a gateway there is no SNAT to keep."""
    if r["external_gateway"] is None:
        b.report(("routers", name, "ha"), "a distributed router's L3 HA keeps its SNAT (snat-<id> on two or three "
                 "dvr_snat nodes): give it an external_gateway, or drop ha")
        return None
    nodes = _nodes(b, scenario, name, r, DVR_MODES)
    if nodes is None:
        return None
    router = dvr.router(b, scenario, name, r, router_id, snat_nodes=nodes)
    if router is None:
        return None
    router.ha = True
    router.ha_ports = _ha_ports(b, scenario, name, router_id, nodes)
    router.vrid = _vrid(b, scenario, name, r)
    return router


def _ha_ports(b, scenario, name, router_id, nodes):
    """{node: its ha- port on the project's HA network}."""
    ha_net = scenario.networks[b.ha_network]
    out = {}
    for node in nodes:
        port = b.make_port(("routers", name, "ha_nodes"), "router %s" % name, node, ha_net, None, None, None, "ha-",
                           HA_OWNER, router_id, seed="router/%s/ha/%s" % (name, node))
        port.interface = port.name
        out[node] = port
    return out


def _nodes(b, scenario, name, r, modes=L3_MODES):
    """The nodes of HA router `name`: given (checked) or every node with an
    L3 agent in one of `modes`, at most MAX_AGENTS; None (reported)."""
    path = ("routers", name, "ha_nodes")
    said = " or ".join(modes)
    what = "a distributed HA router" if modes == DVR_MODES else "an HA router"
    if r["ha_nodes"] is None:
        nodes = [n.name for n in scenario.nodes.values() if n.l3_agent_mode in modes][:MAX_AGENTS]
        if len(nodes) < 2:
            b.report(("routers", name, "ha"), "%s needs two nodes with an L3 agent in %s mode; %s" % (
                what, said, "only %s has one" % nodes[0] if nodes else "none has one"))
            return None
        return nodes
    nodes = list(r["ha_nodes"])
    for k, node in enumerate(nodes):
        n = scenario.nodes.get(node)
        if n is None:
            b.report(path + (k,), "no node named %s" % node)
            return None
        if n.l3_agent_mode not in modes:
            b.report(path + (k,), "%s runs %s: %s needs L3 agents in %s mode"
                     % (node, "no L3 agent" if n.l3_agent_mode is None else "its L3 agent in %s mode"
                        % n.l3_agent_mode, what, said))
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
