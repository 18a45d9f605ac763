"""The record of a running lab, kept in /run/stacklab/<lab>/state.json and
rewritten as the lab grows, so that `stacklab down` can remove everything
even after the process that built it was killed."""

import json
import os
import shutil
import time
import uuid

from stacklab.errors import LabError
from stacklab.naming import invocation, lab_name_problem
from stacklab.runtime.procs import Proc

RUN_ROOT = os.environ.get("STACKLAB_RUN_DIR", "/run/stacklab")


def check_lab_name(name):
    """Refuse anything but a lab name before it is joined to a path: '.',
    '..', '../x' and absolute paths would name directories outside the run
    directory."""
    problem = lab_name_problem(name)
    if problem:
        raise LabError(problem)
    return name


def lab_dir(name):
    return os.path.join(RUN_ROOT, check_lab_name(name))


def inside_run_root(path):
    """Whether `path` is a real directory right under the run directory (not
    a symbolic link, not resolving anywhere else): the only kind a sweep removes."""
    if os.path.islink(path) or not os.path.isdir(path):
        return False
    return os.path.dirname(os.path.realpath(path)) == os.path.realpath(RUN_ROOT)


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
        self.processes = []           # [Proc], each named "<where> <daemon>" (stacklab/runtime/health.py)
        self.daemons = {}             # "<where> <daemon>" -> {"restart": bool, "restarts": n, "last": why}
        self.nodes = {}               # node name -> {"role", "bridges"}
        self.instances = {}           # instance -> {"node", "ip", "mac", "tap", "network"}
        self.hosts = {}               # external host -> {"physical_network", "ip"}
        self.datapath_type = None     # set when `--datapath` overrode the scenario's
        self.unreadable = None        # why state.json could not be read (None: it was)
        self._keeper_written = None

    @property
    def dir(self):
        return lab_dir(self.name)

    @property
    def mark(self):
        """The value of LAB_MARK in the environment of every process of this
        lab: what finds them when the record is lost (teardown.py)."""
        return self.dir

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
                           "%s removes it" % (name, invocation("down " + name)))
        state = cls(name, scenario_file)
        state.keeper = keeper
        state.save()
        return state

    def add_namespace(self, name, kind, pid, netns, mntns):
        proc = Proc(pid)
        self.namespaces[name] = {"kind": kind, "pid": proc.pid, "start": proc.start,
                                 "netns": netns, "mntns": mntns}

    def add_process(self, pid, what, restart=None):
        """Record process `pid` as `what` ("<where> <daemon>"), in place of an
        earlier one of that name (a restarted daemon). `restart`: whether the
        keeper starts it again when it dies (None: not a daemon it watches)."""
        self.processes = [p for p in self.processes if p.what != what]
        self.processes.append(Proc(pid, what=what))
        if restart is not None:
            self.daemons.setdefault(what, {"restarts": 0})["restart"] = restart

    def forget_processes(self, where):
        """Drop the records of everything that ran at `where` (an instance removed)."""
        self.processes = [p for p in self.processes if p.what.split(" ", 1)[0] != where]
        self.daemons = {w: d for w, d in self.daemons.items() if w.split(" ", 1)[0] != where}

    def save(self):
        data = {
            "name": self.name, "id": self.id, "scenario_file": self.scenario_file, "created": self.created,
            "phase": self.phase, "keeper": self.keeper.to_dict() if self.keeper else None,
            "namespaces": self.namespaces, "processes": [p.to_dict() for p in self.processes],
            "nodes": self.nodes, "instances": self.instances, "hosts": self.hosts,
            "datapath_type": self.datapath_type, "daemons": self.daemons,
        }
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)
        if self.keeper is not None and self._keeper_written != (self.keeper.pid, self.keeper.start):
            self._write_keeper()

    KEEPER_FILE = "keeper"

    def _write_keeper(self):
        """The keeper also in a file of its own: it carries no mark a sweep
        could find (it marked itself after it started), and a lost
        state.json must not leave it holding the lab."""
        path = os.path.join(self.dir, self.KEEPER_FILE)
        with open(path + ".tmp", "w") as f:
            f.write("%d %d\n" % (self.keeper.pid, self.keeper.start or 0))
        os.replace(path + ".tmp", path)
        self._keeper_written = (self.keeper.pid, self.keeper.start)

    @classmethod
    def _read_keeper(cls, directory):
        try:
            with open(os.path.join(directory, cls.KEEPER_FILE)) as f:
                pid, start = (int(x) for x in f.read().split()[:2])
        except (OSError, ValueError):
            return None
        return Proc(pid, start, what="keeper")

    SNAPSHOT = "scenario.yaml"

    def save_snapshot(self, scenario):
        """Keep the text the lab was built (or last changed) from: what it
        runs is that, whatever happens to the file afterwards."""
        if scenario.text is None:
            return
        path = os.path.join(self.dir, self.SNAPSHOT)
        with open(path + ".tmp", "w") as f:
            f.write(scenario.text)
        os.replace(path + ".tmp", path)
        self.scenario_file = os.path.abspath(scenario.file)
        self.save()

    def scenario(self):
        """The scenario the lab runs: its snapshot (the file, for a lab of an
        older stacklab), with the datapath it was built with (`--datapath`
        may have overridden the file's)."""
        from stacklab.scenario.loader import find_scenario, load_scenario    # (down and status need none of it)
        try:
            with open(os.path.join(self.dir, self.SNAPSHOT)) as f:
                scenario = load_scenario(self.scenario_file, text=f.read())
        except FileNotFoundError:
            scenario = load_scenario(find_scenario(self.scenario_file))
        if self.datapath_type:
            scenario.datapath_type = self.datapath_type
        return scenario

    def mark_removing(self):
        """Say in the record that the lab is being removed (a `check` or
        `apply` that comes now is refused, not half run)."""
        if self.unreadable or not os.path.isdir(self.dir):
            return
        self.phase = "removing"
        try:
            self.save()
        except OSError:
            pass

    # -- reading -------------------------------------------------------------
    @classmethod
    def load(cls, name):
        directory = lab_dir(name)
        if os.path.islink(directory):
            raise LabError("%s is a symbolic link, not a lab's directory: stacklab does not follow it "
                           "(remove it yourself if it is not yours)" % directory)
        path = os.path.join(directory, "state.json")
        try:
            with open(path) as f:
                data = json.load(f)
            if not isinstance(data, dict) or "name" not in data:
                raise ValueError("not a lab's record")
        except FileNotFoundError:
            if os.path.isdir(directory):
                state = cls(name)       # killed before its first record: only the directory is left
                state.phase, state.id = "unknown", None
                return state
            raise LabError("no lab named %s is up (running: %s)" % (name, ", ".join(running_labs()) or "none"))
        except (ValueError, OSError) as e:
            state = cls(name)           # its processes are still found by their mark (teardown.py)
            state.phase, state.id, state.unreadable = "unknown", None, "%s: %s" % (path, e)
            state.keeper = cls._read_keeper(directory)
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
        state.daemons = data.get("daemons", {})
        return state

    def holder(self, name):
        """The live process whose namespaces are those of node/instance/host `name`."""
        ns = self.namespaces.get(name)
        if ns is None:
            raise LabError("lab %s has no node, instance or host named %s (it has: %s)"
                           % (self.name, name, ", ".join(sorted(self.reachable()))))
        proc = Proc(ns["pid"], ns["start"])
        if not proc.alive():
            raise LabError("%s of lab %s is no longer running (%s cleans up)"
                           % (name, self.name, invocation("down " + self.name)))
        return proc

    # what the CLI and `stacklab exec` reach: every namespace but the fabric and nested ones
    REACHABLE = ("node", "instance", "host", "dhcp", "router")

    def reachable(self):
        return [name for name, ns in self.namespaces.items() if ns["kind"] in self.REACHABLE]

    def namespace_pairs(self):
        return [(ns["netns"], ns["mntns"]) for ns in self.namespaces.values()]

    def remove_dir(self):
        """Remove the lab's directory, and nothing else: never through a
        symbolic link, never outside the run directory."""
        if not os.path.lexists(self.dir):
            return
        if not inside_run_root(self.dir):
            raise LabError("%s is not a lab directory inside %s: not removed" % (self.dir, RUN_ROOT))
        shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.lexists(self.dir):
            raise LabError("lab %s: could not remove %s" % (self.name, self.dir))


# The environment variable every process a lab starts inherits (value: the
# lab's directory), so that they are found even when state.json is not.
LAB_MARK = "STACKLAB_LAB"


def running_labs():
    """Every lab on this machine: directories of the run directory named as
    labs are (symbolic links and other names are not labs)."""
    try:
        names = os.listdir(RUN_ROOT)
    except FileNotFoundError:
        return []
    return sorted(d for d in names if lab_name_problem(d) is None and inside_run_root(os.path.join(RUN_ROOT, d)))
