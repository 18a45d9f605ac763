"""What the lab tells the netvirt controller (controller/netvirt/plan.py),
computed from the scenario model as neutron's northbound and genius would
give it to OpenDaylight: nodes with their datapath ids and tunnel ports, the
networks with their ELAN tags and gateways, routers with their VPN ids, the
VM ports with lport tags, labels and groups, and the floating IPs."""

from controller.netvirt import plan as p


def netvirt_plan(scenario, ports=None):
    """The plan for the whole cloud. `ports` (default: every instance's port)
    lets the lab describe a cloud whose instances changed while it runs."""
    ports = scenario.instance_ports() if ports is None else ports
    nodes = {}
    for node in scenario.nodes.values():
        if node.datapath_id is None:
            continue                # no br-int there
        provider = next(iter(node.provider_mappings.values()), None)
        nodes[node.name] = p.Node(node.name, node.datapath_id, str(node.tunnel_ip) if node.tunnel_ip else None,
                                  node.tunnel_lport_tag, {peer: t.name for peer, t in node.tunnels.items()},
                                  provider, node.provider_lport_tag)
    interface_of = {itf.network: (r, itf) for r in scenario.routers.values() for itf in r.interfaces}
    upstream = {str(h.address.ip): h.mac for h in scenario.hosts.values()}
    networks = {}
    for net in scenario.networks.values():
        router, itf = interface_of.get(net.name, (None, None))
        networks[net.name] = p.Network(
            net.name, net.elan_tag, str(net.subnet.cidr), net.external, net.vpn_id,
            router.name if router else None, str(itf.ip) if itf else None, itf.mac if itf else None,
            upstream.get(str(net.subnet.gateway)) if net.external else None)
    routers = {r.name: p.Router(r.name, r.vpn_id) for r in scenario.routers.values()}
    plan_ports = {port.name: p.Port(port.name, port.node, port.network, port.mac, str(port.ip), port.lport_tag,
                                    port.l3_label, port.group) for port in ports}
    by_id = {port.id: port.name for port in ports}
    fips = [p.FloatingIp(str(f.address), f.mac, by_id[f.port_id], f.network)
            for f in scenario.floating_ips if f.port_id in by_id]
    return p.Plan(nodes, networks, routers, plan_ports, fips)
