"""Distributed routers (neutron's DVR) into the model. A DVR router has the
same qr- ports (addresses, MACs) on every node whose L3 agent runs in dvr or
dvr_snat mode and hosts an instance on one of its networks, and its SNAT on
one dvr_snat node: snat-<router id> with an sg- port per internal network
(an address of its own there, as neutron's centralized SNAT port gets) and
the qg- port. Functions take the loader's builder (`b`), as l3.py."""

import hashlib
import ipaddress
from dataclasses import replace

from stacklab.scenario import model

DVR_INTERFACE_OWNER = "network:router_interface_distributed"
SNAT_OWNER = "network:router_centralized_snat"
GATEWAY_OWNER = "network:router_gateway"
FIP_GATEWAY_OWNER = "network:floatingip_agent_gateway"
DVR_MODES = ("dvr", "dvr_snat")
FIP_LINK_SUBNET = ipaddress.IPv4Network("169.254.64.0/18")    # neutron's rfp-/fpr- pairs, a /31 each
FIP_RULE_START = 32768      # the floating IPs' `ip rule` priorities in a qrouter- (neutron's FIP_PR_START)
FIP_TABLE = 16              # their routing table (neutron's FIP_RT_TBL)


def snat_ips(b, networks):
    """{(router, network): address} of each distributed router's sg- ports,
    taken before any instance's (neutron makes them with the router's
    gateway and interfaces; instances added later never move them)."""
    out = {}
    if b.sdn != "neutron":
        return out
    for name, r in b.d["routers"].items():
        if not r["distributed"] or r["external_gateway"] is None:
            continue
        for itf in r["interfaces"]:
            net = networks.get(itf["network"])
            if net is not None and not net.external and (name, net.name) not in out:
                out[(name, net.name)] = b.allocate_ip(net, ("routers", name, "interfaces"),
                                                      "router %s's SNAT" % name)
    return out


def router(b, scenario, name, r, router_id, snat_nodes=None):
    """The distributed router, or None (reported). `snat_nodes`: an HA
    one's dvr_snat nodes (ha.py), each with its copy of the snat-."""
    path = ("routers", name)
    if r["node"] is not None:
        b.report(path + ("node",), "a distributed router has no node: it runs on every dvr node hosting its "
                 "instances, its SNAT on a dvr_snat node")
        return None
    if b.d["agent"]["l2_population"]:
        b.report(("agent", "l2_population"), "l2population with distributed routers is not emulated yet")
        return None
    interfaces = replicated_interfaces(b, scenario, name, r, router_id)
    if interfaces is None:
        return None
    gateway, snat_hosts = None, {}
    gw = r["external_gateway"]
    if gw is not None:
        found = _snat(b, scenario, name, r, router_id, interfaces, snat_nodes)
        if found is None:
            return None
        gateway, snat_hosts = found
    elif r["snat"] and b.given(path + ("snat",)):
        b.report(path + ("snat",), "SNAT needs an external_gateway")
    hosts = _hosts(b, scenario, name, interfaces, snat_hosts)
    if hosts is None:
        return None
    first = next(iter(snat_hosts), None)
    # the L3 agent's metadata proxy: in each qrouter- (an HA one's too: its qrouter- are not
    # keepalived's), for the instances of that node
    return model.Router(name, router_id, None, gateway, interfaces, r["snat"], distributed=True, hosts=hosts,
                        snat_node=first, snat_ports=snat_hosts[first][:-1] if first else [],
                        snat_hosts=snat_hosts, metadata_proxy=b.d["agent"]["metadata_proxy"] and bool(interfaces))


def replicated_interfaces(b, scenario, name, r, router_id, owner=DVR_INTERFACE_OWNER):
    """A replicated router's qr- ports (on no node yet), or None (reported)."""
    path = ("routers", name)
    interfaces, ok = [], True
    for k, itf in enumerate(r["interfaces"]):
        ipath = path + ("interfaces", k)
        net = scenario.networks.get(itf["network"])
        if net is None or net.external:
            b.report(ipath + ("network",), "no internal network named %s" % itf["network"])
            ok = False
            continue
        if any(p.network == net.name for p in interfaces):
            b.report(ipath + ("network",), "router %s already has an interface on %s" % (name, net.name))
            ok = False
            continue
        if itf["ofport"] is not None:
            b.report(ipath + ("ofport",), "a %s router's qr- port is on every node hosting the router: "
                     "it has no one ofport" % ("distributed" if owner == DVR_INTERFACE_OWNER else "HA"))
            ok = False
        if itf["mac"]:
            b.claim_mac(itf["mac"], ipath + ("mac",))
        ip = itf["ip"] if itf["ip"] is not None else net.subnet.gateway
        port = b.make_port(ipath, "router %s" % name, None, net, ip, itf["mac"], itf["port_id"], "qr-",
                           owner, router_id, seed="router/%s/%s" % (name, net.name))
        port.interface = port.name
        interfaces.append(port)
    return interfaces if ok else None


def _snat(b, scenario, name, r, router_id, interfaces, nodes=None):
    """(qg- port, {dvr_snat node: its sg- ports and qg-}), or None (reported):
    the first dvr_snat node that reaches the router's networks, or each of
    `nodes` (an HA router's, which must all reach them)."""
    gw = r["external_gateway"]
    gpath = ("routers", name, "external_gateway")
    net = scenario.networks.get(gw["network"])
    if net is None or not net.external:
        b.report(gpath + ("network",), "no external network named %s" % gw["network"])
        return None

    def reaches(n):
        return b.node_reaches(n, net) and all(b.node_reaches(n, scenario.networks[p.network]) for p in interfaces)
    if nodes is None:
        candidates = [n for n in scenario.nodes.values() if n.l3_agent_mode == "dvr_snat"]
        node = next((n for n in candidates if reaches(n)), None)
        if node is None:
            b.report(gpath + ("network",), "router %s is distributed: its SNAT needs a node whose L3 agent runs "
                     "in dvr_snat mode (nodes.NAME.l3_agent_mode) and reaches %s%s" % (
                         name, net.name, "" if candidates else "; no node has one"))
            return None
        nodes = [node.name]
    for node in nodes:
        if not reaches(scenario.nodes[node]):
            b.report(("routers", name, "ha_nodes"), "router %s keeps its SNAT on %s, which does not reach %s or "
                     "one of its internal networks (no bridge_mappings entry)" % (name, node, net.name))
            return None
    if gw["ofport"] is not None and len(nodes) > 1:
        b.report(gpath + ("ofport",), "an HA router's qg- port is on each of its nodes: it has no one ofport")
        return None
    if gw["mac"]:
        b.claim_mac(gw["mac"], gpath + ("mac",))
    gateway = b.make_port(gpath, "router %s" % name, nodes[0], net, gw["ip"], gw["mac"], gw["port_id"], "qg-",
                          GATEWAY_OWNER, router_id, ofport=gw["ofport"], seed="router/%s/gateway" % name)
    gateway.interface = gateway.name
    snat_ports = []
    for k, itf in enumerate(interfaces):
        inner = scenario.networks[itf.network]
        port = b.make_port(("routers", name, "interfaces", k), "router %s's SNAT" % name, nodes[0], inner,
                           b.snat_ips.get((name, inner.name)),
                           None, None, "sg-", SNAT_OWNER, router_id, seed="router/%s/%s/snat" % (name, inner.name))
        port.interface = port.name
        snat_ports.append(port)
    hosts = {nodes[0]: snat_ports + [gateway]}
    for node in nodes[1:]:
        hosts[node] = [replace(p, node=node, security_groups=list(p.security_groups)) for p in hosts[nodes[0]]]
        for port in hosts[node]:
            b.taps[(node, port.name)] = "router %s" % name
    return gateway, hosts


def _hosts(b, scenario, name, interfaces, snat_hosts):
    """{node: its qr- ports}: every dvr node with an instance on the router's
    networks (and the SNAT nodes), in the scenario's node order."""
    networks = {p.network for p in interfaces}
    wanted, ok = set(), True
    for inst in scenario.instances.values():
        for port in inst.ports:
            if port.network not in networks:
                continue
            node = scenario.nodes[port.node]
            if node.l3_agent_mode not in DVR_MODES:
                b.report(("instances", inst.name, "node"), "%s is on network %s of distributed router %s, but %s "
                         "runs %s (set nodes.%s.l3_agent_mode: dvr)" % (
                             inst.name, port.network, name, node.name,
                             "no L3 agent" if node.l3_agent_mode is None else
                             "its L3 agent in %s mode" % node.l3_agent_mode, node.name))
                ok = False
            wanted.add(node.name)
    wanted |= set(snat_hosts)
    hosts = {}
    for node in scenario.nodes:
        if node not in wanted:
            continue
        hosts[node] = [replace(p, node=node, security_groups=list(p.security_groups)) for p in interfaces]
        for port in hosts[node]:
            if (node, port.name) in b.taps:
                b.report(("routers", name), "device name %s clashes with %s on %s"
                         % (port.name, b.taps[(node, port.name)], node))
                ok = False
            b.taps[(node, port.name)] = "router %s" % name
    return hosts if ok else None


# -- floating IPs: the fip- namespace of the instance's node -------------------------------------
def floating_ip_node(b, scenario, router, net, f, path):
    """The node whose fip- namespace serves floating IP `f` of distributed
    `router` (its instance's compute), or None (reported)."""
    if f["instance"] is None:
        b.report(path + ("load_balancer",), "a load balancer's floating IP behind a distributed router (neutron "
                 "centralizes it on the dvr_snat node) is not emulated yet")
        return None
    node = scenario.nodes[scenario.instances[f["instance"]].port.node]
    if not b.node_reaches(node, net):
        b.report(path, "%s's floating IP leaves %s by its fip- namespace, but %s does not reach physical network "
                 "%s of %s (add a bridge_mappings entry)" % (f["instance"], node.name, node.name,
                                                           net.physical_network, net.name))
        return None
    return node.name


def place_floating_ip(b, scenario, router, fip):
    """The fg- port of the node on the floating IP's network (one per node
    and external network, made with the first floating IP there), the
    router's rfp-/fpr- link on the node, the floating IP's rule priority."""
    node, net = fip.node, scenario.networks[fip.network]
    if not any(p.node == node and p.network == net.name for p in scenario.fip_gateways):
        port = b.make_port(("floating_ips",), "the fip- namespace of %s" % node, node, net, None, None, None, "fg-",
                           FIP_GATEWAY_OWNER, node, seed="fip-gateway/%s/%s" % (node, net.name))
        port.interface = port.name
        scenario.fip_gateways.append(port)
    if node not in router.fip_links:
        taken = {a for r in scenario.routers.values() for a, _ in r.fip_links.values()}
        router.fip_links[node] = _link_pair("%s/%s" % (router.id, node), taken)
    priorities = [f.rule_priority for f in scenario.floating_ips if f.node == node and f.rule_priority]
    fip.rule_priority = max(priorities, default=FIP_RULE_START - 1) + 1


def _link_pair(seed, taken):
    """(rfp- address, fpr- address): a free /31 of 169.254.64.0/18, from a hash of `seed`."""
    count = FIP_LINK_SUBNET.num_addresses // 2
    n = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big") % count
    while True:
        first = FIP_LINK_SUBNET.network_address + 2 * n
        if first not in taken:
            return first, first + 1
        n = (n + 1) % count

