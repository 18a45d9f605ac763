"""Every exercise for real, in a variant other than the first: start (build,
inject the fault) -> the story is what the lab does, every goal criterion
fails and every kept one holds, nothing printed names the fault -> each
plausible wrong fix -> check still fails -> reset -> the worked solution,
with the learner's commands -> check passes, says what it taught, asks its
question -> stop leaves nothing behind. Plus the commands a learner types,
and two learners side by side."""

import json
import multiprocessing
import os
import re
import signal
import time
import traceback
import xml.etree.ElementTree as ET

import pytest

from stacklab.checks import run_check
from stacklab.exercises import session
from stacklab.exercises.faults import FAULTS
from stacklab.exercises.model import find_exercise, list_exercises
from stacklab.scenario.loader import load_scenario
from stacklab.scenario.model import Check
from tests.integration.conftest import Snapshot, stacklab, wait_clean


@pytest.fixture
def learner(tmp_path, monkeypatch):
    """A learner of their own: progress file and scenario copies in tmp_path."""
    monkeypatch.setenv("STACKLAB_PROGRESS", str(tmp_path / "progress.json"))
    monkeypatch.setenv("STACKLAB_WORKDIR", str(tmp_path / "work"))
    monkeypatch.setenv("SUDO_USER", "student")
    return tmp_path


def passes_within(ex, seconds):
    """Check until it passes (a controller may take a moment to reprogram)."""
    deadline = time.monotonic() + seconds
    while True:
        passed, lines = session.check(ex)
        if passed or time.monotonic() > deadline:
            return passed, lines
        time.sleep(1.0)


def tokens(text):
    return set(re.findall(r"[\w.:/-]+", text))


def giveaways(ex):
    scenario = load_scenario(ex.scenario_file)
    secrets = {g for kind, params in ex.faults for g in FAULTS[kind].giveaways(scenario, params)}
    return secrets | {a for q in ex.questions.values() for a in q["answers"]}


def leaked(ex, text):
    return sorted(s for s in giveaways(ex) if s in tokens(text))


# Four exercises at a time, each in a process of its own (its own learner
# files): most of a cycle is waiting on probes that must fail, and one at a
# time the twenty took half of `make test`.
WORKERS = 4
CYCLES_TIMEOUT = 900        # all of them, in seconds (they take 4-5 min)


def _cycle_in_a_process(args):
    """One exercise's cycle in a worker forked before the pool started a thread: (name, None) or
    (name, what failed)."""
    name, home = args
    os.environ.update(STACKLAB_PROGRESS=os.path.join(home, "progress.json"),
                      STACKLAB_WORKDIR=os.path.join(home, "work"), SUDO_USER="student")
    try:
        cycle(name)
        return name, None
    except Exception:       # the worker reports; the test fails with every exercise's story
        return name, traceback.format_exc(limit=4)
    finally:
        # the lab's code defers SIGTERM for its teardowns; a worker must die when the pool ends it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_every_exercise_from_start_to_solution(tmp_path):
    # the newest first: theirs are the slow labs (an HA router's election is 7 s at every
    # reset), and four workers that start them early do not end waiting on one of them
    names = list_exercises()[::-1]
    before = Snapshot()
    jobs = [(name, str(tmp_path / name)) for name in names]
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        # a worker that hangs fails the test (and its lab is swept below) instead of the whole run
        results = pool.map_async(_cycle_in_a_process, jobs, chunksize=1).get(timeout=CYCLES_TIMEOUT)
    failed = ["%s:\n%s" % (name, why) for name, why in results if why]
    leaks = wait_clean(before)
    assert not failed, "\n\n".join(failed)
    assert not leaks, "the exercises left: %s" % leaks


def cycle(name):
    ex = find_exercise(name)
    variant = len(ex.variants) - 1 if ex.variants else 0
    this = ex.of_variant(variant)
    text = session.start(ex, variant=variant)
    try:
        assert ex.title in text or ex.readme().splitlines()[0] in text
        assert "## What it teaches" not in text
        picture = [line for line in text.splitlines() if line.startswith("A picture of the lab: ")]
        assert picture and os.path.getsize(picture[0].split(": ", 1)[1]) > 1000
        svg = open(picture[0].split(": ", 1)[1]).read()
        assert "differences from the scenario" not in svg and "scenario:" not in svg
        lab = session.lab_of(ex)
        assert lab.name == "ex%s-student" % ex.number
        # the story is what the broken lab does
        for kind, params, expect, story in this.symptoms:
            result = run_check(lab, Check(kind, params, 0, 0))
            assert result.ok == (expect == "pass"), "%s: the story says %r, the lab: %s" % (name, story, result.detail)
        # nothing printed before solving names the fault
        passed, lines = session.check(ex)
        assert not passed, "%s passes before anything was fixed:\n%s" % (name, "\n".join(lines))
        out = "\n".join([text] + lines)
        assert not leaked(this, out), "%s gives away %s before it is solved" % (name, leaked(this, out))
        refused = stacklab("check", lab.name, check=False)
        assert refused.returncode == 2 and "exercise check" in refused.stderr and not leaked(this, refused.stdout)
        held = {c.holds for c in this.criteria if ("  ok       " + c.holds) in lines}
        for c in this.criteria:
            assert (c.holds in held) == c.keep, "%s: %r %s on the broken lab" % (
                name, c.holds, "holds" if c.holds in held else "fails")
        assert ex.wrong_fixes, "%s names no wrong fix to prove its grading against" % name
        for fix, steps in this.wrong_fixes.items():
            session.run_steps(ex, steps)
            passed, lines = session.check(ex)
            assert not passed, "%s: the wrong fix %r passes:\n%s" % (name, fix, "\n".join(lines))
            session.reset(ex, variant=variant)
        session.run_steps(ex, this.solution)
        passed, lines = passes_within(ex, 20)
        assert passed, "%s: the worked solution does not pass:\n%s" % (name, "\n".join(lines))
        said = "\n".join(lines)
        assert "## What it teaches" in said and ex.reflection["ask"] in said
        assert ex.reflection["answer"] in session.reflect(ex, "because of the agent")
        with open(os.environ["STACKLAB_PROGRESS"]) as f:
            record = json.load(f)[name]
        assert record["passed"] and record["variant"] == variant and record["reflection"]["text"]
        assert [a["passed"] for a in record["attempts"]][-1] is True
    finally:
        session.stop(ex)


def test_learner_commands(learner, tmp_path):
    """The CLI a learner uses: list, start, check (exit 1, then 0), hint,
    answer (wrong with its misconception, then right), solution, check
    --junit named by the criteria, start twice, the instructor's report, stop."""
    env = dict(os.environ)
    before = Snapshot()
    out = stacklab("exercise", "list", env=env).stdout
    assert "01-reading-the-topology" in out and "10-one-vm-unreachable" in out
    assert stacklab("exercise", "start", "01", env=env).returncode == 0
    try:
        again = stacklab("exercise", "start", "01", env=env, check=False)
        assert again.returncode == 2 and "already started" in again.stderr
        first = stacklab("exercise", "check", env=env, check=False)
        assert first.returncode == 1 and "not yet" in first.stdout and first.stdout.startswith("checking 2 criteria")
        h1 = stacklab("exercise", "hint", env=env).stdout
        h2 = stacklab("exercise", "hint", env=env).stdout
        assert h1.startswith("hint 1 of") and h2.startswith("hint 2 of")
        wrong = stacklab("exercise", "answer", "01", "vni", "3", env=env, check=False)
        assert wrong.returncode == 1 and "not 3" in wrong.stdout and "local VLAN" in wrong.stdout
        assert stacklab("exercise", "answer", "01", "vni", "0xcb", env=env).returncode == 0
        assert stacklab("exercise", "answer", "tunnel_bridge", "BR-TUN", env=env).returncode == 0
        junit = str(tmp_path / "class" / "01.xml")
        done = stacklab("exercise", "check", "01", "--junit", junit, env=env)
        assert "solved" in done.stdout and "ok       the VNI of selfservice is answered right" in done.stdout
        suite = ET.parse(junit).getroot()
        assert suite.get("tests") == "2" and suite.get("failures") == "0"
        assert {c.get("name") for c in suite.iter("testcase")} == {
            "the bridge that holds compute1's tunnel is answered right", "the VNI of selfservice is answered right"}
        assert "vxlan-ac10000b" in stacklab("exercise", "solution", env=env).stdout
        assert "done" in [line for line in stacklab("exercise", "list", env=env).stdout.splitlines()
                          if line.startswith("01-")][0]
        report = stacklab("exercise", "report", env=env).stdout
        row = [line for line in report.splitlines() if "01-reading-the-topology" in line][0]
        assert row.split()[:3] == ["student", "01-reading-the-topology", "solved"], report
    finally:
        stacklab("exercise", "stop", "01", env=env)
    leaks = wait_clean(before)
    assert not leaks, "left: %s" % leaks


def test_two_learners_side_by_side_and_a_scenario_lab(tmp_path, monkeypatch):
    """A class on one machine: alice and bob start the same exercise (two
    variants) while vxlan-instance itself is up; alice solves hers, bob's
    stays broken, the scenario's lab is untouched; the report has both."""
    before = Snapshot()
    ex = find_exercise("04")

    def as_user(user):
        monkeypatch.setenv("SUDO_USER", user)
        monkeypatch.setenv("STACKLAB_PROGRESS", str(tmp_path / ("%s.json" % user)))
        monkeypatch.setenv("STACKLAB_WORKDIR", str(tmp_path / user))

    stacklab("up", "vxlan-instance")
    try:
        as_user("alice")
        session.start(ex, variant=0)
        as_user("bob")
        session.start(ex, variant=2)
        assert session.lab_of(ex).name == "ex04-bob"
        as_user("alice")
        assert session.lab_of(ex).name == "ex04-alice"
        session.run_steps(ex, ex.of_variant(0).solution)
        assert passes_within(ex, 20)[0]
        as_user("bob")
        assert not session.check(ex)[0]
        assert stacklab("check", "vxlan-instance").returncode == 0
        rows = session.report({"alice": str(tmp_path / "alice.json"), "bob": str(tmp_path / "bob.json")})
        assert [(r["user"], r["status"]) for r in rows] == [("alice", "solved"), ("bob", "started")]
        assert rows[0]["seconds"] is not None and rows[1]["checks"] == 1
    finally:
        for user in ("alice", "bob"):
            as_user(user)
            session.stop(ex)
        stacklab("down", "vxlan-instance")
    assert not wait_clean(before)
