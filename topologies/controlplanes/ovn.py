"""ML2/OVN with the real OVN (Debian's ovn-central and ovn-host): the
central node runs the northbound and southbound ovsdb-servers and ovn-northd
as ovn-central does, every node runs ovn-controller on its own Open vSwitch
with the external_ids a deployment sets, and the lab writes what neutron's
OVN driver writes into the northbound database (topologies/ovn_nb.py, over
OVSDB: topologies/ovn_db.py). ovn-controller creates and programs br-int
itself; DHCP is OVN's own (no dnsmasq), no agent runs."""

import os
import re

from stacklab import naming
from stacklab.scenario.ovn import central_address, sb_remote
from topologies import ovn_nb, plumbing
from topologies.controlplanes.base import ControlPlane
from topologies.node import tail
from topologies.ovn_db import Northbound, Southbound
from topologies.shell import run_parallel, script
from topologies.units import DaemonUnit

# where Debian's packages keep OVN's files on a node; private to each node (bound
# into its work directory, where the lab finds pidfiles, sockets and logs from outside)
OVN_DIRS = (("/var/run/ovn", "ovn-run"), ("/var/log/ovn", "ovn-log"), ("/var/lib/ovn", "ovn-lib"),
            ("/etc/ovn", "ovn-etc"))
NB_PORT, SB_PORT = 6641, 6642
DAEMON_FLAGS = "--no-chdir --detach -vconsole:off"


def _db_server(name, port, address):
    """ovsdb-server for OVN_Northbound (nb) or OVN_Southbound (sb), as ovn-ctl starts it."""
    return ("ovsdb-server /var/lib/ovn/ovn{n}_db.db --remote=punix:/var/run/ovn/ovn{n}_db.sock "
            "--remote=ptcp:{port}:{ip} --pidfile=/var/run/ovn/ovn{n}_db.pid --unixctl=/var/run/ovn/ovn{n}_db.ctl "
            "--log-file=/var/log/ovn/ovsdb-server-{n}.log {flags}").format(n=name, port=port, ip=address,
                                                                         flags=DAEMON_FLAGS)


NORTHD = ("ovn-northd --ovnnb-db=unix:/var/run/ovn/ovnnb_db.sock --ovnsb-db=unix:/var/run/ovn/ovnsb_db.sock "
          "--pidfile=/var/run/ovn/ovn-northd.pid --log-file=/var/log/ovn/ovn-northd.log " + DAEMON_FLAGS)
CONTROLLER = ("ovn-controller unix:/var/run/openvswitch/db.sock --pidfile=/var/run/ovn/ovn-controller.pid "
              "--log-file=/var/log/ovn/ovn-controller.log " + DAEMON_FLAGS)


def central_daemons(scenario):
    """[(name, command)] of ovn-central on its node, in start order."""
    ip = central_address(scenario)
    return [("ovsdb-server-nb", _db_server("nb", NB_PORT, ip)), ("ovsdb-server-sb", _db_server("sb", SB_PORT, ip)),
            ("ovn-northd", NORTHD)]


def central_script(scenario):
    """Create the two databases, then start ovn-central's daemons."""
    lines = ["mkdir -p /var/lib/ovn /var/run/ovn /var/log/ovn"]
    for db in ("nb", "sb"):
        lines.append("ovsdb-tool create /var/lib/ovn/ovn{n}_db.db /usr/share/ovn/ovn-{n}.ovsschema".format(n=db))
    lines += [command for _, command in central_daemons(scenario)]
    return "\n".join(lines)


def chassis_ids(node, scenario):
    """The Open_vSwitch table's external_ids a deployment gives ovn-controller."""
    ids = {"ovn-remote": sb_remote(scenario), "ovn-encap-type": "geneve",
           "ovn-bridge-datapath-type": scenario.datapath_type, "ovn-monitor-all": "true"}
    ids["ovn-encap-ip"] = str(encap_ip(node) or "127.0.0.1")
    if node.bridge_mappings:
        ids["ovn-bridge-mappings"] = ",".join("%s:%s" % kv for kv in node.bridge_mappings.items())
    if node.role in ("controller", "network"):
        ids["ovn-cms-options"] = "enable-chassis-as-gw"
    return ids


def chassis_script(node, scenario):
    """The node's physical bridges (standalone: they switch by themselves;
    its address on the one holding its NIC, where userspace tunnels need
    it), the external_ids, then ovn-controller, which makes br-int."""
    ids = chassis_ids(node, scenario)
    args = plumbing.standalone_bridges_args(node, scenario.datapath_type)
    args += ["--", "set", "Open_vSwitch", "."] + ["external_ids:%s=%s" % kv for kv in sorted(ids.items())]
    lines = plumbing.node_network_lines(node, args, [nic.name for nic in node.nics.values() if nic.bridge])
    lines += tunnel_neighbours(node, scenario)
    lines += ["mkdir -p /var/run/ovn /var/log/ovn", CONTROLLER]
    return "\n".join(lines)


def encap_ip(node):
    if node.tunnel_ip is not None:
        return node.tunnel_ip
    return node.addresses()[0].ip if node.addresses() else None


def _nic_of(node, ip):
    return next((nic for nic in node.nics.values() if nic.address and nic.address.ip == ip), None)


def tunnel_neighbours(node, scenario):
    """The userspace datapath drops the first packet to a tunnel peer it has
    no MAC for yet (it sends an ARP instead; the kernel would queue it):
    each peer's MAC is set in OVS's tunnel neighbour table up front, as the
    fabric knows it (docs/differences.md)."""
    mine = _nic_of(node, encap_ip(node))
    if mine is None or mine.bridge is None:
        return []
    out = []
    for peer in scenario.nodes.values():
        theirs = _nic_of(peer, encap_ip(peer)) if peer.name != node.name else None
        if theirs is not None and theirs.address.network == mine.address.network:
            out.append("ovs-appctl tnl/neigh/set %s %s %s >/dev/null" % (mine.bridge, theirs.address.ip, theirs.mac))
    return out


class Ovn(ControlPlane):
    """OVN: ovn-central on the scenario's SDN controller node, ovn-controller
    on every node; the northbound written as neutron's driver writes it."""

    NAME = "OVN"
    METADATA_AGENT = ("neutron-ovn-metadata-agent", "OpenStack Neutron OVN Metadata Agent")

    def __init__(self, lab):
        super().__init__(lab)
        self.central = self.scenario.sdn_controller
        self.process = CentralLog(self._outside(self.central, "/var/log/ovn/ovn-northd.log"))
        self._nb = self._sb = None

    @property
    def nb(self):
        """The northbound database (connected when first asked: a keeper's Lab asks later)."""
        if self._nb is None:
            self._nb = Northbound("unix:" + self._outside(self.central, "/var/run/ovn/ovnnb_db.sock"))
        return self._nb

    @property
    def sb(self):
        if self._sb is None:
            self._sb = Southbound("unix:" + self._outside(self.central, "/var/run/ovn/ovnsb_db.sock"))
        return self._sb

    def _outside(self, node, inside):
        """Where a file of a node's OVN directories is seen from outside."""
        for target, sub in OVN_DIRS:
            if inside.startswith(target + "/"):
                return os.path.join(self.lab.state.dir, "nodes", node, sub, inside[len(target) + 1:])
        raise ValueError(inside)

    def binds(self):
        return {name: [(target, os.path.join(self.lab.state.dir, "nodes", name, sub)) for target, sub in OVN_DIRS]
                for name in self.scenario.nodes}

    def bridge_names(self, node):
        return [naming.INTEGRATION_BRIDGE] + node.physical_bridges

    def bridges_script(self, node):
        """ovn-controller made br-int (start()); plug nothing before it is there."""
        return "ovs-vsctl --timeout=20 wait-until Bridge %s" % naming.INTEGRATION_BRIDGE

    def start(self):
        central = self.lab.nodes[self.central]
        script(central, central_script(self.scenario), "starting ovn-central")
        for daemon, command in central_daemons(self.scenario):
            self._watch(self.central, daemon, command)
        written = self.nb.write(ovn_nb.rows(self.scenario))
        run_parallel([(self.lab.nodes[name], chassis_script(node, self.scenario))
                      for name, node in self.scenario.nodes.items()], "starting ovn-controller")
        for name in self.scenario.nodes:
            self._watch(name, "ovn-controller", CONTROLLER)
        self.lab.state.nodes[self.central]["runs"] = ("ovn-central: northbound %s:%d, southbound %s:%d"
                                                       % (central_address(self.scenario), NB_PORT,
                                                          central_address(self.scenario), SB_PORT))
        return "ovn-central on %s, %d northbound rows, ovn-controller on %d nodes" % (
            self.central, written, len(self.scenario.nodes))

    def update_plans(self):
        """A live change: the northbound made what the scenario now says,
        row by row, as neutron's driver writes each change; returns once
        every chassis has caught up (`--wait=hv`)."""
        counts = self.nb.sync(ovn_nb.rows(self.scenario), wait=True)
        self.last_sync = counts
        return [] if not any(counts.values()) else ["the northbound database"]

    def update_tunnels(self, old, new):
        """ovn-controller makes and removes its Geneve ports itself."""
        return []

    def plans_line(self, plans):
        counts = getattr(self, "last_sync", {})
        return ("northbound: %(inserted)d rows added, %(updated)d changed, %(deleted)d removed; every chassis "
                "caught up" % counts) if plans else "ports bound"

    def _watch(self, node, daemon, command):
        """Record a daemon by the pidfile its own command line names."""
        pidfile = self._outside(node, re.search(r"--pidfile=(\S+)", command).group(1))
        self.lab.watch("%s %s" % (node, daemon), node, command, pidfile)

    def unprogrammed(self):
        """Chassis not registered, instance ports not up (bound, their flows in)."""
        chassis = self.sb.chassis()
        out = [(name, "its chassis") for name in self.scenario.nodes if name not in chassis]
        up = self.nb.ports_up()
        out += [(p.node, "port %s" % p.name) for p in self.scenario.instance_ports() if not up.get(p.id)]
        if any(r.gateway for r in self.scenario.routers.values()):
            bound = self.sb.bound()
            out += [(self.central, "the gateway port of router %s" % r.name) for r in self.scenario.routers.values()
                    if r.gateway is not None and "cr-" + ovn_nb.lrp_name(r.gateway) not in bound]
        return out

    def summary(self):
        up = self.nb.ports_up()
        ports = ovn_nb.instance_port_names(self.scenario)
        return "%d chassis, %d of %d instance ports up" % (len(self.sb.chassis()), sum(bool(up.get(p)) for p in ports),
                                                            len(ports))

    def stalled(self, node, what):
        if what == "its chassis":
            return "%s did not register its chassis in the southbound database" % node
        return "ovn-controller did not bind %s" % what

    def units(self, where):
        if where not in self.lab.nodes:
            return []
        units = [DaemonUnit("ovn-controller", "Open Virtual Network host control daemon", where,
                            ["%s ovn-controller" % where])]
        if where == self.central:           # ovn-central's units, as Debian names them
            units += [DaemonUnit("ovn-ovsdb-server-nb", "Open vSwitch database server for OVN Northbound database",
                                 where, ["%s ovsdb-server-nb" % where]),
                      DaemonUnit("ovn-ovsdb-server-sb", "Open vSwitch database server for OVN Southbound database",
                                 where, ["%s ovsdb-server-sb" % where]),
                      DaemonUnit("ovn-northd", "Open Virtual Network central control daemon", where,
                                 ["%s ovn-northd" % where])]
        return units


class CentralLog:
    """What `up` shows when OVN stalls: ovn-northd's log."""

    def __init__(self, path):
        self.path = path

    def log_path(self):
        return self.path

    def log_tail(self, lines=5):
        return tail(self.path, lines)
