"""Remove a lab from its record alone: every process it started or that lives
in its namespaces (the namespaces and their veths go with them), then its
directory. Works the same after a clean run and after a SIGKILLed one."""

import glob
import os

from stacklab.errors import LabError
from stacklab.procs import Proc, in_namespaces, namespaces, terminate, wait_gone


def lab_processes(state):
    """Everything of the lab still running, never matched by name: recorded
    pids (checked by start time), anything inside the lab's namespaces, and
    daemons whose pidfiles sit in the lab's directory."""
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
    for pidfile in glob.glob(os.path.join(state.dir, "**", "*.pid"), recursive=True):
        try:
            pid = int(open(pidfile).read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        ns = namespaces(pid)
        if ns is not None and (ns[0] in netns or ns[1] in mntns):
            procs.setdefault(pid, Proc(pid, what=os.path.basename(pidfile)))
    me = os.getpid()
    return [p for p in procs.values() if p.pid != me and p.alive()]


def sweep(state, grace=1.0, reap_within=5.0):
    """End the lab's processes, wait until they are reaped (not left as
    zombies), and remove its directory. Raises LabError if a process would
    not end (the directory is then kept, to try again). Returns the
    processes that ended but were not reaped in time (orphans whose zombies
    only init can collect, after a keeper was killed)."""
    shells = {ns["pid"] for ns in state.namespaces.values()}
    procs = lab_processes(state)
    stubborn = terminate(procs, grace, kill_now=shells)
    if stubborn:
        raise LabError("lab %s: could not end %s" % (state.name, ", ".join(map(repr, stubborn))))
    lingering = wait_gone(procs, reap_within)
    state.remove_dir()
    return lingering
