"""What the lab tells the control plane, computed from the scenario model:
pure translation, no processes (topologies/controlplanes/ writes the files
and starts what reads them).

neutron's OVS agents (controller/neutron/plan.py): each node's plan, as
neutron's server would answer its agent: the networks bound on the node with
their local VLANs, the node's ports, and the security groups of those ports
with every member address in the cloud.

netvirt (controller/netvirt/plan.py): one plan for the whole cloud, as
neutron's northbound and genius give it to OpenDaylight: nodes with their
datapath ids and tunnel ports, the networks with their ELAN tags and
gateways, routers with their VPN ids, the VM ports with lport tags, labels
and groups, and the floating IPs."""

from controller.netvirt import plan as nv
from controller.neutron import plan as p
from stacklab import naming


def node_plan(scenario, node_name, ports=None):
    """The plan for `node_name`. `ports` (default: the scenario's ports on the
    node) lets the lab describe a node whose ports changed while it runs."""
    node = scenario.nodes[node_name]
    ports = scenario.ports(node_name) if ports is None else ports
    networks = {}
    for net in scenario.networks.values():
        if node_name in net.local_vlans:
            networks[net.id] = p.NetworkBinding(net.id, net.name, net.type, net.segmentation_id,
                                                net.physical_network, net.local_vlans[node_name])
    ids = {n.name: n.id for n in scenario.networks.values()}
    sg_ids = {g.name: g.id for g in scenario.security_groups.values()}
    bindings = {}
    for port in ports:
        bindings[port.name] = p.PortBinding(port.id, port.name, ids[port.network], port.mac, [str(port.ip)],
                                            port.device_owner, [sg_ids[g] for g in port.security_groups],
                                            allowed_address_pairs=[[str(ip), mac]
                                                                   for ip, mac in port.allowed_address_pairs])
    used = {sg_ids[g] for port in ports for g in port.security_groups}
    # remote groups are needed for their members
    for group in scenario.security_groups.values():
        if group.id in used:
            used |= {sg_ids[r.remote_group] for r in group.rules if r.remote_group}
    groups = {}
    for group in scenario.security_groups.values():
        if group.id not in used:
            continue
        rules = [p.SecurityGroupRule(r.direction, r.ethertype, r.protocol, r.port_min, r.port_max,
                                     str(r.remote_ip) if r.remote_ip else None,
                                     sg_ids[r.remote_group] if r.remote_group else None) for r in group.rules]
        # a port's allowed address pairs are members too, as neutron's server reports them
        members = [[str(ip), mac] for port in scenario.ports() if group.name in port.security_groups
                   for ip, mac in [(port.ip, port.mac)] + list(port.allowed_address_pairs)]
        groups[group.id] = p.SecurityGroup(group.id, group.name, rules, {"IPv4": members} if members else {})
    tunnels = {naming.vxlan_port_name(ip): str(ip) for ip in scenario.tunnel_peers(node_name)}
    return p.NodePlan(node=node_name, release=scenario.agent_release, networks=networks, ports=bindings,
                      security_groups=groups, physical_bridges=dict(node.bridge_mappings),
                      tunnel_ports=tunnels, tunnel_ip=str(node.tunnel_ip) if node.tunnel_ip else None,
                      l2_population=scenario.l2_population, arp_responder=scenario.arp_responder,
                      fdb=_fdb(scenario, node_name, networks) if scenario.l2_population else {},
                      **_dvr(scenario, node_name, networks))


def _dvr(scenario, node_name, networks):
    """With distributed routing: the node's DVR MAC, every other node's, and
    the gateway of each distributed router's subnet bound here."""
    if not scenario.distributed_routing or scenario.nodes[node_name].dvr_mac is None:
        return {}
    others = [n.dvr_mac for n in scenario.nodes.values() if n.name != node_name and n.dvr_mac]
    gateways = {}
    for router in scenario.routers.values():
        if router.distributed:
            for port in router.interfaces:
                net = scenario.networks[port.network]
                if net.id in networks and port.ip == net.subnet.gateway:
                    gateways[net.id] = [str(port.ip), port.mac]
    return dict(dvr_mac=scenario.nodes[node_name].dvr_mac, dvr_macs=others, dvr_gateways=gateways)


def _fdb(scenario, node_name, networks):
    """What l2population tells the node: for each VXLAN network bound here,
    the ports on each other node (by that node's tunnel port)."""
    out = {}
    by_id = {n.id: n for n in scenario.networks.values()}
    for net_id, binding in networks.items():
        if binding.type != "vxlan":
            continue
        remote = scenario.remote_ports(node_name, by_id[net_id].name)
        out[net_id] = {naming.vxlan_port_name(ip): [[port.mac, str(port.ip)] for port in ports]
                       for ip, ports in sorted(remote.items())}
    return out


def netvirt_plan(scenario, ports=None):
    """The plan for the whole cloud. `ports` (default: every instance's port)
    lets the lab describe a cloud whose instances changed while it runs."""
    ports = scenario.instance_ports() if ports is None else ports
    nodes = {}
    for node in scenario.nodes.values():
        if node.datapath_id is None:
            continue                # no br-int there
        provider = next(iter(node.provider_mappings.values()), None)
        nodes[node.name] = nv.Node(node.name, node.datapath_id, str(node.tunnel_ip) if node.tunnel_ip else None,
                                  node.tunnel_lport_tag, {peer: t.name for peer, t in node.tunnels.items()},
                                  provider, node.provider_lport_tag)
    interface_of = {itf.network: (r, itf) for r in scenario.routers.values() for itf in r.interfaces}
    upstream = {str(h.address.ip): h.mac for h in scenario.hosts.values()}
    networks = {}
    for net in scenario.networks.values():
        router, itf = interface_of.get(net.name, (None, None))
        networks[net.name] = nv.Network(
            net.name, net.elan_tag, str(net.subnet.cidr), net.external, net.vpn_id,
            router.name if router else None, str(itf.ip) if itf else None, itf.mac if itf else None,
            upstream.get(str(net.subnet.gateway)) if net.external else None)
    routers = {r.name: nv.Router(r.name, r.vpn_id) for r in scenario.routers.values()}
    plan_ports = {port.name: nv.Port(port.name, port.node, port.network, port.mac, str(port.ip), port.lport_tag,
                                    port.l3_label, port.group) for port in ports}
    by_id = {port.id: port.name for port in ports}
    fips = [nv.FloatingIp(str(f.address), f.mac, by_id[f.port_id], f.network)
            for f in scenario.floating_ips if f.port_id in by_id]
    return nv.Plan(nodes, networks, routers, plan_ports, fips)
