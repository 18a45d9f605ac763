"""Device names as OpenStack gives them, so that the emulated nodes print the
same names as the documents."""

import ipaddress
import os
import re

# the bridge and patch names the OpenFlow apps use too: defined once, in controller/names.py
from controller.names import (DEVICE_NAME_MAX, INTEGRATION_BRIDGE, PATCH_INT_TO_TUN, PATCH_TUN_TO_INT,
                              TUNNEL_BRIDGE, int_patch_name, phy_patch_name)

__all__ = ["DEVICE_NAME_MAX", "INTEGRATION_BRIDGE", "PATCH_INT_TO_TUN", "PATCH_TUN_TO_INT", "TUNNEL_BRIDGE",
           "int_patch_name", "phy_patch_name", "NAME_PATTERN", "LAB_NAME_MAX", "lab_name_problem", "tap_name",
           "vxlan_port_name", "qdhcp_namespace", "tap_mac", "LAB_BIN", "host_path"]

# A lab is named as a scenario's names are: it becomes a directory under the
# run directory, so nothing that could climb out of it ('.', '..', '/') passes.
NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_.-]*"
LAB_NAME_MAX = 24
_LAB_NAME = re.compile(NAME_PATTERN + r"\Z")


def lab_name_problem(name):
    """Why `name` cannot name a lab, or None if it can."""
    if not isinstance(name, str) or not _LAB_NAME.match(name):
        return "%r is not a lab name (a letter, then letters, digits, '_', '.', '-')" % (name,)
    if len(name) > LAB_NAME_MAX:
        return "%r is not a lab name (at most %d characters)" % (name, LAB_NAME_MAX)
    return None


def tap_name(port_id):
    """nova's and neutron's device name for a port: tap + the first 11 characters of its id."""
    return ("tap" + port_id)[:14]


def vxlan_port_name(remote_ip):
    """neutron's tunnel port name: the peer address in hex (172.16.0.11 -> vxlan-ac10000b)."""
    return "vxlan-%08x" % int(ipaddress.IPv4Address(str(remote_ip)))


def qdhcp_namespace(network_id):
    return "qdhcp-" + network_id


def ovnmeta_namespace(network_id):
    """The OVN metadata agent's namespace of a network, as a chassis' `ip netns` lists it."""
    return "ovnmeta-" + network_id


def ovn_tunnel_port(chassis, index=0):
    """ovn-controller's Geneve port to `chassis`: ovn-, its name's first six characters, and a
    number among the chassis whose names share them (0 for the first)."""
    return "ovn-%s-%d" % (chassis[:6], index)


def fip_namespace(network_id):
    """A DVR node's namespace for the floating IPs of an external network."""
    return "fip-" + network_id


def node_host(namespace, node):
    """The lab's name for an agent's namespace that exists on several nodes under one name
    (ovnmeta-, a DVR or HA router's qrouter-, fip-): `namespace@node`."""
    return "%s@%s" % (namespace, node)


def ovnmeta_host(node, network_id):
    """The lab's name for the ovnmeta- namespace on `node` (one per chassis: the same
    network's namespace exists on each node with its ports)."""
    return node_host(ovnmeta_namespace(network_id), node)


def tap_mac(mac):
    """The host side of an instance's tap carries fe: instead of fa: (as libvirt sets it)."""
    return "fe" + mac[2:]


# Commands a lab host has that the machine may not, or has otherwise (a node's
# `systemctl`, an instance's `udhcpc`): on the host's own /run, first on its PATH.
LAB_BIN = "/run/lab-bin"
# Open vSwitch interface types that are tunnel ports
TUNNEL_TYPES = ("vxlan", "geneve", "gre", "stt")


def host_path(path=None):
    """PATH inside a lab host: its own commands first."""
    return LAB_BIN + ":" + (path or os.environ.get("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin")


def command():
    """How a user types stacklab: `stacklab` when that is on the PATH and is
    this one, else this install's script; with sudo where they are not root."""
    import shutil
    import sys
    mine = os.path.join(os.path.dirname(sys.executable), "stacklab")
    found = shutil.which("stacklab")
    if found and os.path.exists(mine) and os.path.realpath(found) == os.path.realpath(mine):
        name = "stacklab"
    elif os.path.exists(mine):
        name = os.path.relpath(mine) if not os.path.relpath(mine).startswith("..") else mine
    else:
        name = "stacklab"
    return name if os.environ.get("SUDO_USER") is None and os.geteuid() == 0 else "sudo " + name


def invocation(args):
    """A command line to suggest, quoted as messages quote it: `stacklab down lab1`
    as the user can type it (see command())."""
    return "`%s %s`" % (command(), args)
