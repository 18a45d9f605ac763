"""neutron's OVS agents as the lab runs them: one process for all of a lab's
nodes (controller/neutron/agent.py), started in the lab's fabric namespace,
listening inside each node's own network namespace where the node's bridges
connect. The lab tells it, in one file, each node's namespace, plan, status
file and OVSDB socket (the node's private files, seen from outside)."""

import json
import os
import shlex
import sys

from topologies.node import tail


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
