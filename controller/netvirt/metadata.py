"""The 64-bit metadata and reg6 as genius lays them out (004's values decode
with these):

  metadata  63-61 service index | 60-40 lport tag | 39-24 ELAN tag
            23-1 VPN id (<< 1)  | 0 split horizon (came from a tunnel)
  reg6      31-29 egress service index | 28-8 lport tag

e.g. write_metadata:0xc0004100000222fe/0xfffffffffffffffe is service index 6
(ELAN next), lport 0x41, VPN id 0x1117f."""

SERVICE_SHIFT, LPORT_SHIFT, ELAN_SHIFT = 61, 40, 24
MASK_SERVICE_AND_LPORT = 0xFFFFFF0000000000
MASK_LPORT = 0x1FFFFF0000000000
MASK_LPORT_AND_ELAN = 0x1FFFFFFFFF000000
MASK_ELAN = 0x000000FFFF000000
MASK_VRF = 0x00000000FFFFFFFE
MASK_SPLIT_HORIZON = 0x1
MASK_ALL_BUT_SPLIT_HORIZON = 0xFFFFFFFFFFFFFFFE
MASK_SERVICE_LPORT_AND_SPLIT_HORIZON = 0xFFFFFF0000000001
MASK_LPORT_AND_SPLIT_HORIZON = 0x1FFFFF0000000001

REG6_SERVICE_SHIFT, REG6_LPORT_SHIFT = 29, 8


def service(index):
    return index << SERVICE_SHIFT


def lport(tag):
    return tag << LPORT_SHIFT


def elan(tag):
    return tag << ELAN_SHIFT


def vrf(vpn_id):
    return vpn_id << 1


def reg6(lport_tag, service_index=0):
    """What the egress dispatcher matches: the egress service index and the port."""
    return (service_index << REG6_SERVICE_SHIFT) | (lport_tag << REG6_LPORT_SHIFT)
