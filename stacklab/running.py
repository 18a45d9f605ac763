"""A running lab seen from outside: run commands inside its nodes and
instances through their recorded namespaces (what `stacklab exec`, the checks
and the CLI use). Needs no Mininet objects, so it works from any process."""

import os
import subprocess

from stacklab.errors import LabError
from stacklab.state import LabState


class RunningLab:
    def __init__(self, state):
        self.state = state
        self.name = state.name
        self._prober = None
        self.scenario = None        # set by whoever runs checks against it

    @property
    def prober(self):
        from stacklab.probes import Prober
        if self._prober is None:
            self._prober = Prober()
        return self._prober

    def probe(self, where, func, *args):
        """Run a probe function of stacklab.probes inside `where`'s network
        namespace (scapy is loaded once per RunningLab)."""
        return self.prober.run(self.state.holder(where).pid, func, *args)

    def start_probe(self, where, func, *args):
        """Start a watching probe inside `where` (it returns once watching); finish_probe() collects it."""
        return self.prober.start(self.state.holder(where).pid, func, *args)

    def finish_probe(self, handle):
        return self.prober.finish(handle)

    @classmethod
    def open(cls, name):
        state = LabState.load(name)
        if state.phase != "up":
            raise LabError("lab %s is not up (it is %s); `stacklab down %s` cleans it up"
                           % (name, state.phase, name))
        return cls(state)

    def argv(self, where, argv):
        """The command line that runs `argv` inside node/instance `where`."""
        holder = self.state.holder(where)
        return ["mnexec", "-a", str(holder.pid)] + list(argv)

    def run(self, where, argv, timeout=30, check=False, input=None):
        """Run `argv` inside `where`; returns CompletedProcess (text)."""
        if isinstance(argv, str):
            argv = ["sh", "-c", argv]
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
