"""Integration tests build real labs: root, Open vSwitch, namespaces. They fail
(not skip) when they cannot run, so a missing piece is never hidden."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile

import pytest

from stacklab.runtime.procs import all_pids, namespaces, start_time
from stacklab.runtime.state import RUN_ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios")
STACKLAB = [sys.executable, "-m", "stacklab.cli"]

# The Ctrl-C tests send SIGINT to the stacklab they started. Run from a
# background job (`make test &`), this process inherits SIGINT ignored, and
# so would every stacklab it starts: they would ignore the test's Ctrl-C as
# the shell meant them to ignore the terminal's. Caught here, it is back to
# the default in every child.
signal.signal(signal.SIGINT, signal.default_int_handler)


HOST_DIRS = ("/run/netns", "/var/lib/neutron", "/var/lib/octavia", "/etc/octavia", "/var/run/openvswitch")


def pytest_collection_modifyitems(items):
    for item in items:
        if str(item.fspath).startswith(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _need_root():
    if os.geteuid() != 0:
        pytest.fail("integration tests build real labs and need root: run `sudo make test`")


def scenario_path(name):
    return os.path.join(SCENARIOS, name + ".yaml")


def stacklab(*args, check=True, timeout=120, **kw):
    proc = subprocess.run(STACKLAB + list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError("stacklab %s exited %d:\n%s%s" % (" ".join(args), proc.returncode, proc.stdout,
                                                               proc.stderr))
    return proc


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _someone_elses(pid, existed, me):
    """Whether root-namespace process `pid` descends from a process that ran
    before the snapshot and is neither this test nor init: a command someone
    runs beside the tests (an editor's linter), not something a lab left.
    What a lab leaves is ours or an orphan (init's, or a new process's)."""
    seen = set()
    while pid not in (None, 0, 1, me) and pid not in seen:
        seen.add(pid)
        parent = _parent(pid)
        if parent is not None and parent not in (1, me) and (parent, start_time(parent)) in existed:
            return True
        pid = parent
    return False


class Snapshot:
    """What a lab could leave behind: processes outside the root namespaces
    or of the lab's own programs, namespaces, root-namespace links, lab files
    and mounts."""

    def __init__(self):
        self.root = namespaces(1) or namespaces(os.getpid())
        self.procs = set()
        self.netns = set()
        self.existing = set()       # (pid, start) of every process
        for pid in all_pids():
            ns, st = namespaces(pid), start_time(pid)
            if ns is None or st is None:
                continue
            self.existing.add((pid, st))
            self.netns.add(ns[0])
            cmd = _cmdline(pid)
            if ns != self.root or any(w in cmd for w in ("stacklab", "mnexec", "ovs", "mininet:", "dnsmasq",
                                                         "dropbear", "haproxy", "socat", "amphora_agent")):
                self.procs.add((pid, st, cmd, ns == self.root))
        self.links = set(subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
                         .split("\n"))
        self.links = {line.split(":")[1].strip() for line in self.links if line.strip()}
        self.files = sorted(os.listdir(RUN_ROOT)) if os.path.isdir(RUN_ROOT) else []
        # what a host's mounts could make on the machine's own file system
        self.files += [d for d in HOST_DIRS if os.path.exists(d)]
        with open("/proc/self/mountinfo") as f:
            self.mounts = len(f.readlines())

    def leaks_since(self, before, ignore=()):
        """What is here now and was not before (`ignore`: pids that are not the lab's, such as
        a CLI that is still printing its last words)."""
        me = os.getpid()
        leaks = {
            "processes": sorted(c for p, s, c, in_root in self.procs - before.procs if p != me and p not in ignore
                                and not (in_root and _someone_elses(p, before.existing, me))),
            "namespaces": sorted(self.netns - before.netns),
            "links": sorted(self.links - before.links),
            "files": sorted(set(self.files) - set(before.files)),
        }
        if self.mounts != before.mounts:
            leaks["mounts"] = ["%d mounts, was %d" % (self.mounts, before.mounts)]
        return {k: v for k, v in leaks.items() if v}


@pytest.fixture
def snapshot():
    return Snapshot


def kill_dead(pid, timeout=5.0):
    """SIGKILL `pid` and wait until it has died (a zombie counts as dead)."""
    from stacklab.runtime.procs import Proc
    proc = Proc(pid)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not proc.alive(), timeout), "pid %d did not die" % pid


def output(lab, where, *argv):
    """What `argv` prints inside `where` of a running lab (it must succeed)."""
    return lab.run(where, list(argv), check=True).stdout


STATS_LAG = 1.5     # ovs-vswitchd's revalidators bring the datapath's counts to the flows every 0.5 s


def flow_packets(lab, node, bridge, pattern):
    """The packet count of the flow of `bridge` whose text matches `pattern`
    (exactly one), once what was sent before is counted."""
    import re
    import time
    time.sleep(STATS_LAG)
    lines = [l for l in output(lab, node, "ovs-ofctl", "dump-flows", bridge).splitlines() if re.search(pattern, l)]
    assert len(lines) == 1, (pattern, lines)
    return int(re.search(r"n_packets=(\d+)", lines[0]).group(1))


def wait_states(lab, want, timeout=30.0):
    """The HA states of the lab's router `router` once they are `want`, or as they are after `timeout`."""
    import time
    from stacklab.observe.ha import states
    router = lab.scenario.routers["router"]
    deadline = time.monotonic() + timeout
    while True:
        got = states(lab, router)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def wait_for(predicate, timeout=10.0):
    """Whether `predicate()` came true within `timeout` seconds (polled)."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def wait_clean(before, timeout=5.0):
    """Leaks left after `timeout` seconds (processes may take a moment to be reaped)."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        leaks = Snapshot().leaks_since(before)
        if not leaks or time.monotonic() > deadline:
            return leaks
        time.sleep(0.1)


def renamed(name_or_file, name, directory):
    """A copy of a scenario under another lab name, in `directory` (what a
    user does to run a second copy, or an `apply` of their own): it must
    build the same cloud and pass the same checks."""
    from stacklab.scenario.loader import find_scenario
    with open(find_scenario(name_or_file)) as f:
        text = f.read()
    copy, n = re.subn(r"^name: .*$", "name: %s" % name, text, count=1, flags=re.M)
    assert n == 1, "%s has no name: line to change" % name_or_file
    path = os.path.join(directory, name + ".yaml")
    with open(path, "w") as f:
        f.write(copy)
    return path


@contextlib.contextmanager
def kept_lab(path, name):
    """`stacklab up` the scenario at `path` (lab `name`, kept by its keeper as
    a user's is) and yield its RunningLab; then `down`, and fail if anything
    is left behind."""
    from stacklab.runtime.running import RunningLab
    before = Snapshot()
    stacklab("up", path)
    try:
        yield RunningLab.open(name)
    finally:
        stacklab("down", name, check=False)
    assert not wait_clean(before)


@contextlib.contextmanager
def built_lab(name_or_file, rename=None, env=None):
    """Build a scenario (a name in scenarios/ or a file; under the lab name
    `rename` if given, from a copy) and yield (RunningLab with the scenario
    set, the Lab); then remove it and fail if anything is left behind.
    `env`: environment variables while the lab lives (its daemons keep them,
    and so does one a test starts again)."""
    from stacklab import runner
    from stacklab.runtime.running import RunningLab
    from stacklab.scenario.loader import find_scenario, load_scenario
    before = Snapshot()
    with tempfile.TemporaryDirectory() as tmp, environment(env or {}):
        path = renamed(name_or_file, rename, tmp) if rename else find_scenario(name_or_file)
        scenario = load_scenario(path)
        lab = runner.build(scenario)
        try:
            running = RunningLab(lab.state)
            running.scenario = scenario
            yield running, lab
        finally:
            runner.teardown(lab)
    leaks = wait_clean(before)
    assert not leaks, "teardown left: %s" % leaks


@contextlib.contextmanager
def environment(values):
    """os.environ with `values` for the block, as it was after it."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
