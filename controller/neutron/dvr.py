"""Which DVR flows a node's bridges get, as neutron's OVS agent decides
them with enable_distributed_routing (its DVR half): the tables every bridge
gets, a flow per other node's DVR MAC, and for each distributed router port
(qr-) bound on the node, the flows that make the router's MAC local to the
node and turn routed frames from other nodes back into frames from the
gateway. Pure: the plan and the bridges' ports in, flows on the bridge
objects out; the bridge classes hold the flows themselves."""

from controller import names as naming
from controller.neutron.br_int import PHYSICAL_TYPES

DVR_INTERFACE = "network:router_interface_distributed"
CSNAT = "network:router_centralized_snat"
# neutron's is_dvr_serviced(): ports a distributed router delivers to directly
SERVICED_OWNERS = ("network:dhcp", "neutron:LOADBALANCER", "neutron:LOADBALANCERV2")


def serviced(device_owner):
    return device_owner.startswith("compute:") or device_owner in SERVICED_OWNERS


def _router_ports(plan, bridge_has):
    for port in plan.ports.values():
        if port.device_owner == DVR_INTERFACE and port.network in plan.networks and bridge_has(port.name) \
                and port.network in plan.dvr_gateways:
            yield port, plan.networks[port.network]


def _segment_tag(net):
    """The VLAN a routed frame carries into br-int's DVR tables: the local
    VLAN of a tunnelled network, the segment's of a vlan one, none for flat."""
    return net.segmentation_id if net.type in PHYSICAL_TYPES else net.local_vlan


def integration(br, plan):
    br.setup_dvr_default_tables()
    for bridge in plan.physical_bridges.values():
        patch = naming.int_patch_name(bridge)
        if br.has_port(patch):
            for mac in plan.dvr_macs:
                br.add_dvr_mac_physical(mac, patch)
            br.add_dvr_gateway_mac_arp_physical(plan.dvr_mac, patch)
    if br.has_port(naming.PATCH_INT_TO_TUN):
        for mac in plan.dvr_macs:
            br.add_dvr_mac_tun(mac, naming.PATCH_INT_TO_TUN)
        br.add_dvr_gateway_mac_arp_tun(plan.dvr_mac, naming.PATCH_INT_TO_TUN)
    for router_port, net in _router_ports(plan, br.has_port):
        gateway_ip, gateway_mac = plan.dvr_gateways[net.id]
        for port in plan.ports.values():
            if port.network != net.id or not br.has_port(port.name):
                continue
            if serviced(port.device_owner) or port.device_owner == CSNAT:
                br.install_dvr_to_src_mac(net.type, _segment_tag(net), gateway_mac, port.mac, port.name)
                for ip, mac in port.allowed_address_pairs if serviced(port.device_owner) else ():
                    if "/" not in ip or ip.endswith("/32"):
                        br.install_dvr_to_src_mac(net.type, _segment_tag(net), gateway_mac, mac, port.name)
        br.install_dvr_dst_mac_for_arp(net.type, net.local_vlan, router_port.mac, plan.dvr_mac, router_port.name)
        br.change_arp_destination_mac(gateway_mac, plan.dvr_mac)


def tunnel(br, plan):
    br.setup_dvr_default_tables(naming.PATCH_TUN_TO_INT)
    for mac in plan.dvr_macs:
        br.add_dvr_mac_tun(mac, naming.PATCH_TUN_TO_INT)
    for router_port, net in _router_ports(plan, lambda name: True):
        if net.type not in PHYSICAL_TYPES:
            br.install_dvr_process_ipv4(net.local_vlan, router_port.ips[0])
            br.install_dvr_process(net.local_vlan, router_port.mac, plan.dvr_mac)


def physical(br, plan, physnet, patch):
    br.setup_dvr_default_tables(patch)
    for mac in plan.dvr_macs:
        br.add_dvr_mac_physical(mac, patch)
    for router_port, net in _router_ports(plan, lambda name: True):
        if net.type in PHYSICAL_TYPES and net.physical_network == physnet:
            br.install_dvr_process_ipv4(net.local_vlan, router_port.ips[0])
            br.install_dvr_process(net.local_vlan, router_port.mac, plan.dvr_mac)
