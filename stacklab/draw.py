"""A picture of a lab with Graphviz: each node a box holding its bridges,
instances and agent namespaces; patch ports between bridges, NICs down to
the physical networks, VXLAN tunnels between br-tun (br-int for netvirt),
external hosts, routers with their floating IPs, load balancers on their
amphorae. Drawn from the scenario alone, so it works with or without a
running lab (a running lab is drawn as `stacklab apply` last left it)."""

import os

from stacklab import naming
from stacklab.errors import StacklabError

FORMATS = ("svg", "png", "pdf", "dot")
FONT = "Helvetica"


def bridges(scenario, node):
    if scenario.sdn == "netvirt":
        return ([naming.INTEGRATION_BRIDGE] if node.datapath_id is not None else []) + node.physical_bridges
    out = [naming.INTEGRATION_BRIDGE]
    if node.tunnel_ip is not None:
        out.append(naming.TUNNEL_BRIDGE)
    return out + node.physical_bridges


def _id(*parts):
    return "/".join(str(p) for p in parts)


def graph(scenario):
    """The lab as a graphviz.Graph."""
    import graphviz
    g = graphviz.Graph(scenario.name, engine="dot", graph_attr={
        "label": "stacklab lab %s%s" % (scenario.name, " (%s)" % scenario.reference if scenario.reference else ""),
        "labelloc": "t", "fontname": FONT, "fontsize": "16", "rankdir": "TB", "compound": "true",
        "newrank": "true", "nodesep": "0.3", "ranksep": "0.6"},
        node_attr={"fontname": FONT, "fontsize": "10"}, edge_attr={"fontname": FONT, "fontsize": "8"})
    amphorae = {lb.amphora: lb for lb in scenario.load_balancers.values()}
    tunnel_bridge = naming.INTEGRATION_BRIDGE if scenario.sdn == "netvirt" else naming.TUNNEL_BRIDGE
    physnets = sorted({nic.physical_network for n in scenario.nodes.values() for nic in n.nics.values()}
                      | {h.physical_network for h in scenario.hosts.values()})
    with g.subgraph(name="physnets", graph_attr={"rank": "sink"}) as s:
        for p in physnets:
            s.node(_id("physnet", p), "physical network %s" % p, shape="box", style="rounded,filled",
                   fillcolor="#e8e8e8", width="3")
    for node in scenario.nodes.values():
        with g.subgraph(name="cluster_" + node.name, graph_attr={
                "label": "%s (%s)%s" % (node.name, node.role, "\ntunnel %s" % node.tunnel_ip if node.tunnel_ip else ""),
                "style": "rounded", "color": "#4a6fa5", "fontname": FONT}) as c:
            names = bridges(scenario, node)
            if node.name == scenario.sdn_controller:
                c.node(_id(node.name, "netvirt"), "OpenDaylight netvirt\n(programs every br-int)", shape="box",
                       style="rounded,filled", fillcolor="#dae8fc")
            elif not names:
                c.node(_id(node.name, "empty"), "no Open vSwitch bridges", shape="plain")
            for b in names:
                c.node(_id(node.name, b), b, shape="box", style="filled", fillcolor="#cfe0f5")
            if naming.TUNNEL_BRIDGE in names:
                c.edge(_id(node.name, naming.INTEGRATION_BRIDGE), _id(node.name, naming.TUNNEL_BRIDGE),
                       label="patch-tun | patch-int")
            if naming.INTEGRATION_BRIDGE in names and scenario.sdn != "netvirt":
                for bridge in node.physical_bridges:
                    c.edge(_id(node.name, naming.INTEGRATION_BRIDGE), _id(node.name, bridge),
                           label="%s | %s" % (naming.int_patch_name(bridge), naming.phy_patch_name(bridge)))
            for inst in scenario.instances.values():
                if inst.node != node.name:
                    continue
                lines = [inst.name + (" (amphora of %s)" % amphorae[inst.name].name if inst.name in amphorae else "")]
                lines += ["%s %s (%s)" % (p.interface if p.netns is None else "%s in %s" % (p.interface, p.netns),
                                          p.ip, p.network) for p in inst.ports]
                if inst.name in amphorae:
                    lb = amphorae[inst.name]
                    lines.append("VIP %s: %s" % (lb.vip_address, ", ".join(
                        "%s %d" % (li.protocol, li.port) for li in lb.listeners.values())))
                c.node(_id("instance", inst.name), "\n".join(lines), shape="box", style="rounded,filled",
                       fillcolor="#fff2cc" if inst.name not in amphorae else "#f8cecc")
                for p in inst.ports:
                    c.edge(_id("instance", inst.name), _id(node.name, naming.INTEGRATION_BRIDGE), label=p.name)
            for net, port in scenario.dhcp_ports.items():
                if port.node == node.name:
                    c.node(_id("ns", port.id), "qdhcp-%s\n%s (%s), dnsmasq" % (scenario.networks[net].id[:8] + "...",
                                                                             port.ip, net),
                           shape="component", style="filled", fillcolor="#d5e8d4")
                    c.edge(_id("ns", port.id), _id(node.name, naming.INTEGRATION_BRIDGE), label=port.name)
            for router in scenario.routers.values():
                if router.node != node.name:
                    continue
                fips = [f for f in scenario.floating_ips if f.router == router.name and f.fixed_ip is not None]
                lines = ["qrouter-%s... (%s)" % (router.id[:8], router.name)]
                lines += ["%s %s (%s)" % (p.interface, p.ip, p.network) for p in router.ports()]
                lines += ["floating %s -> %s" % (f.address, f.fixed_ip) for f in fips]
                c.node(_id("router", router.name), "\n".join(lines), shape="component", style="filled",
                       fillcolor="#e1d5e7")
                for p in router.ports():
                    c.edge(_id("router", router.name), _id(node.name, naming.INTEGRATION_BRIDGE), label=p.name)
        for nic in node.nics.values():
            where = _id(node.name, nic.bridge) if nic.bridge else _id(node.name, naming.INTEGRATION_BRIDGE) \
                if scenario.sdn == "netvirt" else None
            label = nic.name + (" %s" % nic.address if nic.address else "")
            if where is None:
                g.node(_id(node.name, "nic", nic.name), "%s: %s" % (node.name, label), shape="plain")
                where = _id(node.name, "nic", nic.name)
                label = ""
            g.edge(where, _id("physnet", nic.physical_network), label=label)
    done = set()
    for node in scenario.nodes.values():
        if node.tunnel_ip is None:
            continue
        by_ip = {n.tunnel_ip: n for n in scenario.nodes.values()}
        for ip in scenario.tunnel_peers(node.name) if scenario.sdn != "netvirt" else \
                [n.tunnel_ip for n in scenario.nodes.values() if n.name in node.tunnels]:
            peer = by_ip.get(ip)
            if peer is None or frozenset((node.name, peer.name)) in done:
                continue
            done.add(frozenset((node.name, peer.name)))
            g.edge(_id(node.name, tunnel_bridge), _id(peer.name, tunnel_bridge), style="dashed", color="#b85450",
                   label="VXLAN %s - %s" % (node.tunnel_ip, ip), constraint="false")
    for host in scenario.hosts.values():
        g.node(_id("host", host.name), "%s\n%s" % (host.name, host.address), shape="box", style="rounded,filled",
               fillcolor="#f5f5f5")
        g.edge(_id("host", host.name), _id("physnet", host.physical_network), label="eth0")
    return g


def render(scenario, path):
    """Write the picture to `path`; its extension chooses the format."""
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in FORMATS:
        raise StacklabError("%s: draw writes %s files" % (path, ", ".join("." + f for f in FORMATS)))
    g = graph(scenario)
    if fmt == "dot":
        with open(path, "w") as f:
            f.write(g.source)
        return path
    try:
        data = g.pipe(format=fmt, quiet=True)
    except Exception as e:      # graphviz.ExecutableNotFound, CalledProcessError
        raise StacklabError("Graphviz could not draw %s: %s (is the graphviz package installed? "
                            "`sudo make setup`)" % (path, e))
    with open(path, "wb") as f:
        f.write(data)
    return path
