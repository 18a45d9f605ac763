"""netvirt's ELAN service: switching inside a network (an ELAN, its tag in
metadata bits 39-24).

  50  SMAC     a source MAC this node knows on that port -> 51
  51  DMAC     a local destination -> reg6 = its lport, egress dispatcher;
               a remote one -> tun_id = its lport tag, out of the tunnel to
               its node (004: set_field:0x37->tun_id,output:6);
               unknown/broadcast -> 52
  52  flood    the ELAN's flood group: from a VM, to this node's ports and
               every other node's; from a tunnel (split horizon), local only
  36  from tunnels: tun_id = a local port's lport tag -> that port
               (004: tun_id=0x37 -> load:0x3700->reg6); tun_id = the ELAN
               tag -> flood locally"""

from controller.netvirt import metadata as md
from controller.netvirt.groups import elan_all_group, elan_local_group
from controller.openflow import (goto, group, match, nx_load, output, resubmit, set_field, write_actions,
                                 write_metadata)

SMAC = 50
DMAC = 51
UNKNOWN_DMAC = 52
INTERNAL_TUNNEL = 36

COOKIE_SMAC = 0x8050000          # + ELAN tag
COOKIE_DMAC = 0x8030000          # + ELAN tag
COOKIE_FLOOD = 0x8700000         # + ELAN tag
COOKIE_TUNNEL = 0x9000000        # + the tun_id it terminates


class Elan:

    def __init__(self, flows):
        self.flows = flows

    def setup_default_tables(self):
        """What no port of the node claims: unknown sources go on (netvirt would learn them),
        unknown destinations are flooded."""
        self.flows.add(SMAC, 0, instructions=[goto(DMAC)], cookie=COOKIE_SMAC)
        self.flows.add(DMAC, 0, instructions=[goto(UNKNOWN_DMAC)], cookie=COOKIE_DMAC)

    def learn_local_mac(self, elan_tag, lport_tag, mac):
        self.flows.add(SMAC, 20, match(metadata=(md.lport(lport_tag) | md.elan(elan_tag), md.MASK_LPORT_AND_ELAN),
                                       eth_src=mac), instructions=[goto(DMAC)], cookie=COOKIE_SMAC + elan_tag)

    def local_destination(self, elan_tag, mac, lport_tag, egress_dispatcher):
        self.flows.add(DMAC, 20, match(metadata=(md.elan(elan_tag), md.MASK_ELAN), eth_dst=mac),
                       [nx_load("reg6", md.reg6(lport_tag), 32), resubmit(egress_dispatcher)],
                       cookie=COOKIE_DMAC + elan_tag)

    def remote_destination(self, elan_tag, mac, lport_tag, tunnel_ofport):
        self.flows.add(DMAC, 20, match(metadata=(md.elan(elan_tag), md.MASK_ELAN), eth_dst=mac),
                       [set_field(tunnel_id=lport_tag), output(tunnel_ofport)], cookie=COOKIE_DMAC + elan_tag)

    def flood(self, elan_tag):
        for split_horizon, group_id in ((0, elan_all_group(elan_tag)), (1, elan_local_group(elan_tag))):
            self.flows.add(UNKNOWN_DMAC, 5, match(metadata=(md.elan(elan_tag) | split_horizon,
                                                           md.MASK_ELAN | md.MASK_SPLIT_HORIZON)),
                           instructions=[write_actions(group(group_id))], cookie=COOKIE_FLOOD + elan_tag)

    def terminate_port(self, lport_tag, egress_dispatcher):
        """Unicast from another node for a local port: tun_id is its lport tag."""
        self.flows.add(INTERNAL_TUNNEL, 5, match(tunnel_id=lport_tag),
                       [nx_load("reg6", md.reg6(lport_tag), 32), resubmit(egress_dispatcher)],
                       cookie=COOKIE_TUNNEL + lport_tag)

    def terminate_flood(self, elan_tag):
        """Flooding from another node: tun_id is the ELAN tag; flood here only (split horizon)."""
        self.flows.add(INTERNAL_TUNNEL, 5, match(tunnel_id=elan_tag), instructions=[
            write_metadata(md.elan(elan_tag) | 1, md.MASK_ELAN | md.MASK_SPLIT_HORIZON), goto(UNKNOWN_DMAC)],
            cookie=COOKIE_TUNNEL + elan_tag)

