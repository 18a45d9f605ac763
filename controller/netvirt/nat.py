"""netvirt's floating IPs (natservice), on the node of the VM they are bound
to (distributed, as 004's DVR):

  in   provider NIC -> 19 (the floating IP port's MAC, the external VPN)
       -> 21 (the floating IP) -> 25 PDNAT: destination = the VM's address,
       the router's VPN -> 27 DNAT -> 21 (the router's FIB: the VM's group)
  out  21 (the router's VPN, nothing closer) -> 26 PSNAT: source = the
       floating IP, the external VPN -> 28 SNAT: source MAC = the floating
       IP port's, then the external network's group (its gateway's MAC, out
       of the provider NIC)

Tables, matches, priorities and cookie as the FloatingIPListener of 004's
releases (Boron, Carbon) programs them: 25 matches the floating IP alone
(later releases add its MAC), and 28 hands the packet to the external
network's group (later releases resubmit it to 21). So a VM that sends to
another floating IP of its own node goes out to the external gateway and
comes back in by the provider NIC, as on those releases. The router's
default route to 26 sits just below the gateway's ICMP responder (both are
priority 10 in ODL, which OVS leaves undefined)."""

from controller.netvirt import metadata as md
from controller.netvirt.groups import external_group
from controller.netvirt.l3 import COOKIE_FIB, COOKIE_GATEWAY_MAC, FIB, FIB_PRIORITY, GATEWAY_MAC
from controller.openflow import apply, goto, group, match, resubmit, set_field, write_actions, write_metadata

PDNAT = 25
PSNAT = 26
DNAT = 27
SNAT = 28

PRIORITY = 10
DEFAULT_ROUTE_PRIORITY = 9
COOKIE_DNAT = 0x8000004
COOKIE_SNAT = 0x8000006


class Nat:

    def __init__(self, flows):
        self.flows = flows

    def floating_ip(self, fip, internal_ip, router_vpn, external_vpn, external_elan_tag):
        ext, rtr = (md.vrf(external_vpn), md.MASK_VRF), (md.vrf(router_vpn), md.MASK_VRF)
        add = self.flows.add
        add(GATEWAY_MAC, 20, match(metadata=ext, eth_dst=fip.mac), instructions=[goto(FIB)],
            cookie=COOKIE_GATEWAY_MAC)
        add(FIB, FIB_PRIORITY, match("ip", metadata=ext, ipv4_dst=fip.address), instructions=[goto(PDNAT)], cookie=COOKIE_FIB)
        add(PDNAT, PRIORITY, match("ip", ipv4_dst=fip.address), instructions=[
            apply(set_field(ipv4_dst=internal_ip)), write_metadata(*rtr), goto(DNAT)], cookie=COOKIE_DNAT)
        add(DNAT, PRIORITY, match("ip", metadata=rtr, ipv4_dst=internal_ip), [resubmit(FIB)], cookie=COOKIE_DNAT)
        add(PSNAT, PRIORITY, match("ip", metadata=rtr, ipv4_src=internal_ip), instructions=[
            apply(set_field(ipv4_src=fip.address)), write_metadata(*ext), goto(SNAT)], cookie=COOKIE_DNAT)
        add(SNAT, PRIORITY, match("ip", metadata=ext, ipv4_src=fip.address),
            [set_field(eth_src=fip.mac), group(external_group(external_elan_tag))], cookie=COOKIE_DNAT)

    def default_route(self, router_vpn):
        """What the router's FIB has no route for leaves by SNAT."""
        self.flows.add(FIB, DEFAULT_ROUTE_PRIORITY, match("ip", metadata=(md.vrf(router_vpn), md.MASK_VRF)),
                       instructions=[goto(PSNAT)], cookie=COOKIE_SNAT)

    def external_route(self, external_vpn, elan_tag):
        """The external VPN's default route: its gateway, out of the provider NIC."""
        self.flows.add(FIB, PRIORITY, match("ip", metadata=(md.vrf(external_vpn), md.MASK_VRF)),
                       instructions=[write_actions(group(external_group(elan_tag)))], cookie=COOKIE_FIB)
