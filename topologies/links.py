"""Links own their interfaces. A Veth is made inside both namespaces at once,
so names like eth0 never appear in (or clash with) the root namespace."""

from mininet.link import Intf, Link

from topologies.shell import script


def veth_script(name1, name2, peer_pid, mac1=None, mac2=None, mtu=None):
    """The command, run inside the first node, that creates the pair."""
    def side(name, mac):
        out = "name %s" % name
        if mac:
            out += " address %s" % mac
        if mtu:
            out += " mtu %d" % mtu
        return out
    return "ip link add %s type veth peer %s netns %d" % (side(name1, mac1), side(name2, mac2), peer_pid)


class Veth(Link):
    """A veth pair between two Mininet nodes."""

    def __init__(self, node1, node2, name1, name2, mac1=None, mac2=None, mtu=None, create=True):
        if create:
            script(node1, veth_script(name1, name2, node2.pid, mac1, mac2, mtu), "creating %s-%s" % (name1, name2))
        self.fast = True
        # up=None: the lab brings links up in its own batched scripts.
        self.intf1 = Intf(name1, node=node1, link=self, up=None, moveIntfFn=self._ignore)
        self.intf2 = Intf(name2, node=node2, link=self, up=None, moveIntfFn=self._ignore)
        self.intf1.mac, self.intf2.mac = mac1, mac2
