"""A lab's whole life through the CLI: up, status, check, down; two labs at
once; 20 cycles without a leak; `down` while it builds, then `up` again;
SIGKILL of the builder at every step then down; an `up` waiting for the
`down` of its name; bad input and a failing build leave nothing behind.
After `down` returns, nothing of the lab is left: checked at once, no sleep."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from stacklab.runtime.running import RunningLab
from stacklab.runtime.state import LabState

from topologies.lab import Lab

from .conftest import STACKLAB, Snapshot, scenario_path, stacklab, wait_clean

# a step that builds nothing in two-node (test_up_status_down_through_the_cli sees each say
# "none") leaves the lab of the step before it: the steps to stop or kill a build after are the others
EMPTY_IN_TWO_NODE = ("web servers", "ovn metadata", "routers", "load balancers")
STEPS = [title for title, _ in Lab.STEPS if title not in EMPTY_IN_TWO_NODE]
NAME = "it-two-node"


def leaks_now(before, cli=None):
    """What the lab left, looked at the moment `down` returned (`cli`: the
    `stacklab up` process of a stopped build, which may still be exiting)."""
    return Snapshot().leaks_since(before, ignore=(cli.pid,) if cli else ())


def paused_up(step, command="up"):
    """`stacklab up` (or run) of two-node, paused after `step`: the CLI process."""
    env = dict(os.environ, STACKLAB_PAUSE_AFTER=step)
    args = [command] + (["--no-cli"] if command == "run" else []) + [scenario_path("two-node")]
    proc = subprocess.Popen(STACKLAB + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line, said = "", []
    deadline = time.monotonic() + 60
    while "paused after " + step not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
        said.append(line)
        assert line or proc.poll() is None, "the build ended before the pause after %s:\n%s" % (step, "".join(said))
    return proc


def test_up_status_down_through_the_cli():
    before = Snapshot()
    path = scenario_path("two-node")
    t0 = time.monotonic()
    built = stacklab("up", path)
    said = built.stdout + built.stderr
    for step in EMPTY_IN_TWO_NODE:
        assert re.search(r"^  %s +none " % step, said, re.M), (step, said)
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
        out = stacklab("down", "it-two-node")
    assert "lab it-two-node removed in " in out.stdout
    assert not leaks_now(before)
    assert time.monotonic() - t0 < 60


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
    assert not leaks_now(before)


def test_leak_five_up_down_cycles():
    """A few cycles here; test_scale.py's hundred in `make test-scale`."""
    before = Snapshot()
    path = scenario_path("two-node")
    for i in range(5):
        stacklab("up", path)
        stacklab("down", "it-two-node")
        assert not leaks_now(before), "after cycle %d: %s" % (i + 1, leaks_now(before))


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_of_the_builder_then_down_leaves_nothing(step):
    """Kill the builder (and its CLI) with SIGKILL after each step; `down` removes all."""
    before = Snapshot()
    proc = paused_up(step)
    state = LabState.load(NAME)
    assert state.namespaces, "the builder had recorded nothing"
    assert state.keeper.alive() and state.keeper.pid != proc.pid
    os.kill(state.keeper.pid, signal.SIGKILL)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stacklab("down", NAME)
    assert not leaks_now(before), "after SIGKILL at %s: %s" % (step, leaks_now(before))


# after a down at these steps (nothing but records; half the lab; all of it) an up of the
# same name follows: with no leak after any step, the others leave it nothing different
UP_AGAIN_AFTER = (STEPS[0], STEPS[len(STEPS) // 2], STEPS[-1])


@pytest.mark.parametrize("step", STEPS)
def test_down_while_building_then_up_again(step):
    """`down` stops a building lab's builder and waits for its cleanup; an `up`
    of the same name right after builds a whole new lab."""
    before = Snapshot()
    proc = paused_up(step)
    stacklab("down", NAME)
    assert not leaks_now(before, proc), "down during %s left %s" % (step, leaks_now(before, proc))
    rest, _ = proc.communicate(timeout=120)   # a hang guard
    assert proc.returncode == 2 and "was stopped (SIGTERM" in rest and "Traceback" not in rest, rest
    if step not in UP_AGAIN_AFTER:
        return
    stacklab("up", scenario_path("two-node"))
    try:
        status = json.loads(stacklab("status", "--json").stdout)
        assert [s["phase"] for s in status if s["name"] == NAME] == ["up"]
        assert stacklab("check", NAME).returncode == 0
    finally:
        stacklab("down", NAME)
    assert not leaks_now(before)


def test_up_waits_for_the_down_of_its_name():
    before = Snapshot()
    stacklab("up", scenario_path("two-node"))
    old = LabState.load(NAME).id
    down = subprocess.Popen(STACKLAB + ["down", NAME], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(0.05)
    up = stacklab("up", scenario_path("two-node"), check=False)
    down_out, _ = down.communicate(timeout=60)
    try:
        assert down.returncode == 0, down_out
        # either the up waited for the teardown, or it came first and found the lab still there
        assert up.returncode == 0 or "already up" in up.stderr, up.stderr
        if up.returncode == 0:
            assert LabState.load(NAME).id != old
            assert stacklab("check", NAME).returncode == 0
    finally:
        if up.returncode == 0:
            stacklab("down", NAME)
    assert not leaks_now(before)


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
    assert not leaks_now(before)


def test_twenty_node_lab(tmp_path):
    """1 controller + 19 computes: a full VXLAN mesh (19 tunnel ports per node)
    and 38 instances build, and every node sees its 19 peers."""
    from stacklab.scenario.synth import mesh_scenario
    before = Snapshot()
    path = tmp_path / "mesh.yaml"
    path.write_text(mesh_scenario(19, 2, name="it-mesh"))
    try:
        # a hang guard, not a speed test (5 s here; 2 min in a VM under software emulation)
        stacklab("up", str(path), timeout=900)
        lab = RunningLab.open("it-mesh")
        ports = lab.run("compute19", ["ovs-vsctl", "list-ports", "br-tun"], check=True).stdout.split()
        assert len([p for p in ports if p.startswith("vxlan-")]) == 19
        assert len(lab.state.instances) == 38
    finally:
        # also when up failed or timed out: its keeper may have built the lab all the same
        stacklab("down", "it-mesh", check=False, timeout=300)
    assert not leaks_now(before)


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
    rest, _ = proc.communicate(timeout=120)   # a hang guard
    assert proc.returncode == code, rest
    assert "removed" in rest and "Traceback" not in rest, rest
    assert not leaks_now(before)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_of_up_mid_build_removes_everything(sig, code):
    """`stacklab up` builds in its keeper; the CLI passes the signal on and
    returns only once the keeper has removed what it built."""
    before = Snapshot()
    proc = paused_up("instances")
    proc.send_signal(sig)
    rest, _ = proc.communicate(timeout=120)   # a hang guard
    assert proc.returncode == code, rest
    assert "removed" in rest and "Traceback" not in rest, rest
    assert not leaks_now(before)


def test_a_full_disk_mid_build_is_one_line_and_leaves_nothing(tmp_path):
    """The run directory fills up while the lab is built (a small tmpfs in a
    mount namespace of the test's own): one line naming the error and the
    file, no traceback, no advice to remove a lab that is already gone, and
    nothing left."""
    before = Snapshot()
    run = tmp_path / "run"
    run.mkdir()
    shell = ("mount -t tmpfs -o size=%dk tmpfs %s && STACKLAB_RUN_DIR=%s %s up %s"
             % (SMALL_DISK_KB, run, run, " ".join(STACKLAB), scenario_path("two-node")))
    out = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", shell],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert "No space left on device" in last and "Traceback" not in out.stderr, out.stderr
    assert "stacklab down" not in last, last
    assert not wait_clean(before)


SMALL_DISK_KB = 64


def test_up_of_a_scenario_with_an_id_twice_builds_nothing(tmp_path):
    """Two networks with one id (once: 33 s of a failed build and a leaked
    dnsmasq per attempt): refused with the key, before anything is built."""
    before = Snapshot()
    bad = tmp_path / "dup.yaml"
    text = open(scenario_path("two-node")).read().replace(
        "    segmentation_id: 203\n", "    segmentation_id: 203\n    id: 9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1\n").replace(
        "instances:\n", "  other:\n    type: vxlan\n    id: 9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1\n"
        "    subnet: {cidr: 10.9.0.0/24}\ninstances:\n")
    bad.write_text(text)
    t0 = time.monotonic()
    out = stacklab("up", str(bad), check=False)
    assert out.returncode == 2 and "networks.other.id: id 9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1 is also the id " \
        "of networks.selfservice" in out.stderr, out.stderr
    assert time.monotonic() - t0 < 10
    assert not Snapshot().leaks_since(before)


@pytest.mark.scale
def test_a_lab_too_big_for_the_machine_is_refused_with_its_estimate(tmp_path):
    from stacklab.scenario.estimate import available_mb
    from stacklab.scenario.synth import mesh_scenario
    available, _ = available_mb()
    computes = 30
    while True:         # the smallest mesh this machine cannot hold (node names: at most 10 characters)
        path = tmp_path / "huge.yaml"
        path.write_text(mesh_scenario(computes, 2, name="it-huge"))
        from stacklab.scenario.estimate import estimate
        from stacklab.scenario.loader import load_scenario
        if estimate(load_scenario(str(path))).memory_mb > available or computes >= 999:
            break
        computes = min(999, computes * 2)
    before = Snapshot()
    out = stacklab("up", str(path), check=False)
    assert out.returncode == 2 and "this lab needs" in out.stderr and "--force" in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and not Snapshot().leaks_since(before)
    assert "of memory and" in stacklab("validate", str(path)).stdout


def test_check_waits_for_a_lab_still_building_then_runs():
    before = Snapshot()
    env = dict(os.environ, STACKLAB_PAUSE_AFTER="bridges", STACKLAB_PAUSE_SECONDS="3")
    proc = subprocess.Popen(STACKLAB + ["up", scenario_path("two-node")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        while "paused after bridges" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "the build ended before the pause"
        out = stacklab("check", NAME, timeout=120)
        assert "lab it-two-node is building; waiting until it is up" in out.stderr, out.stderr
        assert "1 checks: 1 passed" in out.stdout, out.stdout
        proc.communicate(timeout=60)
    finally:
        stacklab("down", NAME, check=False)
    assert not wait_clean(before)


def test_check_while_down_runs_is_one_line():
    before = Snapshot()
    stacklab("up", scenario_path("two-node"))
    check = subprocess.Popen(STACKLAB + ["check", NAME], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    stacklab("down", NAME)
    out, err = check.communicate(timeout=60)
    assert "Traceback" not in err and "Error:" not in out, out + err
    assert check.returncode == 0 or (check.returncode == 2 and err.count("\n") == 1 and (
        "is being removed" in err or "no lab named it-two-node" in err or "removed while its checks ran" in err)), \
        (check.returncode, out, err)
    assert not wait_clean(before)


@pytest.mark.scale
def test_every_bridge_of_a_ten_compute_mesh_is_programmed_three_builds_in_a_row(tmp_path):
    """Bridges connect the moment they exist, often while the agents'
    process is still starting: a connection accepted before os-ken had
    registered its OpenFlow handler lost the switch's hello and stayed in the
    handshake (4 builds of 6 failed so, before the agent listened from its
    start())."""
    from stacklab.scenario.synth import mesh_scenario
    path = tmp_path / "mesh.yaml"
    path.write_text(mesh_scenario(10, 2, name="it-mesh10"))
    before = Snapshot()
    for attempt in range(3):
        out = stacklab("up", str(path), check=False, timeout=300)
        stacklab("down", "it-mesh10", check=False)
        assert out.returncode == 0, "build %d: %s" % (attempt + 1, out.stderr[-3000:])
    assert not wait_clean(before)
