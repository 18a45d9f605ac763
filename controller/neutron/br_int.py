"""br-int, up to the firewall: table 0 gives frames from the physical bridges
their network's local VLAN (and drops the rest of what they send), then every
frame passes the rate-limit hop to table 60, where the firewall (firewall.py)
claims the frames of filtered ports and the rest is switched NORMAL.

The rate-limit hop is table 58 from release 2024.1 on and table 59 before:
the documents show both (002 vs 000/003)."""

from controller.openflow import BridgeFlows, NO_VLAN, match, normal, push_vlan, resubmit, set_vlan, vlan

LOCAL_SWITCHING = 0
CANARY = 23                  # the agent checks this table to notice an OVS restart
ARP_SPOOF = 24               # (the iptables firewall's ARP protection; drop)
LOCAL_EGRESS = 30            # local IP / egress hooks, pass through
LOCAL_IP = 31
BANDWIDTH_RATE_LIMIT = 58    # 2024.1
PACKET_RATE_LIMIT = 59       # 2023.2
TRANSIENT = 60               # the firewall's entry: which port, which direction
TRANSIENT_EGRESS = 62

DEAD_VLAN = 4095

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
