"""Remove a lab from its record alone: every process it started or that lives
in its namespaces (the namespaces and their veths go with them), then its
directory. Works the same after a clean run and after a SIGKILLed one, and
when the record itself is lost: every process of a lab carries the lab's
mark in its environment."""

import os

from stacklab.errors import LabError
from stacklab.runtime.procs import Proc, in_namespaces, marked, namespaces, terminate, wait_gone
from stacklab.runtime.state import LAB_MARK


def pidfiles(directory):
    """Every *.pid under `directory`, never following a symbolic link (a node's
    private directories live here, and a user inside the node may plant one)."""
    for root, dirs, files in os.walk(directory, followlinks=False):
        for name in files:
            if name.endswith(".pid") or name == "pid":
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    yield path


def lab_processes(state):
    """Everything of the lab still running, never matched by name: recorded
    pids (checked by start time), anything inside the lab's namespaces,
    daemons whose pidfiles sit in the lab's directory, and whatever carries
    the lab's mark."""
    procs = {}
    pairs = set(map(tuple, state.namespace_pairs()))
    netns = {p[0] for p in pairs}
    mntns = {p[1] for p in pairs}
    for ns in state.namespaces.values():
        procs[ns["pid"]] = Proc(ns["pid"], ns["start"], "namespace holder")
    for p in state.processes:
        procs.setdefault(p.pid, p)
    for p in in_namespaces(pairs):
        procs.setdefault(p.pid, p)
    for pidfile in pidfiles(state.dir):
        try:
            with open(pidfile) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        ns = namespaces(pid)
        if ns is not None and (ns[0] in netns or ns[1] in mntns):
            procs.setdefault(pid, Proc(pid, what=os.path.basename(pidfile)))
    for p in marked(LAB_MARK, state.mark):
        procs.setdefault(p.pid, p)
    me = os.getpid()
    return [p for p in procs.values() if p.pid != me and p.alive()]


def sweep(state, grace=1.0, reap_within=5.0):
    """End the lab's processes, wait until they are reaped (not left as
    zombies), and remove its directory. Raises LabError naming what would
    not end or go (the directory is then kept, to try again): a sweep never
    passes over a leak. Returns the processes that ended but were not reaped
    in time (orphans whose zombies only init can collect, after a keeper was
    killed)."""
    shells = {ns["pid"] for ns in state.namespaces.values()}
    procs = lab_processes(state)
    stubborn = terminate(procs, grace, kill_now=shells)
    if stubborn:
        raise LabError("lab %s: could not end %s" % (state.name, ", ".join(map(repr, stubborn))))
    lingering = wait_gone(procs, reap_within)
    # what started while we were ending the rest (a daemon's child, a restart): once more
    late = lab_processes(state)
    if late:
        stubborn = terminate(late, grace)
        if stubborn:
            raise LabError("lab %s: could not end %s" % (state.name, ", ".join(map(repr, stubborn))))
        lingering += wait_gone(late, reap_within)
    state.remove_dir()
    return lingering
