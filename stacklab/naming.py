"""Device names as OpenStack gives them, so that the emulated nodes print the
same names as the documents."""

import ipaddress

INTEGRATION_BRIDGE = "br-int"
TUNNEL_BRIDGE = "br-tun"
PATCH_INT_TO_TUN = "patch-tun"
PATCH_TUN_TO_INT = "patch-int"
DEVICE_NAME_MAX = 15


def tap_name(port_id):
    """nova's and neutron's device name for a port: tap + the first 11 characters of its id."""
    return ("tap" + port_id)[:14]


def vxlan_port_name(remote_ip):
    """neutron's tunnel port name: the peer address in hex (172.16.0.11 -> vxlan-ac10000b)."""
    return "vxlan-%08x" % int(ipaddress.IPv4Address(str(remote_ip)))


def int_patch_name(bridge):
    """The br-int side of the patch to a physical bridge: int-br-provider."""
    return ("int-" + bridge)[:DEVICE_NAME_MAX]


def phy_patch_name(bridge):
    """The physical bridge's side of that patch: phy-br-provider."""
    return ("phy-" + bridge)[:DEVICE_NAME_MAX]


def qdhcp_namespace(network_id):
    return "qdhcp-" + network_id


def tap_mac(mac):
    """The host side of an instance's tap carries fe: instead of fa: (as libvirt sets it)."""
    return "fe" + mac[2:]
