"""A lab's whole life through the CLI: up, status, check, down; two labs at
once; 20 cycles without a leak; SIGKILL mid-build then down; bad input and a
failing build leave nothing behind."""

import json
import os
import signal
import subprocess
import time

import pytest

from stacklab.running import RunningLab
from stacklab.state import LabState

from .conftest import STACKLAB, Snapshot, scenario_path, stacklab, wait_clean


def test_up_status_down_through_the_cli():
    before = Snapshot()
    path = scenario_path("two-node")
    t0 = time.monotonic()
    stacklab("up", path)
    try:
        status = json.loads(stacklab("status", "--json").stdout)
        lab = [s for s in status if s["name"] == "it-two-node"][0]
        assert lab["phase"] == "up" and lab["keeper"]
        assert sorted(lab["nodes"]) == ["compute1", "controller"]
        assert lab["instances"]["vm1"]["ip"] == "192.168.101.19"
        assert stacklab("check", "it-two-node").returncode == 0
        out = stacklab("up", path, check=False)
        assert out.returncode == 2 and "already up" in out.stderr
    finally:
        stacklab("down", "it-two-node")
    assert time.monotonic() - t0 < 60
    leaks = wait_clean(before)
    assert not leaks, leaks


def test_two_labs_at_once(tmp_path):
    before = Snapshot()
    other = tmp_path / "other.yaml"
    other.write_text(open(scenario_path("two-node")).read().replace("name: it-two-node", "name: it-other"))
    stacklab("up", scenario_path("two-node"))
    try:
        stacklab("up", str(other))
        a = RunningLab.open("it-two-node")
        b = RunningLab.open("it-other")
        assert a.state.holder("compute1").pid != b.state.holder("compute1").pid
        assert a.run("compute1", ["ovs-vsctl", "br-exists", "br-tun"]).returncode == 0
        stacklab("down", "it-other")
        assert a.run("compute1", ["ovs-vsctl", "br-exists", "br-tun"]).returncode == 0
    finally:
        stacklab("down", "--all")
    leaks = wait_clean(before)
    assert not leaks, leaks


def test_leak_20_up_down_cycles():
    before = Snapshot()
    path = scenario_path("two-node")
    for i in range(20):
        stacklab("up", path)
        stacklab("down", "it-two-node")
    leaks = wait_clean(before)
    assert not leaks, "after 20 cycles: %s" % leaks


@pytest.mark.parametrize("after_step", ["nodes", "open vswitch", "bridges"])
def test_sigkill_mid_build_then_down_leaves_nothing(after_step):
    """Kill the builder with SIGKILL part-way, then `stacklab down` removes all."""
    before = Snapshot()
    env = dict(os.environ, STACKLAB_PAUSE_AFTER=after_step)
    proc = subprocess.Popen(STACKLAB + ["up", scenario_path("two-node")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = ""
    deadline = time.monotonic() + 30
    while "paused after " + after_step not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, "builder ended before the pause"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    state = LabState.load("it-two-node")
    assert state.namespaces, "the killed builder had recorded nothing"
    stacklab("down", "it-two-node")
    leaks = wait_clean(before)
    assert not leaks, "after SIGKILL at %s: %s" % (after_step, leaks)


def test_bad_scenario_gives_a_clear_error_and_builds_nothing(tmp_path):
    before = Snapshot()
    bad = tmp_path / "bad.yaml"
    bad.write_text(open(scenario_path("two-node")).read().replace("ip: 192.168.101.19", "ip: 10.0.0.300"))
    out = stacklab("run", str(bad), "--no-cli", check=False)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "instances.vm1.ip: '10.0.0.300' is not an IPv4 address" in out.stderr
    assert not Snapshot().leaks_since(before)


def test_failing_build_removes_what_it_built():
    """A build that fails half-way (an instance's veth cannot be made) leaves nothing."""
    before = Snapshot()
    env = dict(os.environ, STACKLAB_FAIL_AT="instances")
    out = stacklab("run", scenario_path("two-node"), "--no-cli", check=False, env=env)
    assert out.returncode == 2 and "injected failure at instances" in out.stderr, out.stderr
    leaks = wait_clean(before)
    assert not leaks, leaks


def test_twenty_node_lab(tmp_path):
    """1 controller + 19 computes: a full VXLAN mesh (19 tunnel ports per node)
    and 38 instances build, and every node sees its 19 peers."""
    from stacklab.scenario.synth import mesh_scenario
    before = Snapshot()
    path = tmp_path / "mesh.yaml"
    path.write_text(mesh_scenario(19, 2, name="it-mesh"))
    stacklab("up", str(path))
    try:
        lab = RunningLab.open("it-mesh")
        ports = lab.run("compute19", ["ovs-vsctl", "list-ports", "br-tun"], check=True).stdout.split()
        assert len([p for p in ports if p.startswith("vxlan-")]) == 19
        assert len(lab.state.instances) == 38
    finally:
        stacklab("down", "it-mesh")
    leaks = wait_clean(before)
    assert not leaks, leaks


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_mid_build_removes_everything(sig, code):
    before = Snapshot()
    env = dict(os.environ, STACKLAB_PAUSE_AFTER="bridges")
    proc = subprocess.Popen(STACKLAB + ["run", "--no-cli", scenario_path("two-node")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = ""
    deadline = time.monotonic() + 30
    while "paused after bridges" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, "run ended before the pause"
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == code, rest
    assert "removed" in rest and "Traceback" not in rest, rest
    leaks = wait_clean(before)
    assert not leaks, leaks
