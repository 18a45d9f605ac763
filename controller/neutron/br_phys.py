"""A physical bridge (br-provider, br-mgmt): the NIC to the physical network
and a patch (phy-br-X) to br-int. Frames from br-int carry the network's
local VLAN; here it becomes the segment on the wire: no tag for a flat
network, the segmentation id for a vlan network. Anything else from br-int is
dropped; everything else is switched NORMAL.

With DVR the local VLAN is translated in table 2 after DVR_PROCESS (table
1, dvr_process.py), and frames from the wire pass table 3, where those from
another node's DVR MAC go to br-int (not learned by NORMAL)."""

from controller.neutron.dvr_process import DvrProcessMixin
from controller.openflow import BridgeFlows, match, normal, output, resubmit, set_vlan, strip_vlan, vlan

LOCAL_SWITCHING = 0
DVR_PROCESS_PHYSICAL = 1
LOCAL_VLAN_TRANSLATION = 2
DVR_NOT_LEARN_PHYSICAL = 3


class PhysicalBridge(DvrProcessMixin, BridgeFlows):

    DVR_PROCESS = DVR_PROCESS_PHYSICAL
    DVR_PROCESS_NEXT = LOCAL_VLAN_TRANSLATION

    def setup_default_table(self):
        self.add(LOCAL_SWITCHING, 0, actions=[normal()])

    def drop_from_integration_bridge(self, patch):
        """Frames from br-int on a local VLAN this node did not provision."""
        self.add(LOCAL_SWITCHING, 2, match(in_port=self.ofport(patch)))

    def provision_local_vlan(self, patch, local_vlan, segmentation_id, distributed=False):
        """Local VLAN -> wire: strip it (flat, segmentation_id None) or
        rewrite it to the network's VLAN id (DVR: in LOCAL_VLAN_TRANSLATION)."""
        if segmentation_id is None:
            actions = [strip_vlan(), normal()]
        else:
            actions = [set_vlan(segmentation_id), normal()]
        self.add(LOCAL_VLAN_TRANSLATION if distributed else LOCAL_SWITCHING, 4,
                 match(in_port=self.ofport(patch), vlan_vid=vlan(local_vlan)), actions)

    # -- DVR (dvr.py) --
    def setup_dvr_default_tables(self, patch):
        """What br-int sends passes DVR_PROCESS, then the VLAN translation
        (where what has no local VLAN here is dropped); what comes from the
        wire passes DVR_NOT_LEARN, then NORMAL."""
        self.add(LOCAL_SWITCHING, 2, match(in_port=self.ofport(patch)), [resubmit(DVR_PROCESS_PHYSICAL)])
        self.add(LOCAL_SWITCHING, 1, actions=[resubmit(DVR_NOT_LEARN_PHYSICAL)])
        self.add(DVR_PROCESS_PHYSICAL, 0, actions=[resubmit(LOCAL_VLAN_TRANSLATION)])
        self.add(LOCAL_VLAN_TRANSLATION, 2, match(in_port=self.ofport(patch)))
        self.add(DVR_NOT_LEARN_PHYSICAL, 1, actions=[normal()])

    def add_dvr_mac_physical(self, mac, patch):
        self.add(DVR_NOT_LEARN_PHYSICAL, 2, match(eth_src=mac), [output(self.ofport(patch))])
