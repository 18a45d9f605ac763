"""What every bridge of a node should hold, from the agent's plan and the
ports the bridges have: the agent's whole flow set in one place. The agent
diffs it against what it installed and sends only the difference, so a port
that comes or goes changes only that port's flows."""

from controller import names as naming
from controller.neutron import dvr
from controller.neutron.br_int import IntegrationBridge
from controller.neutron.br_phys import PhysicalBridge
from controller.neutron.br_tun import TunnelBridge
from controller.neutron.firewall import Firewall, FirewallPort


def node_flows(plan, ofports, cookie, conj_ids=None):
    """{bridge name: BridgeFlows} for the bridges in `ofports` (bridge name ->
    {port name: ofport}, what the switch reported). Bridges or ports that
    are not there yet are left out; their flows come when they appear."""
    flows = {}
    int_name = naming.INTEGRATION_BRIDGE
    if int_name in ofports:
        flows[int_name] = integration_flows(plan, ofports[int_name], conj_ids)
    for physnet, bridge in plan.physical_bridges.items():
        if bridge in ofports:
            flows[bridge] = physical_flows(plan, bridge, physnet, ofports[bridge])
    if naming.TUNNEL_BRIDGE in ofports and plan.tunnel_ip:
        flows[naming.TUNNEL_BRIDGE] = tunnel_flows(plan, ofports[naming.TUNNEL_BRIDGE], cookie)
    return flows


def _segment(network):
    return None if network.type == "flat" else network.segmentation_id


def integration_flows(plan, ports, conj_ids=None):
    br = IntegrationBridge(naming.INTEGRATION_BRIDGE, ports, plan.release)
    br.setup_default_tables()
    for physnet, bridge in plan.physical_bridges.items():
        patch = naming.int_patch_name(bridge)
        if not br.has_port(patch):
            continue
        for net in plan.networks.values():
            if net.type in ("flat", "vlan") and net.physical_network == physnet:
                br.provision_local_vlan(patch, net.local_vlan, _segment(net))
        br.drop_from_physical_bridge(patch)
    if plan.dvr_mac:
        dvr.integration(br, plan)
    firewall = Firewall(br, conj_ids)
    firewall.setup_base_flows()
    for binding in sorted(plan.ports.values(), key=lambda b: ports.get(b.name, 0)):
        if not br.has_port(binding.name) or binding.network not in plan.networks:
            continue
        port = FirewallPort(binding, br.ofport(binding.name), plan.networks[binding.network])
        if binding.trusted or not binding.port_security:
            firewall.setup_trusted_port(port)
        else:
            firewall.setup_port_firewall(port, plan.security_groups)
    firewall.flush_conjunctions()
    return br


def physical_flows(plan, bridge, physnet, ports):
    br = PhysicalBridge(bridge, ports)
    br.setup_default_table()
    patch = naming.phy_patch_name(bridge)
    if br.has_port(patch):
        for net in plan.networks.values():
            if net.type in ("flat", "vlan") and net.physical_network == physnet:
                br.provision_local_vlan(patch, net.local_vlan, _segment(net), distributed=bool(plan.dvr_mac))
        br.drop_from_integration_bridge(patch)
        if plan.dvr_mac:
            dvr.physical(br, plan, physnet, patch)
    return br


def tunnel_flows(plan, ports, cookie):
    br = TunnelBridge(naming.TUNNEL_BRIDGE, ports)
    if not br.has_port(naming.PATCH_TUN_TO_INT):
        return br
    br.setup_default_tables(naming.PATCH_TUN_TO_INT, cookie, plan.arp_responder)
    tunnels = sorted((p for p in plan.tunnel_ports if br.has_port(p)), key=br.ofport)
    for port in tunnels:
        br.setup_tunnel_port(port)
    if plan.dvr_mac:
        dvr.tunnel(br, plan)
    for net in plan.networks.values():
        if net.type != "vxlan":
            continue
        br.provision_local_vlan(net.local_vlan, net.segmentation_id, distributed=bool(plan.dvr_mac))
        if not plan.l2_population:
            br.install_flood_to_tun(net.local_vlan, net.segmentation_id, tunnels)
            continue
        remote = {port: entries for port, entries in plan.fdb.get(net.id, {}).items() if br.has_port(port)}
        br.install_flood_to_tun(net.local_vlan, net.segmentation_id, sorted(remote, key=br.ofport))
        for port, entries in sorted(remote.items()):
            for mac, ip in entries:
                br.install_unicast_to_tun(net.local_vlan, net.segmentation_id, port, mac)
                if plan.arp_responder:
                    br.install_arp_responder(net.local_vlan, ip, mac)
    return br
