"""genius' interface manager: table 0 classifies a packet by the port it came
in on (an lport tag in metadata; tunnels go to 36), table 17 hands it to the
services bound to that lport one after another (ACL, then L3, then ELAN, in
the order of their service index), and table 220 does the same on the way
out (egress ACL, then the port itself).

A service's dispatcher flow matches the service index the previous one wrote
(0 for the first) and writes the next one's, so `resubmit(,17)` from a
service continues with the next service. 004: `table=17, priority=5,
metadata=0xa000410000000000/...` is L3 (index 5) for lport 0x41, after ACL."""

from controller.netvirt import metadata as md
from controller.openflow import apply, goto, match, nx_load, output, write_metadata

CLASSIFIER = 0
INGRESS_DISPATCHER = 17
EGRESS_DISPATCHER = 220

COOKIE_VM_PORT = 0x8000000           # table 0, a VM (or provider) port
COOKIE_TUNNEL_PORT = 0x8000001       # table 0, a tunnel port
COOKIE_EGRESS_OUTPUT = 0x8000007     # table 220, the port itself

NO_VLAN = 0x0000                     # vlan_tci=0x0000/0x1fff: a flat provider port's frames

# services by index (ingress): which table, which cookie in table 17
ACL, L3, ELAN = 1, 5, 6
LAST = 7                             # after the last service: nothing more is bound
SERVICE_COOKIE = {ACL: 0x6900000, L3: 0x8000001, ELAN: 0x8040000}
EGRESS_ACL = 6
EGRESS_ACL_COOKIE = 0x6900000


class Dispatcher:
    """Writes tables 0, 17 and 220 into a FlowSet."""

    def __init__(self, flows):
        self.flows = flows

    def classify_vm_port(self, ofport, lport_tag):
        self.flows.add(CLASSIFIER, 4, match(in_port=ofport), instructions=[
            write_metadata(md.lport(lport_tag), md.MASK_SERVICE_LPORT_AND_SPLIT_HORIZON),
            goto(INGRESS_DISPATCHER)], cookie=COOKIE_VM_PORT)

    def classify_provider_port(self, ofport, lport_tag):
        """A flat provider NIC: its untagged frames, with the split-horizon bit
        set as genius sets it for an external interface (what it floods goes
        to the node's own ports, never back out of an external one)."""
        self.flows.add(CLASSIFIER, 4, match(in_port=ofport, vlan_vid=NO_VLAN), instructions=[
            write_metadata(md.lport(lport_tag) | 1, md.MASK_SERVICE_LPORT_AND_SPLIT_HORIZON),
            goto(INGRESS_DISPATCHER)], cookie=COOKIE_VM_PORT)

    def classify_tunnel_port(self, ofport, lport_tag, terminating_table):
        """From a tunnel: the split-horizon bit set, straight to the terminating-service table."""
        self.flows.add(CLASSIFIER, 5, match(in_port=ofport), instructions=[
            write_metadata(md.lport(lport_tag) | 1, md.MASK_LPORT_AND_SPLIT_HORIZON),
            goto(terminating_table)], cookie=COOKIE_TUNNEL_PORT)

    def bind_services(self, lport_tag, services):
        """`services`: [(index, table, extra metadata)] in order. Each gets its
        flow in 17 at its index as priority, matching its index in metadata
        (the first: 0, as table 0 leaves it); the metadata it writes names
        the next service."""
        for i, (index, table, extra) in enumerate(services):
            following = services[i + 1][0] if i + 1 < len(services) else LAST
            current = 0 if i == 0 else index
            self.flows.add(INGRESS_DISPATCHER, index,
                           match(metadata=(md.service(current) | md.lport(lport_tag), md.MASK_SERVICE_AND_LPORT)),
                           instructions=[write_metadata(md.service(following) | md.lport(lport_tag) | extra,
                                                        md.MASK_ALL_BUT_SPLIT_HORIZON), goto(table)],
                           cookie=SERVICE_COOKIE[index])

    def bind_egress(self, lport_tag, ofport, acl_table=None):
        """Out of a port: through the egress ACL (if bound), then the port."""
        if acl_table is not None:
            self.flows.add(EGRESS_DISPATCHER, EGRESS_ACL, match(reg6=md.reg6(lport_tag)), instructions=[
                apply(nx_load("reg6", md.reg6(lport_tag, LAST), 32)),
                write_metadata(md.service(LAST) | md.lport(lport_tag), md.MASK_ALL_BUT_SPLIT_HORIZON),
                goto(acl_table)], cookie=EGRESS_ACL_COOKIE)
            last = md.reg6(lport_tag, LAST)
        else:
            last = md.reg6(lport_tag)
        self.flows.add(EGRESS_DISPATCHER, LAST, match(reg6=last), [output(ofport)], cookie=COOKIE_EGRESS_OUTPUT)
