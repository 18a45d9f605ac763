"""What the lab tells each node's agent (controller/neutron/plan.py), computed from
the scenario model as neutron's server would answer its agents: the networks
bound on the node with their local VLANs, the node's ports, and the security
groups of those ports with every member address in the cloud."""

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
                      fdb=_fdb(scenario, node_name, networks) if scenario.l2_population else {})


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
