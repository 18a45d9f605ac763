"""Structural checks: what a node's Open vSwitch and an instance's interface
look like (bridges, ports and their options, addresses)."""

import json

from stacklab.checks import FAIL, PASS, Checker, Outcome, register, require
from stacklab.observe import ovsdb
from stacklab.scenario.schema import Field, Int, IPv4Address, ListOf, MAC, MapOf, Name, Record, Str


def _node_ref(scenario, params, report):
    require(scenario.nodes, params["node"], "node", ("node",), report)


@register
class BridgeCheck(Checker):
    """A node has a bridge; optionally exactly these ports, this fail mode,
    datapath type and controller."""

    kind = "bridge"
    params = Record({
        "node": Field(Name(example="compute1"), required=True),
        "name": Field(Str(example="br-tun"), required=True, doc="The bridge."),
        "ports": Field(ListOf(Str(), example=["patch-int", "vxlan-ac10000b", "br-tun"]),
                       doc="Exactly these ports (the bridge's own internal port included)."),
        "fail_mode": Field(Str(example="secure")),
        "datapath_type": Field(Str(example="netdev")),
        "controller": Field(Str(example="tcp:127.0.0.1:6633")),
    }, doc="A bridge on a node's Open vSwitch.")

    def validate(self, scenario, params, report):
        _node_ref(scenario, params, report)

    def run(self, lab, p):
        bridges = ovsdb.bridges(lab, p["node"])
        br = bridges.get(p["name"])
        if br is None:
            return Outcome(FAIL, "%s has no bridge %s (it has: %s)" % (p["node"], p["name"],
                                                                       ", ".join(sorted(bridges)) or "none"))
        wrong = []
        if p["ports"] is not None:
            have, want = set(br["ports"]), set(p["ports"])
            if have != want:
                wrong.append("ports: missing %s, extra %s" % (sorted(want - have) or "none",
                                                             sorted(have - want) or "none"))
        for key in ("fail_mode", "datapath_type"):
            if p[key] is not None and br[key] != p[key]:
                wrong.append("%s is %s, not %s" % (key, br[key], p[key]))
        if p["controller"] is not None and br["controller"] != [p["controller"]]:
            wrong.append("controller is %s, not %s" % (br["controller"] or "unset", p["controller"]))
        if wrong:
            return Outcome(FAIL, "%s %s: %s" % (p["node"], p["name"], "; ".join(wrong)))
        return Outcome(PASS, "%s %s: %d ports" % (p["node"], p["name"], len(br["ports"])))


@register
class PortCheck(Checker):
    """A node has a port with the given type, options, external_ids, tag, ofport."""

    kind = "port"
    params = Record({
        "node": Field(Name(example="compute1"), required=True),
        "name": Field(Str(example="vxlan-ac10000b"), required=True),
        "bridge": Field(Str(example="br-tun"), doc="The bridge it must be on."),
        "type": Field(Str(example="vxlan"), doc="Interface type ('' for a plain system port)."),
        "options": Field(MapOf(Str(), key=Str(), example={"remote_ip": "172.16.0.11"}), doc="Must include these."),
        "external_ids": Field(MapOf(Str(), key=Str(), example={"attached-mac": "fa:16:3e:55:18:7a"}),
                              doc="Must include these."),
        "tag": Field(Int(min=0, max=4095, example=3)),
        "ofport": Field(Int(min=1, example=3)),
    }, doc="A port on a node's Open vSwitch.")

    def validate(self, scenario, params, report):
        _node_ref(scenario, params, report)

    def run(self, lab, p):
        bridges = ovsdb.bridges(lab, p["node"])
        found = [(b, br["ports"][p["name"]]) for b, br in bridges.items() if p["name"] in br["ports"]]
        if not found:
            return Outcome(FAIL, "%s has no port %s" % (p["node"], p["name"]))
        bridge, port = found[0]
        iface = port["interfaces"][0]
        wrong = []
        if p["bridge"] is not None and bridge != p["bridge"]:
            wrong.append("on %s, not %s" % (bridge, p["bridge"]))
        if p["type"] is not None and iface["type"] != p["type"]:
            wrong.append("type is %r, not %r" % (iface["type"], p["type"]))
        for column in ("options", "external_ids"):
            for k, v in (p[column] or {}).items():
                if iface[column].get(k) != v:
                    wrong.append("%s:%s is %r, not %r" % (column, k, iface[column].get(k), v))
        if p["tag"] is not None and port["tag"] != p["tag"]:
            wrong.append("tag is %s, not %s" % (port["tag"], p["tag"]))
        if p["ofport"] is not None and iface["ofport"] != p["ofport"]:
            wrong.append("ofport is %s, not %s" % (iface["ofport"], p["ofport"]))
        if wrong:
            return Outcome(FAIL, "%s %s: %s" % (p["node"], p["name"], "; ".join(wrong)))
        return Outcome(PASS, "%s %s on %s (ofport %s)" % (p["node"], p["name"], bridge, iface["ofport"]))


@register
class AddressCheck(Checker):
    """An instance's interface has the given IP, MAC and MTU."""

    kind = "address"
    params = Record({
        "instance": Field(Name(example="instance02"), required=True),
        "interface": Field(Str(example="eth0"), default="eth0"),
        "ip": Field(IPv4Address(example="192.168.101.19")),
        "mac": Field(MAC(example="fa:16:3e:55:18:7a")),
        "mtu": Field(Int(min=68, example=1450)),
    }, doc="An address on an instance's interface.")

    def validate(self, scenario, params, report):
        require(scenario.instances, params["instance"], "instance", ("instance",), report)

    def run(self, lab, p):
        proc = lab.run(p["instance"], ["ip", "-j", "addr", "show", "dev", p["interface"]])
        if proc.returncode != 0:
            return Outcome(FAIL, "%s has no interface %s: %s" % (p["instance"], p["interface"], proc.stderr.strip()))
        link = json.loads(proc.stdout)[0]
        ips = [a["local"] for a in link.get("addr_info", []) if a.get("family") == "inet"]
        wrong = []
        if p["ip"] is not None and str(p["ip"]) not in ips:
            wrong.append("IPv4 %s, not %s" % (", ".join(ips) or "none", p["ip"]))
        if p["mac"] is not None and link["address"] != p["mac"]:
            wrong.append("MAC %s, not %s" % (link["address"], p["mac"]))
        if p["mtu"] is not None and link["mtu"] != p["mtu"]:
            wrong.append("MTU %s, not %s" % (link["mtu"], p["mtu"]))
        shown = "%s %s %s mtu %s" % (p["interface"], ", ".join(ips) or "no IPv4", link["address"], link["mtu"])
        if wrong:
            return Outcome(FAIL, "%s: %s (%s)" % (p["instance"], "; ".join(wrong), shown))
        return Outcome(PASS, "%s: %s" % (p["instance"], shown))
