"""A physical bridge (br-provider, br-mgmt): the NIC to the physical network
and a patch (phy-br-X) to br-int. Frames from br-int carry the network's
local VLAN; here it becomes the segment on the wire: no tag for a flat
network, the segmentation id for a vlan network. Anything else from br-int is
dropped; everything else is switched NORMAL."""

from controller.openflow import BridgeFlows, match, normal, set_vlan, strip_vlan, vlan

LOCAL_SWITCHING = 0


class PhysicalBridge(BridgeFlows):

    def setup_default_table(self):
        self.add(LOCAL_SWITCHING, 0, actions=[normal()])

    def drop_from_integration_bridge(self, patch):
        """Frames from br-int on a local VLAN this node did not provision."""
        self.add(LOCAL_SWITCHING, 2, match(in_port=self.ofport(patch)))

    def provision_local_vlan(self, patch, local_vlan, segmentation_id):
        """Local VLAN -> wire: strip it (flat, segmentation_id None) or
        rewrite it to the network's VLAN id."""
        if segmentation_id is None:
            actions = [strip_vlan(), normal()]
        else:
            actions = [set_vlan(segmentation_id), normal()]
        self.add(LOCAL_SWITCHING, 4, match(in_port=self.ofport(patch), vlan_vid=vlan(local_vlan)), actions)
