"""The group tables netvirt programs (type all, one bucket unless flooding):

  next hop     150000-: a VM on this node that a router delivers to: set its
               MAC as destination, its lport in reg6, egress dispatcher
               (004: group 150011 for D)
  ELAN flood   225000-: per network, one group for this node's ports and
               one that adds a bucket per other node (tun_id = ELAN tag)
  external     the gateway of an external network: its MAC, out of the
               provider NIC"""

from controller.netvirt import metadata as md
from controller.openflow import group, nx_load, output, resubmit, set_field

ELAN_GROUP_BASE = 225000
EXTERNAL_GROUP_BASE = 200000


def elan_local_group(elan_tag):
    return ELAN_GROUP_BASE + 2 * elan_tag


def elan_all_group(elan_tag):
    return ELAN_GROUP_BASE + 2 * elan_tag + 1


def external_group(elan_tag):
    return EXTERNAL_GROUP_BASE + elan_tag


def deliver(lport_tag, egress_dispatcher):
    """Actions that hand a packet to a port's egress dispatcher."""
    return [nx_load("reg6", md.reg6(lport_tag), 32), resubmit(egress_dispatcher)]


class Groups:

    def __init__(self, groups):
        self.groups = groups

    def next_hop(self, group_id, mac, lport_tag, egress_dispatcher):
        self.groups.add(group_id, [[set_field(eth_dst=mac)] + deliver(lport_tag, egress_dispatcher)])

    def elan_flood(self, elan_tag, local_lports, remote_tunnels, egress_dispatcher):
        """This node's ports of the network; and all of them plus every other
        node with ports on it, through its tunnel with the ELAN tag."""
        self.groups.add(elan_local_group(elan_tag), [deliver(tag, egress_dispatcher) for tag in local_lports])
        self.groups.add(elan_all_group(elan_tag), [[group(elan_local_group(elan_tag))]] +
                        [[set_field(tunnel_id=elan_tag), output(t)] for t in remote_tunnels])

    def external_gateway(self, elan_tag, mac, provider_lport_tag, egress_dispatcher):
        self.groups.add(external_group(elan_tag), [[set_field(eth_dst=mac)]
                                                   + deliver(provider_lport_tag, egress_dispatcher)])
