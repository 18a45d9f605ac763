"""What systemd does for a real node's daemons: when one dies, start it
again. The holder of a lab (its keeper, or `stacklab run`) calls tick()
whenever a child ended and every second; each watched daemon found dead is
started again by the same command the build used, inside the same
namespaces (nsenter, PID namespace included), after RestartSec, at most
StartLimitBurst times in StartLimitIntervalSec (systemd's defaults), and
the restart is written to <lab>/daemons.log and to the lab's record, where
`stacklab status` shows it.

Which daemons: the ones systemd keeps on a node (ovsdb-server,
ovs-vswitchd, the OVS agents, the netvirt controller, dnsmasq through the
DHCP agent, haproxy and the agent of an amphora), and those a daemon's
manager starts and ends as things change (follow(): an HA router's
metadata proxy, which neutron's L3 agent runs on the master only). An instance's own
processes (its SSH and web servers) are a VM's business: they are reported
dead, not restarted. A scenario (`daemons: {restart: false}`) or an
exercise that kills a daemon on purpose turns restarting off."""

import os
import subprocess
import tempfile
import threading
import time
from collections import deque

from stacklab.errors import LabError
from stacklab.runtime.procs import (EXITS, Proc, exists, exits_heard, how_it_ended, listen_exits, read_pidfile,
                                     reap_one, terminate)
from stacklab.runtime.state import LAB_MARK

RESTART_SEC = 0.1           # systemd's RestartSec default
START_LIMIT_BURST = 5       # ... StartLimitBurst
START_LIMIT_INTERVAL = 10.0  # ... StartLimitIntervalSec
START_TIMEOUT = 30.0


class Daemon:
    """One watched daemon: how to start it again and how to find its pid."""

    def __init__(self, what, where, command, pidfile, after=None, wanted=None):
        self.what = what            # "<where> <daemon>", as recorded
        self.where = where          # the namespace (node, qdhcp-, amphora, fabric) it runs in
        self.command = command      # shell text that starts it (detaching, writing the pidfile)
        self.pidfile = pidfile      # seen from outside
        self.after = after          # callable run once it is back (e.g. a node's addresses)
        self.wanted = wanted        # follow(): whether it should run now (None: always)
        self.starts = deque()       # when it was restarted (the start limit)


def _collect(proc, within=1.0):
    """Reap `proc` if it is our child (its exit status says how it ended), or
    wait for the kernel's word on it (listen_exits(): a daemon in a host's PID
    namespace is that host's shell's child). A multi-threaded daemon is dead
    to /proc before its last thread is gone: give it a moment."""
    deadline = time.monotonic() + within
    while True:
        reap_one(proc.pid)
        if proc.pid in EXITS or time.monotonic() > deadline:
            return
        if not exists(proc) and not exits_heard():
            return
        time.sleep(0.02)


class Supervisor:

    def __init__(self, state, enabled=True):
        self.state = state
        self.enabled = enabled
        self.daemons = {}           # what -> Daemon
        self.lock = threading.RLock()   # a change (apply) and a restart never interleave
        self._thread = None
        self._stop = threading.Event()

    def listen(self):
        """In the lab's holder: hear how its daemons end (procs.listen_exits())."""
        listen_exits(lambda pid: any(p.pid == pid for p in self.state.processes))

    def watch(self, what, where, command, pidfile, pid, after=None):
        """Record daemon `what` (running as `pid`) and restart it when it dies."""
        self.daemons[what] = Daemon(what, where, command, pidfile, after)
        self.state.add_process(pid, what, restart=self.enabled)

    def follow(self, what, where, command, pidfile, wanted):
        """Daemon `what` runs while `wanted()` says so, as a manager keeps it:
        started now if wanted, then started and ended by tick() as that
        changes, and started again when it dies while wanted. Not wanted, it
        has no record (nothing dead to report)."""
        with self.lock:
            self.daemons[what] = Daemon(what, where, command, pidfile, wanted=wanted)
            self._follow(self.daemons[what])
            self.state.save()

    def _follow(self, daemon):
        """Start or end a followed daemon as it is wanted now; whether it changed."""
        record = next((p for p in self.state.processes if p.what == daemon.what), None)
        if daemon.wanted():
            if record is not None:
                return False                # running, or dead: tick()'s restart
            self.state.add_process(self._start(daemon, None), daemon.what, restart=self.enabled)
            self._log("%s started (wanted now)" % daemon.what)
            return True
        if record is None:
            return False
        self._end(record)
        self.state.processes = [p for p in self.state.processes if p.what != daemon.what]
        self.state.daemons.pop(daemon.what, None)
        self._log("%s (pid %d) ended (no longer wanted)" % (daemon.what, record.pid))
        return True

    def forget(self, where):
        """Stop watching what runs at `where` (it is being removed)."""
        self.daemons = {w: d for w, d in self.daemons.items() if d.where != where}

    # -- systemctl stop / start (topologies/units.py) ----------------------------
    def stop(self, what, why="stopped"):
        """End daemon `what` and leave it ended (as `systemctl stop`): the
        record says so, and tick() does not start it again."""
        with self.lock:
            info = self.state.daemons.setdefault(what, {"restarts": 0, "restart": self.enabled})
            info["stopped"] = why
            proc = next((p for p in self.state.processes if p.what == what), None)
            if proc is not None:
                self._end(proc)
            self.state.save()

    @staticmethod
    def _end(proc):
        """End recorded daemon `proc` and forget how it ended (it was asked to)."""
        if terminate([proc]):
            raise LabError("%s would not end" % proc.what)
        _collect(proc)
        EXITS.pop(proc.pid, None)

    def start(self, what):
        """Start daemon `what` (as `systemctl start`) unless it runs; its pid."""
        with self.lock:
            daemon = self.daemons.get(what)
            if daemon is None:
                raise LabError("%s is not a daemon of this lab" % what)
            info = self.state.daemons.setdefault(what, {"restarts": 0, "restart": self.enabled})
            proc = next((p for p in self.state.processes if p.what == what), None)
            if proc is not None and proc.alive():
                info.pop("stopped", None)
                return proc.pid
            pid = self._start(daemon, proc.pid if proc else None)
            self.state.add_process(pid, what, restart=info.get("restart", self.enabled))
            info.pop("stopped", None)
            info.pop("gave_up", None)       # (systemctl start resets the start limit too)
            daemon.starts.clear()
            self.state.save()
        if daemon.after is not None:
            daemon.after()
        return pid

    def running(self, what):
        """The live Proc of daemon `what`, or None."""
        proc = next((p for p in self.state.processes if p.what == what), None)
        return proc if proc is not None and proc.alive() else None

    def tick(self):
        """Start or end each followed daemon as it is wanted now; start again
        every watched daemon that died; returns what was restarted."""
        done = []
        with self.lock:
            followed = [d for d in self.daemons.values() if d.wanted is not None]
            changed = False
            for daemon in followed:
                try:
                    changed |= self._follow(daemon)
                except LabError as e:
                    self._log("%s: %s" % (daemon.what, e))
            if changed:
                self.state.save()
        if not self.enabled:
            return []
        with self.lock:
            recorded = {p.what: p for p in self.state.processes}
            for what, daemon in list(self.daemons.items()):
                proc = recorded.get(what)
                if proc is None or proc.alive() or self.state.daemons.get(what, {}).get("stopped"):
                    continue
                _collect(proc)
                if self._restart(daemon, proc):
                    done.append(what)
            if done:
                self.state.save()
        return done

    def _restart(self, daemon, old):
        info = self.state.daemons.setdefault(daemon.what, {"restarts": 0, "restart": True})
        if info.get("gave_up"):
            return False
        now = time.monotonic()
        while daemon.starts and now - daemon.starts[0] > START_LIMIT_INTERVAL:
            daemon.starts.popleft()
        ended = how_it_ended(old.pid) or "ended"
        EXITS.pop(old.pid, None)
        if len(daemon.starts) >= START_LIMIT_BURST:
            info["gave_up"] = "not restarted: %d restarts within %.0f s" % (START_LIMIT_BURST, START_LIMIT_INTERVAL)
            self._log("%s (pid %d) %s; %s" % (daemon.what, old.pid, ended, info["gave_up"]))
            return False
        daemon.starts.append(now)
        time.sleep(RESTART_SEC)
        try:
            pid = self._start(daemon, old.pid)
        except LabError as e:
            info["last"] = "%s; restart failed" % ended
            self._log("%s (pid %d) %s; restart failed: %s" % (daemon.what, old.pid, ended, e))
            return False
        self.state.add_process(pid, daemon.what, restart=True)
        info["restarts"] = info.get("restarts", 0) + 1
        info["last"] = ended
        self._log("%s (pid %d) %s; started again as pid %d" % (daemon.what, old.pid, ended, pid))
        if daemon.after is not None:
            try:
                daemon.after()
            except LabError as e:
                self._log("%s: after the restart: %s" % (daemon.what, e))
        return True

    def _start(self, daemon, old_pid):
        ns = self.state.namespaces.get(daemon.where)
        holder = Proc(ns["pid"], ns["start"]) if ns else None
        if holder is None or not holder.alive():
            raise LabError("%s is gone" % daemon.where)
        env = dict(os.environ, **{LAB_MARK: self.state.mark})
        # its words go to a file, not a pipe: a daemon that keeps the pipe open would hold us until the timeout
        with tempfile.TemporaryFile("w+") as out:
            try:
                # into the host's namespaces, its PID namespace too: started again, a daemon is where it was
                proc = subprocess.run(["nsenter", "-t", str(holder.pid), "-p", "-n", "-m", "-u", "--",
                                       "sh", "-c", daemon.command], env=env,
                                      stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                      timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise LabError("its start did not finish within %.0f s" % START_TIMEOUT) from None
            if proc.returncode != 0:
                out.seek(0)
                raise LabError("exit %d: %s" % (proc.returncode, out.read().strip()[-300:]))
        deadline = time.monotonic() + 5.0
        while True:
            pid = read_pidfile(daemon.pidfile, holder.pid)
            if pid is not None and pid != old_pid and Proc(pid).alive():
                return pid
            if time.monotonic() > deadline:
                raise LabError("no new pid in %s" % daemon.pidfile)
            time.sleep(0.02)

    def _log(self, line):
        with open(os.path.join(self.state.dir, "daemons.log"), "a") as f:
            f.write("%s %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), line))

    # -- for a holder that has no loop of its own (stacklab run, with its CLI) --
    def start_thread(self, every=0.5):
        def loop():
            while not self._stop.wait(every):
                try:
                    self.tick()
                except Exception as e:      # a bug here must not kill the lab's holder
                    self._log("supervisor: %s: %s" % (type(e).__name__, e))
        self._thread = threading.Thread(target=loop, name="supervisor", daemon=True)
        self._thread.start()

    def stop_thread(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

