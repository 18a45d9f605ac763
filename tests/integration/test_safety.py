"""No path escapes a lab. In a sandboxed run directory (STACKLAB_RUN_DIR)
with a victim directory beside it and a lab record in it: every verb that
takes a lab's name refuses '.', '..', '../victim', an absolute path, with
one line and before touching anything; a symbolic link planted in the run
directory is neither listed, nor followed, nor removed through. And a lab
whose record cannot be read is still removed whole, its processes found by
the mark they carry."""

import json
import os
import subprocess
import sys

import pytest

from .conftest import STACKLAB, Snapshot, scenario_path, stacklab, wait_clean

BAD_NAMES = [".", "..", "./../victim", "../victim", "/tmp", "a/b", "x" * 30, ""]


@pytest.fixture
def sandbox(tmp_path):
    run, victim = tmp_path / "run", tmp_path / "victim"
    run.mkdir()
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    lab = run / "other-lab"             # somebody's lab record (no processes): must survive
    lab.mkdir()
    (lab / "state.json").write_text(json.dumps({"name": "other-lab", "phase": "up"}))
    os.symlink(str(victim), str(run / "planted"))
    env = dict(os.environ, STACKLAB_RUN_DIR=str(run))
    return run, victim, env


def sandboxed(env, *args):
    return subprocess.run(STACKLAB + list(args), capture_output=True, text=True, timeout=60, env=env)


def intact(run, victim):
    assert (victim / "precious").read_text() == "keep me"
    assert (run / "other-lab" / "state.json").exists()
    assert os.path.islink(str(run / "planted"))


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("verb", [["down"], ["down", "--lab"], ["status"], ["check"], ["cli"],
                                  ["exec", "--lab", "{}", "compute1", "--", "true"],
                                  ["flows", "show", "compute1", "br-int", "--lab"],
                                  ["flows", "walk", "A", "B", "--lab"], ["ssh", "--lab", "{}", "vm1"],
                                  ["draw", "--lab"]])
def test_every_verb_refuses_what_is_no_lab_name(sandbox, verb, name):
    run, victim, env = sandbox
    args = [a.replace("{}", name) for a in verb] if "{}" in verb else verb + [name]
    out = sandboxed(env, *args)
    assert out.returncode == 2, (args, out.stdout, out.stderr)
    assert out.stderr.count("\n") == 1 and "is not a lab name" in out.stderr, out.stderr
    intact(run, victim)


def test_apply_refuses_a_lab_option_that_is_no_name(sandbox):
    run, victim, env = sandbox
    out = sandboxed(env, "apply", scenario_path("two-node"), "--lab", "../victim")
    assert out.returncode == 2 and "is not a lab name" in out.stderr, out.stderr
    intact(run, victim)


def test_a_planted_symbolic_link_is_no_lab(sandbox):
    run, victim, env = sandbox
    status = json.loads(sandboxed(env, "status", "--json").stdout)
    assert [lab["name"] for lab in status] == ["other-lab"]
    out = sandboxed(env, "down", "planted")
    assert out.returncode == 2 and "symbolic link" in out.stderr and "not follow" in out.stderr, out.stderr
    out = sandboxed(env, "down", "--all")
    assert "planted" not in out.stdout + out.stderr
    assert (victim / "precious").read_text() == "keep me" and os.path.islink(str(run / "planted"))


def test_the_lock_file_is_never_followed(sandbox):
    run, victim, env = sandbox
    os.symlink(str(victim / "lock-target"), str(run / ".other-lab.lock"))
    out = sandboxed(env, "down", "other-lab")
    assert out.returncode == 2 and "cannot take the lock" in out.stderr, out.stderr
    assert not (victim / "lock-target").exists()
    intact(run, victim)


def test_an_unreadable_record_is_still_removed_whole():
    """state.json garbled while the lab runs: `down` still ends its keeper,
    its Open vSwitch, agent, dnsmasq and dropbear (found by the lab's mark)
    and says the record was unreadable; nothing is left."""
    before = Snapshot()
    stacklab("up", scenario_path("two-node"))
    try:
        path = "/run/stacklab/it-two-node/state.json"
        with open(path, "w") as f:
            f.write("{ not json")
        status = stacklab("status", "it-two-node", check=False)
        assert "unreadable" in status.stdout, status.stdout
        out = stacklab("down", "it-two-node")
        assert "removed" in out.stdout and "record was unreadable" in out.stdout, out.stdout
    finally:
        stacklab("down", "it-two-node", check=False)
    assert not wait_clean(before)


def test_nothing_of_a_lab_runs_without_its_mark():
    """Every process a build starts carries STACKLAB_LAB (what finds them
    without the record); the keeper, which marked itself too late for
    /proc to show it, is in a file of its own; the test's process is not
    the lab's."""
    stacklab("up", scenario_path("two-node"))
    try:
        from stacklab.runtime.procs import marked
        from stacklab.runtime.state import LabState
        from stacklab.runtime.teardown import lab_processes
        state = LabState.load("it-two-node")
        found = {p.pid for p in marked("STACKLAB_LAB", state.mark)}
        recorded = {p.pid for p in lab_processes(state)}
        assert len(recorded) > 10 and recorded <= found, recorded - found
        assert os.getpid() not in found
        with open(os.path.join(state.dir, "keeper")) as f:
            assert int(f.read().split()[0]) == state.keeper.pid
    finally:
        stacklab("down", "it-two-node")


def test_a_scenario_file_named_as_no_lab_is_refused(tmp_path):
    bad = tmp_path / "my lab.yaml"
    bad.write_text(open(scenario_path("two-node")).read().replace("name: it-two-node\n", ""))
    out = subprocess.run([sys.executable, "-m", "stacklab.cli", "validate", str(bad)], capture_output=True,
                         text=True)
    assert out.returncode == 2 and "the lab is named after the file" in out.stderr, out.stderr
