"""What a scenario with `sdn: {type: netvirt}` needs beyond the rest: the
identifiers OpenDaylight hands out (lport tags from genius, ELAN tags, VPN
ids and L3 labels from one id pool, next-hop group ids, tunnel port names),
kept where the scenario pins them (004's values) and allocated otherwise, as
ODL's id pools do: the lowest free value from the pool's start. Functions
here take the loader's builder (`b`), as in l3.py and octavia.py."""

import hashlib

from stacklab.scenario import model

LPORT_TAG_START = 1
ELAN_TAG_START = 5000          # 0x1388: 004's first network
VPN_POOL_START = 70000         # VPN ids and L3 labels share this pool (004: 0x1117f, 0x11186, 0x1118f)
GROUP_START = 150000           # next-hop groups (004: 150004, 150011, 150013)


def tunnel_port_name(node, peer):
    """ODL names a tunnel port tun + 11 hex digits of a hash of its ends."""
    return "tun" + hashlib.sha256(("%s->%s" % (node, peer)).encode()).hexdigest()[:11]


class Pool:
    """An id pool: pinned values taken first, then the lowest free from `start`."""

    def __init__(self, start):
        self.next = start
        self.taken = {}

    def pin(self, value, owner, report):
        if value in self.taken:
            report("%s is also the id of %s" % (value, self.taken[value]))
            return
        self.taken[value] = owner

    def allocate(self, owner):
        while self.next in self.taken:
            self.next += 1
        self.taken[self.next] = owner
        return self.next


def no_dhcp(b, networks):
    """netvirt scenarios run no DHCP agent here: every subnet is static."""
    for net in networks.values():
        if net.subnet.dhcp and b.given(("networks", net.name, "subnet", "dhcp")):
            b.report(("networks", net.name, "subnet", "dhcp"),
                     "netvirt scenarios have no DHCP agent here: instances are configured statically")
        net.subnet.dhcp = False


def check(b, scenario):
    """What netvirt needs from the scenario, reported with file, line and key."""
    ctl = b.d["sdn"]["controller"]
    if ctl is None:
        ctl = next((n.name for n in scenario.nodes.values() if n.role == "controller"), None)
        if ctl is None:
            b.report(("sdn",), "netvirt runs on a controller node: give one role: controller, or sdn.controller")
            return False
    elif ctl not in scenario.nodes:
        b.report(("sdn", "controller"), "no node named %s" % ctl)
        return False
    if not scenario.nodes[ctl].addresses():
        b.report(("sdn", "controller"), "node %s has no address for the switches to reach netvirt on" % ctl)
        return False
    scenario.sdn_controller = ctl
    _switches_reach(b, scenario, ctl)
    for name in b.d["load_balancers"]:
        b.report(("load_balancers", name), "load balancers (Octavia) need sdn: {type: neutron}")
    _network_types(b, scenario)
    for node in scenario.nodes.values():
        path = ("nodes", node.name, "provider_mappings")
        for physnet, nic in node.provider_mappings.items():
            owned = node.nics.get(nic)
            if owned is None:
                b.report(path + (physnet,), "node %s has no NIC %s" % (node.name, nic))
            elif owned.physical_network != physnet:
                b.report(path + (physnet,), "%s is on physical network %s, not %s" % (nic, owned.physical_network,
                                                                                    physnet))
            elif owned.bridge is not None:
                b.report(path + (physnet,), "%s is already in bridge %s" % (nic, owned.bridge))
    return True


def _network_types(b, scenario):
    """What the netvirt pipeline here builds: VXLAN tenant networks, and one
    flat external network on the provider NIC (floating IPs). A VLAN
    network, a second external network or instances on a provider network
    would be tunnelled over VXLAN instead of what the scenario says:
    refused, not built otherwise."""
    externals = []
    for net in scenario.networks.values():
        path = ("networks", net.name)
        if net.type == "vlan":
            b.report(path + ("type",), "VLAN networks are not emulated with sdn: {type: netvirt} (its table 0 "
                     "would need dl_vlan classification and push_vlan toward the provider NIC): use vxlan, or "
                     "sdn: {type: neutron}")
        elif net.type == "flat" and not net.external:
            b.report(path + ("external",), "with sdn: {type: netvirt} a flat network is the external network of "
                     "the floating IPs (external: true); instances on provider networks are not emulated")
        if net.external:
            externals.append(net.name)
    for name in externals[1:]:
        b.report(("networks", name, "external"), "netvirt here has one external network (%s already is)"
                 % externals[0])
    for inst, i in b.d["instances"].items():
        net = scenario.networks.get(i["network"])
        if net is not None and net.type != "vxlan":
            b.report(("instances", inst, "network"), "%s is a %s network: with sdn: {type: netvirt} instances "
                     "are on vxlan networks" % (net.name, net.type))


def controller_address(scenario):
    """Where the switches find netvirt: the controller node's first address."""
    return scenario.nodes[scenario.sdn_controller].addresses()[0].ip


def _switches_reach(b, scenario, ctl):
    """Every other node with an address needs one in a subnet of the
    controller's (the control network: 004's 10.0.0.0/24 management)."""
    subnets = [a.network for a in scenario.nodes[ctl].addresses()]
    for node in scenario.nodes.values():
        if node.name == ctl:
            continue
        if not any(a.ip in net for a in node.addresses() for net in subnets):
            b.report(("nodes", node.name, "nics"), "no NIC of %s is on a subnet of the netvirt controller %s (%s): "
                     "its br-int could not connect" % (node.name, ctl, ", ".join(map(str, subnets))))


def allocate(b, scenario):
    """Every id, pinned or allocated, in a stable order: nodes, networks,
    routers, ports."""
    lports, elans, vpn, groups = Pool(LPORT_TAG_START), Pool(ELAN_TAG_START), Pool(VPN_POOL_START), Pool(GROUP_START)
    d = b.d
    # pinned values first, each reported where it is given twice
    for name, n in d["nodes"].items():
        for key in ("tunnel_lport_tag", "provider_lport_tag"):
            if n["netvirt"].get(key) is not None:
                lports.pin(n["netvirt"][key], "node %s" % name,
                           lambda m, k=key, nm=name: b.report(("nodes", nm, "netvirt", k), "lport tag " + m))
    for name, i in d["instances"].items():
        nv = i["netvirt"]
        for key, pool, what in (("lport_tag", lports, "lport tag "), ("l3_label", vpn, "label "),
                                ("group", groups, "group ")):
            if nv.get(key) is not None:
                pool.pin(nv[key], name, lambda m, k=key, nm=name, w=what: b.report(("instances", nm, "netvirt", k),
                                                                                   w + m))
    for name, n in d["networks"].items():
        if n["netvirt"].get("elan_tag") is not None:
            elans.pin(n["netvirt"]["elan_tag"], "network %s" % name,
                      lambda m, nm=name: b.report(("networks", nm, "netvirt", "elan_tag"), "ELAN tag " + m))
        if n["netvirt"].get("vpn_id") is not None:
            vpn.pin(n["netvirt"]["vpn_id"], "network %s" % name,
                    lambda m, nm=name: b.report(("networks", nm, "netvirt", "vpn_id"), "VPN id " + m))
    for name, r in d["routers"].items():
        if r["netvirt"].get("vpn_id") is not None:
            vpn.pin(r["netvirt"]["vpn_id"], "router %s" % name,
                    lambda m, nm=name: b.report(("routers", nm, "netvirt", "vpn_id"), "VPN id " + m))
    # then the rest, lowest free first
    names = list(scenario.nodes)
    hosting = {i.node for i in scenario.instances.values()}
    for index, node in enumerate(scenario.nodes.values()):
        nv = d["nodes"][node.name]["netvirt"]
        if node.name == scenario.sdn_controller and not (node.tunnel_ip or node.provider_mappings
                                                         or node.name in hosting):
            continue            # OpenDaylight's own node: no br-int
        node.datapath_id = index + 1
        if node.tunnel_ip is not None:
            node.tunnel_lport_tag = nv.get("tunnel_lport_tag") or lports.allocate("node %s" % node.name)
        if node.provider_mappings:
            node.provider_lport_tag = nv.get("provider_lport_tag") or lports.allocate("node %s" % node.name)
            node.provider_ofport = nv.get("provider_ofport")
        pinned = nv.get("tunnels") or {}
        for peer in pinned:
            if peer not in scenario.nodes or peer == node.name:
                b.report(("nodes", node.name, "netvirt", "tunnels", peer), "no other node named %s" % peer)
        for peer in names:
            other = scenario.nodes[peer]
            if peer == node.name or node.tunnel_ip is None or other.tunnel_ip is None:
                continue
            spec = pinned.get(peer) or {}
            node.tunnels[peer] = model.TunnelPort(spec.get("name") or tunnel_port_name(node.name, peer),
                                                  spec.get("ofport"))
    for net in scenario.networks.values():
        nv = d["networks"][net.name]["netvirt"]
        net.elan_tag = nv.get("elan_tag") or elans.allocate("network %s" % net.name)
        if net.external:
            net.vpn_id = nv.get("vpn_id") or vpn.allocate("network %s" % net.name)
    for router in scenario.routers.values():
        router.vpn_id = d["routers"][router.name]["netvirt"].get("vpn_id") or vpn.allocate("router %s" % router.name)
    routed = {p.network for r in scenario.routers.values() for p in r.interfaces}
    for inst in scenario.instances.values():
        nv = d["instances"].get(inst.name, {}).get("netvirt", {})
        port = inst.port
        port.lport_tag = nv.get("lport_tag") or lports.allocate(inst.name)
        if port.network in routed:
            port.l3_label = nv.get("l3_label") or vpn.allocate(inst.name)
            port.group = nv.get("group") or groups.allocate(inst.name)
