"""What the `stacklab exercise` commands do: start (build, break, tell the
task), check (grade from probes and the lab's state), hint, solution,
answer, reset. The lab of an exercise is its scenario's lab, marked with
<lab>/exercise.json so that a lab built for something else is never graded."""

import json
import os
import shutil
import time

from stacklab import runner
from stacklab.checks import FAIL, PASS, CheckResult, run_check
from stacklab.errors import LabError
from stacklab.exercises.faults import FAULTS
from stacklab.exercises.model import find_exercise, list_exercises
from stacklab.exercises.progress import Progress, give_to_learner, workdir
from stacklab.runtime.running import RunningLab
from stacklab.runtime.state import lab_dir, running_labs
from stacklab.scenario.endpoints import namespace
from stacklab.scenario.loader import load_scenario
from stacklab.scenario.model import Check

MARK = "exercise.json"


def running_exercise(lab_name):
    """The exercise lab `lab_name` was built for (its record), or None."""
    try:
        with open(os.path.join(lab_dir(lab_name), MARK)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def current(name=None):
    """The exercise a command is about: `name`, or the only one running."""
    if name:
        return find_exercise(name)
    started = [r["name"] for r in map(running_exercise, running_labs()) if r]
    if len(started) == 1:
        return find_exercise(started[0])
    if not started:
        raise LabError("no exercise is running: `stacklab exercise list`, then `stacklab exercise start NAME`")
    raise LabError("several exercises are running (%s): name one" % ", ".join(started))


def lab_of(ex):
    """The running lab of exercise `ex` (RunningLab, with its scenario)."""
    scenario = load_scenario(ex.scenario_file)
    record = running_exercise(scenario.name)
    if record is None or record["name"] != ex.name:
        raise LabError("exercise %s is not started: `stacklab exercise start %s`" % (ex.name, ex.name))
    return RunningLab.open(scenario.name)


def listing(progress=None):
    progress = progress or Progress()
    rows = []
    for name in list_exercises():
        ex = find_exercise(name)
        p = progress.data.get(name, {})
        status = "done" if p.get("passed") else "started" if p.get("started") else ""
        rows.append((name, ex.level, ex.level_name, ex.document, ex.title, status))
    return rows


def start(ex, progress_out=None):
    """Build the exercise's lab, inject its faults, record it; returns the
    text to show the learner (the task, the picture, their scenario copy)."""
    scenario = load_scenario(ex.scenario_file)
    if scenario.name in running_labs():
        record = running_exercise(scenario.name)
        if record and record["name"] == ex.name:
            raise LabError("exercise %s is already started: `stacklab exercise check %s`, or "
                           "`stacklab exercise reset %s` to start over" % (ex.name, ex.name, ex.name))
        raise LabError("lab %s is up (%s); exercise %s builds it afresh: `stacklab down %s` first"
                       % (scenario.name, "exercise %s" % record["name"] if record else "not for an exercise",
                          ex.name, scenario.name))
    t0 = time.monotonic()
    state = runner.up(scenario, progress_out)
    try:
        lab = RunningLab(state)
        lab.scenario = scenario
        injected = [FAULTS[kind].inject(lab, scenario, params) for kind, params in ex.faults]
        with open(os.path.join(state.dir, MARK), "w") as f:
            json.dump({"name": ex.name, "started": time.time(), "injected": injected}, f)
        picture = _draw(scenario, state)
        copy = _learner_copy(ex, scenario)
    except BaseException:
        runner.down(scenario.name)
        raise
    progress = Progress()
    progress.mark(ex.name, "started")
    progress.save()
    return task_text(ex, picture, copy, time.monotonic() - t0)


def _draw(scenario, state):
    from stacklab.draw import render
    path = os.path.join(state.dir, "lab.svg")
    render(scenario, path)
    return path


def _learner_copy(ex, scenario):
    """The scenario, where the learner can edit it and `stacklab apply` it."""
    directory = os.path.join(workdir(), ex.name)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "scenario.yaml")
    with open(path, "w") as f:
        f.write(scenario.text)
    for p in (workdir(), directory, path):
        give_to_learner(p)
    return path


def task_text(ex, picture=None, copy=None, seconds=None):
    lines = [ex.readme().rstrip(), ""]
    if seconds is not None:
        lines.append("The lab is up (%.1f s), and something in it is broken." % seconds if ex.faults
                     else "The lab is up (%.1f s)." % seconds)
    if picture:
        lines.append("A picture of the lab: %s" % picture)
    if copy:
        lines.append("The lab's scenario, yours to edit and `sudo stacklab apply`: %s" % copy)
    lines.append("When you think you are done: `stacklab exercise check %s` (or `check` in the CLI); "
                 "stuck: `hint`." % ex.name)
    return "\n".join(lines)


def grade(ex, lab, progress=None):
    """Run every criterion against the lab; [(CheckResult, says)]."""
    progress = progress or Progress()
    answers = progress.of(ex.name)["answers"]
    out = []
    for index, (kind, params, says, line) in enumerate(ex.criteria):
        check = Check(kind, params, index, line)
        if kind == "answer":
            q = params["question"]
            given = answers.get(q)
            ok = given is not None and is_right(ex.questions[q], given)
            detail = "answered %r" % given if given is not None else "not answered"
            result = CheckResult(check, PASS if ok else FAIL, detail, 0.0)
        else:
            result = run_check(lab, check)
        out.append((result, says))
    return out


def check(ex, junit=None):
    """Grade; returns (passed, lines to print)."""
    lab = lab_of(ex)
    progress = Progress()
    results = grade(ex, lab, progress)
    passed = all(r.ok for r, _ in results)
    record = progress.of(ex.name)
    record["checks"] = record.get("checks", 0) + 1
    if passed and not record.get("passed"):
        progress.mark(ex.name, "passed")
    progress.save()
    lines = []
    for r, says in results:
        if r.ok:
            lines.append("  ok    %s" % _passed_title(r))
        else:
            lines.append("  not yet  %s" % says)
    n = sum(r.ok for r, _ in results)
    lines.append("%s: %d of %d criteria hold%s" % (ex.name, n, len(results),
                                                 " -- solved!" if passed else ""))
    if junit:
        from stacklab import report
        for r, says in results:
            if not r.ok:
                r.detail = says
        os.makedirs(os.path.dirname(os.path.abspath(junit)), exist_ok=True)
        report.junit([r for r, _ in results], "exercise.%s" % ex.name, junit)
    return passed, lines


def _passed_title(result):
    if result.check.kind == "answer":
        return "question %s answered right" % result.check.params["question"]
    return result.check.title


def hint(ex):
    progress = Progress()
    record = progress.of(ex.name)
    if not ex.hints:
        return "exercise %s has no hints" % ex.name
    shown = min(record.get("hints", 0) + 1, len(ex.hints))
    record["hints"] = shown
    progress.save()
    text = "hint %d of %d: %s" % (shown, len(ex.hints), ex.hints[shown - 1])
    if shown == len(ex.hints):
        text += "\n(that was the last one; the worked solution: `stacklab exercise solution %s`)" % ex.name
    return text


def solution(ex):
    progress = Progress()
    progress.mark(ex.name, "solution_seen")
    progress.save()
    return ex.solution_text()


def normalize(value):
    value = str(value).strip().lower()
    try:
        return str(int(value, 0))
    except ValueError:
        return value


def is_right(question, value):
    return normalize(value) in {normalize(a) for a in question["answers"]}


def answer(ex, value, question=None):
    """Record an answer; returns (right, message)."""
    if not ex.questions:
        raise LabError("exercise %s asks no question" % ex.name)
    if question is None:
        if len(ex.questions) > 1:
            raise LabError("exercise %s asks %d questions: `stacklab exercise answer %s QUESTION VALUE` "
                           "with QUESTION one of %s" % (ex.name, len(ex.questions), ex.name,
                                                         ", ".join(ex.questions)))
        question = next(iter(ex.questions))
    if question not in ex.questions:
        raise LabError("exercise %s has no question %s (it has: %s)" % (ex.name, question, ", ".join(ex.questions)))
    progress = Progress()
    progress.of(ex.name)["answers"][question] = value
    progress.save()
    q = ex.questions[question]
    if is_right(q, value):
        return True, "%s: right." % q["ask"]
    return False, "%s: not %s. Look again." % (q["ask"], value)


def reset(ex, progress_out=None):
    """Remove the exercise's lab, forget the learner's progress on it, start again."""
    scenario = load_scenario(ex.scenario_file)
    record = running_exercise(scenario.name)
    if scenario.name in running_labs():
        if record is None or record["name"] != ex.name:
            raise LabError("lab %s is up but not for exercise %s: `stacklab down %s` first"
                           % (scenario.name, ex.name, scenario.name))
        runner.down(scenario.name)
    progress = Progress()
    progress.forget(ex.name)
    progress.save()
    copy = os.path.join(workdir(), ex.name)
    shutil.rmtree(copy, ignore_errors=True)
    return start(ex, progress_out)


def stop(ex):
    scenario = load_scenario(ex.scenario_file)
    lab_of(ex)
    return runner.down(scenario.name)


def run_steps(ex, steps):
    """Carry out steps (the worked solution, a wrong fix) as a learner would:
    commands inside the lab's namespaces, `stacklab apply`, answers."""
    lab = lab_of(ex)
    for step in steps:
        if step.run is not None:
            where = namespace(lab.scenario, step.where) or step.where
            proc = lab.run(where, ["sh", "-c", step.run], timeout=60)
            if proc.returncode != 0:
                raise LabError("step in %s failed (%d): %s\n%s" % (step.where, proc.returncode, step.run,
                                                                   (proc.stderr or proc.stdout).strip()))
        elif step.apply is not None:
            new = load_scenario(ex.file(step.apply))
            result = runner.apply(lab.name, new)
            if result.get("error") or result.get("refused"):
                raise LabError("apply %s: %s" % (step.apply, result.get("error") or result.get("refused")))
            lab.reload_scenario()
        else:
            answer(ex, step.value, step.answer)
