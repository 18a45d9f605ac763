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

A floating IP lives on its instance's compute: the node's fip-<external
network id> namespace has an fg- port on the external network (an address
of its own, proxy ARP for the floating IPs behind it) and, per router, the
fpr- end of a veth pair whose rfp- end is in the qrouter- (a /31 of
169.254.64.0/18). In qrouter-, the floating IP is on rfp- as a /32, a rule
(priority from 32768) sends its instance's traffic to table 16, whose
default route is the fip- namespace, and the nat table translates:

    -A neutron-l3-agent-PREROUTING -d 172.17.0.120/32 -i rfp-d7a3c1f0-5 -j DNAT --to-destination 10.0.1.11
    -A neutron-l3-agent-float-snat -s 10.0.1.11/32 -j SNAT --to-source 172.17.0.120 --random-fully

The flows that keep each node's copy of the router's MACs local are the OVS
agent's (controller/neutron/dvr.py)."""

import ipaddress
import os
from dataclasses import replace

from stacklab.naming import fip_namespace, node_host
from stacklab.scenario.dvr import FIP_TABLE
from topologies import metadata
from topologies.node import LabHost, bind, tmpfs
from topologies.routers import (SNAT_COMMENT, agent_chain, agent_chains_script, filter_table, iptables_table,
                                mangle_table, rules_text, tables)


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


def served_here(scenario, router, node):
    """The floating IPs of `router` whose fip- namespace is `node`'s."""
    return [f for f in scenario.floating_ips if f.router == router.name and f.node == node and f.fixed_ip]


def nat_table(router, floating_ips):
    """The nat table of a distributed router's qrouter- on a node: its
    floating IPs there, translated on the way to and from rfp-; requests
    to 169.254.169.254 to the node's metadata proxy."""
    chains = [agent_chain(c) for c in ("OUTPUT", "POSTROUTING", "PREROUTING", "float-snat", "snat")]
    chains.append("neutron-postrouting-bottom")
    rules = [("PREROUTING", "-j " + agent_chain("PREROUTING")), ("OUTPUT", "-j " + agent_chain("OUTPUT")),
             ("POSTROUTING", "-j " + agent_chain("POSTROUTING")), ("POSTROUTING", "-j neutron-postrouting-bottom")]
    if floating_ips:
        rules.append((agent_chain("POSTROUTING"), "! -i %s ! -o %s -m conntrack ! --ctstate DNAT -j ACCEPT"
                      % (router.rfp, router.rfp)))
    if router.metadata_proxy:
        rules.append((agent_chain("PREROUTING"), metadata.iptables_nat_rule()))
    rules += [(agent_chain("PREROUTING"), "-d %s/32 -i %s -j DNAT --to-destination %s"
               % (f.address, router.rfp, f.fixed_ip)) for f in floating_ips]
    rules += [(agent_chain("float-snat"), "-s %s/32 -j SNAT --to-source %s --random-fully" % (f.fixed_ip, f.address))
              for f in floating_ips]
    rules.append((agent_chain("snat"), "-j " + agent_chain("float-snat")))
    rules.append(("neutron-postrouting-bottom", '-m comment --comment "%s" -j %s'
                  % (SNAT_COMMENT, agent_chain("snat"))))
    return iptables_table("nat", ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"), chains, rules)


def snat_tables(router):
    """The iptables of a distributed router's snat- (an HA one's on each node): the legacy
    router's SNAT with no floating IPs (the computes' own) and no metadata proxy (qrouter-'s)."""
    return tables(replace(router, metadata_proxy=False), [])


class _AgentNamespace(LabHost):
    """A namespace of a node's L3 agent: the node's processes, its /var/lib/neutron."""

    def __init__(self, name, netns_name, node, script_dir, workdir, node_pid, neutron_dir):
        self.netns_name = netns_name        # in the node's `ip netns`
        self.node_name = node
        self.workdir = workdir
        self.neutron_dir = neutron_dir      # the node's /var/lib/neutron, seen from outside
        os.makedirs(workdir, exist_ok=True)
        super().__init__(name, script_dir, mounts=[tmpfs("/run"), tmpfs("/var/lib"),
                                                   bind("/var/lib/neutron", neutron_dir)],
                         hostname=node, pid_ns=node_pid)

    def _rules(self, tables_):
        path = os.path.join(self.workdir, "iptables.rules")
        with open(path, "w") as f:
            f.write(rules_text(tables_))
        return path

    @staticmethod
    def _port_lines(port, net):
        return ["ethtool -K %s tx off >/dev/null" % port.interface,
                "ip link set %s mtu %d up" % (port.interface, net.mtu),
                "ip addr add %s/%d brd + dev %s" % (port.ip, net.subnet.cidr.prefixlen, port.interface)]


class DvrRouterNamespace(metadata.RouterProxyHost, _AgentNamespace):
    """qrouter-<id> of a distributed router on one node (lab name
    qrouter-<id>@node), with the L3 agent's metadata proxy for the node's
    instances (haproxy on 9697, to the node's metadata agent)."""

    def __init__(self, router, node, script_dir, workdir, node_pid, neutron_dir):
        self.router = router
        super().__init__(node_host(router.namespace, node), router.namespace, node, script_dir, workdir,
                         node_pid, neutron_dir)

    def router_ports(self):
        return self.router.hosts[self.node_name]

    def _tables(self, scenario):
        """Its iptables: no gateway here (NAT to the outside is snat-'s), its floating IPs' NAT, the proxy's rules."""
        view = replace(self.router, gateway=None)
        return [filter_table(view), mangle_table(view),
                nat_table(self.router, served_here(scenario, self.router, self.node_name))]

    def configure_script(self, scenario):
        lines = ["ip link set lo up",
                 "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 "
                 "net.ipv6.conf.all.forwarding=1"]
        for port in self.router_ports():
            lines += self._port_lines(port, scenario.networks[port.network])
            lines.append("sysctl -qw net.ipv4.conf.%s.send_redirects=0" % port.interface)
        link = self.router.fip_links.get(self.node_name)
        if link is not None:
            lines += ["ip link set %s up" % self.router.rfp,
                      "ip addr add %s/31 dev %s" % (link[0], self.router.rfp)]
        lines += self._agent_state(scenario)
        lines.append("iptables-restore < %s" % self._rules(self._tables(scenario)))
        return "\n".join(lines)

    def _agent_state(self, scenario):
        """The ARP entries, SNAT routing and floating IPs' rules the agent
        keeps (again on a sync: replaced, not doubled)."""
        r = self.router
        lines = ["ip neigh replace %s lladdr %s nud permanent dev %s" % (ip, mac, dev)
                 for dev, ip, mac in neighbours(scenario, r)]
        if r.gateway is not None:
            sg = {p.network: p for p in r.snat_ports}
            for port in self.router_ports():
                table = snat_table(port)
                cidr = scenario.networks[port.network].subnet.cidr
                lines += _rule("from %s lookup %d priority %d" % (cidr, table, table))
                lines.append("ip route replace default via %s dev %s table %d" % (sg[port.network].ip,
                                                                                   port.interface, table))
        link = r.fip_links.get(self.node_name)
        if link is not None:
            for f in served_here(scenario, r, self.node_name):
                lines.append("ip addr replace %s/32 brd %s dev %s" % (f.address, f.address, r.rfp))
                lines += _rule("from %s lookup %d priority %d" % (f.fixed_ip, FIP_TABLE, f.rule_priority))
            lines.append("ip route replace default via %s dev %s table %d" % (link[1], r.rfp, FIP_TABLE))
        return lines

    def agent_sync_script(self, scenario):
        """The L3 agent's full sync: ARP entries, routing, its chains."""
        return "\n".join(self._agent_state(scenario) + [agent_chains_script(self.workdir, self._tables(scenario))])


def _rule(text):
    """An `ip rule`, replaced if there (ip rule add would add it twice)."""
    return ["ip rule del %s 2>/dev/null || true" % text, "ip rule add %s" % text]


class SnatNamespace(_AgentNamespace):
    """snat-<id> on the dvr_snat node: the sg- ports, the qg- port, SNAT
    (an HA router's: topologies/ha_router.py's HaSnatNamespace)."""

    def __init__(self, router, script_dir, workdir, node_pid, neutron_dir):
        self.router = router
        super().__init__(router.snat_namespace, router.snat_namespace, router.snat_node, script_dir, workdir,
                         node_pid, neutron_dir)

    def router_ports(self):
        return list(self.router.snat_hosts[self.node_name])

    def _tables(self):
        return snat_tables(self.router)

    def configure_script(self, scenario):
        r = self.router
        lines = ["ip link set lo up",
                 "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2"]
        for port in self.router_ports():
            lines += self._port_lines(port, scenario.networks[port.network])
        ext = scenario.networks[r.gateway.network]
        if ext.subnet.gateway:
            lines.append("ip route add default via %s dev %s proto static" % (ext.subnet.gateway, r.gateway.interface))
        lines.append("iptables-restore < %s" % self._rules(self._tables()))
        return "\n".join(lines)

    def agent_sync_script(self, scenario):
        return agent_chains_script(self.workdir, self._tables())


class FipNamespace(_AgentNamespace):
    """fip-<external network id> on a node with floating IPs of distributed
    routers: its fg- port on the external network, an fpr- link to each
    router's qrouter- there, a route to each floating IP through it, and
    proxy ARP on fg- so the external network finds the floating IPs."""

    def __init__(self, port, network, script_dir, workdir, node_pid, neutron_dir):
        self.port = port            # fg-
        self.network = network
        name = fip_namespace(network.id)
        super().__init__(node_host(name, port.node), name, port.node, script_dir, workdir, node_pid, neutron_dir)

    def router_ports(self):
        return [self.port]

    def links(self, scenario):
        """The routers with floating IPs on this network here: [(router, [floating IPs])]."""
        out = []
        for router in scenario.routers.values():
            fips = [f for f in served_here(scenario, router, self.node_name) if f.network == self.network.name]
            if fips:
                out.append((router, fips))
        return out

    def configure_script(self, scenario):
        fg = self.port
        lines = ["ip link set lo up", "sysctl -qw net.ipv4.ip_forward=1"]
        lines += self._port_lines(fg, self.network)
        lines.append("sysctl -qw net.ipv4.conf.%s.proxy_arp=1" % fg.interface)
        if self.network.subnet.gateway:
            lines.append("ip route add default via %s dev %s proto static" % (self.network.subnet.gateway,
                                                                               fg.interface))
        for router, fips in self.links(scenario):
            rtr_2_fip, fip_2_rtr = router.fip_links[self.node_name]
            lines += ["ip link set %s up" % router.fpr, "ip addr add %s/31 dev %s" % (fip_2_rtr, router.fpr)]
            lines += ["ip route replace %s/32 via %s dev %s" % (f.address, rtr_2_fip, router.fpr) for f in fips]
        return "\n".join(lines)

    def agent_sync_script(self, scenario):
        lines = []
        for router, fips in self.links(scenario):
            rtr_2_fip = router.fip_links[self.node_name][0]
            lines += ["ip route replace %s/32 via %s dev %s" % (f.address, rtr_2_fip, router.fpr) for f in fips]
        return "\n".join(lines) or "true"
