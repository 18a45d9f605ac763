"""A scenario as the rows neutron's ML2/OVN driver writes into OVN's
northbound database: pure data, no database (topologies/ovn_db.py writes it).

Names and external_ids are neutron's: a Logical_Switch `neutron-<network
id>`, a Logical_Switch_Port per neutron port named by the port's id (nova
sets the same id as the tap's external_ids:iface-id, which is how
ovn-controller binds it), the `provnet-<segment id>` localnet port of a
provider network, the metadata `localport` of every network, one
DHCP_Options row per subnet, a Port_Group `pg_<group id>` per security
group with an ACL per rule, and `neutron_pg_drop` dropping what no rule
allows.

The result is {table: [row]}, tables in the order they must be written.
A row is a dict of columns plus `_ref`, the name other rows use for it;
a column value that is a list of "@ref" strings refers to those rows."""

import hashlib

from stacklab.scenario.ovn import derived, gateway_chassis, port_group_name, rule_id
from topologies.metadata import PROJECT_ID

# neutron's ACL priorities (neutron/common/ovn/constants.py): allow above the default drop
ACL_PRIORITY_ALLOW = 1002
ACL_PRIORITY_DROP = 1001
DROP_PORT_GROUP = "neutron_pg_drop"
# [ovn] ovn_dhcp4_lease_time's default
DHCP_LEASE_SECONDS = 43200
METADATA_CIDR = "169.254.169.254/32"
# the order rows are written in: what a row refers to exists before it
TABLES = ("DHCP_Options", "Logical_Switch_Port", "Logical_Switch", "ACL", "Port_Group", "Gateway_Chassis",
          "Logical_Router_Port", "Logical_Router_Static_Route", "NAT", "Logical_Router")
INTERFACE_OWNER = "network:router_interface"
GATEWAY_OWNER = "network:router_gateway"


def switch_name(net):
    return "neutron-" + net.id


def segment_id(net):
    """A provider network's segment id (neutron's networksegments row)."""
    return derived("segment", net.id)


def server_mac(net):
    """The MAC OVN's DHCP answers from: neutron draws one from base_mac
    (fa:16:3e) when the subnet is made; here one derived from the network."""
    n = hashlib.sha256(("dhcp-server/" + net.id).encode()).digest()
    return "fa:16:3e:%02x:%02x:%02x" % tuple(n[:3])


def dhcp_options(net, metadata_port=None):
    """The DHCP_Options row of `net`'s subnet (neutron's _get_ovn_dhcpv4_opts)."""
    sub = net.subnet
    options = {"lease_time": str(DHCP_LEASE_SECONDS), "mtu": str(net.mtu), "router": str(sub.gateway),
               "server_id": str(sub.gateway), "server_mac": server_mac(net)}
    if sub.dns_nameservers:
        options["dns_server"] = "{%s}" % ", ".join(str(ip) for ip in sub.dns_nameservers)
    if metadata_port is not None:
        # with a static route the client ignores option 3 (RFC 3442): the default route goes along
        options["classless_static_route"] = "{%s,%s, 0.0.0.0/0,%s}" % (METADATA_CIDR, metadata_port.ip,
                                                                       sub.gateway)
    return {"_ref": "dhcp:" + net.name, "cidr": str(sub.cidr), "options": options,
            "external_ids": {"subnet_id": subnet_id(net), "neutron:revision_number": "0"}}


def subnet_id(net):
    return derived("subnet", net.id)


def logical_switch(net, ports):
    return {"_ref": "ls:" + net.name, "name": switch_name(net), "ports": ["@lsp:" + p for p in ports],
            "external_ids": {"neutron:availability_zone_hints": "", "neutron:mtu": str(net.mtu),
                             "neutron:network_name": net.name, "neutron:revision_number": "1"},
            "other_config": {"mcast_flood_unregistered": "false", "mcast_snoop": "false",
                             "vlan-passthru": "false"}}


def _port_external_ids(port, net, groups, host):
    return {"neutron:cidrs": "%s/%d" % (port.ip, net.subnet.cidr.prefixlen),
            "neutron:device_id": port.device_id, "neutron:device_owner": port.device_owner,
            "neutron:host_id": host, "neutron:network_name": switch_name(net),
            "neutron:port_capabilities": "", "neutron:port_name": "", "neutron:project_id": PROJECT_ID,
            "neutron:revision_number": "1",
            "neutron:security_group_ids": " ".join(groups[g].id for g in port.security_groups),
            "neutron:vnic_type": "normal"}


def instance_port(port, net, groups):
    """An instance's port: bound where nova put it (requested-chassis), its
    MAC and address the only ones it may send from (port_security)."""
    address = "%s %s" % (port.mac, port.ip)
    return {"_ref": "lsp:" + port.id, "name": port.id, "type": "", "addresses": [address],
            "port_security": [address], "enabled": True,
            "options": {"mcast_flood_reports": "true", "requested-chassis": port.node},
            "dhcpv4_options": ["@dhcp:" + net.name] if net.subnet.dhcp else [],
            "external_ids": _port_external_ids(port, net, groups, port.node)}


def metadata_port(port, net, groups):
    """The network's metadata port: a localport, present on every chassis
    (where the OVN metadata agent plugs its ovnmeta- namespace). A trusted
    port (network:*): no port security, in no port group."""
    return {"_ref": "lsp:" + port.id, "name": port.id, "type": "localport",
            "addresses": ["%s %s" % (port.mac, port.ip)], "port_security": [], "enabled": True,
            "options": {"requested-chassis": ""},
            "dhcpv4_options": ["@dhcp:" + net.name] if net.subnet.dhcp else [],
            "external_ids": _port_external_ids(port, net, groups, "")}


def localnet_port(net):
    """A provider network's way out: ovn-controller patches it to the bridge
    ovn-bridge-mappings names for its physical network."""
    row = {"_ref": "lsp:provnet-" + net.name, "name": "provnet-" + segment_id(net), "type": "localnet",
           "addresses": ["unknown"], "port_security": [], "enabled": True,
           "options": {"mcast_flood": "false", "mcast_flood_reports": "true",
                       "network_name": net.physical_network},
           "external_ids": {}}
    if net.type == "vlan":
        row["tag"] = [net.segmentation_id]
    return row


def rule_match(rule, group_names):
    """An ACL's match for one security group rule, as neutron writes it:
    direction, ethertype, remote prefix or group, protocol and ports."""
    ingress = rule.direction == "ingress"
    pg = group_names["_self"]
    match = "%s == @%s" % ("outport" if ingress else "inport", pg)
    version = {"IPv4": "ip4", "IPv6": "ip6"}[rule.ethertype]
    icmp = "icmp4" if version == "ip4" else "icmp6"
    match += " && " + version
    side = "src" if ingress else "dst"
    if rule.remote_ip is not None:
        match += " && %s.%s == %s" % (version, side, rule.remote_ip)
    if rule.remote_group is not None:
        match += " && %s.%s == $%s_%s" % (version, side, group_names[rule.remote_group], version)
    proto = rule.protocol
    if proto in ("tcp", "udp", "sctp"):
        match += " && " + proto
        if rule.port_min is not None and rule.port_min == rule.port_max:
            match += " && %s.dst == %d" % (proto, rule.port_min)
        else:
            if rule.port_min is not None:
                match += " && %s.dst >= %d" % (proto, rule.port_min)
            if rule.port_max is not None:
                match += " && %s.dst <= %d" % (proto, rule.port_max)
    elif proto in ("icmp", "ipv6-icmp", "icmpv6"):
        match += " && " + icmp
        if rule.port_min is not None:
            match += " && %s.type == %d" % (icmp, rule.port_min)
        if rule.port_max is not None:
            match += " && %s.code == %d" % (icmp, rule.port_max)
    elif proto is not None:
        match += " && ip.proto == %s" % proto
    return match


def group_acls(group, groups):
    names = {g.name: port_group_name(g) for g in groups.values()}
    names["_self"] = port_group_name(group)
    out = []
    for index, rule in enumerate(group.rules):
        rid = rule_id(group, index)
        out.append({"_ref": "acl:" + rid, "priority": ACL_PRIORITY_ALLOW, "action": "allow-related",
                    "direction": "to-lport" if rule.direction == "ingress" else "from-lport",
                    "match": rule_match(rule, names), "log": False, "name": [], "severity": [],
                    "external_ids": {"neutron:security_group_rule_id": rid}})
    return out


def drop_acls():
    return [{"_ref": "acl:drop-" + direction, "priority": ACL_PRIORITY_DROP, "action": "drop",
             "direction": direction, "match": "%s == @%s && ip" % (which, DROP_PORT_GROUP), "log": False,
             "name": [], "severity": [], "external_ids": {}}
            for direction, which in (("from-lport", "inport"), ("to-lport", "outport"))]


def router_name(router):
    return "neutron-" + router.id


def lrp_name(port):
    return "lrp-" + port.id


def router_switch_port(port, net, router, gateway):
    """The switch's side of a router port: type router, peered by name."""
    options = {"router-port": lrp_name(port)}
    if gateway:
        options.update({"nat-addresses": "router", "exclude-lb-vips-from-garp": "true"})
    ids = _port_external_ids(port, net, {}, "")
    ids.update({"neutron:device_id": router.id, "neutron:device_owner": GATEWAY_OWNER if gateway else INTERFACE_OWNER,
                "neutron:security_group_ids": ""})
    return {"_ref": "lsp:" + port.id, "name": port.id, "type": "router", "addresses": ["router"],
            "port_security": [], "enabled": True, "options": options, "external_ids": ids}


def router_port(port, net, router, gateway, chassis=()):
    row = {"_ref": "lrp:" + port.id, "name": lrp_name(port), "mac": port.mac,
           "networks": ["%s/%d" % (port.ip, net.subnet.cidr.prefixlen)], "enabled": True,
           "external_ids": {"neutron:is_ext_gw": str(gateway), "neutron:network_name": switch_name(net),
                            "neutron:revision_number": "1", "neutron:router_name": router.id,
                            "neutron:subnet_ids": subnet_id(net)}}
    if chassis:
        row["gateway_chassis"] = ["@gwc:%s_%s" % (lrp_name(port), c) for c in chassis]
    return row


def router_rows(scenario, router):
    """{table: [row]} of one router: its logical router, ports (with the
    gateway chassis of its gateway port), default route and NAT."""
    out = {"Gateway_Chassis": [], "Logical_Router_Port": [], "Logical_Router_Static_Route": [], "NAT": []}
    nets = scenario.networks
    gw = router.gateway
    if gw is not None:
        chassis = gateway_chassis(scenario, router)
        for priority, name in zip(range(len(chassis), 0, -1), chassis):
            out["Gateway_Chassis"].append({"_ref": "gwc:%s_%s" % (lrp_name(gw), name),
                                           "name": "%s_%s" % (lrp_name(gw), name), "chassis_name": name,
                                           "priority": priority, "external_ids": {}, "options": {}})
        out["Logical_Router_Port"].append(router_port(gw, nets[gw.network], router, True, chassis))
        ext = nets[gw.network].subnet
        if ext.gateway is not None:
            out["Logical_Router_Static_Route"].append({
                "_ref": "route:" + router.name, "ip_prefix": "0.0.0.0/0", "nexthop": str(ext.gateway),
                "external_ids": {"neutron:is_ext_gw": "true", "neutron:subnet_id": subnet_id(nets[gw.network])}})
        if router.snat:
            for port in router.interfaces:
                out["NAT"].append({"_ref": "nat:snat:%s:%s" % (router.name, port.network), "type": "snat",
                                   "logical_ip": str(nets[port.network].subnet.cidr), "external_ip": str(gw.ip),
                                   "external_ids": {}, "options": {}})
        for fip in scenario.floating_ips:
            if fip.router != router.name or fip.fixed_ip is None:
                continue
            row = {"_ref": "nat:fip:" + str(fip.address), "type": "dnat_and_snat", "logical_ip": str(fip.fixed_ip),
                   "external_ip": str(fip.address), "options": {"stateless": "false"},
                   "external_ids": {"neutron:fip_external_mac": fip.mac or "", "neutron:fip_id": fip.id,
                                    "neutron:fip_network_id": nets[fip.network].id,
                                    "neutron:fip_port_id": fip.port_id or "", "neutron:revision_number": "1",
                                    "neutron:router_name": router_name(router)}}
            if scenario.distributed_floating_ips and fip.port_id and fip.mac:
                row.update({"external_mac": [fip.mac], "logical_port": [fip.port_id]})
            out["NAT"].append(row)
    for port in router.interfaces:
        out["Logical_Router_Port"].append(router_port(port, nets[port.network], router, False))
    out["Logical_Router"] = [{
        "_ref": "lr:" + router.name, "name": router_name(router), "enabled": True,
        "ports": ["@" + r["_ref"] for r in out["Logical_Router_Port"]],
        "static_routes": ["@" + r["_ref"] for r in out["Logical_Router_Static_Route"]],
        "nat": ["@" + r["_ref"] for r in out["NAT"]],
        "options": {"always_learn_from_arp_request": "false", "dynamic_neigh_routers": "true",
                    "mac_binding_age_threshold": "0"},
        "external_ids": {"neutron:availability_zone_hints": "", "neutron:revision_number": "1",
                         "neutron:router_name": router.name,
                         **({"neutron:gw_network_id": nets[gw.network].id, "neutron:gw_port_id": gw.id}
                            if gw is not None else {})}}]
    return out


def rows(scenario):
    """Every northbound row of `scenario`, {table: [row]} in TABLES' order."""
    out = {table: [] for table in TABLES}
    groups = scenario.security_groups
    members = {name: [] for name in groups}
    on_switch = {name: [] for name in scenario.networks}
    for net in scenario.networks.values():
        meta = scenario.metadata_ports.get(net.name)
        if net.subnet.dhcp:
            out["DHCP_Options"].append(dhcp_options(net, meta))
        if net.physical_network is not None:
            out["Logical_Switch_Port"].append(localnet_port(net))
            on_switch[net.name].append("provnet-" + net.name)
        if meta is not None:
            out["Logical_Switch_Port"].append(metadata_port(meta, net, groups))
            on_switch[net.name].append(meta.id)
    secured = []
    for port in scenario.instance_ports():
        net = scenario.networks[port.network]
        out["Logical_Switch_Port"].append(instance_port(port, net, groups))
        on_switch[net.name].append(port.id)
        secured.append(port.id)
        for name in port.security_groups:
            members[name].append(port.id)
    for router in scenario.routers.values():
        for port in router.ports():
            net = scenario.networks[port.network]
            out["Logical_Switch_Port"].append(router_switch_port(port, net, router, port is router.gateway))
            on_switch[net.name].append(port.id)
        for table, made in router_rows(scenario, router).items():
            out[table] += made
    for net in scenario.networks.values():
        out["Logical_Switch"].append(logical_switch(net, on_switch[net.name]))
    for group in groups.values():
        acls = group_acls(group, groups)
        out["ACL"] += acls
        out["Port_Group"].append({"_ref": "pg:" + group.name, "name": port_group_name(group),
                                  "ports": ["@lsp:" + p for p in members[group.name]],
                                  "acls": ["@" + a["_ref"] for a in acls],
                                  "external_ids": {"neutron:security_group_id": group.id}})
    drops = drop_acls()
    out["ACL"] += drops
    out["Port_Group"].append({"_ref": "pg:" + DROP_PORT_GROUP, "name": DROP_PORT_GROUP,
                              "ports": ["@lsp:" + p for p in secured],
                              "acls": ["@" + a["_ref"] for a in drops], "external_ids": {}})
    return out


def instance_port_names(scenario, node=None):
    """The logical ports ovn-controller must bind (on `node`): the instances'."""
    return [p.id for p in scenario.instance_ports() if node is None or p.node == node]
