"""One node's view of the cloud, as each netvirt service needs it: its own
ports (with their OpenFlow numbers, once the switch has them), the ports of
the same networks elsewhere and the tunnel toward them, the routers and
floating IPs that concern it. Ports not on their switch yet (here or
elsewhere) are left out; their flows come when they appear."""


class NodeView:
    """`ofports`: this node's br-int ports (name -> number); `bound`: the
    port names each node's br-int has (None: take every port of the plan as
    bound), so flows toward a VM elsewhere exist only while its tap is there."""

    def __init__(self, plan, node_name, ofports, bound=None):
        self.plan = plan
        self.node = plan.nodes[node_name]
        self.ofports = dict(ofports)
        self.bound = bound

    def has(self, port_name):
        return port_name in self.ofports

    def ofport(self, port_name):
        return self.ofports[port_name]

    # -- ports ------------------------------------------------------------------
    def local_ports(self, network=None):
        """This node's VM ports that are on br-int, in lport-tag order."""
        ports = [p for p in self.plan.ports.values() if p.node == self.node.name and self.has(p.name)
                 and (network is None or p.network == network)]
        return sorted(ports, key=lambda p: p.lport_tag)

    def remote_ports(self, network=None):
        """Other nodes' VM ports that a tunnel from here reaches: (port, tunnel ofport)."""
        out = []
        for p in sorted(self.plan.ports.values(), key=lambda p: p.lport_tag):
            if p.node == self.node.name or (network is not None and p.network != network):
                continue
            if self.bound is not None and p.name not in self.bound.get(p.node, ()):
                continue
            tunnel = self.tunnel_to(p.node)
            if tunnel is not None:
                out.append((p, tunnel))
        return out

    def tunnel_to(self, peer):
        """The OpenFlow port of the tunnel toward `peer`, if it is there."""
        name = self.node.tunnels.get(peer)
        return self.ofports.get(name) if name else None

    def tunnel_ports(self):
        return [self.ofports[name] for peer, name in sorted(self.node.tunnels.items()) if name in self.ofports]

    def provider_ofport(self):
        nic = self.node.provider_nic
        return self.ofports.get(nic) if nic else None

    # -- networks, routers -----------------------------------------------------------
    def networks_here(self):
        """Networks with a local port (their ELAN runs here)."""
        names = {p.network for p in self.local_ports()}
        return [n for n in self.plan.networks.values() if n.name in names]

    def external_network(self):
        return next((n for n in self.plan.networks.values() if n.external), None)

    def routers_here(self):
        """Routers with a local port on one of their networks (their VPN runs here)."""
        names = {self.plan.networks[p.network].router for p in self.local_ports()}
        return [r for r in self.plan.routers.values() if r.name in names]

    def router_networks(self, router):
        return [n for n in self.plan.networks.values() if n.router == router.name]

    def router_of(self, port):
        name = self.plan.networks[port.network].router
        return self.plan.routers.get(name) if name else None

    def floating_ips_here(self):
        """Floating IPs bound to a local port: their NAT runs here (distributed)."""
        return [f for f in self.plan.floating_ips if f.port in self.plan.ports
                and self.plan.ports[f.port].node == self.node.name and self.has(f.port)]
