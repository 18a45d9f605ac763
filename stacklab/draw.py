"""A picture of a lab with Graphviz: each node a box holding its bridges,
instances and agent namespaces; patch ports between bridges, NICs down to
the physical networks, tunnel ports riding the underlay they leave by,
external hosts, routers with their floating IPs, load balancers on their
amphorae; VNIs and VLANs, local VLANs, MTUs and security groups.

Drawn from the scenario (`render`), or from a running lab as it is now
(`render_running`: bridges, tags, tunnel ends, MTUs and controller
connections read from the nodes), with what differs from the scenario
marked in red, unless the picture is for a learner who is looking for it."""

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from stacklab import naming
from stacklab.errors import StacklabError

FORMATS = ("svg", "png", "pdf", "dot")
FONT = "Helvetica"
DIFFERS = "#c00000"


def bridges(scenario, node):
    if scenario.sdn == "netvirt":
        return ([naming.INTEGRATION_BRIDGE] if node.datapath_id is not None else []) + node.physical_bridges
    if scenario.sdn == "ovn":
        return [naming.INTEGRATION_BRIDGE] + node.physical_bridges
    out = [naming.INTEGRATION_BRIDGE]
    if node.tunnel_ip is not None:
        out.append(naming.TUNNEL_BRIDGE)
    return out + node.physical_bridges


def _id(*parts):
    return "/".join(str(p) for p in parts)


@dataclass
class Tunnel:
    bridge: str
    port: str
    local_ip: Optional[str]
    remote_ip: Optional[str]
    kind: str = "vxlan"
    differs: Optional[str] = None       # what the scenario says instead, when marked


@dataclass
class View:
    """What the picture shows: the scenario's, overlaid by a running lab's state."""
    bridges: Dict[str, List[str]]                     # node -> bridges
    controllers: Dict[str, Dict[str, Optional[bool]]] = field(default_factory=dict)   # node -> bridge -> connected
    tunnels: Dict[str, List[Tunnel]] = field(default_factory=dict)                    # node -> tunnel ports
    tags: Dict[str, object] = field(default_factory=dict)          # tap/qr-/qg- port -> VLAN tag on br-int
    instance_links: Dict[str, dict] = field(default_factory=dict)  # "instance/eth0" -> {"mtu", "up"}
    differences: List[str] = field(default_factory=list)
    live: bool = False


def scenario_view(scenario):
    view = View({n.name: bridges(scenario, n) for n in scenario.nodes.values()})
    by_ip = {str(n.tunnel_ip): n for n in scenario.nodes.values() if n.tunnel_ip is not None}
    for node in scenario.nodes.values():
        if node.tunnel_ip is None:
            continue
        if scenario.sdn == "netvirt":
            ports = [(t.name, str(scenario.nodes[peer].tunnel_ip)) for peer, t in node.tunnels.items()]
            bridge = naming.INTEGRATION_BRIDGE
        elif scenario.sdn == "ovn":       # ovn-controller's Geneve ports, to every other chassis
            peers = [p for p in scenario.nodes.values() if p.name != node.name and p.tunnel_ip is not None]
            view.tunnels[node.name] = [Tunnel(naming.INTEGRATION_BRIDGE, naming.ovn_tunnel_port(
                peer.name, sum(p.name[:6] == peer.name[:6] for p in peers[:i])), str(node.tunnel_ip),
                str(peer.tunnel_ip), "geneve") for i, peer in enumerate(peers)]
            continue
        else:
            ports = [(naming.vxlan_port_name(ip), str(ip)) for ip in scenario.tunnel_peers(node.name)]
            bridge = naming.TUNNEL_BRIDGE
        view.tunnels[node.name] = [Tunnel(bridge, name, str(node.tunnel_ip), remote)
                                   for name, remote in ports if remote in by_ip]
    for port in _ports(scenario):
        net = scenario.networks[port.network]
        view.tags[port.name] = net.local_vlans.get(port.node) if scenario.sdn != "ovn" else None
    for inst in scenario.instances.values():
        for p in inst.ports:
            view.instance_links[_id(inst.name, p.interface)] = {"mtu": scenario.networks[p.network].mtu, "up": True}
    return view


def _ports(scenario):
    """Every port on a br-int: instances', DHCP's, routers'."""
    out = [p for i in scenario.instances.values() for p in i.ports]
    out += list(scenario.dhcp_ports.values())
    out += [p for r in scenario.routers.values() if r.node is not None for p in r.ports()]
    return out


def running_view(scenario, live, mark):
    """The scenario's view with what `live` (observe.live.snapshot) says
    instead; `mark`: note each difference (for the picture and its legend)."""
    view = scenario_view(scenario)
    view.live = True
    expected = scenario_view(scenario)

    def differ(what):
        if mark:
            view.differences.append(what)
        return what if mark else None

    for node, bridges_now in live["nodes"].items():
        names = list(bridges_now)
        wanted = expected.bridges.get(node, [])
        for missing in [b for b in wanted if b not in names]:
            differ("%s: %s is missing" % (node, missing))
        view.bridges[node] = [b for b in wanted if b in names] + sorted(b for b in names if b not in wanted)
        view.controllers[node] = {b: info["connected"] for b, info in bridges_now.items() if info["controller"]}
        for b, connected in view.controllers[node].items():
            if connected is False:
                differ("%s: %s is not connected to its controller" % (node, b))
        # ovn-controller numbers its ports among chassis whose names share six characters
        # (ovn-comput-0, ovn-comput-1): its tunnels are told apart by their remote end
        by_remote = scenario.sdn == "ovn"
        want = {(t.remote_ip if by_remote else t.port): t for t in expected.tunnels.get(node, [])}
        tunnels = []
        for b, info in bridges_now.items():
            for port, p in info["ports"].items():
                if p["type"] in naming.TUNNEL_TYPES:
                    t = Tunnel(b, port, p["options"].get("local_ip"), p["options"].get("remote_ip"), p["type"])
                    w = want.pop(t.remote_ip if by_remote else port, None)
                    if by_remote and w is not None and t.local_ip is None:
                        t.local_ip = w.local_ip         # (OVN sets no local_ip: it is ovn-encap-ip)
                    if w is None:
                        t.differs = differ("%s: tunnel port %s is not in the scenario" % (node, port))
                    elif (w.remote_ip, w.local_ip) != (t.remote_ip, t.local_ip):
                        t.differs = differ("%s: %s leads %s -> %s, the scenario %s -> %s"
                                           % (node, port, t.local_ip, t.remote_ip, w.local_ip, w.remote_ip))
                    tunnels.append(t)
        for key, w in want.items():
            differ("%s: tunnel port %s is missing" % (node, w.port if not by_remote else "to %s" % key))
        view.tunnels[node] = tunnels
        integration = bridges_now.get(naming.INTEGRATION_BRIDGE, {}).get("ports", {})
        for port, tag in list(view.tags.items()):
            if port in integration:
                now = integration[port]["tag"]
                if now != tag and scenario.sdn != "netvirt":
                    differ("%s: port %s has VLAN tag %s, the scenario's local VLAN is %s" % (node, port, now, tag))
                view.tags[port] = now
    for inst, links in live["instances"].items():
        for iface, link in links.items():
            key = _id(inst, iface)
            if key not in expected.instance_links:
                continue
            want = expected.instance_links[key]
            if link["mtu"] != want["mtu"]:
                differ("%s: %s has MTU %s, its network %s" % (inst, iface, link["mtu"], want["mtu"]))
            if not link["up"]:
                differ("%s: %s is down" % (inst, iface))
            view.instance_links[key] = {"mtu": link["mtu"], "up": link["up"]}
    for what, why in live.get("unreadable", {}).items():
        differ("%s could not be read: %s" % (what, why))
    return view


def graph(scenario, view=None):
    """The lab as a graphviz.Graph (`view`: what to show; default the scenario's)."""
    import graphviz
    view = view or scenario_view(scenario)
    title = "stacklab lab %s%s%s" % (scenario.name, " (%s)" % scenario.reference if scenario.reference else "",
                                     ", as it runs" if view.live else "")
    if view.differences:
        title += "\nin red: %d difference%s from the scenario" % (len(view.differences),
                                                                    "" if len(view.differences) == 1 else "s")
    g = graphviz.Graph(scenario.name, engine="dot", graph_attr={
        "label": title, "labelloc": "t", "fontname": FONT, "fontsize": "16", "rankdir": "TB", "compound": "true",
        "newrank": "true", "nodesep": "0.3", "ranksep": "0.6"},
        node_attr={"fontname": FONT, "fontsize": "10"}, edge_attr={"fontname": FONT, "fontsize": "8"})
    amphorae = {lb.amphora: lb for lb in scenario.load_balancers.values()}
    physnets = sorted({nic.physical_network for n in scenario.nodes.values() for nic in n.nics.values()}
                      | {h.physical_network for h in scenario.hosts.values()})
    with g.subgraph(name="physnets", graph_attr={"rank": "sink"}) as s:
        for p in physnets:
            s.node(_id("physnet", p), "physical network %s" % p, shape="box", style="rounded,filled",
                   fillcolor="#e8e8e8", width="3")
    _networks_legend(g, scenario)
    if scenario.sdn == "ovn":
        _logical(g, scenario)
    for node in scenario.nodes.values():
        _node(g, scenario, view, node, amphorae)
    for host in scenario.hosts.values():
        g.node(_id("host", host.name), "%s\n%s" % (host.name, host.address), shape="box", style="rounded,filled",
               fillcolor="#f5f5f5")
        g.edge(_id("host", host.name), _id("physnet", host.physical_network), label="eth0")
    if view.differences:
        g.node("differences", "differences from the scenario:\n" + "\n".join(view.differences), shape="note",
               fontcolor=DIFFERS, color=DIFFERS)
    return g


def _logical(g, scenario):
    """OVN's northbound as `ovn-nbctl show` has it: logical switches with their
    instances, logical routers with their gateway chassis, joined by router ports."""
    from stacklab.scenario.ovn import gateway_chassis
    with g.subgraph(name="cluster_ovn_nb", graph_attr={
            "label": "OVN northbound (logical)", "style": "rounded,dashed", "color": "#7a7a7a",
            "fontname": FONT}) as c:
        for net in scenario.networks.values():
            inside = [i.name for i in scenario.instances.values() if i.port.network == net.name]
            extra = " + localnet %s" % net.physical_network if net.physical_network else ""
            c.node(_id("ls", net.name), "switch neutron-%s...\n(aka %s) %s%s%s" % (
                net.id[:8], net.name, net.subnet.cidr, extra, "\n" + ", ".join(inside) if inside else ""),
                shape="box", style="filled", fillcolor="#e1f0e1")
        for router in scenario.routers.values():
            gw = ("\ngateway chassis: %s" % ", ".join(gateway_chassis(scenario, router))
                  if router.gateway is not None else "")
            c.node(_id("lr", router.name), "router neutron-%s...\n(aka %s)%s" % (router.id[:8], router.name, gw),
                   shape="box", style="rounded,filled", fillcolor="#fde9c8")
            for port in router.ports():
                c.edge(_id("lr", router.name), _id("ls", port.network),
                       label="lrp-%s...\n%s" % (port.id[:8], port.ip))


def _networks_legend(g, scenario):
    """The networks with what a learner looks for on the wire: type, VNI or VLAN, MTU, subnet."""
    rows = []
    for net in scenario.networks.values():
        seg = ("VNI %s" % net.segmentation_id if net.type in ("vxlan", "geneve") else
               "VLAN %s" % net.segmentation_id if net.type == "vlan" else "untagged")
        where = " on %s" % net.physical_network if net.physical_network else ""
        rows.append("%s: %s, %s%s, MTU %d, %s%s" % (net.name, net.type, seg, where, net.mtu, net.subnet.cidr,
                                                    " (external)" if net.external else ""))
    if rows:
        g.node("networks", "networks\n" + "\n".join(rows), shape="note", fillcolor="#ffffff")


def _node(g, scenario, view, node, amphorae):
    names = view.bridges.get(node.name, [])
    label = "%s (%s)%s" % (node.name, node.role, "\ntunnel %s" % node.tunnel_ip if node.tunnel_ip else "")
    with g.subgraph(name="cluster_" + node.name, graph_attr={
            "label": label, "style": "rounded", "color": "#4a6fa5", "fontname": FONT}) as c:
        if node.name == scenario.sdn_controller:
            what = ("ovn-central\n(northbound, southbound, ovn-northd)" if scenario.sdn == "ovn" else
                    "OpenDaylight netvirt\n(programs every br-int)")
            c.node(_id(node.name, "netvirt"), what, shape="box", style="rounded,filled", fillcolor="#dae8fc")
        elif not names:
            c.node(_id(node.name, "empty"), "no Open vSwitch bridges", shape="plain")
        for b in names:
            connected = view.controllers.get(node.name, {}).get(b)
            extra = "" if connected is None else "\ncontroller %s" % ("connected" if connected else "NOT connected")
            red = view.differences and (connected is False or b not in bridges(scenario, node))
            c.node(_id(node.name, b), b + extra, shape="box", style="filled", fillcolor="#cfe0f5",
                   **({"color": DIFFERS, "fontcolor": DIFFERS} if red else {}))
        if naming.TUNNEL_BRIDGE in names and naming.INTEGRATION_BRIDGE in names:
            c.edge(_id(node.name, naming.INTEGRATION_BRIDGE), _id(node.name, naming.TUNNEL_BRIDGE),
                   label="patch-tun | patch-int")
        if naming.INTEGRATION_BRIDGE in names and scenario.sdn == "neutron":
            for bridge in node.physical_bridges:
                if bridge in names:
                    c.edge(_id(node.name, naming.INTEGRATION_BRIDGE), _id(node.name, bridge),
                           label="%s | %s" % (naming.int_patch_name(bridge), naming.phy_patch_name(bridge)))
        for t in view.tunnels.get(node.name, []):
            tid = _id(node.name, "tunnel", t.port)
            text = "%s\n%s %s -> %s" % (t.port, t.kind, t.local_ip, t.remote_ip)
            marks = {}
            if t.differs:
                text += "\n(scenario: %s)" % t.differs.split(", the scenario ", 1)[-1]
                marks = {"color": DIFFERS, "fontcolor": DIFFERS}
            c.node(tid, text, shape="cds", style="filled", fillcolor="#f8cecc", **marks)
            if t.bridge in names:
                c.edge(_id(node.name, t.bridge), tid)
        for inst in scenario.instances.values():
            if inst.node == node.name:
                _instance(c, scenario, view, node, inst, amphorae)
        for net, port in scenario.dhcp_ports.items():
            if port.node == node.name:
                c.node(_id("ns", port.id), "qdhcp-%s\n%s (%s), dnsmasq" % (scenario.networks[net].id[:8] + "...",
                                                                         port.ip, net),
                       shape="component", style="filled", fillcolor="#d5e8d4")
                _plug(c, view, node, _id("ns", port.id), port)
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
                _plug(c, view, node, _id("router", router.name), p)
    _nics(g, scenario, view, node)


def _plug(c, view, node, what, port):
    """The edge from a namespace to br-int, labelled with its port and, with neutron, its local VLAN."""
    if naming.INTEGRATION_BRIDGE not in view.bridges.get(node.name, []):
        return
    tag = view.tags.get(port.name)
    c.edge(what, _id(node.name, naming.INTEGRATION_BRIDGE),
           label=port.name + ("\ntag %s" % tag if tag is not None else ""))


def _instance(c, scenario, view, node, inst, amphorae):
    lines = [inst.name + (" (amphora of %s)" % amphorae[inst.name].name if inst.name in amphorae else "")]
    for p in inst.ports:
        link = view.instance_links.get(_id(inst.name, p.interface), {})
        where = p.interface if p.netns is None else "%s in %s" % (p.interface, p.netns)
        state = "" if link.get("up", True) else ", DOWN"
        mtu = ", MTU %s" % link["mtu"] if link.get("mtu") else ""
        lines.append("%s %s (%s%s%s)" % (where, p.ip, p.network, mtu, state))
        if p.security_groups:
            lines.append("  security groups: %s" % ", ".join(p.security_groups))
    if inst.name in amphorae:
        lb = amphorae[inst.name]
        lines.append("VIP %s: %s" % (lb.vip_address, ", ".join(
            "%s %d" % (li.protocol, li.port) for li in lb.listeners.values())))
    c.node(_id("instance", inst.name), "\n".join(lines), shape="box", style="rounded,filled",
           fillcolor="#fff2cc" if inst.name not in amphorae else "#f8cecc")
    for p in inst.ports:
        _plug(c, view, node, _id("instance", inst.name), p)


def _nics(g, scenario, view, node):
    """The node's NICs down to their physical networks: from the bridge that
    holds one, else as the node's own; tunnel ports ride the NIC that holds
    their local address (the underlay)."""
    provider = set(node.provider_mappings.values()) if scenario.sdn == "netvirt" else set()
    names = view.bridges.get(node.name, [])
    for nic in node.nics.values():
        on = nic.bridge if nic.bridge else naming.INTEGRATION_BRIDGE if nic.name in provider else None
        label = nic.name + (" %s" % nic.address if nic.address else "")
        if on is not None and on in names:
            where = _id(node.name, on)
        else:
            where = _id(node.name, "nic", nic.name)
            g.node(where, "%s: %s" % (node.name, label), shape="plain")
            label = ""
        g.edge(where, _id("physnet", nic.physical_network), label=label)
        if nic.address is not None:
            for t in view.tunnels.get(node.name, []):
                if t.local_ip == str(nic.address.ip):
                    g.edge(_id(node.name, "tunnel", t.port), where, style="dashed", color="#b85450",
                           label="over %s" % nic.physical_network)


def _write(g, path):
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
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


def check_format(path):
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in FORMATS:
        raise StacklabError("%s: draw writes %s files" % (path, ", ".join("." + f for f in FORMATS)))


def render(scenario, path):
    """Write the scenario's picture to `path`; its extension chooses the format."""
    check_format(path)
    return _write(graph(scenario), path)


def render_running(lab, path, mark_differences=True):
    """Write running lab `lab`'s picture as it is now (RunningLab); what
    differs from its scenario in red when `mark_differences`. Returns the
    differences (empty when not marked)."""
    from stacklab.observe.live import snapshot
    check_format(path)
    view = running_view(lab.scenario, snapshot(lab), mark_differences)
    _write(graph(lab.scenario, view), path)
    return view.differences
