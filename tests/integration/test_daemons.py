"""Dead daemons are seen, said, and restarted as systemd would on a real
node. Labs built by `stacklab up` (their keeper watches the daemons), each
daemon killed by pid: with restarting on, the keeper starts it again, logs
it, `status` counts it, and traffic comes back; with restarting off (a
scenario's `daemons: {restart: false}`), `status NAME` names it and exits 1,
`check` blames it first and waits on no dead ovsdb, `apply` changes nothing.
A change that fails midway is undone; a pidfile naming somebody else's
process is never signalled."""

import contextlib
import json
import os
import re
import subprocess
import time

import pytest

from stacklab.observe import probes
from stacklab.runtime.procs import Proc
from stacklab.runtime.running import RunningLab
from stacklab.runtime.state import LabState

from .conftest import Snapshot, kill_dead, renamed, scenario_path, stacklab, wait_clean, wait_for

def scenario(tmp_path, name, restart=True):
    path = renamed(scenario_path("two-node"), name, str(tmp_path))
    if not restart:
        text = open(path).read().replace("nodes:\n", "daemons: {restart: false}\nnodes:\n", 1)
        text += ("  - bridge: {node: compute1, name: br-tun}\n"
                 "  - dhcp: {instance: vm1, expect_ip: 192.168.101.19}\n")
        open(path, "w").write(text)
    return path


@contextlib.contextmanager
def lab_up(tmp_path, name, restart):
    before = Snapshot()
    stacklab("up", scenario(tmp_path, name, restart))
    try:
        yield name, os.path.join(str(tmp_path), name + ".yaml")
    finally:
        stacklab("down", name, check=False)
    assert not wait_clean(before)


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A two-node lab kept by its keeper, restarting on."""
    with lab_up(tmp_path_factory.mktemp("kept"), "it-daemons", True) as lab:
        yield lab


@pytest.fixture(scope="module")
def unkept(tmp_path_factory):
    """The same with restarting off."""
    with lab_up(tmp_path_factory.mktemp("unkept"), "it-nodaemons", False) as lab:
        yield lab


def record(lab, what):
    return next(p for p in LabState.load(lab).processes if p.what == what)


def dnsmasq(lab):
    return next(p.what for p in LabState.load(lab).processes if p.what.endswith(" dnsmasq"))


def answers(lab):
    """vm1's DHCP is served, and it pings its DHCP port across the tunnel
    (the default group lets it send; the answer is a reply)."""
    running = RunningLab.open(lab)
    server = str(running.scenario.dhcp_ports["selfservice"].ip)
    ping = running.probe("vm1", probes.ping, server, 1, 1.0)["replies"] == 1
    dhcp = running.probe("vm1", probes.dhcp, "eth0", None)["answered"]
    return ping and dhcp


def test_traffic_flows_before_anything_is_killed(kept):
    lab, _ = kept
    assert answers(lab)


def test_no_zombie_is_left_under_the_keeper(kept):
    lab, _ = kept
    keeper = LabState.load(lab).keeper.pid
    zombies = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                fields = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and int(fields[1]) == keeper:
                zombies.append(pid)
    assert not zombies, "zombie children of the keeper after up: %s" % zombies


@pytest.mark.parametrize("what", ["compute1 ovsdb-server", "compute1 ovs-vswitchd", "controller ovs-vswitchd",
                                  "agents neutron-openvswitch-agent", "dnsmasq"])
def test_a_killed_daemon_is_started_again(kept, what):
    lab, _ = kept
    what = dnsmasq(lab) if what == "dnsmasq" else what
    old = record(lab, what)
    kill_dead(old.pid)
    assert wait_for(lambda: record(lab, what).pid != old.pid and record(lab, what).alive(), 15), \
        "%s was not started again" % what
    restarts = LabState.load(lab).daemons[what]
    assert restarts["restarts"] >= 1 and restarts["last"] == "killed by SIGKILL", restarts
    log = open(os.path.join(LabState.load(lab).dir, "daemons.log")).read()
    assert re.search(r"%s \(pid %d\) killed by SIGKILL; started again as pid \d+" % (re.escape(what), old.pid), log)
    where, daemon = what.split(" ", 1)
    status = stacklab("status", lab)
    assert re.search(r"restarts %s: %s restarted \dx \(last: killed by SIGKILL\)" % (re.escape(where), daemon),
                     status.stdout), status.stdout
    assert wait_for(lambda: answers(lab), 30), "no traffic after %s came back" % what


def test_all_checks_pass_after_the_restarts(kept):
    lab, _ = kept
    assert stacklab("check", lab).returncode == 0


def test_a_change_that_fails_midway_is_undone_and_signals_nobody(kept, tmp_path):
    """dnsmasq's pidfile made to name another process (a `sleep`, which a
    SIGHUP would kill): `apply` adding an instance stops at the DHCP reload,
    says why, and takes the instance away again; the sleep lives."""
    lab, path = kept
    state = LabState.load(lab)
    pidfile = os.path.join(state.dir, "nodes", "controller", "neutron", "dhcp", _net_id(lab), "pid")
    real = open(pidfile).read()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        with open(pidfile, "w") as f:
            f.write("%d\n" % sleeper.pid)
        grown = tmp_path / "grown.yaml"
        grown.write_text(open(path).read().replace("checks:", "  vm2: {node: compute1, network: selfservice}\n"
                                                              "checks:", 1))
        out = stacklab("apply", str(grown), check=False)
        err = out.stderr
        assert out.returncode == 2 and "the change failed midway (dnsmasq of selfservice is not running" in err, err
        assert "undone: instance vm2 removed again" in err, err
        # putting the old host entries back needs the same SIGHUP: it is said, not done
        assert "not undone: the DHCP host entries: dnsmasq of selfservice is not running" in err, err
        assert sleeper.poll() is None, "the process the pidfile named was signalled"
        assert sorted(LabState.load(lab).instances) == ["vm1"]
        assert "vm2" not in open(os.path.join(state.dir, "scenario.yaml")).read()
    finally:
        with open(pidfile, "w") as f:
            f.write(real)
        sleeper.kill()
        sleeper.wait()
    assert stacklab("check", lab).returncode == 0


def _net_id(lab):
    return dnsmasq(lab).split()[0][len("qdhcp-"):]


def test_status_names_a_dead_daemon_and_says_so_in_its_exit_code(unkept):
    lab, _ = unkept
    assert stacklab("status", lab).returncode == 0
    kill_dead(record(lab, "compute1 ovs-vswitchd").pid)
    out = stacklab("status", lab, check=False)
    assert out.returncode == 1 and "DEAD     compute1: ovs-vswitchd dead (restarting is off)" in out.stdout, out.stdout
    n = len(LabState.load(lab).processes)           # every one the lab recorded, one of them dead
    assert "%d/%d processes" % (n - 1, n) in out.stdout, out.stdout
    as_json = json.loads(stacklab("status", "--json", lab, check=False).stdout)
    assert as_json[0]["dead"] == ["compute1: ovs-vswitchd dead (restarting is off)"]
    time.sleep(2)
    assert not record(lab, "compute1 ovs-vswitchd").alive()          # nobody started it again


def test_check_blames_the_dead_daemon_first_and_waits_on_nothing(unkept):
    lab, _ = unkept
    assert not record(lab, "compute1 ovs-vswitchd").alive()       # (the test before killed it)
    kill_dead(record(lab, "compute1 ovsdb-server").pid)
    t0 = time.monotonic()
    out = stacklab("check", "--json", lab, check=False)
    took = time.monotonic() - t0
    assert out.returncode == 1
    report = json.loads(out.stdout)
    first = report["checks"][0]
    assert first["kind"] == "daemons" and first["verdict"] == "fail"
    assert "compute1: ovsdb-server dead" in first["detail"] and "compute1: ovs-vswitchd dead" in first["detail"]
    address, bridge, dhcp = report["checks"][1:]
    assert address["verdict"] == "pass"             # the instance's own interface needs no switch
    assert bridge["verdict"] == "error" and "ovs-vsctl needs ovsdb-server, which is dead on compute1" \
        in bridge["detail"], bridge
    assert dhcp["verdict"] == "fail" and dhcp["detail"].endswith("[while %s]" % first["detail"]), dhcp
    assert took < 20, "check took %.0f s beside a dead ovsdb-server" % took


def test_apply_changes_nothing_while_a_daemon_is_dead(unkept, tmp_path):
    lab, path = unkept
    before = LabState.load(lab)
    snapshot = open(os.path.join(before.dir, "scenario.yaml")).read()
    grown = tmp_path / "grown.yaml"
    grown.write_text(open(path).read().replace("checks:", "  vm2: {node: compute1, network: selfservice}\n"
                                                          "checks:", 1))
    out = stacklab("apply", str(grown), check=False)
    assert out.returncode == 2 and "nothing changed: compute1: ovs" in out.stderr, out.stderr
    after = LabState.load(lab)
    assert sorted(after.instances) == sorted(before.instances) == ["vm1"]
    assert open(os.path.join(after.dir, "scenario.yaml")).read() == snapshot
    assert all(p.alive() or p.what.startswith("compute1 ovs") for p in after.processes)
    assert not Proc(record(lab, "compute1 ovs-vswitchd").pid).alive()
