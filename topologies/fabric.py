"""The physical networks between nodes: a Linux bridge per network inside the
lab's fabric namespace, and a veth from each node NIC (eth0, ...) to it.

The switches answer ARP for the nodes' own addresses (as a data-centre
fabric's ARP suppression does) instead of flooding each request to every
node. With the userspace datapath a node's
Open vSwitch resolves each VXLAN peer itself, by ARP; in a mesh of N nodes
that is N x N requests, and every node's ovs-vswitchd had to look at every
one of them (at 100 nodes, 900 a second each, for a minute)."""

from stacklab import naming


def switch_names(physnets):
    """Bridge device per physical network (names of at most 15 characters)."""
    out = {}
    for i, physnet in enumerate(sorted(physnets)):
        name = physnet if len(physnet) <= naming.DEVICE_NAME_MAX else "pn%d-%s" % (i, physnet[:9])
        out[physnet] = name
    return out


def port_name(node_index, node_name, nic):
    """The fabric side of a node NIC: compute1-eth0 (shortened when too long)."""
    name = "%s-%s" % (node_name, nic)
    if len(name) <= naming.DEVICE_NAME_MAX:
        return name
    return ("n%d-%s" % (node_index, nic))[:naming.DEVICE_NAME_MAX]


def arp_answers_script(switch, ports):
    """Make `switch` answer ARP for the addresses behind `ports`: [(port,
    ip, mac)], the node NICs that hold an address: the bridge knows each
    address (a permanent neighbour) and where its MAC is (a static FDB
    entry), and its ports are marked to be answered for (proxy_arp_wifi:
    answered requests are not flooded to them; unlike proxy_arp it floods
    everything else). Requests for other addresses (instances on flat
    networks, external hosts) are flooded as before."""
    if not ports:
        return ""
    fdb = "".join("fdb replace %s dev %s master static\n" % (mac, port) for port, _, mac in ports)
    ip = "".join("link set dev %s type bridge_slave proxy_arp_wifi on\n" % port for port, _, _ in ports)
    ip += "".join("neigh replace %s lladdr %s dev %s nud permanent\n" % (addr, mac, switch) for _, addr, mac in ports)
    return "bridge -batch - <<'EOF'\n%sEOF\nip -batch - <<'EOF'\n%sEOF" % (fdb, ip)
