"""A running lab seen from outside: run commands inside its nodes and
instances through their recorded namespaces (what `stacklab exec`, the checks
and the CLI use). Needs no Mininet objects, so it works from any process."""

import os
import subprocess
import time

from stacklab.errors import LabError
from stacklab.naming import host_path, invocation
from stacklab.runtime import health
from stacklab.runtime.state import LabState


class RunningLab:
    def __init__(self, state):
        self.state = state
        self.name = state.name
        self._prober = None
        self._scenario = None
        self.dead = []              # the lab's dead processes ("<where> <daemon>"), as the last health check saw

    @property
    def scenario(self):
        """The scenario the lab runs (read from its record when first asked;
        a holder that changes the lab sets the new one)."""
        if self._scenario is None:
            self._scenario = self.state.scenario()
        return self._scenario

    @scenario.setter
    def scenario(self, scenario):
        self._scenario = scenario

    def reload_scenario(self):
        """The scenario the lab runs now (`apply` may have changed it since)."""
        self._scenario = None
        return self.scenario

    @property
    def prober(self):
        from stacklab.observe.probes import Prober
        if self._prober is None:
            self._prober = Prober()
        return self._prober

    def probe(self, where, func, *args):
        """Run a probe function of stacklab.observe.probes inside `where`'s network
        namespace (scapy is loaded once per RunningLab)."""
        return self.prober.run(self.state.holder(where).pid, func, *args)

    def start_probe(self, where, func, *args):
        """Start a watching probe inside `where` (it returns once watching); finish_probe() collects it."""
        return self.prober.start(self.state.holder(where).pid, func, *args)

    def finish_probe(self, handle):
        return self.prober.finish(handle)

    @classmethod
    def open(cls, name, waiting=None, patience=900.0):
        """The running lab `name`. One still building is waited for (`waiting()`
        is called once: say so); one being removed, or whose builder died, is
        refused with what to do."""
        state = LabState.load(name)
        deadline = time.monotonic() + patience
        told = False
        while state.phase == "building" and state.keeper is not None and state.keeper.alive():
            if not told and waiting is not None:
                waiting()
                told = True
            if time.monotonic() > deadline:
                raise LabError("lab %s is still building after %.0f s" % (name, patience))
            time.sleep(0.2)
            state = LabState.load(name)
        if state.phase == "up":
            return cls(state)
        if state.phase == "removing":
            raise LabError("lab %s is being removed" % name)
        if state.unreadable:
            raise LabError("lab %s has an unreadable record (%s): %s removes it"
                           % (name, state.unreadable, invocation("down " + name)))
        raise LabError("lab %s is not up (it is %s, and nothing builds it any more): %s removes "
                       "what is left" % (name, state.phase, invocation("down " + name)))

    def argv(self, where, argv):
        """The command line that runs `argv` inside node/instance `where`: its
        network, mount, UTS and PID namespaces, its own commands first on PATH."""
        holder = self.state.holder(where)
        return ["nsenter", "-t", str(holder.pid), "-p", "-n", "-m", "-u", "--", "env", "PATH=" + host_path()] + list(argv)

    def run(self, where, argv, timeout=30, check=False, input=None):
        """Run `argv` inside `where`; returns CompletedProcess (text). An Open
        vSwitch command whose daemon is dead there fails at once, naming it
        (an ovs-vsctl would wait for a dead ovsdb-server until its timeout)."""
        if isinstance(argv, str):
            argv = ["sh", "-c", argv]
        if self.dead:
            why = health.blocking(self.dead, where, argv, self.name)
            if why:
                raise LabError(why)
        try:
            proc = subprocess.run(self.argv(where, argv), capture_output=True, text=True, timeout=timeout,
                                  input=input)
        except subprocess.TimeoutExpired:
            raise LabError("%s on %s did not finish within %ds" % (" ".join(argv), where, timeout))
        if check and proc.returncode != 0:
            raise LabError("%s on %s failed (%d): %s" % (" ".join(argv), where, proc.returncode,
                                                         (proc.stderr or proc.stdout).strip()))
        return proc

    def exec_(self, where, argv):
        """Replace this process with `argv` inside `where` (for `stacklab exec`)."""
        full = self.argv(where, argv)
        os.execvp(full[0], full)

    def is_node(self, name):
        return name in self.state.nodes

    def is_instance(self, name):
        return name in self.state.instances
