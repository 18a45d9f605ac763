"""br-tun: between br-int (patch-int) and the VXLAN ports to the other nodes.
Frames from br-int are split into unicast and flood; flood goes out of every
tunnel port with the network's VNI; frames from a tunnel get the network's
local VLAN and teach table 20 (learn()) where their source MAC lives.

With l2population the agent is told where every remote port is: table 20
gets a flow per remote MAC, table 22 floods a network only to the nodes
that have ports on it, and with the ARP responder table 21 answers ARP
requests for remote addresses without sending them anywhere.

With DVR, frames from br-int pass DVR_PROCESS first (dvr_process.py), and
frames from a tunnel pass DVR_NOT_LEARN: those from another node's DVR MAC
go to br-int without being learned (that MAC is the node's, not a port's)."""

from os_ken.lib.packet import arp, ether_types

from controller.neutron.dvr_process import DvrProcessMixin
from controller.openflow import (BridgeFlows, BROADCAST, MULTICAST, UNICAST, learn_reverse_path, match, nx_move,
                                 ofp, output, resubmit, push_vlan, set_field, set_vlan, strip_vlan, vlan)

LOCAL_SWITCHING = 0          # classify by input port
DVR_PROCESS = 1              # DVR: a local router's frames get the node's DVR MAC
PATCH_LV_TO_TUN = 2          # from br-int: unicast or flood
GRE_TUN_TO_LV = 3            # from a GRE port (none here): drop
VXLAN_TUN_TO_LV = 4          # from a VXLAN port: VNI -> local VLAN
GENEVE_TUN_TO_LV = 6         # from a Geneve port (none here): drop
DVR_NOT_LEARN = 9            # DVR: frames from other nodes' DVR MACs are not learned
LEARN_FROM_TUN = 10          # learn the reverse path, then to br-int
UCAST_TO_TUN = 20            # learned (or, with l2population, told) unicast; unknown -> flood
ARP_RESPONDER = 21           # l2population's ARP responder: answer for remote ports, else flood
FLOOD_TO_TUN = 22            # per local VLAN: every tunnel port with the VNI (l2pop: of nodes on it)


class TunnelBridge(DvrProcessMixin, BridgeFlows):

    DVR_PROCESS = DVR_PROCESS
    DVR_PROCESS_NEXT = PATCH_LV_TO_TUN

    def setup_default_tables(self, patch_int, cookie, arp_responder=False):
        self.add(LOCAL_SWITCHING, 1, match(in_port=self.ofport(patch_int)), [resubmit(PATCH_LV_TO_TUN)])
        self.add(LOCAL_SWITCHING, 0)
        if arp_responder:
            # broadcast ARP requests from br-int are answered here if the address is known
            self.add(PATCH_LV_TO_TUN, 1, match(eth_dst=BROADCAST, eth_type=ether_types.ETH_TYPE_ARP),
                     [resubmit(ARP_RESPONDER)])
            self.add(ARP_RESPONDER, 0, actions=[resubmit(FLOOD_TO_TUN)])
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

    def provision_local_vlan(self, local_vlan, vni, distributed=False):
        """VNI -> local VLAN, then learning (DVR: DVR_NOT_LEARN first)."""
        self.add(VXLAN_TUN_TO_LV, 1, match(tunnel_id=vni),
                 [push_vlan(), set_vlan(local_vlan), resubmit(DVR_NOT_LEARN if distributed else LEARN_FROM_TUN)])

    def install_flood_to_tun(self, local_vlan, vni, ports):
        """Broadcast, multicast and unknown unicast of a network: to every
        tunnel port, with its VNI. No tunnel port: nothing to flood to."""
        if not ports:
            return
        actions = [strip_vlan(), set_field(tunnel_id=vni)] + [output(self.ofport(p)) for p in ports]
        self.add(FLOOD_TO_TUN, 1, match(vlan_vid=vlan(local_vlan)), actions)

    def install_unicast_to_tun(self, local_vlan, vni, port, mac):
        """l2population: frames for a remote port's MAC go straight to its node."""
        self.add(UCAST_TO_TUN, 2, match(vlan_vid=vlan(local_vlan), eth_dst=mac),
                 [strip_vlan(), set_field(tunnel_id=vni), output(self.ofport(port))])

    def install_arp_responder(self, local_vlan, ip, mac):
        """The ARP request for a remote port's address, turned into its reply
        and sent back where it came from."""
        self.add(ARP_RESPONDER, 1, match(vlan_vid=vlan(local_vlan), eth_type=ether_types.ETH_TYPE_ARP, arp_tpa=ip),
                 [set_field(arp_op=arp.ARP_REPLY), nx_move("arp_sha", "arp_tha", 48), nx_move("arp_spa", "arp_tpa", 32),
                  set_field(arp_sha=mac), set_field(arp_spa=ip), nx_move("eth_src", "eth_dst", 48),
                  set_field(eth_src=mac), output(ofp.OFPP_IN_PORT)])

    # -- DVR (dvr.py) --
    def setup_dvr_default_tables(self, patch_int):
        """Frames from br-int pass DVR_PROCESS on their way; the rest of
        DVR_NOT_LEARN is learned as before."""
        self.add(LOCAL_SWITCHING, 1, match(in_port=self.ofport(patch_int)), [resubmit(DVR_PROCESS)])
        self.add(DVR_NOT_LEARN, 0, actions=[resubmit(LEARN_FROM_TUN)])
        self.add(DVR_PROCESS, 0, actions=[resubmit(PATCH_LV_TO_TUN)])

    def add_dvr_mac_tun(self, mac, patch_int):
        self.add(DVR_NOT_LEARN, 1, match(eth_src=mac), [output(self.ofport(patch_int))])
