"""The record of a running lab, kept in /run/stacklab/<lab>/state.json and
rewritten as the lab grows, so that `stacklab down` can remove everything
even after the process that built it was killed."""

import json
import os
import shutil
import time
import uuid

from stacklab.errors import LabError
from stacklab.procs import Proc

RUN_ROOT = os.environ.get("STACKLAB_RUN_DIR", "/run/stacklab")


def lab_dir(name):
    return os.path.join(RUN_ROOT, name)


class LabState:
    """What a lab created: its namespaces (each held by a recorded process),
    the processes it started, and its directory."""

    def __init__(self, name, scenario_file=None, created=None, lab_id=None):
        self.name = name
        self.scenario_file = scenario_file
        self.created = created or time.time()
        self.id = lab_id or uuid.uuid4().hex     # tells this lab from a later one of the same name
        self.phase = "building"
        self.keeper = None            # Proc of the process that holds the lab
        self.namespaces = {}          # name -> {"kind", "pid", "start", "netns", "mntns"}
        self.processes = []           # [Proc]
        self.nodes = {}               # node name -> {"role", "bridges"}
        self.instances = {}           # instance -> {"node", "ip", "mac", "tap", "network"}
        self.hosts = {}               # external host -> {"physical_network", "ip"}
        self.datapath_type = None     # set when `--datapath` overrode the scenario's

    @property
    def dir(self):
        return lab_dir(self.name)

    @property
    def path(self):
        return os.path.join(self.dir, "state.json")

    # -- creating ------------------------------------------------------------
    @classmethod
    def create(cls, name, scenario_file, keeper=None):
        """Claim the lab's directory; refuse when the lab exists already.
        `keeper`: the process that builds and holds it (what `down` signals)."""
        os.makedirs(RUN_ROOT, exist_ok=True)
        try:
            os.mkdir(lab_dir(name))
        except FileExistsError:
            raise LabError("lab %s is already up (or was left by a killed run): "
                           "`stacklab down %s` removes it" % (name, name))
        state = cls(name, scenario_file)
        state.keeper = keeper
        state.save()
        return state

    def add_namespace(self, name, kind, pid, netns, mntns):
        proc = Proc(pid)
        self.namespaces[name] = {"kind": kind, "pid": proc.pid, "start": proc.start,
                                 "netns": netns, "mntns": mntns}

    def add_process(self, pid, what):
        self.processes.append(Proc(pid, what=what))

    def save(self):
        data = {
            "name": self.name, "id": self.id, "scenario_file": self.scenario_file, "created": self.created,
            "phase": self.phase, "keeper": self.keeper.to_dict() if self.keeper else None,
            "namespaces": self.namespaces, "processes": [p.to_dict() for p in self.processes],
            "nodes": self.nodes, "instances": self.instances, "hosts": self.hosts,
            "datapath_type": self.datapath_type,
        }
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    # -- reading -------------------------------------------------------------
    @classmethod
    def load(cls, name):
        path = os.path.join(lab_dir(name), "state.json")
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            if os.path.isdir(lab_dir(name)):
                state = cls(name)       # killed before its first record: only the directory is left
                state.phase, state.id = "unknown", None
                return state
            raise LabError("no lab named %s is up (running: %s)" % (name, ", ".join(running_labs()) or "none"))
        except ValueError:
            state = cls(name)
            state.phase, state.id = "unknown", None
            return state
        state = cls(data["name"], data.get("scenario_file"), data.get("created"), data.get("id"))
        state.phase = data.get("phase", "unknown")
        state.keeper = Proc.from_dict(data["keeper"]) if data.get("keeper") else None
        state.namespaces = data.get("namespaces", {})
        state.processes = [Proc.from_dict(p) for p in data.get("processes", [])]
        state.nodes = data.get("nodes", {})
        state.instances = data.get("instances", {})
        state.hosts = data.get("hosts", {})
        state.datapath_type = data.get("datapath_type")
        return state

    def holder(self, name):
        """The live process whose namespaces are those of node/instance/host `name`."""
        ns = self.namespaces.get(name)
        if ns is None:
            raise LabError("lab %s has no node, instance or host named %s (it has: %s)"
                           % (self.name, name, ", ".join(sorted(self.reachable()))))
        proc = Proc(ns["pid"], ns["start"])
        if not proc.alive():
            raise LabError("%s of lab %s is no longer running (`stacklab down %s` cleans up)"
                           % (name, self.name, self.name))
        return proc

    # what the CLI and `stacklab exec` reach: every namespace but the fabric and nested ones
    REACHABLE = ("node", "instance", "host", "dhcp", "router")

    def reachable(self):
        return [name for name, ns in self.namespaces.items() if ns["kind"] in self.REACHABLE]

    def namespace_pairs(self):
        return [(ns["netns"], ns["mntns"]) for ns in self.namespaces.values()]

    def remove_dir(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def running_labs():
    try:
        return sorted(d for d in os.listdir(RUN_ROOT) if os.path.isdir(os.path.join(RUN_ROOT, d)))
    except FileNotFoundError:
        return []
