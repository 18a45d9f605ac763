"""L3 HA routers as neutron's L3 agents build them: on each of the
router's nodes a qrouter-<id> with the same qr- and qg- ports, an ha- port
on the HA network (its own address in 169.254.192.0/18), and keepalived
with the configuration neutron renders, in /var/lib/neutron/ha_confs/<id>/:

    vrrp_instance VR_1 {
        state BACKUP
        interface ha-...
        virtual_router_id 1
        priority 50
        garp_master_delay 60
        nopreempt
        advert_int 2
        track_interface { ha-... }
        virtual_ipaddress { 169.254.0.1/24 dev ha-... }        the primary VIP: 169.254.0.<VRID>
        virtual_ipaddress_excluded { the qr-/qg- addresses, floating IPs, link-local addresses }
        virtual_routes { 0.0.0.0/0 via GATEWAY dev qg-... }
    }

Every node starts BACKUP; the one that hears no master for three adverts
becomes master and puts the addresses and routes on its ports (the backup's
ports have none, not even their IPv6 link-local address). The lab starts the
first of the router's nodes first and waits until it is master, so the master
at start is the scenario's. neutron-keepalived-state-change
(topologies/keepalived_state.py) follows the primary VIP on ha- and writes
`primary` or `backup` to ha_confs/<id>/state, as neutron's does; the agent
and `stacklab status` read it there.

NAT is the legacy router's (routers.py), on every node: rules on a backup
match nothing, it has no addresses.

A distributed HA router (DVR with L3 HA) keeps its SNAT this way: on each
of its dvr_snat nodes the snat-<id> namespace (HaSnatNamespace) holds the
ha- port, keepalived and the monitor, and keepalived gives the master the
sg- and qg- addresses and the default route; the qrouter- namespaces stay
dvr.py's, addressed on every node."""

import ipaddress
import os
import shlex
import sys

from stacklab.naming import node_host
from stacklab.observe.ha import HA_CONFS
from topologies import metadata
from topologies.dvr import snat_tables
from topologies.node import LabHost, bind, tmpfs
from topologies.routers import agent_chains_script, rules_text, served, tables

PRIORITY = 50               # neutron's HA_DEFAULT_PRIORITY
ADVERT_INT = 2              # [DEFAULT] ha_vrrp_advert_int
GARP_MASTER_DELAY = 60
PRIMARY_VIP_RANGE = ipaddress.IPv4Network("169.254.0.0/24")     # 169.254.0.0/16 less metadata, fip- and HA ranges
STATES = ("primary", "backup")


def link_local(mac):
    """The IPv6 link-local address of a MAC (EUI-64), as the kernel gives a port."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    eui = b[:3] + [0xff, 0xfe] + b[3:]
    return ipaddress.IPv6Address(bytes([0xfe, 0x80] + [0] * 6 + eui))


def primary_vip(router):
    return "%s/24" % (PRIMARY_VIP_RANGE.network_address + router.vrid)


def kept_ports(router, node):
    """The ports whose addresses keepalived keeps on `node`: an HA router's
    qg- and qr-, a distributed one's sg- and qg- (its snat-)."""
    return router.snat_hosts[node] if router.distributed else router.hosts[node]


def keepalived_conf(router, ha_port, networks, floating_ips):
    """keepalived.conf of `router` on the node whose ha- port is `ha_port`,
    as neutron renders it (with keepalived_use_no_track, keepalived >= 2). A
    distributed router's floating IPs are its computes', not keepalived's."""
    vips = []
    for port in kept_ports(router, ha_port.node):
        net = networks[port.network]
        vips.append(("%s/%d" % (port.ip, net.subnet.cidr.prefixlen), port.interface, None))
        vips.append(("%s/64" % link_local(port.mac), port.interface, "link"))
    if router.gateway is not None and not router.distributed:
        vips += [("%s/32" % f.address, router.gateway.interface, None) for f in served(router, floating_ips)]
    lines = ["global_defs {",
             "    notification_email_from neutron@openstack.local",
             "    router_id neutron",
             "}",
             "vrrp_instance VR_%d {" % router.vrid,
             "    state BACKUP",
             "    interface %s" % ha_port.interface,
             "    virtual_router_id %d" % router.vrid,
             "    priority %d" % PRIORITY,
             "    garp_master_delay %d" % GARP_MASTER_DELAY,
             "    nopreempt",
             "    advert_int %d" % ADVERT_INT,
             "    track_interface {",
             "        %s" % ha_port.interface,
             "    }",
             "    virtual_ipaddress {",
             "        %s dev %s" % (primary_vip(router), ha_port.interface),
             "    }",
             "    virtual_ipaddress_excluded {"]
    for ip, dev, scope in sorted(vips, key=lambda v: v[0]):
        lines.append("        %s dev %s%s no_track" % (ip, dev, " scope %s" % scope if scope else ""))
    lines.append("    }")
    ext = networks[router.gateway.network] if router.gateway is not None else None
    if ext is not None and ext.subnet.gateway:
        lines += ["    virtual_routes {",
                  "        0.0.0.0/0 via %s dev %s no_track" % (ext.subnet.gateway, router.gateway.interface),
                  "    }"]
    lines.append("}")
    return "\n".join(lines)


class _KeepalivedNamespace(LabHost):
    """A namespace of an HA router on one node whose addresses keepalived
    keeps (lab name <namespace>@node): its ports, NAT, keepalived and the
    state-change monitor."""

    def __init__(self, router, node, netns_name, script_dir, workdir, node_pid, neutron_dir):
        self.router = router
        self.node_name = node
        self.netns_name = netns_name
        self.workdir = workdir
        self.neutron_dir = neutron_dir          # the node's /var/lib/neutron, seen from outside
        os.makedirs(workdir, exist_ok=True)
        super().__init__(node_host(netns_name, node), script_dir,
                         mounts=[tmpfs("/run"), tmpfs("/var/lib"), bind("/var/lib/neutron", neutron_dir)],
                         hostname=node, pid_ns=node_pid)

    @property
    def ha_port(self):
        return self.router.ha_ports[self.node_name]

    def router_ports(self):
        return kept_ports(self.router, self.node_name) + [self.ha_port]

    # -- where neutron keeps things, inside and seen from outside --
    def conf_dir(self, outside=False):
        inside = os.path.join(HA_CONFS, self.router.id)
        return os.path.join(self.neutron_dir, "ha_confs", self.router.id) if outside else inside

    def keepalived_pidfile(self, outside=False):
        return self.conf_dir(outside) + ".pid"

    def monitor_pidfile(self, outside=False):
        base = self.neutron_dir if outside else "/var/lib/neutron"
        return os.path.join(base, "external", "pids", "%s.monitor.pid" % self.router.id)

    def state(self):
        """primary, backup, or None (no state written yet), as the monitor last wrote it."""
        try:
            with open(os.path.join(self.conf_dir(outside=True), "state")) as f:
                return f.read().strip() or None
        except OSError:
            return None

    def _tables(self, scenario):
        raise NotImplementedError

    def write_files(self, scenario):
        os.makedirs(self.conf_dir(outside=True), exist_ok=True)
        os.makedirs(os.path.dirname(self.monitor_pidfile(outside=True)), exist_ok=True)
        with open(os.path.join(self.conf_dir(outside=True), "keepalived.conf"), "w") as f:
            f.write(keepalived_conf(self.router, self.ha_port, scenario.networks, scenario.floating_ips))
        with open(os.path.join(self.workdir, "iptables.rules"), "w") as f:
            f.write(rules_text(self._tables(scenario)))

    def configure_script(self, scenario):
        """The ports up with no address but the ha- port's (keepalived gives the
        master the rest), no IPv6 link-local address of their own, NAT."""
        ha = self.ha_port
        ha_net = scenario.networks[ha.network]
        lines = ["ip link set lo up",
                 "sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 "
                 "net.ipv6.conf.all.forwarding=1"]
        for port in kept_ports(self.router, self.node_name):
            net = scenario.networks[port.network]
            lines += ["ethtool -K %s tx off >/dev/null" % port.interface,
                      "ip link set %s addrgenmode none" % port.interface,
                      "ip -6 addr flush dev %s scope link" % port.interface,
                      "ip link set %s mtu %d up" % (port.interface, net.mtu)]
        lines += ["ethtool -K %s tx off >/dev/null" % ha.interface,
                  "ip link set %s mtu %d up" % (ha.interface, ha_net.mtu),
                  "ip addr add %s/%d dev %s" % (ha.ip, ha_net.subnet.cidr.prefixlen, ha.interface),
                  "iptables-restore < %s" % os.path.join(self.workdir, "iptables.rules")]
        return "\n".join(lines)

    def keepalived_command(self):
        """keepalived as neutron's agent starts it (it detaches, writing its pidfiles)."""
        conf = os.path.join(self.conf_dir(), "keepalived.conf")
        pid = self.keepalived_pidfile()
        return "keepalived -P -f %s -p %s -r %s-vrrp" % (conf, pid, pid)

    def monitor_command(self):
        """neutron-keepalived-state-change (topologies/keepalived_state.py), detached."""
        argv = [sys.executable, "-m", "topologies.keepalived_state", "--router_id=" + self.router.id,
                "--namespace=" + self.netns_name, "--conf_dir=" + self.conf_dir(),
                "--log-file=%s/neutron-keepalived-state-change.log" % self.conf_dir(),
                "--monitor_interface=" + self.ha_port.interface, "--monitor_cidr=" + primary_vip(self.router),
                "--pid_file=" + self.monitor_pidfile(), "--state_path=/var/lib/neutron"]
        return "%s </dev/null >/dev/null 2>&1 &" % " ".join(shlex.quote(a) for a in argv)

    def agent_sync_script(self, scenario):
        """The L3 agent's full sync: its chains (keepalived keeps the addresses)."""
        return agent_chains_script(self.workdir, self._tables(scenario))


class HaRouterNamespace(metadata.RouterProxyHost, _KeepalivedNamespace):
    """qrouter-<id> of an HA router on one node (lab name qrouter-<id>@node).
    The metadata proxy's rules are in every copy; its haproxy runs on the
    master only, started and ended on each transition (as neutron's L3 agent
    does when the state-change monitor tells it): the lab's supervisor
    follows state() (Lab.start_metadata)."""

    def __init__(self, router, node, script_dir, workdir, node_pid, neutron_dir):
        super().__init__(router, node, router.namespace, script_dir, workdir, node_pid, neutron_dir)

    def proxy_wanted(self):
        return self.state() == "primary"

    def _tables(self, scenario):
        return tables(self.router, scenario.floating_ips)


class HaSnatNamespace(_KeepalivedNamespace):
    """snat-<id> of a distributed HA router on one of its dvr_snat nodes
    (lab name snat-<id>@node): the sg- and qg- ports, SNAT, keepalived."""

    def __init__(self, router, node, script_dir, workdir, node_pid, neutron_dir):
        super().__init__(router, node, router.snat_namespace, script_dir, workdir, node_pid, neutron_dir)

    def _tables(self, scenario):
        return snat_tables(self.router)
