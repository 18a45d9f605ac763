"""br-int, up to the firewall: table 0 gives frames from the physical bridges
their network's local VLAN (and drops the rest of what they send), then every
frame passes the rate-limit hop to table 60, where the firewall (firewall.py)
claims the frames of filtered ports and the rest is switched NORMAL.

The rate-limit hop is table 58 from release 2024.1 on and table 59 before:
the documents show both (002 vs 000/003).

With DVR (dvr.py decides which) tables 1-4 take routed frames from other
nodes: a frame that comes from another node's DVR MAC (table 0) gets, in
table 1 (tunnels) or 2 (physical networks), the subnet's gateway MAC as its
source and, in table 60, goes straight to the local port it is for; ARP
replies to this node's DVR MAC go to the router port (tables 3 and 4)."""

from controller.openflow import (BridgeFlows, NO_VLAN, match, normal, output, push_vlan, resubmit, set_field,
                                 set_vlan, strip_vlan, vlan)

LOCAL_SWITCHING = 0
DVR_TO_SRC_MAC = 1           # routed frames from a tunnel: the gateway MAC as source
DVR_TO_SRC_MAC_PHYSICAL = 2  # the same from a physical bridge (vlan, flat)
ARP_DVR_MAC_TO_DST_MAC = 3   # ARP replies to this node's DVR MAC, from a tunnel
ARP_DVR_MAC_TO_DST_MAC_PHYSICAL = 4
CANARY = 23                  # the agent checks this table to notice an OVS restart
ARP_SPOOF = 24               # (the iptables firewall's ARP protection; drop)
LOCAL_EGRESS = 30            # local IP / egress hooks, pass through
LOCAL_IP = 31
BANDWIDTH_RATE_LIMIT = 58    # 2024.1
PACKET_RATE_LIMIT = 59       # 2023.2
TRANSIENT = 60               # the firewall's entry: which port, which direction
TRANSIENT_EGRESS = 62

DEAD_VLAN = 4095
PHYSICAL_TYPES = ("vlan", "flat")     # neutron's DVR_PHYSICAL_NETWORK_TYPES; the rest are tunnelled

RATE_LIMIT_TABLE = {"2023.2": PACKET_RATE_LIMIT, "2024.1": BANDWIDTH_RATE_LIMIT}


class IntegrationBridge(BridgeFlows):

    def __init__(self, name, ofports, release):
        super().__init__(name, ofports)
        self.release = release
        self.rate_limit = RATE_LIMIT_TABLE[release]

    def setup_default_tables(self):
        self.add(LOCAL_SWITCHING, 65535, match(vlan_vid=vlan(DEAD_VLAN)))
        self.add(LOCAL_SWITCHING, 0, actions=[resubmit(self.rate_limit)])
        self.add(CANARY, 0)
        self.add(ARP_SPOOF, 0)
        self.add(LOCAL_EGRESS, 0, actions=[resubmit(self.rate_limit)])
        self.add(LOCAL_IP, 0, actions=[resubmit(self.rate_limit)])
        self.add(self.rate_limit, 0, actions=[resubmit(TRANSIENT)])
        self.add(TRANSIENT, 3, actions=[normal()])
        self.add(TRANSIENT_EGRESS, 3, actions=[normal()])

    def drop_from_physical_bridge(self, patch):
        """What a physical bridge sends on a segment this node has no network for."""
        self.add(LOCAL_SWITCHING, 2, match(in_port=self.ofport(patch)))

    def provision_local_vlan(self, patch, local_vlan, segmentation_id):
        """Segment -> local VLAN for frames from a physical bridge: untagged
        frames for a flat network (segmentation_id None), frames tagged with
        the VLAN id for a vlan network."""
        if segmentation_id is None:
            segment = match(in_port=self.ofport(patch), vlan_vid=NO_VLAN)
            actions = [push_vlan(), set_vlan(local_vlan)]
        else:
            segment = match(in_port=self.ofport(patch), vlan_vid=vlan(segmentation_id))
            actions = [set_vlan(local_vlan)]
        self.add(LOCAL_SWITCHING, 3, segment, actions + [resubmit(self.rate_limit)])

    # -- DVR (dvr.py) --
    def setup_dvr_default_tables(self):
        self.add(DVR_TO_SRC_MAC, 1)
        self.add(DVR_TO_SRC_MAC_PHYSICAL, 1)

    def add_dvr_mac_tun(self, mac, patch_tun):
        """Frames from another node's DVR MAC through br-tun are routed ones."""
        self.add(LOCAL_SWITCHING, 2, match(in_port=self.ofport(patch_tun), eth_src=mac),
                 [resubmit(DVR_TO_SRC_MAC)])

    def add_dvr_mac_physical(self, mac, patch):
        self.add(LOCAL_SWITCHING, 4, match(in_port=self.ofport(patch), eth_src=mac),
                 [resubmit(DVR_TO_SRC_MAC_PHYSICAL)])

    def add_dvr_gateway_mac_arp_tun(self, own_mac, patch_tun):
        self.add(LOCAL_SWITCHING, 5, match(in_port=self.ofport(patch_tun), eth_dst=own_mac),
                 [resubmit(ARP_DVR_MAC_TO_DST_MAC)])

    def add_dvr_gateway_mac_arp_physical(self, own_mac, patch):
        self.add(LOCAL_SWITCHING, 5, match(in_port=self.ofport(patch), eth_dst=own_mac),
                 [resubmit(ARP_DVR_MAC_TO_DST_MAC_PHYSICAL)])

    def install_dvr_to_src_mac(self, network_type, vlan_tag, gateway_mac, dst_mac, dst_port):
        """A routed frame for local port `dst_mac`: the gateway MAC as its
        source, then (table 60) untagged straight out of the port. `vlan_tag`:
        the local VLAN (tunnels), the segment's (vlan), None (flat)."""
        table = DVR_TO_SRC_MAC_PHYSICAL if network_type in PHYSICAL_TYPES else DVR_TO_SRC_MAC
        tag = vlan(vlan_tag) if vlan_tag else NO_VLAN
        self.add(table, 20, match(vlan_vid=tag, eth_dst=dst_mac),
                 [set_field(eth_src=gateway_mac), resubmit(self.rate_limit)])
        self.add(TRANSIENT, 20, match(vlan_vid=tag, eth_dst=dst_mac),
                 ([strip_vlan()] if vlan_tag else []) + [output(self.ofport(dst_port))])

    def install_dvr_dst_mac_for_arp(self, network_type, vlan_tag, gateway_mac, dvr_mac, router_port):
        table = ARP_DVR_MAC_TO_DST_MAC_PHYSICAL if network_type in PHYSICAL_TYPES else ARP_DVR_MAC_TO_DST_MAC
        tag = vlan(vlan_tag) if vlan_tag else NO_VLAN
        self.add(table, 5, match(vlan_vid=tag, eth_dst=dvr_mac),
                 [set_field(eth_dst=gateway_mac), strip_vlan(), output(self.ofport(router_port))])

    def change_arp_destination_mac(self, gateway_mac, dvr_mac):
        """ARP replies sent to this node's DVR MAC for a gateway: to the gateway's MAC."""
        self.add(LOCAL_SWITCHING, 99, match("arp", eth_dst=dvr_mac, arp_op=2, arp_tha=gateway_mac),
                 [set_field(eth_dst=gateway_mac), resubmit(self.rate_limit)])
