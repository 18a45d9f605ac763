"""Distributed routers (neutron's DVR) as the L3 agents build them.

On every node hosting the router (dvr mode, and the dvr_snat node):
qrouter-<id> with the router's qr- ports, the same addresses and MACs as on
every other node, forwarding on; the ARP entry of every port on the
router's subnets made permanent (the agent learns them from the server: an
ARP request from a router port would reach no other node, br-int there
drops routed broadcasts); and, when the router has a gateway, a routing
rule per subnet that sends what is not for another subnet to the subnet's
sg- port, whose address is the centralized SNAT's:

    ip rule add from 192.168.1.0/24 lookup 3232235777 priority 3232235777
    ip route add default via 192.168.1.5 dev qr-... table 3232235777

(the table and priority are the qr- port's address as a number, as the
agent numbers them). On the dvr_snat node, snat-<id> holds an sg- port per
subnet and the qg- port, the default route to the external network and the
agent's SNAT rules (routers.py's, with no floating IPs).

The flows that keep each node's copy of the router's MACs local are the OVS
agent's (controller/neutron/dvr.py)."""

import ipaddress
import os
from dataclasses import replace

from topologies.node import LabHost, bind, tmpfs
from topologies.routers import agent_chains_script, iptables_rules


def snat_table(port):
    """The routing table (and rule priority) of a qr- port's subnet: its address as a number."""
    return int(ipaddress.IPv4Address(port.ip))


def neighbours(scenario, router):
    """[(qr- device, ip, mac)]: the permanent ARP entries of a router's
    namespace, every port with an address on its subnets but its own."""
    out = []
    for itf in router.interfaces:
        for port in scenario.ports():
            if port.network == itf.network and port.ip != itf.ip and (itf.name, str(port.ip), port.mac) not in out:
                out.append((itf.name, str(port.ip), port.mac))
    return out


class _AgentNamespace(LabHost):
    """A namespace of a node's L3 agent: the node's processes, its /var/lib/neutron."""

    def __init__(self, name, netns_name, node, script_dir, workdir, node_pid, neutron_dir):
        self.netns_name = netns_name        # in the node's `ip netns`
        self.node_name = node
        self.workdir = workdir
        os.makedirs(workdir, exist_ok=True)
        super().__init__(name, script_dir, mounts=[tmpfs("/run"), tmpfs("/var/lib"),
                                                   bind("/var/lib/neutron", neutron_dir)],
                         hostname=node, pid_ns=node_pid)

    def _rules(self, router):
        path = os.path.join(self.workdir, "iptables.rules")
        with open(path, "w") as f:
            f.write(iptables_rules(router, []))
        return path

    @staticmethod
    def _port_lines(port, net):
        return ["ethtool -K %s tx off >/dev/null" % port.interface,
                "ip link set %s mtu %d up" % (port.interface, net.mtu),
                "ip addr add %s/%d brd + dev %s" % (port.ip, net.subnet.cidr.prefixlen, port.interface)]


class DvrRouterNamespace(_AgentNamespace):
    """qrouter-<id> of a distributed router on one node (lab name qrouter-<id>@node)."""

    def __init__(self, router, node, script_dir, workdir, node_pid, neutron_dir):
        self.router = router
        super().__init__("%s@%s" % (router.namespace, node), router.namespace, node, script_dir, workdir,
                         node_pid, neutron_dir)

    def router_ports(self):
        return self.router.hosts[self.node_name]

    @property
    def _own_view(self):
        """The router as this namespace's iptables see it: no gateway (NAT is snat-'s), no proxy."""
        return replace(self.router, gateway=None, metadata_proxy=False)

    def configure_script(self, scenario):
        lines = ["ip link set lo up",
                 "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 "
                 "net.ipv6.conf.all.forwarding=1"]
        for port in self.router_ports():
            lines += self._port_lines(port, scenario.networks[port.network])
            lines.append("sysctl -qw net.ipv4.conf.%s.send_redirects=0" % port.interface)
        lines += self._agent_state(scenario)
        lines.append("iptables-restore < %s" % self._rules(self._own_view))
        return "\n".join(lines)

    def _agent_state(self, scenario):
        """The ARP entries and SNAT routing the agent keeps (again on a sync: replaced, not doubled)."""
        r = self.router
        lines = ["ip neigh replace %s lladdr %s nud permanent dev %s" % (ip, mac, dev)
                 for dev, ip, mac in neighbours(scenario, r)]
        if r.gateway is not None:
            sg = {p.network: p for p in r.snat_ports}
            for port in self.router_ports():
                table = snat_table(port)
                cidr = scenario.networks[port.network].subnet.cidr
                lines += ["ip rule del from %s lookup %d priority %d 2>/dev/null || true" % (cidr, table, table),
                          "ip rule add from %s lookup %d priority %d" % (cidr, table, table),
                          "ip route replace default via %s dev %s table %d" % (sg[port.network].ip, port.interface,
                                                                                table)]
        return lines

    def agent_sync_script(self, scenario):
        """The L3 agent's full sync: ARP entries, SNAT routing, its chains."""
        return "\n".join(self._agent_state(scenario) + [agent_chains_script(self.workdir, self._own_view, [])])


class SnatNamespace(_AgentNamespace):
    """snat-<id> on the dvr_snat node: the sg- ports, the qg- port, SNAT."""

    def __init__(self, router, script_dir, workdir, node_pid, neutron_dir):
        self.router = router
        super().__init__(router.snat_namespace, router.snat_namespace, router.snat_node, script_dir, workdir,
                         node_pid, neutron_dir)

    def router_ports(self):
        return list(self.router.snat_ports) + [self.router.gateway]

    def configure_script(self, scenario):
        r = self.router
        lines = ["ip link set lo up",
                 "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2"]
        for port in self.router_ports():
            lines += self._port_lines(port, scenario.networks[port.network])
        ext = scenario.networks[r.gateway.network]
        if ext.subnet.gateway:
            lines.append("ip route add default via %s dev %s proto static" % (ext.subnet.gateway, r.gateway.interface))
        lines.append("iptables-restore < %s" % self._rules(replace(r, metadata_proxy=False)))
        return "\n".join(lines)

    def agent_sync_script(self, scenario):
        return agent_chains_script(self.workdir, replace(self.router, metadata_proxy=False), [])
