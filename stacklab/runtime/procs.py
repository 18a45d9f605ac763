"""Processes identified by pid *and* start time, so a recycled pid is never
mistaken for one of the lab's; plus the namespace identities used to find
every process a lab started, without ever matching by name."""

import contextlib
import ctypes
import os
import signal
import time

# Inside a lab host with a PID namespace of its own, /proc shows only the host's
# processes; the machine's is kept here (use_machine_proc()).
HOST_PROC = "/run/host-proc"
PROC = "/proc"


def use_machine_proc():
    """For a stacklab command run inside a lab host (a node's `systemctl`,
    which asks the lab's keeper): look at the lab's processes through the
    machine's /proc. Processes of the host itself (an amphora's agent and its
    haproxy) keep to the host's own."""
    global PROC
    if os.path.isdir(HOST_PROC + "/1"):
        PROC = HOST_PROC


def _stat(pid):
    """The fields of /proc/PID/stat after the command name (state, ppid, ...), or None if it is gone."""
    try:
        with open(PROC + "/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return stat[stat.rindex(b")") + 2:].split()


def start_time(pid):
    """Start time of `pid` in clock ticks since boot, or None if it is gone."""
    fields = _stat(pid)
    if fields is None or fields[0] in (b"Z", b"X"):          # a zombie has already ended
        return None
    return int(fields[19])


def exists(proc):
    """Whether `proc` still has a /proc entry, running or as a zombie not yet reaped."""
    fields = _stat(proc.pid)
    return fields is not None and proc.start is not None and int(fields[19]) == proc.start


def children(pid):
    """The pids whose parent is `pid`."""
    parent = b"%d" % pid
    return {p for p in all_pids() if (fields := _stat(p)) is not None and fields[1] == parent}


def namespaces(pid):
    """(net inode, mnt inode) of `pid`, or None if it is gone."""
    try:
        return (os.stat(PROC + "/%d/ns/net" % pid).st_ino, os.stat(PROC + "/%d/ns/mnt" % pid).st_ino)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def pid_namespace(pid):
    """The inode of `pid`'s PID namespace, or None if it is gone."""
    try:
        return os.stat(PROC + "/%d/ns/pid" % pid).st_ino
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def inner_pid(pid):
    """`pid` as the processes of its own PID namespace see it (a node's `ps`
    and pidfiles), or None if it is gone: the last field of NSpid."""
    try:
        with open(PROC + "/%d/status" % pid) as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return pid


def direct_children(pid):
    try:
        with open(PROC + "/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []


def namespace_init(holder):
    """The process that is pid 1 of `holder`'s PID namespace (`holder` itself
    for a node's shell; its node's shell for a qdhcp- or qrouter- namespace,
    which share their node's PID namespace as `ip netns` namespaces do)."""
    ns = pid_namespace(holder)
    pid = holder
    while True:
        fields = _stat(pid)
        if fields is None:
            return pid
        parent = int(fields[1])
        if parent <= 0 or pid_namespace(parent) != ns:
            return pid
        pid = parent


def outer_pid(pid, holder):
    """The pid (as the lab sees it) of the process that the PID namespace of
    `holder` (a lab host's shell) calls `pid`: what a daemon inside a node
    wrote into its pidfile. The namespace's processes all descend from its
    pid 1 (detached daemons are adopted by it), so that tree is read first.
    None if no such process runs."""
    ns = pid_namespace(holder)
    if ns is None:
        return None
    if ns == os.stat("/proc/self/ns/pid").st_ino:
        return pid
    todo = [namespace_init(holder)]
    while todo:
        p = todo.pop()
        if inner_pid(p) == pid and pid_namespace(p) == ns:
            return p
        todo.extend(direct_children(p))
    # a namespace joined by nsenter (a node's qdhcp- namespace in its node's) has its
    # detached daemons under the node's shell, out of that tree: look at every process
    for p in all_pids():
        if pid_namespace(p) == ns and inner_pid(p) == pid:
            return p
    return None


def read_pidfile(path, holder=None):
    """The pid in a pidfile, as the lab sees it: translated from the PID
    namespace of `holder` (the shell of the host the daemon runs in) when
    given. None when the file is missing, unreadable or names no process."""
    try:
        with open(path) as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if holder is None else outer_pid(pid, holder)


class Proc:
    """A process the lab started."""

    def __init__(self, pid, start=None, what=""):
        self.pid = int(pid)
        self.start = start_time(self.pid) if start is None else start
        self.what = what

    def alive(self):
        return self.start is not None and start_time(self.pid) == self.start

    def signal(self, sig):
        if PROC != "/proc":     # pids here are this host's: the number would name another process
            raise RuntimeError("%r is not in this PID namespace: it cannot be signalled from here" % self)
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def to_dict(self):
        return {"pid": self.pid, "start": self.start, "what": self.what}

    @classmethod
    def from_dict(cls, d):
        return cls(d["pid"], d["start"], d.get("what", ""))

    def __repr__(self):
        return "Proc(%d %s)" % (self.pid, self.what)


def all_pids():
    return [int(p) for p in os.listdir(PROC) if p.isdigit()]


def marked(variable, value):
    """Processes whose environment holds variable=value (the lab's mark,
    inherited by everything the lab starts): found without any record."""
    needle = ("%s=%s" % (variable, value)).encode()
    found = []
    for pid in all_pids():
        try:
            with open(PROC + "/%d/environ" % pid, "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            proc = Proc(pid, what="marked")
            if proc.start is not None:
                found.append(proc)
    return found


def from_pidfile(path, recorded, holder=None):
    """The process of pidfile `path` (written in the PID namespace of
    `holder`, see read_pidfile()) if it is one of `recorded` (Procs the lab
    started: same pid and start time) and alive; None otherwise. A pidfile
    alone may name a recycled pid or what somebody wrote into it."""
    pid = read_pidfile(path, holder)
    if pid is None:
        return None
    for proc in recorded:
        if proc.pid == pid and proc.alive():
            return proc
    return None


def in_namespaces(pairs):
    """Processes whose (net, mnt) namespaces are one of `pairs`."""
    pairs = set(map(tuple, pairs))
    found = []
    for pid in all_pids():
        ns = namespaces(pid)
        if ns is not None and ns in pairs:
            proc = Proc(pid)
            if proc.start is not None:
                found.append(proc)
    return found


def terminate(procs, grace=1.0, kill_now=()):
    """SIGTERM (SIGKILL for the pids in `kill_now`, such as interactive shells,
    which ignore SIGTERM), wait up to `grace` seconds, SIGKILL what is left,
    wait for the end. Returns the processes that would not die."""
    procs = [p for p in procs if p.alive()]
    for p in procs:
        p.signal(signal.SIGKILL if p.pid in kill_now else signal.SIGTERM)
    deadline = time.monotonic() + grace
    while procs and time.monotonic() < deadline:
        reap()
        procs = [p for p in procs if p.alive()]
        if procs:
            time.sleep(0.02)
    for p in procs:
        p.signal(signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while procs and time.monotonic() < deadline:
        reap()
        procs = [p for p in procs if p.alive()]
        if procs:
            time.sleep(0.02)
    reap()
    return procs


def wait_gone(procs, timeout=5.0):
    """Reap and wait until none of `procs` exists any more, not even as a
    zombie (our children are reaped here; an orphan's zombie waits for init).
    Returns those still there after `timeout`."""
    deadline = time.monotonic() + timeout
    left = [p for p in procs if exists(p)]
    while left:
        reap()
        left = [p for p in left if exists(p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    return left


# How children reaped here ended (pid -> wait status), the latest few: what
# the supervisor says of a daemon's death.
EXITS = {}
_EXITS_KEPT = 512


def reap():
    """Collect any ended children (daemons re-parented to us as subreaper)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _note_exit(pid, status)


def reap_one(pid):
    """Collect child `pid` if it has ended (and only it: another thread may be waiting for its own)."""
    try:
        got, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return
    if got == pid:
        _note_exit(pid, status)


def _note_exit(pid, status):
    EXITS[pid] = status
    while len(EXITS) > _EXITS_KEPT:
        EXITS.pop(next(iter(EXITS)))


_exit_listener = []


def listen_exits(ours):
    """Learn how the processes for which ours(pid) is true end, from the
    kernel's process events (the netlink proc connector, which sees every PID
    namespace): a daemon that detached inside a host's PID namespace is that
    host's shell's child, so its status is not ours to collect. Runs in a
    thread of its own; returns False when the kernel offers no such events."""
    import socket
    import struct
    import threading
    if _exit_listener:
        return True
    netlink_connector, cn_idx_proc, cn_val_proc, mcast_listen, event_exit = 11, 1, 1, 1, 0x80000000
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, netlink_connector)
        sock.bind((0, cn_idx_proc))
        body = struct.pack("=I", mcast_listen)
        msg = struct.pack("=IIIIHH", cn_idx_proc, cn_val_proc, 0, 0, len(body), 0) + body
        sock.send(struct.pack("=IHHII", 16 + len(msg), 3, 0, 0, 0) + msg)     # NLMSG_DONE
    except OSError:
        return False

    def events():
        while True:
            try:
                data = sock.recv(4096)
            except OSError:
                return
            # nlmsghdr (16) + cn_msg (20) + proc_event: what, cpu, timestamp, then exit's pid, tgid, code
            if len(data) >= 64 and struct.unpack_from("=I", data, 36)[0] == event_exit:
                pid, tgid, code = struct.unpack_from("=III", data, 52)
                if pid == tgid and ours(tgid):
                    _note_exit(tgid, code)
    threading.Thread(target=events, name="exits", daemon=True).start()
    _exit_listener.append(sock)
    return True


def exits_heard():
    """Whether listen_exits() runs here."""
    return bool(_exit_listener)


def how_it_ended(pid):
    """'killed by SIGKILL', 'exited with status 1', or '' when not known here."""
    status = EXITS.get(pid)
    if status is None:
        return ""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            return "killed by %s" % signal.Signals(sig).name
        except ValueError:
            return "killed by signal %d" % sig
    return "exited with status %d" % os.WEXITSTATUS(status)


def become_subreaper():
    """Daemons the lab starts (--detach, double forks) re-parent to us rather
    than to init, so they are reaped promptly when the lab ends."""
    PR_SET_CHILD_SUBREAPER = 36
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except OSError:
        pass


@contextlib.contextmanager
def signals_deferred():
    """Ctrl-C, SIGTERM and SIGHUP wait until the block is done (a cleanup
    that must not be cut short); they are delivered after it."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
