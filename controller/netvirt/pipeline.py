"""A node's whole netvirt flow set and groups, from the plan and the ports its
br-int has: every service writes its tables for what concerns this node.
The controller diffs it against what it installed and sends only the
difference, so a port that comes or goes changes only that port's flows."""

from controller.netvirt import acl, dispatcher, elan, l3, metadata as md, nat
from controller.netvirt.dispatcher import EGRESS_DISPATCHER, INGRESS_DISPATCHER, Dispatcher
from controller.netvirt.groups import Groups
from controller.netvirt.view import NodeView
from controller.openflow import FlowSet, GroupSet


def node_pipeline(plan, node_name, ofports, bound=None):
    """(FlowSet, GroupSet) for `node_name`'s br-int with ports `ofports`
    (name -> number), knowing which ports every node has (`bound`, see NodeView)."""
    view = NodeView(plan, node_name, ofports, bound)
    flows, groups = FlowSet(), GroupSet()
    disp, acls, elans, l3s, nats, grp = (Dispatcher(flows), acl.Acl(flows), elan.Elan(flows), l3.L3(flows),
                                         nat.Nat(flows), Groups(groups))
    node = view.node
    l3s.setup_default_tables(INGRESS_DISPATCHER)
    elans.setup_default_tables()
    # the tunnels: everything from them goes to the terminating table
    for ofport in view.tunnel_ports():
        disp.classify_tunnel_port(ofport, node.tunnel_lport_tag, elan.INTERNAL_TUNNEL)
    # VM ports: classifier, services, egress, ACL
    for port in view.local_ports():
        net = plan.networks[port.network]
        router = view.router_of(port)
        ofport = view.ofport(port.name)
        disp.classify_vm_port(ofport, port.lport_tag)
        services = [(dispatcher.ACL, acl.INGRESS_ACL, 0)]
        if router is not None:
            services.append((dispatcher.L3, l3.GATEWAY_MAC, md.vrf(router.vpn_id)))
        services.append((dispatcher.ELAN, elan.SMAC, md.elan(net.elan_tag)))
        disp.bind_services(port.lport_tag, services)
        disp.bind_egress(port.lport_tag, ofport, acl.EGRESS_ACL)
        acls.permit_port(port.lport_tag, INGRESS_DISPATCHER, EGRESS_DISPATCHER)
        if router is not None:      # its subnet's gateway answers ARP in the switch
            l3s.answer_arp(port.lport_tag, net.gateway_ip, net.gateway_mac, EGRESS_DISPATCHER)
    # ELAN: each network with a port here
    for net in view.networks_here():
        local = view.local_ports(net.name)
        remote = view.remote_ports(net.name)
        for port in local:
            elans.learn_local_mac(net.elan_tag, port.lport_tag, port.mac)
            elans.local_destination(net.elan_tag, port.mac, port.lport_tag, EGRESS_DISPATCHER)
            elans.terminate_port(port.lport_tag, EGRESS_DISPATCHER)
        for port, tunnel in remote:
            elans.remote_destination(net.elan_tag, port.mac, port.lport_tag, tunnel)
        elans.flood(net.elan_tag)
        tunnels = sorted({tunnel for _, tunnel in remote})
        if tunnels:
            elans.terminate_flood(net.elan_tag)
        grp.elan_flood(net.elan_tag, [p.lport_tag for p in local], tunnels, EGRESS_DISPATCHER)
    # L3: each router with a port here (its VPN)
    for router in view.routers_here():
        l3s.arp_to_responder(router.vpn_id)
        for gw in view.router_networks(router):
            l3s.gateway_mac(router.vpn_id, gw.gateway_mac)
            l3s.icmp_responder(router.vpn_id, gw.gateway_ip, gw.gateway_mac)
            for port in view.local_ports(gw.name):
                if port.group is not None:
                    l3s.local_route(router.vpn_id, port.ip, port.group)
                    grp.next_hop(port.group, port.mac, port.lport_tag, EGRESS_DISPATCHER)
                    if port.label is not None:
                        l3s.terminate_label(port.label, port.group)
            for port, tunnel in view.remote_ports(gw.name):
                if port.label is not None:
                    l3s.remote_route(router.vpn_id, port.ip, port.label, tunnel)
    _external(plan, view, disp, elans, l3s, nats, grp)
    return flows, groups


def _external(plan, view, disp, elans, l3s, nats, grp):
    """The provider NIC (an lport of the external ELAN and VPN) and the
    floating IPs of this node's VMs."""
    ext = view.external_network()
    ofport = view.provider_ofport()
    if ext is None or ofport is None:
        return
    tag = view.node.provider_lport_tag
    disp.classify_provider_port(ofport, tag)
    disp.bind_services(tag, [(dispatcher.L3, l3.GATEWAY_MAC, md.vrf(ext.vpn_id)),
                             (dispatcher.ELAN, elan.SMAC, md.elan(ext.elan_tag))])
    disp.bind_egress(tag, ofport)
    elans.flood(ext.elan_tag)
    grp.elan_flood(ext.elan_tag, [tag], [], EGRESS_DISPATCHER)
    fips = view.floating_ips_here()
    if not fips:
        return
    l3s.arp_to_responder(ext.vpn_id)
    nats.external_route(ext.vpn_id, ext.elan_tag)
    if ext.upstream_mac:
        grp.external_gateway(ext.elan_tag, ext.upstream_mac, tag, EGRESS_DISPATCHER)
    for fip in fips:
        port = plan.ports[fip.port]
        router = view.router_of(port)
        if router is None:
            continue
        l3s.answer_arp(tag, fip.address, fip.mac, EGRESS_DISPATCHER)
        nats.floating_ip(fip, port.ip, router.vpn_id, ext.vpn_id, ext.elan_tag)
        nats.default_route(router.vpn_id)

