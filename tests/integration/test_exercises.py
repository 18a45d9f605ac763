"""Every exercise for real: start (build, inject the fault) -> check fails ->
a plausible wrong fix -> check still fails -> reset (a fresh lab) -> the
worked solution, with the learner's commands -> check passes -> stop leaves
nothing behind. Plus the commands a learner types, through the CLI."""

import json
import os
import time
import xml.etree.ElementTree as ET

import pytest

from stacklab.exercises import session
from stacklab.exercises.model import find_exercise, list_exercises
from tests.integration.conftest import Snapshot, stacklab, wait_clean


@pytest.fixture
def learner(tmp_path, monkeypatch):
    """A learner of their own: progress file and scenario copies in tmp_path."""
    monkeypatch.setenv("STACKLAB_PROGRESS", str(tmp_path / "progress.json"))
    monkeypatch.setenv("STACKLAB_WORKDIR", str(tmp_path / "work"))
    return tmp_path


def passes_within(ex, seconds):
    """Check until it passes (a controller may take a moment to reprogram)."""
    deadline = time.monotonic() + seconds
    while True:
        passed, lines = session.check(ex)
        if passed or time.monotonic() > deadline:
            return passed, lines
        time.sleep(1.0)


@pytest.mark.parametrize("name", list_exercises())
def test_exercise(name, learner):
    ex = find_exercise(name)
    before = Snapshot()
    text = session.start(ex)
    try:
        assert ex.title in text or ex.readme().splitlines()[0] in text
        picture = [line for line in text.splitlines() if line.startswith("A picture of the lab: ")]
        assert picture and os.path.getsize(picture[0].split(": ", 1)[1]) > 1000
        passed, lines = session.check(ex)
        assert not passed, "%s passes before anything was fixed:\n%s" % (name, "\n".join(lines))
        says = {c[2] for c in ex.criteria}
        assert any(s in "\n".join(lines) for s in says)
        assert ex.wrong_fixes, "%s names no wrong fix to prove its grading against" % name
        for fix, steps in ex.wrong_fixes.items():
            session.run_steps(ex, steps)
            passed, lines = session.check(ex)
            assert not passed, "%s: the wrong fix %r passes:\n%s" % (name, fix, "\n".join(lines))
            session.reset(ex)
        session.run_steps(ex, ex.solution)
        passed, lines = passes_within(ex, 20)
        assert passed, "%s: the worked solution does not pass:\n%s" % (name, "\n".join(lines))
        with open(os.environ["STACKLAB_PROGRESS"]) as f:
            assert json.load(f)[name]["passed"]
    finally:
        session.stop(ex)
    leaks = wait_clean(before)
    assert not leaks, "exercise %s left: %s" % (name, leaks)


def test_learner_commands(learner, tmp_path):
    """The CLI a learner uses: list, start, check (exit 1, then 0), hint,
    answer (wrong, then right), solution, check --junit, start twice, stop."""
    env = dict(os.environ)
    before = Snapshot()
    out = stacklab("exercise", "list", env=env).stdout
    assert "01-reading-the-topology" in out and "10-netvirt-missing-group" in out
    assert stacklab("exercise", "start", "01", env=env).returncode == 0
    try:
        again = stacklab("exercise", "start", "01", env=env, check=False)
        assert again.returncode == 2 and "already started" in again.stderr
        first = stacklab("exercise", "check", env=env, check=False)
        assert first.returncode == 1 and "not yet" in first.stdout
        h1 = stacklab("exercise", "hint", env=env).stdout
        h2 = stacklab("exercise", "hint", env=env).stdout
        assert h1.startswith("hint 1 of") and h2.startswith("hint 2 of")
        wrong = stacklab("exercise", "answer", "01", "vni", "3", env=env, check=False)
        assert wrong.returncode == 1 and "not 3" in wrong.stdout
        assert stacklab("exercise", "answer", "01", "vni", "0xcb", env=env).returncode == 0
        assert stacklab("exercise", "answer", "tunnel_bridge", "BR-TUN", env=env).returncode == 0
        junit = str(tmp_path / "class" / "01.xml")
        done = stacklab("exercise", "check", "01", "--junit", junit, env=env)
        assert "solved" in done.stdout
        suite = ET.parse(junit).getroot()
        assert suite.get("tests") == "2" and suite.get("failures") == "0"
        assert "vxlan-ac10000b" in stacklab("exercise", "solution", env=env).stdout
        assert "done" in [l for l in stacklab("exercise", "list", env=env).stdout.splitlines()
                          if l.startswith("01-")][0]
    finally:
        stacklab("exercise", "stop", "01", env=env)
    leaks = wait_clean(before)
    assert not leaks, "left: %s" % leaks


def test_start_refuses_a_lab_built_for_something_else(learner):
    before = Snapshot()
    stacklab("up", "vxlan-instance")
    try:
        out = stacklab("exercise", "start", "04", check=False)
        assert out.returncode == 2 and "stacklab down vxlan-instance" in out.stderr
        out = stacklab("exercise", "check", "04", check=False)
        assert out.returncode == 2 and "not started" in out.stderr
    finally:
        stacklab("down", "vxlan-instance")
    assert not wait_clean(before)
