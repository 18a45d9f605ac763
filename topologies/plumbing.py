"""The bridges of a node, as neutron's OVS agent sets them up: br-int, the
physical bridges (br-provider, br-mgmt) patched to it, br-tun with one VXLAN
port per peer, and the instances' tap ports. Each function returns shell
script text for the node, so a node is configured in one ovs-vsctl transaction."""

import shlex

from stacklab import naming

CONTROLLER = "tcp:127.0.0.1:6633"
# neutron's [ovs] of_inactivity_probe (10 s, set on every bridge's controller), not
# Open vSwitch's 5 s: a hundred nodes' agent busy for five seconds is not gone
INACTIVITY_PROBE_MS = 10000
MANAGER = "ptcp:6640:127.0.0.1"
PROTOCOLS = "OpenFlow10,OpenFlow13,OpenFlow14"


def vsctl(args):
    """One ovs-vsctl command line (a transaction) of `args`."""
    return "ovs-vsctl " + " ".join(shlex.quote(a) for a in args)


def _bridge(name, datapath_type):
    # netdev: the userspace datapath (no kernel module needed; see platform notes); system: the kernel's
    return ["--may-exist", "add-br", name, "--", "set", "Bridge", name, "datapath_type=" + datapath_type,
            "fail_mode=secure", "protocols=" + PROTOCOLS,
            "other_config:disable-in-band=true", "--", "set-controller", name, CONTROLLER,
            "--", "set", "Controller", name, "inactivity_probe=%d" % INACTIVITY_PROBE_MS]


def _patch(bridge, name, peer):
    return ["--may-exist", "add-port", bridge, name, "--", "set", "Interface", name, "type=patch",
            "options:peer=" + peer]


def ovs_owned_script(devices):
    """Keep a node's kernel away from devices its Open vSwitch owns. With the
    userspace datapath OVS reads them through AF_PACKET, but the kernel still
    sees every frame: it would answer ARP for the node's own addresses from
    the NIC's MAC (a second, wrong answer: peers that learn it send VXLAN to
    a MAC that OVS does not terminate tunnels on) and take IP packets (ICMP
    port unreachable for VXLAN). On a real node the kernel datapath takes the
    frames first. No ARP answers, no IP input (strict reverse-path check: the
    way back is the bridge's own port), no IPv6."""
    settings = []
    for dev in devices:
        settings += ["net/ipv4/conf/%s/arp_ignore=8" % dev, "net/ipv4/conf/%s/rp_filter=1" % dev,
                     "net/ipv6/conf/%s/disable_ipv6=1" % dev]
    return "sysctl -qw " + " ".join(settings) if settings else ""


def address_mac(nic):
    """A bridge that holds its NIC's address answers with the NIC's MAC, as
    a node's bridge does (OVS would pick a random one): the fabric answers
    ARP for node addresses from the scenario (topologies/fabric.py)."""
    return ["--", "set", "Bridge", nic.bridge, "other_config:hwaddr=" + nic.mac] if nic.address else []


def vxlan_options(local_ip, remote_ip):
    return {"df_default": "true", "egress_pkt_mark": "0", "in_key": "flow", "local_ip": str(local_ip),
            "out_key": "flow", "remote_ip": str(remote_ip)}


def _tunnel_port(node, remote, ofport=None):
    port = naming.vxlan_port_name(remote)
    opts = ["options:%s=%s" % kv for kv in vxlan_options(node.tunnel_ip, remote).items()]
    return ["--may-exist", "add-port", naming.TUNNEL_BRIDGE, port, "--", "set", "Interface", port,
            "type=vxlan"] + opts + (["ofport_request=%d" % ofport] if ofport else [])


def tunnel_port_script(node, remote):
    """br-tun's VXLAN port from `node` to tunnel IP `remote` (a peer that came later)."""
    return "ovs-vsctl " + " ".join(shlex.quote(a) for a in _tunnel_port(node, remote))


def bridges_script(node, peers, datapath_type="netdev"):
    """ovs-vsctl transaction for every bridge of `node` (a model.Node) with
    VXLAN ports to `peers` (tunnel IPs), then the node's addresses."""
    args = ["set-manager", MANAGER, "--"] + _bridge(naming.INTEGRATION_BRIDGE, datapath_type)
    # Order matters for the OpenFlow port numbers: int-br-X, then patch-tun, then taps (as in 000).
    for physnet, bridge in node.bridge_mappings.items():
        args += ["--"] + _patch(naming.INTEGRATION_BRIDGE, naming.int_patch_name(bridge), naming.phy_patch_name(bridge))
    if node.tunnel_ip is not None:
        args += ["--"] + _patch(naming.INTEGRATION_BRIDGE, naming.PATCH_INT_TO_TUN, naming.PATCH_TUN_TO_INT)
        args += ["--"] + _bridge(naming.TUNNEL_BRIDGE, datapath_type)
        args += ["--"] + _patch(naming.TUNNEL_BRIDGE, naming.PATCH_TUN_TO_INT, naming.PATCH_INT_TO_TUN)
        # numbered in the peers' order, as an agent adding them one by one numbers them (in one
        # transaction OVS would number them in no set order)
        for k, remote in enumerate(peers):
            args += ["--"] + _tunnel_port(node, remote, ofport=k + 2)
    for physnet, bridge in node.bridge_mappings.items():
        args += ["--"] + _bridge(bridge, datapath_type)
        for nic in node.nics.values():
            if nic.bridge == bridge:
                args += ["--", "--may-exist", "add-port", bridge, nic.name] + address_mac(nic)
        args += ["--"] + _patch(bridge, naming.phy_patch_name(bridge), naming.int_patch_name(bridge))
    lines = ["ovs-vsctl " + " ".join(shlex.quote(a) for a in args)]
    lines.append(ovs_owned_script([nic.name for nic in node.nics.values() if nic.bridge]))
    for nic in node.nics.values():
        lines.append("ip link set %s up" % nic.name)
        if nic.bridge:
            lines.append("ip link set %s up" % nic.bridge)
        if nic.address:
            lines.append("ip addr add %s dev %s" % (nic.address.with_prefixlen, nic.ip_device))
    return "\n".join(lines)


def standalone_bridges_args(node, datapath_type):
    """ovs-vsctl arguments for a node's physical bridges when no agent
    programs them (netvirt's underlay, OVN's provider bridges): each switches
    by itself (standalone) and holds its NICs, answering with their MAC."""
    args = []
    for bridge in node.physical_bridges:
        args += ["--", "--may-exist", "add-br", bridge, "--", "set", "Bridge", bridge,
                 "datapath_type=" + datapath_type, "fail_mode=standalone"]
        args += [a for nic in node.nics.values() if nic.bridge == bridge
                 for a in ["--", "--may-exist", "add-port", bridge, nic.name] + address_mac(nic)]
    return args


def node_network_lines(node, args, owned):
    """A node's NICs up with their addresses around one ovs-vsctl transaction
    of `args` (the unbridged NICs' addresses first: a controller behind one is
    reachable as soon as the bridges exist), `owned` kept away from the
    node's kernel, then the addresses that live on bridges."""
    lines = ["ip link set %s up" % nic.name for nic in node.nics.values()]
    lines += ["ip addr add %s dev %s" % (nic.address.with_prefixlen, nic.name) for nic in node.nics.values()
              if nic.address and not nic.bridge]
    lines += [vsctl(args[1:]) if args else "", ovs_owned_script(owned)]
    for nic in node.nics.values():
        if nic.bridge:
            lines.append("ip link set %s up" % nic.bridge)
            if nic.address:
                lines.append("ip addr add %s dev %s" % (nic.address.with_prefixlen, nic.bridge))
    return lines


def _port_args(port, vm_uuid=None, kind=None):
    """One br-int port with the external_ids nova or an agent's interface driver sets."""
    args = ["--", "--may-exist", "add-port", naming.INTEGRATION_BRIDGE, port.name,
            "--", "set", "Interface", port.name]
    if kind:
        args.append("type=" + kind)
    args += ["external_ids:iface-id=" + port.id,
             "external_ids:iface-status=active",
             "external_ids:attached-mac=" + port.mac]
    if vm_uuid:
        args.append("external_ids:vm-uuid=" + vm_uuid)
    if port.ofport is not None:
        args.append("ofport_request=%d" % port.ofport)
    return args


def tap_ports_script(ports, instance_of):
    """Plug taps into br-int with the external_ids nova (or the DHCP agent) sets."""
    if not ports:
        return ""
    args = []
    for port in ports:
        args += _port_args(port, instance_of.get(port.id))
    up = "\n".join("ip link set %s up" % p.name for p in ports)
    return "\n".join([up, ovs_owned_script([p.name for p in ports]),
                      "ovs-vsctl " + " ".join(shlex.quote(a) for a in args[1:])])


def internal_ports_script(plugs):
    """What neutron's Open vSwitch interface driver does for a qr-, qg- or
    DHCP tap port on the kernel datapath: an internal port of br-int, given
    the port's MAC, moved into its namespace (one of the node's `ip netns`),
    its MTU set and up there. `plugs`: [(port, namespace, MTU)], one
    ovs-vsctl transaction for them all."""
    if not plugs:
        return ""
    args = []
    for port, _, _ in plugs:
        args += _port_args(port, kind="internal")
    lines = [vsctl(args[1:])]
    for port, namespace, mtu in plugs:
        lines += ["ip link set %s address %s" % (port.name, port.mac),
                  "ip link set %s netns %s" % (port.name, namespace),
                  "ip -n %s link set %s mtu %d up" % (namespace, port.name, mtu)]
    return "\n".join(lines)
