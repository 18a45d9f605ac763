"""What `systemctl` answers on a lab's node (or amphora): the services a
real node of its kind runs, as systemd units, backed by the lab's own
process control. `systemctl restart neutron-openvswitch-agent`, the classic
fix, does what restarting the agent does on a real node (its flows sent
again with a new cookie, what is not its own removed, its ports tagged
again); `systemctl stop openvswitch-switch` ends the node's ovsdb-server and
ovs-vswitchd and keeps them ended; `status` says what runs.

The node side (stacklab/nodectl.py, the node's `systemctl`) sends its
request to the lab's keeper, which owns the processes; the keeper calls
Units.run() here."""

import time

from stacklab.errors import LabError
from stacklab.runtime.procs import inner_pid
from topologies.shell import script

ACTIONS = ("status", "start", "stop", "restart", "is-active", "list-units")


class Unit:
    """A service on one node. Subclasses say what starting and stopping it is."""

    def __init__(self, name, description, where):
        self.name = name
        self.description = description
        self.where = where          # the node (or amphora) it runs on

    def active(self, lab):
        raise NotImplementedError

    def main_pid(self, lab):
        return None

    def start(self, lab):
        raise NotImplementedError

    def stop(self, lab):
        raise NotImplementedError

    def restart(self, lab):
        self.stop(lab)
        self.start(lab)

    def detail(self, lab):
        """More lines for `status` (what it runs, where)."""
        return []


class DaemonUnit(Unit):
    """Daemons the lab watches (by their recorded names), stopped and started as one service."""

    def __init__(self, name, description, where, daemons, before_start=None):
        super().__init__(name, description, where)
        self.daemons = daemons
        self.before_start = before_start    # callable(lab): what the service does as it starts

    def active(self, lab):
        return bool(self.daemons) and all(lab.supervisor.running(d) for d in self.daemons)

    def main_pid(self, lab):
        proc = lab.supervisor.running(self.daemons[0]) if self.daemons else None
        return proc.pid if proc else None

    def start(self, lab):
        if self.before_start is not None:
            self.before_start(lab)
        for what in self.daemons:
            lab.supervisor.start(what)

    def stop(self, lab):
        for what in reversed(self.daemons):
            lab.supervisor.stop(what, "stopped by `systemctl stop %s`" % self.name)

    def detail(self, lab):
        out = []
        for what in self.daemons:
            proc = lab.supervisor.running(what)
            pid = inner_pid(proc.pid) if proc else None       # as the node's own `ps` shows it
            out.append("   %s %s" % ("%-7d" % pid if pid else "(ended)", what.split(" ", 1)[1]))
        return out


class Units:
    """Every unit of a lab, by where it runs: the lab's own (Open vSwitch,
    the DHCP and L3 agents, the amphora's) and its control plane's."""

    def __init__(self, lab):
        self.lab = lab

    def of(self, where):
        """{unit name: Unit} on node or amphora `where`."""
        lab = self.lab
        units = []
        if where in lab.nodes:
            units.append(DaemonUnit("openvswitch-switch", "Open vSwitch", where,
                                    ["%s %s" % (where, d) for d, _ in lab.nodes[where].OVS_DAEMONS]))
            dhcp = [h for h in lab.dhcp.values() if h.port.node == where]
            if dhcp:
                units.append(DaemonUnit("neutron-dhcp-agent", "OpenStack Neutron DHCP agent", where,
                                        ["%s dnsmasq" % h.name for h in dhcp],
                                        before_start=lambda lab, hosts=dhcp: _dhcp_files(lab, hosts)))
            routers = [h for h in lab.routers.values() if h.router.node == where]
            routers += [h for h in list(lab.dvr.values()) + list(lab.ha.values())
                        if h.node_name == where]        # DVR's qrouter-, snat-, fip-; HA's qrouter-
            if routers:
                units.append(L3AgentUnit(where, routers))
            # the metadata path (topologies/metadata.py); the routers' haproxy are the L3 agent's children,
            # which outlive it as its namespaces do
            recorded = {p.what for p in lab.state.processes}
            if "%s neutron-metadata-agent" % where in recorded:
                name, description = lab.plane.METADATA_AGENT
                units.append(DaemonUnit(name, description, where, ["%s neutron-metadata-agent" % where]))
            if "%s nova-api-metadata" % where in recorded:
                units.append(DaemonUnit("nova-api-metadata", "OpenStack Compute metadata API", where,
                                        ["%s nova-api-metadata" % where]))
        elif where in lab.instances:
            lbs = [lb for lb in lab.scenario.load_balancers.values() if lb.amphora == where]
            for lb in lbs:
                units.append(DaemonUnit("amphora-agent", "OpenStack Octavia Amphora Agent", where,
                                        ["%s amphora-agent" % where]))
                units.append(DaemonUnit("haproxy-%s" % lb.id, "HAProxy Load Balancer", where,
                                        ["%s haproxy" % where]))
        units += lab.plane.units(where)
        return {u.name: u for u in units}

    def run(self, where, unit, action):
        """`systemctl ACTION UNIT` on `where`: (exit code, output)."""
        if action not in ACTIONS:
            return 1, "Unknown command verb %s." % action
        units = self.of(where)
        if action == "list-units":
            return 0, _listing(self.lab, units)
        name = unit[:-len(".service")] if unit.endswith(".service") else unit
        u = units.get(name)
        if u is None:
            if action in ("status", "is-active"):
                return 4, "Unit %s.service could not be found." % name
            return 5, "Failed to %s %s.service: Unit %s.service not found." % (action, name, name)
        if action == "status":
            return (0 if u.active(self.lab) else 3), _status(self.lab, u)
        if action == "is-active":
            return (0, "active") if u.active(self.lab) else (3, "inactive")
        try:
            getattr(u, action)(self.lab)
        except LabError as e:
            return 1, "Job for %s.service failed: %s" % (name, e)
        return 0, ""


def _status(lab, u):
    active = u.active(lab)
    pid = u.main_pid(lab)
    pid = inner_pid(pid) if pid is not None else None
    lines = ["\u25cf %s.service - %s" % (u.name, u.description),
             "     Loaded: loaded (emulated by stacklab on %s)" % u.where,
             "     Active: %s" % ("active (running)" if active else "inactive (dead)")]
    if pid is not None:
        lines.append("   Main PID: %d" % pid)
    return "\n".join(lines + u.detail(lab))


def _listing(lab, units):
    lines = ["  %-40s %-8s %-8s %s" % ("UNIT", "ACTIVE", "SUB", "DESCRIPTION")]
    for u in sorted(units.values(), key=lambda u: u.name):
        active = u.active(lab)
        lines.append("  %-40s %-8s %-8s %s" % (u.name + ".service", "active" if active else "inactive",
                                               "running" if active else "dead", u.description))
    return "\n".join(lines + ["", "%d loaded units listed." % len(units)])


def _dhcp_files(lab, hosts):
    """What the DHCP agent does as it starts: every network's files written again from neutron's data."""
    for host in hosts:
        host.write_files(lab.scenario)


class L3AgentUnit(Unit):
    """neutron's L3 agent: its routers' namespaces outlive it; starting it
    renders every router's NAT rules again from neutron's data (what a full
    sync of the agent does; a DVR router's ARP entries and SNAT routing too),
    stopping it changes nothing in the data plane."""

    def __init__(self, where, routers):
        super().__init__("neutron-l3-agent", "OpenStack Neutron Layer 3 agent", where)
        self.routers = routers

    def _record(self, lab):
        return lab.state.nodes[self.where].setdefault("l3_agent", {})

    def active(self, lab):
        return not self._record(lab).get("stopped")

    def start(self, lab):
        for host in self.routers:
            script(host, host.agent_sync_script(lab.scenario), "the L3 agent's state of %s" % host.name)
        self._record(lab).pop("stopped", None)
        lab.state.save()

    def stop(self, lab):
        self._record(lab)["stopped"] = time.time()
        lab.state.save()

    def detail(self, lab):
        return ["   routers: %s" % ", ".join(h.name for h in self.routers)]
