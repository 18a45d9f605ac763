"""neutron's OVS agents as the lab runs them: one process for all of a lab's
nodes (controller/neutron/agent.py), started in the lab's fabric namespace,
listening inside each node's own network namespace where the node's bridges
connect. The lab tells it, in one file, each node's namespace, plan, status
file and OVSDB socket (the node's private files, seen from outside)."""

import json
import os
import shlex
import sys
import time

from stacklab import naming
from stacklab.errors import LabError
from topologies import plumbing
from topologies.controlplanes.base import ControlPlane
from topologies.node import tail
from topologies.plans import node_plan
from topologies.shell import script
from topologies.units import Unit


class AgentHost:
    """The agents' process: its config, log and pid in <lab>/agents/."""

    WHAT = "agents neutron-openvswitch-agent"       # as the lab records it: every node's agent

    def __init__(self, workdir):
        self.dir = workdir

    def _path(self, name):
        return os.path.join(self.dir, name)

    def write_config(self, nodes):
        """`nodes`: the CloudNodes whose agents it runs."""
        os.makedirs(self.dir, exist_ok=True)
        with open(self._path("nodes.json"), "w") as f:
            json.dump([node.agent_spec() for node in nodes], f, indent=1)

    def start_script(self):
        return ("{py} -m controller.neutron.agent --nodes {conf} --log {log} </dev/null >>{log} 2>&1 &\n"
                "echo $! > {pid}").format(py=shlex.quote(sys.executable), conf=shlex.quote(self._path("nodes.json")),
                                          log=shlex.quote(self.log_path()), pid=shlex.quote(self._path("agent.pid")))

    def pidfile(self):
        return self._path("agent.pid")

    def pid(self):
        with open(self.pidfile()) as f:
            return int(f.read().split()[0])

    def log_path(self):
        return self._path("openvswitch-agent.log")

    def log_tail(self, lines=5):
        return tail(self.log_path(), lines)


class NeutronAgents(ControlPlane):
    """neutron's OVS agent on every node (one process for them all, in the
    fabric namespace): br-int, br-tun with the node's VXLAN ports, a bridge
    per bridge_mappings entry, each programmed by its node's agent from the
    plan the lab writes in the node's /var/lib/neutron."""

    NAME = "neutron's OVS agents"

    def __init__(self, lab):
        super().__init__(lab)
        self.process = AgentHost(os.path.join(lab.state.dir, "agents"))

    def bridge_names(self, node):
        names = [naming.INTEGRATION_BRIDGE]
        if node.tunnel_ip is not None:
            names.append(naming.TUNNEL_BRIDGE)
        return names + node.physical_bridges

    def bridges_script(self, node):
        return plumbing.bridges_script(node, self.scenario.tunnel_peers(node.name), self.scenario.datapath_type)

    def start(self):
        self.update_plans()
        self.process.write_config(self.lab.nodes.values())
        script(self.lab.fabric, self.process.start_script(), "starting the OVS agents")
        self.lab.watch(self.process.WHAT, self.lab.FABRIC, self.process.start_script(), self.process.pidfile())
        return "openvswitch-agent for %d nodes" % len(self.lab.nodes)

    def unprogrammed(self):
        out = []
        for name, host in self.lab.nodes.items():
            bridges = (host.agent_status() or {}).get("bridges", {})
            plan = host.agent_plan_stamp()
            for bridge in self.lab.state.nodes[name]["bridges"]:
                if bridge not in bridges:
                    out.append((name, bridge))
                elif bridges[bridge].get("plan") != plan:       # confirmed, but for the plan before
                    out.append((name, "%s with its new plan" % bridge))
            bound = set(bridges.get(naming.INTEGRATION_BRIDGE, {}).get("bound", []))
            out += [(name, "port %s" % p.name) for p in self.scenario.ports(name) if p.name not in bound]
        return out

    def summary(self):
        return "%d flows" % sum(b["flows"] for h in self.lab.nodes.values()
                                for b in (h.agent_status() or {}).get("bridges", {}).values())

    def stalled(self, node, what):
        return "the OVS agent of %s did not program %s" % (node, what)

    def update_plans(self):
        """Every node's plan from the scenario (an unchanged one is not
        rewritten: its agent would look at it again)."""
        return [name for name, host in self.lab.nodes.items()
                if host.write_agent_plan(node_plan(self.scenario, name))]

    def update_tunnels(self, old, new):
        """With l2population a node has tunnels only to nodes it shares a
        network with: ports that come or go add or remove br-tun's VXLAN ports."""
        done = []
        for name, node in new.nodes.items():
            before, after = set(old.tunnel_peers(name)), set(new.tunnel_peers(name))
            if before == after:
                continue
            lines = [plumbing.tunnel_port_script(node, ip) for ip in sorted(after - before)]
            lines += ["ovs-vsctl --if-exists del-port %s %s" % (naming.TUNNEL_BRIDGE, naming.vxlan_port_name(ip))
                      for ip in sorted(before - after)]
            script(self.lab.nodes[name], "\n".join(lines), "changing the tunnels of %s" % name)
            done += ["%s: tunnel to %s added" % (name, ip) for ip in sorted(after - before)]
            done += ["%s: tunnel to %s removed" % (name, ip) for ip in sorted(before - after)]
        return done

    def settle(self):
        """Every node's agent deletes the flows that are not its own, as its
        next resync would; an agent that is stopped, or whose switch is, does
        nothing (as on a node)."""
        units = [AgentUnit(name, self) for name in self.lab.nodes]
        units = [u for u in units if u.active(self.lab) and self._switch_runs(u.where)]
        ids = {u.where: u.request(self.lab, "resync") for u in units}
        for u in units:
            u.wait(self.lab, ids[u.where], "resync")
        return ["%s: the agent removed flows that are not its own" % u.where for u in units]

    def _switch_runs(self, node):
        host = self.lab.nodes[node]
        return all(self.lab.supervisor.running("%s %s" % (node, d)) is not None for d, _ in host.OVS_DAEMONS)

    def units(self, where):
        if where not in self.lab.nodes:
            return []
        return [AgentUnit(where, self)]


class AgentUnit(Unit):
    """neutron-openvswitch-agent on one node. One process serves every
    node's agent; the node's unit asks it (the node's request file) to do
    for this node what stopping, starting or restarting the agent does."""

    SERVICE = "neutron-openvswitch-agent"
    PATIENCE = 30.0

    def __init__(self, where, plane):
        super().__init__(self.SERVICE, "OpenStack Neutron Open vSwitch agent", where)
        self.plane = plane

    def _host(self, lab):
        return lab.nodes[self.where]

    def _status(self, lab):
        return self._host(lab).agent_status() or {}

    def active(self, lab):
        return lab.supervisor.running(AgentHost.WHAT) is not None and not self._status(lab).get("stopped")

    def main_pid(self, lab):
        proc = lab.supervisor.running(AgentHost.WHAT)
        return proc.pid if proc else None

    def request(self, lab, action):
        """Ask the node's agent to do `action`; the request's id."""
        if lab.supervisor.running(AgentHost.WHAT) is None:
            raise LabError("the agents' process is not running (%s)" % AgentHost.WHAT)
        rid = time.time_ns()
        self._host(lab).write_agent_request({"id": rid, "action": action})
        return rid

    def wait(self, lab, rid, action):
        deadline = time.monotonic() + self.PATIENCE
        while (self._status(lab).get("handled") or 0) < rid:
            if time.monotonic() > deadline:
                raise LabError("the OVS agent of %s did not %s within %.0f s" % (self.where, action, self.PATIENCE))
            time.sleep(0.05)

    def ask(self, lab, action):
        """Have the node's agent do `action`; returns once it says it is done."""
        self.wait(lab, self.request(lab, action), action)

    def _tunnels(self, lab):
        """What a starting agent's tunnel sync does: each peer's tunnel port
        set up again (created if missing, its options set as the server says)."""
        node = lab.scenario.nodes[self.where]
        peers = lab.scenario.tunnel_peers(self.where)
        if node.tunnel_ip is not None and peers:
            script(lab.nodes[self.where], "\n".join(plumbing.tunnel_port_script(node, ip) for ip in peers),
                   "the tunnel ports of %s" % self.where)

    def start(self, lab):
        self._tunnels(lab)
        self.ask(lab, "start")
        lab.wait_for_flows()

    def stop(self, lab):
        self.ask(lab, "stop")

    def restart(self, lab):
        self._tunnels(lab)
        self.ask(lab, "restart")
        lab.wait_for_flows()

    def detail(self, lab):
        status = self._status(lab)
        bridges = status.get("bridges", {})
        return ["   (one process is every node's agent; this node's: cookie %s, %d restarts)"
                % (status.get("cookie", "?"), max(0, status.get("starts", 1) - 1)),
                "   bridges programmed: %s" % (", ".join("%s (%d flows)" % (b, i["flows"])
                                                         for b, i in sorted(bridges.items())) or "none")]
