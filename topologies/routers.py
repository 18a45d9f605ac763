"""Legacy routers as neutron's L3 agent builds them on a network node: a
namespace qrouter-<router id> with a qr- port on br-int per internal network
(the subnet's gateway address) and a qg- port on the external network (the
router's gateway address and every floating IP as a /32), IP forwarding on,
and NAT in iptables with the agent's chains:

  nat     PREROUTING/OUTPUT -> neutron-l3-agent-PREROUTING/-OUTPUT: DNAT floating -> fixed
          POSTROUTING -> neutron-l3-agent-POSTROUTING: no SNAT inside the cloud
                      -> neutron-postrouting-bottom -> neutron-l3-agent-snat:
                         neutron-l3-agent-float-snat (fixed -> floating), then the
                         gateway address for the rest
  mangle  neutron-l3-agent-mark: what enters by qg- gets mark 0x2, so replies to
          DNATed connections from outside are not SNATed again

The rule text is rendered here (a pure function of the router) and loaded
with iptables-restore, as the agent's iptables manager does."""

import os

from topologies import metadata
from topologies.node import LabHost, bind, tmpfs

WRAP = "neutron-l3-agent"             # the agent's binary name: every wrapped chain starts with it
EXTERNAL_INGRESS_MARK = "0x2"
ROUTER_MARK_MASK = "0xffff"
SNAT_COMMENT = "Perform source NAT on outgoing traffic."


def agent_chain(name):
    return "%s-%s" % (WRAP, name)


def iptables_table(name, builtins, chains, rules):
    """iptables-restore text of one table: built-in chains ACCEPT, the agent's own chains, rules."""
    lines = ["*" + name] + [":%s ACCEPT [0:0]" % c for c in builtins] + [":%s - [0:0]" % c for c in chains]
    lines += ["-A %s %s" % (chain, rule) for chain, rule in rules] + ["COMMIT"]
    return lines


def served(router, floating_ips):
    """The floating IPs `router` translates: bound ones behind it."""
    return [f for f in floating_ips if f.router == router.name and f.fixed_ip is not None]


def nat_table(router, floating_ips):
    """The nat table of `router` (a model.Router) for the scenario's floating IPs."""
    floating_ips = served(router, floating_ips)
    chains = [agent_chain(c) for c in ("OUTPUT", "POSTROUTING", "PREROUTING", "float-snat", "snat")]
    chains.append("neutron-postrouting-bottom")
    rules = [("PREROUTING", "-j " + agent_chain("PREROUTING")), ("OUTPUT", "-j " + agent_chain("OUTPUT")),
             ("POSTROUTING", "-j " + agent_chain("POSTROUTING")), ("POSTROUTING", "-j neutron-postrouting-bottom")]
    dnat = ["-d %s/32 -j DNAT --to-destination %s" % (f.address, f.fixed_ip) for f in floating_ips]
    rules += [(agent_chain("OUTPUT"), r) for r in dnat]
    gw = router.gateway
    if gw is not None:
        rules.append((agent_chain("POSTROUTING"), "! -o %s -m conntrack ! --ctstate DNAT -j ACCEPT" % gw.interface))
    if router.metadata_proxy:
        rules.append((agent_chain("PREROUTING"), metadata.iptables_nat_rule()))
    rules += [(agent_chain("PREROUTING"), r) for r in dnat]
    rules += [(agent_chain("float-snat"), "-s %s/32 -j SNAT --to-source %s --random-fully" % (f.fixed_ip, f.address))
              for f in floating_ips]
    rules.append((agent_chain("snat"), "-j " + agent_chain("float-snat")))
    if gw is not None:
        if router.snat:
            rules.append((agent_chain("snat"), "-o %s -j SNAT --to-source %s --random-fully" % (gw.interface, gw.ip)))
        rules.append((agent_chain("snat"), "-m mark ! --mark %s/%s -m conntrack --ctstate DNAT -j SNAT --to-source %s "
                                      "--random-fully" % (EXTERNAL_INGRESS_MARK, ROUTER_MARK_MASK, gw.ip)))
    rules.append(("neutron-postrouting-bottom", '-m comment --comment "%s" -j %s' % (SNAT_COMMENT, agent_chain("snat"))))
    return iptables_table("nat", ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"), chains, rules)


def mangle_table(router):
    builtins = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
    chains = [agent_chain(c) for c in builtins] + [agent_chain("mark")]
    rules = [(b, "-j " + agent_chain(b)) for b in builtins]
    rules.append((agent_chain("PREROUTING"), "-j " + agent_chain("mark")))
    if router.metadata_proxy:
        rules.append((agent_chain("PREROUTING"), metadata.iptables_mangle_rule()))
    if router.gateway is not None:
        rules.append((agent_chain("mark"), "-i %s -j MARK --set-xmark %s/%s"
                      % (router.gateway.interface, EXTERNAL_INGRESS_MARK, ROUTER_MARK_MASK)))
    return iptables_table("mangle", builtins, chains, rules)


def filter_table(router):
    builtins = ("INPUT", "FORWARD", "OUTPUT")
    chains = [agent_chain(c) for c in builtins] + ["neutron-filter-top", agent_chain("local")]
    rules = [("INPUT", "-j " + agent_chain("INPUT")), ("FORWARD", "-j neutron-filter-top"),
             ("FORWARD", "-j " + agent_chain("FORWARD")), ("OUTPUT", "-j neutron-filter-top"),
             ("OUTPUT", "-j " + agent_chain("OUTPUT")), ("neutron-filter-top", "-j " + agent_chain("local"))]
    if router.metadata_proxy:
        rules += [(agent_chain("INPUT"), r) for r in metadata.iptables_filter_rules()]
    return iptables_table("filter", builtins, chains, rules)


def tables(router, floating_ips):
    """The L3 agent's filter, mangle and nat tables of a legacy router (or a DVR snat-)."""
    return [filter_table(router), mangle_table(router), nat_table(router, floating_ips)]


def rules_text(tables_):
    """iptables-restore input of `tables_`."""
    return "\n".join(line for table in tables_ for line in table) + "\n"


def iptables_rules(router, floating_ips):
    """Everything the L3 agent loads into the router's namespace (iptables-restore input)."""
    return rules_text(tables(router, floating_ips))


def agent_chains(tables_):
    """The agent's own chains only, for `iptables-restore --noflush`: what its
    iptables manager renders on a full sync. Each chain it declares is
    emptied and filled again; the built-in chains and any rule someone else
    put there are left as they are."""
    out = []
    for table in tables_:
        own = {line[1:].split(" ", 1)[0] for line in table if line.startswith(":") and " - " in line}
        out += [line for line in table if line.startswith("*") or line == "COMMIT"
                or (line.startswith(":") and " - " in line)
                or (line.startswith("-A ") and line.split(" ", 2)[1] in own)]
    return "\n".join(out) + "\n"


def agent_chains_script(workdir, tables_):
    """`iptables-restore --noflush` of the agent's own chains of `tables_` (agent_chains())."""
    path = os.path.join(workdir, "agent-chains.rules")
    with open(path, "w") as f:
        f.write(agent_chains(tables_))
    return "iptables-restore --noflush < %s" % path


class RouterNamespace(metadata.RouterProxyHost, LabHost):
    """qrouter-<id>: the router's ports and NAT. A lab namespace of its own,
    also listed by `ip netns` inside its node, as the L3 agent's are."""

    def __init__(self, name, script_dir, router, workdir, node_pid, neutron_dir, **params):
        """`node_pid`: its node's shell, whose processes it shares; `neutron_dir`:
        the node's /var/lib/neutron seen from outside (the metadata proxy's
        configuration and the agent's socket are there, as on a real node)."""
        self.router = router
        self.workdir = workdir
        self.neutron_dir = neutron_dir
        os.makedirs(workdir, exist_ok=True)
        super().__init__(name, script_dir, mounts=[tmpfs("/run"), tmpfs("/var/lib"),
                                                   bind("/var/lib/neutron", neutron_dir)],
                         hostname=router.node, pid_ns=node_pid, **params)

    def _write_rules(self, floating_ips):
        rules = os.path.join(self.workdir, "iptables.rules")
        with open(rules, "w") as f:
            f.write(iptables_rules(self.router, floating_ips))
        return rules

    def nat_reload_script(self, floating_ips):
        """Load the router's rules again for a new set of floating IPs."""
        return "iptables-restore < %s" % self._write_rules(floating_ips)

    def agent_sync_script(self, scenario):
        """What the L3 agent's full sync does to the router's iptables: its own chains rendered again."""
        return agent_chains_script(self.workdir, tables(self.router, scenario.floating_ips))

    def configure_script(self, networks, floating_ips):
        """Addresses, routes, forwarding and NAT (the L3 agent's work)."""
        r = self.router
        rules = self._write_rules(floating_ips)
        # as the L3 agent makes a router's namespace: forwarding on (IPv6 too, so its ports
        # send no router solicitations), ARP answered only for the port's own addresses and
        # from them; IPv6 left on, so each port has its link-local address from its MAC
        lines = ["ip link set lo up",
                 "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 "
                 "net.ipv6.conf.all.forwarding=1"]
        for port in r.ports():
            net = networks[port.network]
            lines += ["ethtool -K %s tx off >/dev/null" % port.interface,
                      "ip link set %s mtu %d up" % (port.interface, net.mtu),
                      "ip addr add %s/%d brd + dev %s" % (port.ip, net.subnet.cidr.prefixlen, port.interface)]
        if r.gateway is not None:
            ext = networks[r.gateway.network]
            for f in served(r, floating_ips):
                lines.append("ip addr add %s/32 brd %s dev %s" % (f.address, f.address, r.gateway.interface))
            if ext.subnet.gateway:
                # the agent's routes carry `proto static` (it asks for them so)
                lines.append("ip route add default via %s dev %s proto static" % (ext.subnet.gateway, r.gateway.interface))
        lines.append("iptables-restore < %s" % rules)
        return "\n".join(lines)

