"""netvirt's ACL service as 004 shows it: a port's security groups permit its
IP traffic both ways (tables 40 and 251, priority 61005), and each table
hands what it permits back to its dispatcher. ARP is permitted too, so
neighbours resolve (004 shows only the IP flows the pings used). What no
flow permits ends in the table: dropped."""

from controller.netvirt import metadata as md
from controller.openflow import match, resubmit

INGRESS_ACL = 40        # from the VM (the switch's ingress)
EGRESS_ACL = 251        # toward the VM
PERMIT = 61005
COOKIE = 0x6900000


class Acl:

    def __init__(self, flows):
        self.flows = flows

    def permit_port(self, lport_tag, ingress_dispatcher, egress_dispatcher):
        port = dict(metadata=(md.lport(lport_tag), md.MASK_LPORT))
        for proto in ("ip", "arp"):
            self.flows.add(INGRESS_ACL, PERMIT, match(proto, **port), [resubmit(ingress_dispatcher)], cookie=COOKIE)
            self.flows.add(EGRESS_ACL, PERMIT, match(proto, **port), [resubmit(egress_dispatcher)], cookie=COOKIE)
