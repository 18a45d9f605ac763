"""What a running lab holds now, read from the lab itself rather than from
its scenario: each node's bridges, ports, VLAN tags, tunnel ends and
controller connections (its OVSDB), each instance's interfaces (MTU,
state, addresses). What `draw` of a running lab shows, so a picture of a
broken lab shows it broken."""

import json

from stacklab.errors import StacklabError
from stacklab.observe import ovsdb


def node_view(lab, node):
    """{bridge: {"controller": [targets], "connected": bool|None, "ports": {port: {"tag", "type",
    "options", "mtu"}}}} of `node`."""
    bridges = ovsdb.bridges(lab, node)
    connected = {r["target"]: r["is_connected"] for r in ovsdb.list_table(lab, node, "Controller",
                                                                          ["target", "is_connected"])}
    out = {}
    for name, bridge in bridges.items():
        ports = {}
        for port, row in bridge["ports"].items():
            iface = row["interfaces"][0] if row["interfaces"] else {}
            ports[port] = {"tag": row["tag"], "type": iface.get("type") or "system",
                           "options": iface.get("options") or {}, "mtu": ovsdb.scalar(iface.get("mtu"))}
        targets = bridge["controller"]
        out[name] = {"controller": targets,
                     "connected": all(connected.get(t) is True for t in targets) if targets else None,
                     "ports": ports}
    return out


def instance_view(lab, instance):
    """{interface: {"mtu", "up", "addresses": [cidr]}} of `instance` (its own namespace)."""
    proc = lab.run(instance, ["ip", "-j", "addr", "show"], check=True)
    out = {}
    for link in json.loads(proc.stdout or "[]"):
        if link.get("ifname") == "lo":
            continue
        out[link["ifname"]] = {"mtu": link.get("mtu"), "up": "UP" in link.get("flags", []),
                               "addresses": ["%s/%s" % (a["local"], a["prefixlen"])
                                             for a in link.get("addr_info", []) if a.get("family") == "inet"]}
    return out


def snapshot(lab):
    """{"nodes": {node: node_view}, "instances": {instance: instance_view}} of running lab `lab`.
    A node or instance that cannot be read is left out, with why in "unreadable"."""
    out = {"nodes": {}, "instances": {}, "unreadable": {}}
    scenario = lab.scenario
    for node in scenario.nodes:
        try:
            out["nodes"][node] = node_view(lab, node)
        except StacklabError as e:
            out["unreadable"][node] = str(e).splitlines()[0]
    for inst in scenario.instances:
        try:
            out["instances"][inst] = instance_view(lab, inst)
        except StacklabError as e:
            out["unreadable"][inst] = str(e).splitlines()[0]
    return out
