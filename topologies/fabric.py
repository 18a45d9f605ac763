"""The physical networks between nodes: a Linux bridge per network inside the
lab's fabric namespace, and a veth from each node NIC (eth0, ...) to it."""

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
