"""br-tun: between br-int (patch-int) and the VXLAN ports to the other nodes.
Frames from br-int are split into unicast and flood; flood goes out of every
tunnel port with the network's VNI; frames from a tunnel get the network's
local VLAN and teach table 20 (learn()) where their source MAC lives."""

from controller.openflow import (BridgeFlows, MULTICAST, UNICAST, learn_reverse_path, match, output, resubmit,
                                 push_vlan, set_field, set_vlan, strip_vlan, vlan)

LOCAL_SWITCHING = 0          # classify by input port
PATCH_LV_TO_TUN = 2          # from br-int: unicast or flood
GRE_TUN_TO_LV = 3            # from a GRE port (none here): drop
VXLAN_TUN_TO_LV = 4          # from a VXLAN port: VNI -> local VLAN
GENEVE_TUN_TO_LV = 6         # from a Geneve port (none here): drop
LEARN_FROM_TUN = 10          # learn the reverse path, then to br-int
UCAST_TO_TUN = 20            # learned unicast; unknown -> flood
FLOOD_TO_TUN = 22            # per local VLAN: every tunnel port with the VNI


class TunnelBridge(BridgeFlows):

    def setup_default_tables(self, patch_int, cookie):
        self.add(LOCAL_SWITCHING, 1, match(in_port=self.ofport(patch_int)), [resubmit(PATCH_LV_TO_TUN)])
        self.add(LOCAL_SWITCHING, 0)
        self.add(PATCH_LV_TO_TUN, 0, match(eth_dst=UNICAST), [resubmit(UCAST_TO_TUN)])
        self.add(PATCH_LV_TO_TUN, 0, match(eth_dst=MULTICAST), [resubmit(FLOOD_TO_TUN)])
        self.add(GRE_TUN_TO_LV, 0)
        self.add(VXLAN_TUN_TO_LV, 0)
        self.add(GENEVE_TUN_TO_LV, 0)
        # learned flows carry the agent run's cookie, so a resync clears them too
        self.add(LEARN_FROM_TUN, 1, actions=[learn_reverse_path(UCAST_TO_TUN, cookie),
                                             output(self.ofport(patch_int))])
        self.add(UCAST_TO_TUN, 0, actions=[resubmit(FLOOD_TO_TUN)])
        self.add(FLOOD_TO_TUN, 0)

    def setup_tunnel_port(self, port):
        """Frames from a VXLAN port go to the VNI -> local VLAN table."""
        self.add(LOCAL_SWITCHING, 1, match(in_port=self.ofport(port)), [resubmit(VXLAN_TUN_TO_LV)])

    def provision_local_vlan(self, local_vlan, vni):
        self.add(VXLAN_TUN_TO_LV, 1, match(tunnel_id=vni), [push_vlan(), set_vlan(local_vlan), resubmit(LEARN_FROM_TUN)])

    def install_flood_to_tun(self, local_vlan, vni, ports):
        """Broadcast, multicast and unknown unicast of a network: to every
        tunnel port, with its VNI. No tunnel port: nothing to flood to."""
        if not ports:
            return
        actions = [strip_vlan(), set_field(tunnel_id=vni)] + [output(self.ofport(p)) for p in ports]
        self.add(FLOOD_TO_TUN, 1, match(vlan_vid=vlan(local_vlan)), actions)
