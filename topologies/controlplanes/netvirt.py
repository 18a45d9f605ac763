"""The Mininet side of OpenDaylight netvirt: a node's bridges as ODL's
southbound leaves them (one br-int speaking OpenFlow 1.3 to the central
controller, with its tunnel ports and the provider NIC on it; no br-tun, no
patch ports) and the controller process (controller/netvirt/app.py), which
the SDN controller node owns, behind the lab's ControlPlane."""

import os
import shlex
import sys

from controller.netvirt import plan as nv
from stacklab import naming
from stacklab.runtime.procs import read_pidfile
from stacklab.scenario.netvirt import controller_address
from topologies import plumbing
from topologies.controlplanes.base import ControlPlane
from topologies.node import read_json, tail
from topologies.plans import netvirt_plan
from topologies.shell import script
from topologies.units import DaemonUnit

ODL_DIR = "/var/lib/odl"
PROTOCOLS = "OpenFlow13"


def controller_target(scenario):
    return "tcp:%s:%d" % (controller_address(scenario), scenario.sdn_port)


def bridges_script(node, scenario):
    """br-int for the controller (datapath id from the scenario, so the
    controller knows which node connected), its VXLAN ports (key=flow: the
    flows choose tun_id) and provider NIC at their pinned port numbers; the
    underlay bridges with the node's tunnel address (userspace tunnels need
    it on a bridge: platform notes) switching by themselves."""
    br = naming.INTEGRATION_BRIDGE
    if node.datapath_id is None:        # OpenDaylight's own node: the underlay at most
        args = []
    else:
        args = ["--", "--may-exist", "add-br", br, "--", "set", "Bridge", br, "datapath_type=" + scenario.datapath_type,
                "fail_mode=secure", "protocols=" + PROTOCOLS, "other_config:datapath-id=%016x" % node.datapath_id,
                "other_config:disable-in-band=true", "--", "set-controller", br, controller_target(scenario)]
    provider = next(iter(node.provider_mappings.values()), None)
    if provider is not None:
        args += ["--", "--may-exist", "add-port", br, provider]
        if node.provider_ofport is not None:
            args += ["--", "set", "Interface", provider, "ofport_request=%d" % node.provider_ofport]
    for peer, tunnel in node.tunnels.items():
        args += ["--", "--may-exist", "add-port", br, tunnel.name, "--", "set", "Interface", tunnel.name,
                 "type=vxlan", "options:key=flow", "options:local_ip=%s" % node.tunnel_ip,
                 "options:remote_ip=%s" % scenario.nodes[peer].tunnel_ip]
        if tunnel.ofport is not None:
            args.append("ofport_request=%d" % tunnel.ofport)
    args += plumbing.standalone_bridges_args(node, scenario.datapath_type)
    owned = [nic.name for nic in node.nics.values() if nic.bridge] + ([provider] if provider else [])
    # the management address first: br-int connects to the controller as soon as it exists
    return "\n".join(plumbing.node_network_lines(node, args, owned))


def bridge_names(node):
    """The bridges a netvirt node has: br-int (if it is a switch) and the underlay's."""
    return ([naming.INTEGRATION_BRIDGE] if node.datapath_id is not None else []) + node.physical_bridges


class OpenDaylight:
    """The netvirt controller on its node: the plan it reads, the status it
    writes, its pid and log, all in the node's /var/lib/odl (seen from
    outside in the node's work directory)."""

    LOG = ODL_DIR + "/netvirt.log"
    PIDFILE = ODL_DIR + "/netvirt.pid"

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "odl")

    def binds(self):
        """The node's private /var/lib/odl."""
        return [(ODL_DIR, self.dir)]

    def _outside(self, inside):
        return os.path.join(self.dir, os.path.relpath(inside, ODL_DIR))

    def write_plan(self, plan):
        os.makedirs(self.dir, exist_ok=True)
        plan.write(self._outside(nv.PLAN_FILE))

    def start_script(self, listen, port):
        return ("{py} -m controller.netvirt.app --listen {ip} --port {port} --log {log} </dev/null >>{log} 2>&1 &\n"
                "echo $! > {pid}").format(py=shlex.quote(sys.executable), ip=listen, port=port, log=self.LOG,
                                          pid=self.PIDFILE)

    def pidfile(self):
        return self._outside(self.PIDFILE)

    def pid(self, holder):
        """Its pid as the lab sees it (`holder`: its node's shell; the pidfile holds the node's number)."""
        return read_pidfile(self.pidfile(), holder)

    def status(self):
        """The controller's last word on each node (None before any)."""
        return read_json(self._outside(nv.STATUS_FILE))

    def log_path(self):
        return self._outside(self.LOG)

    def log_tail(self, lines=5):
        return tail(self.log_path(), lines)


class Netvirt(ControlPlane):
    """OpenDaylight netvirt: one controller on the scenario's SDN controller
    node programs every node's br-int; routers are its flows (no qrouter-)."""

    NAME = "netvirt"

    def __init__(self, lab):
        super().__init__(lab)
        self.node = self.scenario.sdn_controller
        self.process = OpenDaylight(os.path.join(lab.state.dir, "nodes", self.node))

    def binds(self):
        return {self.node: self.process.binds()}

    def bridge_names(self, node):
        return bridge_names(node)

    def bridges_script(self, node):
        return bridges_script(node, self.scenario)

    def start(self):
        """One controller for the whole cloud, listening where every br-int's controller points."""
        self.process.write_plan(netvirt_plan(self.scenario))
        start = self.process.start_script(controller_address(self.scenario), self.scenario.sdn_port)
        script(self.lab.nodes[self.node], start, "starting the netvirt controller")
        self.lab.watch("%s netvirt" % self.node, self.node, start, self.process.pidfile())
        target = controller_target(self.scenario)
        self.lab.state.nodes[self.node]["runs"] = "netvirt, listening on %s" % target.split(":", 1)[1]
        return "netvirt on %s (%s)" % (self.node, target)

    def status(self):
        """The controller's last word on each node (None before any)."""
        return self.process.status()

    def unprogrammed(self):
        full = self.status() or {}
        status = full.get("nodes", {})
        out = [] if full.get("settled") else [("every node", "the last changes")]
        for node in self.scenario.nodes.values():
            if node.datapath_id is None:
                continue
            if node.name not in status:
                out.append((node.name, naming.INTEGRATION_BRIDGE))
                continue
            bound = set(status[node.name]["bound"])
            out += [(node.name, "port %s" % p.name) for p in self.scenario.ports(node.name) if p.name not in bound]
        return out

    def units(self, where):
        if where != self.node:
            return []
        return [DaemonUnit("opendaylight", "OpenDaylight (netvirt)", where, ["%s netvirt" % where])]

    def summary(self):
        nodes = (self.status() or {}).get("nodes", {}).values()
        return "%d flows, %d groups" % (sum(n["flows"] for n in nodes), sum(n["groups"] for n in nodes))
