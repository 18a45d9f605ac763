"""netvirt's L3 service (vpnmanager and fibmanager): a router is a VPN whose
id rides in metadata (bits 23-1), present on every node with a port on one
of its subnets: distributed, no router namespace anywhere.

  19  gateway MAC  a frame to one of the router's gateway MACs -> 21
                   (004: dl_dst=fa:16:3e:33:77:83 -> goto_table:21); ARP
                   requests -> 81; anything else back to 17 (ELAN next)
  21  FIB          per address of the VPN: a local VM -> its next-hop group,
                   a VM elsewhere -> tun_id = its label, out of the tunnel
                   (004: set_field:0x1118f->tun_id,output:6); the gateway
                   answers ICMP echo itself (priority 10)
  81  ARP          the gateway's address (and a floating IP's, on the
                   provider NIC) answered in the switch
  36  from tunnels tun_id = a local VM's label -> its next-hop group"""

from controller.netvirt import metadata as md
from controller.openflow import (goto, group, match, nx_load, nx_move, output, resubmit, set_field,
                                 write_actions)

GATEWAY_MAC = 19
FIB = 21
ARP_RESPONDER = 81
INTERNAL_TUNNEL = 36

COOKIE_TABLE_MISS = 0x1080000
COOKIE_GATEWAY_MAC = 0x8000009
COOKIE_FIB = 0x8000003
COOKIE_ARP_RESPONDER = 0x8220000
COOKIE_TUNNEL = 0x9000000            # + the label

FIB_PRIORITY = 42                    # a /32
ICMP_RESPONDER_PRIORITY = 10
ARP_PRIORITY = 100
ETH_ARP = 0x0806


class L3:

    def __init__(self, flows):
        self.flows = flows

    def setup_default_tables(self, ingress_dispatcher):
        """Not for the router: back to the dispatcher (the next service, ELAN)."""
        self.flows.add(GATEWAY_MAC, 0, actions=[resubmit(ingress_dispatcher)], cookie=COOKIE_TABLE_MISS)
        self.flows.add(ARP_RESPONDER, 0, actions=[resubmit(ingress_dispatcher)], cookie=COOKIE_ARP_RESPONDER)

    def gateway_mac(self, vpn_id, mac):
        self.flows.add(GATEWAY_MAC, 20, match(metadata=(md.vrf(vpn_id), md.MASK_VRF), eth_dst=mac),
                       instructions=[goto(FIB)], cookie=COOKIE_GATEWAY_MAC)

    def arp_to_responder(self, vpn_id):
        self.flows.add(GATEWAY_MAC, ARP_PRIORITY, match("arp", arp_op=1, metadata=(md.vrf(vpn_id), md.MASK_VRF)),
                       instructions=[goto(ARP_RESPONDER)], cookie=COOKIE_ARP_RESPONDER)

    def answer_arp(self, lport_tag, ip, mac, egress_dispatcher):
        """An ARP request for `ip` from the port `lport_tag`: the reply, built
        in the switch, goes back out of that port (in_port cleared: OpenFlow
        would not send it out of the port it came in by otherwise)."""
        self.flows.add(ARP_RESPONDER, ARP_PRIORITY,
                       match("arp", arp_op=1, arp_tpa=ip, metadata=(md.lport(lport_tag), md.MASK_LPORT)),
                       [nx_move("eth_src_nxm", "eth_dst_nxm", 48), set_field(eth_src=mac), set_field(arp_op=2),
                        nx_move("arp_sha_nxm", "arp_tha_nxm", 48), set_field(arp_sha=mac),
                        nx_move("arp_spa_nxm", "arp_tpa_nxm", 32), set_field(arp_spa=ip),
                        nx_load("in_port_nxm", 0, 16), nx_load("reg6", md.reg6(lport_tag), 32),
                        resubmit(egress_dispatcher)],
                       cookie=COOKIE_ARP_RESPONDER)

    def local_route(self, vpn_id, ip, group_id):
        self.flows.add(FIB, FIB_PRIORITY, match("ip", metadata=(md.vrf(vpn_id), md.MASK_VRF), ipv4_dst=ip),
                       instructions=[write_actions(group(group_id))], cookie=COOKIE_FIB)

    def remote_route(self, vpn_id, ip, label, tunnel_ofport):
        self.flows.add(FIB, FIB_PRIORITY, match("ip", metadata=(md.vrf(vpn_id), md.MASK_VRF), ipv4_dst=ip),
                       instructions=[write_actions(set_field(tunnel_id=label), output(tunnel_ofport))],
                       cookie=COOKIE_FIB)

    def icmp_responder(self, vpn_id, gateway_ip, gateway_mac):
        """An echo request to the gateway turned into its reply in place, then
        routed back (004's 2.2): swap the addresses, type 0, in_port cleared
        so the reply may leave by the port it came in."""
        self.flows.add(FIB, ICMP_RESPONDER_PRIORITY,
                       match("icmp", metadata=(md.vrf(vpn_id), md.MASK_VRF), ipv4_dst=gateway_ip, icmpv4_type=8,
                             icmpv4_code=0),
                       [nx_move("eth_src_nxm", "eth_dst_nxm", 48), set_field(eth_src=gateway_mac),
                        nx_move("ipv4_src_nxm", "ipv4_dst_nxm", 32), set_field(ipv4_src=gateway_ip),
                        set_field(icmpv4_type=0), nx_load("in_port_nxm", 0, 16), resubmit(FIB)],
                       cookie=COOKIE_FIB)

    def terminate_label(self, label, group_id):
        self.flows.add(INTERNAL_TUNNEL, 5, match(tunnel_id=label), instructions=[write_actions(group(group_id))],
                       cookie=COOKIE_TUNNEL + label)
