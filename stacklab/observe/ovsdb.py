"""Read a node's OVSDB through `ovs-vsctl --format=json`, decoding OVSDB's
JSON encoding (["map", ...], ["set", ...], ["uuid", ...]) into Python."""

import json


def decode(value):
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        tag, body = value
        if tag == "map":
            return {decode(k): decode(v) for k, v in body}
        if tag == "set":
            return [decode(v) for v in body]
        if tag in ("uuid", "named-uuid"):
            return body
    return value


def parse_list(text):
    """Rows of `ovs-vsctl --format=json list TABLE` as dicts."""
    doc = json.loads(text)
    return [{h: decode(v) for h, v in zip(doc["headings"], row)} for row in doc["data"]]


def list_table(lab, node, table, columns=None):
    argv = ["ovs-vsctl", "--format=json", "--data=json"]
    if columns:
        argv.append("--columns=" + ",".join(columns))
    argv += ["list", table]
    proc = lab.run(node, argv, check=True)
    return parse_list(proc.stdout)


def scalar(value):
    """An optional column ([] when empty) as a value or None."""
    if value == [] or value is None:
        return None
    return value


def bridges(lab, node):
    """{bridge: {"ports": {port: {"interfaces": [iface rows], "tag": ...}}, ...}} of `node`."""
    ifaces = {r["_uuid"]: r for r in list_table(lab, node, "Interface",
                                                ["_uuid", "name", "type", "options", "external_ids", "ofport",
                                                 "mac_in_use", "mtu"])}
    ports = {}
    for r in list_table(lab, node, "Port", ["_uuid", "name", "tag", "interfaces"]):
        members = r["interfaces"] if isinstance(r["interfaces"], list) else [r["interfaces"]]
        ports[r["_uuid"]] = {"name": r["name"], "tag": scalar(r["tag"]),
                             "interfaces": [ifaces[u] for u in members if u in ifaces]}
    controllers = {r["_uuid"]: r["target"] for r in list_table(lab, node, "Controller", ["_uuid", "target"])}
    out = {}
    for r in list_table(lab, node, "Bridge", ["name", "ports", "fail_mode", "datapath_type", "controller"]):
        port_ids = r["ports"] if isinstance(r["ports"], list) else [r["ports"]]
        ctl = r["controller"] if isinstance(r["controller"], list) else [r["controller"]]
        out[r["name"]] = {
            "fail_mode": scalar(r["fail_mode"]),
            "datapath_type": r["datapath_type"],
            "controller": [controllers[c] for c in ctl if c in controllers],
            "ports": {ports[p]["name"]: ports[p] for p in port_ids if p in ports},
        }
    return out
