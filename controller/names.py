"""The bridge and patch port names the OpenFlow apps need, as neutron's OVS
agent names them (the apps import nothing of the lab: os-ken and themselves;
stacklab/naming.py takes these from here)."""

INTEGRATION_BRIDGE = "br-int"
TUNNEL_BRIDGE = "br-tun"
PATCH_INT_TO_TUN = "patch-tun"
PATCH_TUN_TO_INT = "patch-int"
DEVICE_NAME_MAX = 15


def int_patch_name(bridge):
    """The br-int side of the patch to a physical bridge: int-br-provider."""
    return ("int-" + bridge)[:DEVICE_NAME_MAX]


def phy_patch_name(bridge):
    """The physical bridge's side of that patch: phy-br-provider."""
    return ("phy-" + bridge)[:DEVICE_NAME_MAX]
