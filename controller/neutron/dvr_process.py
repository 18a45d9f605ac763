"""The DVR_PROCESS table that br-tun and the physical bridges share: frames
a local distributed router sends leave the node with the node's DVR MAC as
their source (the router's MAC is on every node, so it must not be seen on
the wire), frames for the router's MAC never leave, and ARP requests for
its gateway address are not flooded to the other nodes, whose own copy of
the router answers them."""

from controller.openflow import match, resubmit, set_field, vlan

FLOOD_TO_TUN = 22       # (neutron drops the gateway's ARP here on br-tun and, by the same code, on br-phys)


class DvrProcessMixin:
    """Needs DVR_PROCESS (its table) and DVR_PROCESS_NEXT (where frames go on)."""

    DVR_PROCESS = None
    DVR_PROCESS_NEXT = None

    def install_dvr_process_ipv4(self, local_vlan, gateway_ip):
        """ARP for the gateway stays on the node."""
        self.add(FLOOD_TO_TUN, 3, match("arp", vlan_vid=vlan(local_vlan), arp_tpa=gateway_ip))

    def install_dvr_process(self, local_vlan, router_mac, dvr_mac):
        self.add(self.DVR_PROCESS, 2, match(vlan_vid=vlan(local_vlan), eth_dst=router_mac))
        self.add(self.DVR_PROCESS, 1, match(vlan_vid=vlan(local_vlan), eth_src=router_mac),
                 [set_field(eth_src=dvr_mac), resubmit(self.DVR_PROCESS_NEXT)])
