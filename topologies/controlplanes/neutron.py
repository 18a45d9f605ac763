"""neutron's OVS agents as the lab runs them: one process for all of a lab's
nodes (controller/neutron/agent.py), started in the lab's fabric namespace,
listening inside each node's own network namespace where the node's bridges
connect. The lab tells it, in one file, each node's namespace, plan, status
file and OVSDB socket (the node's private files, seen from outside)."""

import json
import os
import shlex
import sys

from stacklab import naming
from topologies import plumbing
from topologies.controlplanes.base import ControlPlane
from topologies.node import tail
from topologies.plans import node_plan
from topologies.shell import script


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
