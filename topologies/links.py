"""Links own their interfaces. A Veth is made inside both namespaces at once,
so names like eth0 never appear in (or clash with) the root namespace."""

from stacklab.errors import LabError
from topologies.mn import Intf, Link

from topologies.shell import script


def veth_script(name1, name2, peer_netns, mac1=None, mac2=None, mtu=None):
    """The command, run inside the first node, that creates the pair
    (`peer_netns`: the second node's network namespace as a path there)."""
    def side(name, mac):
        out = "name %s" % name
        if mac:
            out += " address %s" % mac
        if mtu:
            out += " mtu %d" % mtu
        return out
    return "ip link add %s type veth peer %s netns %s" % (side(name1, mac1), side(name2, mac2), peer_netns)


class Veth(Link):
    """A veth pair between two Mininet nodes."""

    def __init__(self, node1, node2, name1, name2, mac1=None, mac2=None, mtu=None, create=True):
        if create:
            script(node1, veth_script(name1, name2, node1.netns_path(node2.pid), mac1, mac2, mtu),
                   "creating %s-%s" % (name1, name2))
        self.fast = True
        # up=None: the lab brings links up in its own batched scripts.
        self.intf1 = Intf(name1, node=node1, link=self, up=None, moveIntfFn=self._ignore)
        self.intf2 = Intf(name2, node=node2, link=self, up=None, moveIntfFn=self._ignore)
        self.intf1.mac, self.intf2.mac = mac1, mac2


def tap_pair_script(inner, outer, node_netns, pidfile, inner_mac, outer_mac, mtu, netns=None, inner_first=True,
                    altname=None):
    """Shell text, run inside the instance, that makes a VM-style NIC: socat
    creates two tap devices and carries frames between them; `outer` then
    moves to the node (where it is plugged into br-int, a tap as libvirt's),
    `inner` stays in the instance (or its namespace `netns`). The one made
    first gets the lowest free interface index there: `inner_first` gives
    a VM's first NIC index 2, else the inner one gets 3, as a second NIC
    moved into a namespace keeps. The carrier is toggled so the kernel
    reports the inner link as UP, as a VM's NIC, rather than a tap's UNKNOWN;
    `altname` is its PCI name (enp0s3)."""
    enter = "nsenter --net=/run/netns/%s " % netns if netns else ""
    tap = "TUN,tun-type=tap,iff-no-pi,tun-name="
    first, second = (inner, outer) if inner_first else (outer, inner)
    extra = ["%sip link property add dev %s altname %s" % (enter, inner, altname)] if altname else []
    return "\n".join([
        "%ssocat -b 65536 %s%s %s%s </dev/null >/dev/null 2>&1 &" % (enter, tap, first, tap, second),
        "echo $! > %s" % pidfile,
        # wait for both taps
        "i=0; until %sip link show %s >/dev/null 2>&1 && %sip link show %s >/dev/null 2>&1; do "
        "i=$((i+1)); [ $i -lt 200 ] || { echo 'socat made no taps'; exit 1; }; sleep 0.01; done"
        % (enter, inner, enter, outer),
        "%sip link set %s netns %s" % (enter, outer, node_netns),
        "%sip link set %s address %s mtu %d up" % (enter, inner, inner_mac, mtu),
        "%sip link set %s carrier off && %sip link set %s carrier on" % (enter, inner, enter, inner),
        "nsenter --net=%s ip link set %s address %s mtu %d up" % (node_netns, outer, outer_mac, mtu),
    ] + extra)


def _tap_pair_undo(inner, outer, node_netns, pidfile, netns=None):
    """Shell text that removes what a failed tap_pair_script() left: its socat, its taps."""
    enter = "nsenter --net=/run/netns/%s " % netns if netns else ""
    return "\n".join([
        "pid=$(cat %s 2>/dev/null || true)" % pidfile,
        '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true',
        'i=0; while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.01; i=$((i+1)); done',
        "%sip link del %s 2>/dev/null || true" % (enter, inner),
        "ip link del %s 2>/dev/null || true" % outer,
        "nsenter --net=%s ip link del %s 2>/dev/null || true" % (node_netns, outer),
    ])


class TapPair(Link):
    """A VM's NIC: a tap on the node (what br-int holds, as on a real
    compute node) and a tap inside the instance, joined by a socat process
    that the link owns (its pid is in `pidfile`)."""

    def __init__(self, instance, node, inner, outer, pidfile, inner_mac, outer_mac, mtu, netns=None,
                 inner_first=True, altname=None):
        node_netns = instance.netns_path(node.pid)
        text = tap_pair_script(inner, outer, node_netns, pidfile, inner_mac, outer_mac, mtu, netns, inner_first,
                               altname)
        what = "creating the NIC %s of %s (%s on %s)" % (inner, instance.name, outer, node.name)
        try:
            script(instance, text, what)
        except LabError:
            # seen once, four exercise labs building at once on two cores: the inner tap was gone
            # (socat ended, its taps with it) right after the outer one moved to the node; so
            # once more, from nothing, before the build gives up
            script(instance, _tap_pair_undo(inner, outer, node_netns, pidfile, netns), "undoing " + what)
            script(instance, text, what)
        self.pidfile = pidfile
        self.fast = True
        self.intf1 = Intf(inner, node=instance, link=self, up=None, moveIntfFn=self._ignore)
        self.intf2 = Intf(outer, node=node, link=self, up=None, moveIntfFn=self._ignore)
        self.intf1.mac, self.intf2.mac = inner_mac, outer_mac
