"""Device names as OpenStack gives them, so that the emulated nodes print the
same names as the documents."""

import ipaddress
import re

# the bridge and patch names the OpenFlow apps use too: defined once, in controller/names.py
from controller.names import (DEVICE_NAME_MAX, INTEGRATION_BRIDGE, PATCH_INT_TO_TUN, PATCH_TUN_TO_INT,
                              TUNNEL_BRIDGE, int_patch_name, phy_patch_name)

__all__ = ["DEVICE_NAME_MAX", "INTEGRATION_BRIDGE", "PATCH_INT_TO_TUN", "PATCH_TUN_TO_INT", "TUNNEL_BRIDGE",
           "int_patch_name", "phy_patch_name", "NAME_PATTERN", "LAB_NAME_MAX", "lab_name_problem", "tap_name",
           "vxlan_port_name", "qdhcp_namespace", "tap_mac"]

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


def tap_mac(mac):
    """The host side of an instance's tap carries fe: instead of fa: (as libvirt sets it)."""
    return "fe" + mac[2:]
