"""What the `stacklab exercise` commands do: start (build, break, tell the
task), check (grade from probes and the lab's state), hint, solution,
answer, reflect, reset, stop, and the instructor's report.

Each learner's exercise is a lab of its own, named after the exercise and the
learner (ex04-alice), so a class shares one machine: two learners, or one
learner's two exercises on the same scenario, never meet. The lab carries
<lab>/exercise.json (which exercise, whose, which variant), so a lab built for
something else is never graded."""

import json
import os
import random
import re
import shutil
import time

from stacklab import runner
from stacklab.checks import FAIL, PASS, CheckResult, run_check
from stacklab.errors import LabError
from stacklab.exercises.faults import FAULTS
from stacklab.exercises.model import find_exercise, list_exercises
from stacklab.exercises.progress import Progress, give_to_learner, learner, workdir
from stacklab.naming import LAB_NAME_MAX, command, invocation
from stacklab.runtime.running import RunningLab
from stacklab.runtime.state import lab_dir, running_labs
from stacklab.scenario.endpoints import namespace
from stacklab.scenario.loader import load_scenario
from stacklab.scenario.model import Check

MARK = "exercise.json"


def lab_name(ex, user=None):
    """The lab of exercise `ex` for `user` (default: the learner behind sudo): ex04-alice."""
    user = user or learner()[0]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", user)
    return ("ex%s-%s" % (ex.number, safe))[:LAB_NAME_MAX]


def running_exercise(name):
    """What lab `name` was built for ({name, user, variant, ...}), or None."""
    try:
        with open(os.path.join(lab_dir(name), MARK)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def mine():
    """{lab: record} of the exercises the learner has running."""
    user = learner()[0]
    records = {name: running_exercise(name) for name in running_labs()}
    return {name: r for name, r in records.items() if r and r.get("user", user) == user}


def current(name=None):
    """The exercise a command is about: `name`, or the learner's only running one."""
    if name:
        return find_exercise(name)
    started = sorted(r["name"] for r in mine().values())
    if len(started) == 1:
        return find_exercise(started[0])
    if not started:
        raise LabError("no exercise of yours is running: %s, then %s"
                       % (invocation("exercise list"), invocation("exercise start NAME")))
    raise LabError("you have several exercises running (%s): name one" % ", ".join(started))


def record_of(ex):
    """The running record of the learner's exercise `ex`; LabError if it is not started."""
    record = running_exercise(lab_name(ex))
    if record is None or record["name"] != ex.name:
        raise LabError("exercise %s is not started: %s" % (ex.name, invocation("exercise start %s" % ex.number)))
    return record


def drawn(ex):
    """`ex` as the learner's running lab has it (the variant drawn at start)."""
    return ex.of_variant(record_of(ex).get("variant", 0))


def lab_of(ex):
    """The learner's running lab of exercise `ex` (RunningLab)."""
    record_of(ex)
    return RunningLab.open(lab_name(ex))


def listing(progress=None):
    progress = progress or Progress()
    rows = []
    for name in list_exercises():
        ex = find_exercise(name)
        p = progress.data.get(name, {})
        status = "done" if p.get("passed") else "started" if p.get("started") else ""
        rows.append((name, ex.level, ex.level_name, ex.document, ex.title, status))
    return rows


def start(ex, progress_out=None, variant=None):
    """Build the learner's lab of `ex`, inject the faults of a drawn variant,
    record it; returns the text to show the learner (the task, the picture,
    their scenario copy). `variant`: that one instead of a random draw."""
    name = lab_name(ex)
    if name in running_labs():
        record = running_exercise(name)
        if record and record["name"] == ex.name:
            raise LabError("exercise %s is already started: %s, or %s to start over"
                           % (ex.name, invocation("exercise check %s" % ex.number),
                              invocation("exercise reset %s" % ex.number)))
        raise LabError("lab %s is up, not for exercise %s: %s first" % (name, ex.name, invocation("down " + name)))
    if variant is None:
        variant = random.SystemRandom().randrange(len(ex.variants)) if ex.variants else 0
    this = ex.of_variant(variant)
    scenario = load_scenario(ex.scenario_file)
    t0 = time.monotonic()
    state = runner.up(scenario, progress_out, name=name)
    try:
        lab = RunningLab(state)
        lab.scenario = scenario
        injected = [FAULTS[kind].inject(lab, scenario, params) for kind, params in this.faults]
        with open(os.path.join(state.dir, MARK), "w") as f:
            json.dump({"name": ex.name, "user": learner()[0], "variant": variant, "started": time.time(),
                       "injected": injected}, f)
        picture = _draw(lab)
        copy = _learner_copy(ex, scenario)
    except BaseException:
        runner.down(name)
        raise
    progress = Progress()
    record = progress.of(ex.name)
    record.update(started=time.time(), variant=variant, lab=name)
    record.setdefault("starts", 0)
    record["starts"] += 1
    progress.save()
    return task_text(ex, picture, copy, time.monotonic() - t0, lab=name)


def _draw(lab):
    """The lab as it runs now (what the learner's tools show), nothing
    marked: a mark on what differs from the scenario would point at the fault."""
    from stacklab.draw import render_running
    path = os.path.join(lab.state.dir, "lab.svg")
    render_running(lab, path, mark_differences=False)
    give_to_learner(path)
    return path


def _learner_copy(ex, scenario):
    """The scenario, where the learner can edit it and `stacklab apply` it."""
    directory = os.path.join(workdir(), ex.name)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, os.path.basename(scenario.file))
    with open(path, "w") as f:
        f.write(scenario.text)
    for p in (workdir(), directory, path):
        give_to_learner(p)
    return path


def task_text(ex, picture=None, copy=None, seconds=None, lab=None):
    lines = [ex.task().rstrip(), ""]
    if seconds is not None:
        lines.append("The lab is up (%.1f s), and something in it is broken." % seconds if ex.faults or ex.variants
                     else "The lab is up (%.1f s)." % seconds)
    if lab:
        lines.append("Your lab is %s: `%s cli %s` to look around inside its nodes." % (lab, command(), lab))
    if picture:
        lines.append("A picture of the lab: %s" % picture)
    if copy:
        lines.append("The lab's scenario, yours to edit and `%s apply %s --lab %s`: %s"
                     % (command(), os.path.basename(copy), lab or lab_name(ex), copy))
    lines.append("When you think you are done: `%s exercise check %s` (or `check` in the CLI); "
                 "stuck: `hint`." % (command(), ex.number))
    return "\n".join(lines)


def _settle(lab):
    """Before grading, the lab as its agents' next full pass would leave it:
    flows an agent does not own (hand-made ones) are gone, as neutron's
    agent removes them at its next resync. A fix only the switch holds is no fix."""
    runner.settle(lab.name)


def grade(ex, lab, progress=None, emit=None):
    """Run every criterion of `ex` (the drawn variant) against the lab;
    [(CheckResult, criterion)]. `emit(line)`: each result as it comes."""
    progress = progress or Progress()
    answers = progress.of(ex.name)["answers"]
    out = []
    _settle(lab)
    for index, criterion in enumerate(ex.criteria):
        check = Check(criterion.kind, criterion.params, index, criterion.line)
        if criterion.kind == "answer":
            q = criterion.params["question"]
            given = answers.get(q)
            ok = given is not None and is_right(ex.questions[q], given)
            detail = "answered %r" % given if given is not None else "not answered"
            result = CheckResult(check, PASS if ok else FAIL, detail, 0.0)
        else:
            result = run_check(lab, check)
        out.append((result, criterion))
        if emit:
            emit(_line(result, criterion))
    return out


def _line(result, criterion):
    """A criterion as the learner reads it: what holds, or the symptom (never the check's detail,
    which may name the broken thing and its right value)."""
    return "  ok       %s" % criterion.holds if result.ok else "  not yet  %s" % criterion.says


def check(ex, junit=None, emit=None):
    """Grade the learner's running exercise; returns (passed, lines to print).
    `emit(line)`: each line as soon as it is known (a slow probe shows)."""
    this = drawn(ex)
    lab = lab_of(ex)
    progress = Progress()
    lines = []

    def say(line):
        lines.append(line)
        if emit:
            emit(line)
    say("checking %d criteria of %s..." % (len(this.criteria), ex.name))
    t0 = time.time()
    results = grade(this, lab, progress, say)
    passed = all(r.ok for r, _ in results)
    record = progress.of(ex.name)
    record["checks"] = record.get("checks", 0) + 1
    record.setdefault("attempts", []).append({"at": t0, "passed": passed, "held": sum(r.ok for r, _ in results),
                                              "of": len(results)})
    first_time = passed and not record.get("passed")
    if first_time:
        progress.mark(ex.name, "passed")
    progress.save()
    n = sum(r.ok for r, _ in results)
    say("%s: %d of %d criteria hold%s" % (ex.name, n, len(results), " -- solved!" if passed else ""))
    if passed:
        teaches = ex.teaches()
        if teaches:
            say("")
            say(teaches.rstrip())
        if ex.reflection:
            say("")
            say("A question to think about: %s" % ex.reflection["ask"])
            say("(`%s exercise reflect %s \"your answer\"` records your answer and shows ours)"
                % (command(), ex.number))
    if junit:
        write_junit(ex, results, junit)
    return passed, lines


def write_junit(ex, results, path):
    """The grading as JUnit XML: a test case per criterion, named by what it asks."""
    from stacklab import report
    cases = [report.Case("exercise.%s" % ex.name, c.holds, r.seconds, None if r.ok else c.says)
             for r, c in results]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    report.junit_cases("exercise.%s" % ex.name, cases, path)


def hint(ex):
    this = drawn(ex)
    progress = Progress()
    record = progress.of(ex.name)
    if not this.hints:
        return "exercise %s has no hints" % ex.name
    shown = min(record.get("hints", 0) + 1, len(this.hints))
    record["hints"] = shown
    progress.save()
    text = "hint %d of %d: %s" % (shown, len(this.hints), this.hints[shown - 1])
    if shown == len(this.hints):
        text += "\n(that was the last one; the worked solution: %s)" % invocation("exercise solution %s" % ex.number)
    return text


def solution(ex):
    """The worked solution (of the drawn variant, with its steps when it has variants)."""
    progress = Progress()
    progress.mark(ex.name, "solution_seen")
    progress.save()
    text = ex.solution_text()
    if ex.variants:
        this = drawn(ex)
        steps = ["  %s: %s" % (s.where, s.run) for s in this.solution if s.run]
        text += "\nIn your lab, that is:\n" + "\n".join(steps) + "\n"
    return text


def normalize(value):
    value = str(value).strip().lower()
    try:
        return str(int(value, 0))
    except ValueError:
        return value


def is_right(question, value):
    return normalize(value) in {normalize(a) for a in question["answers"]}


def misconception(question, value):
    """What a wrong `value` likely mistakes, if the exercise knows."""
    for wrong, why in question.get("misconceptions", {}).items():
        if normalize(wrong) == normalize(value):
            return why
    return None


def answer(ex, value, question=None):
    """Record an answer; returns (right, message)."""
    if not ex.questions:
        raise LabError("exercise %s asks no question" % ex.name)
    if question is None:
        if len(ex.questions) > 1:
            raise LabError("exercise %s asks %d questions: %s with QUESTION one of %s"
                           % (ex.name, len(ex.questions), invocation("exercise answer %s QUESTION VALUE" % ex.number),
                              ", ".join(ex.questions)))
        question = next(iter(ex.questions))
    if question not in ex.questions:
        raise LabError("exercise %s has no question %s (it has: %s)" % (ex.name, question, ", ".join(ex.questions)))
    progress = Progress()
    record = progress.of(ex.name)
    record["answers"][question] = value
    q = ex.questions[question]
    right = is_right(q, value)
    record.setdefault("answer_attempts", []).append({"at": time.time(), "question": question, "value": value,
                                                     "right": right})
    progress.save()
    if right:
        return True, "%s: right." % q["ask"]
    why = misconception(q, value)
    return False, "%s: not %s. %s" % (q["ask"], value, why or "Look again.")


def reflect(ex, text):
    """Record the learner's answer to the reflection question (once solved); returns ours."""
    if not ex.reflection:
        raise LabError("exercise %s has no reflection question" % ex.name)
    progress = Progress()
    record = progress.of(ex.name)
    if not record.get("passed"):
        raise LabError("exercise %s is not solved yet: the question comes after" % ex.name)
    record["reflection"] = {"at": time.time(), "text": text}
    progress.save()
    return "%s\nrecorded. What we would say: %s" % (ex.reflection["ask"], ex.reflection["answer"])


def reset(ex, progress_out=None, variant=None):
    """Remove the learner's lab of `ex`, forget their progress on it, start again."""
    name = lab_name(ex)
    record = running_exercise(name)
    if name in running_labs():
        if record is None or record["name"] != ex.name:
            raise LabError("lab %s is up but not for exercise %s: %s first" % (name, ex.name, invocation("down " + name)))
        runner.down(name)
    progress = Progress()
    progress.forget(ex.name)
    progress.save()
    shutil.rmtree(os.path.join(workdir(), ex.name), ignore_errors=True)
    return start(ex, progress_out, variant)


def stop(ex):
    lab_of(ex)
    return runner.down(lab_name(ex))


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


# -- the instructor's view --------------------------------------------------------
def report(progress_files=None):
    """Every learner's exercises: [{user, exercise, status, checks, hints,
    answers, seconds, solution_seen, reflection}]. `progress_files`:
    {user: path} (default: every user's progress file on this machine)."""
    from stacklab.exercises.progress import all_progress_files
    files = progress_files if progress_files is not None else all_progress_files()
    rows = []
    for user, path in sorted(files.items()):
        data = Progress(path).data
        for name in sorted(data):
            r = data[name]
            started, passed = r.get("started"), r.get("passed")
            attempts = r.get("attempts", [])
            rows.append({
                "user": user, "exercise": name,
                "status": "solved" if passed else "started" if started else "",
                "checks": r.get("checks", len(attempts)),
                "hints": r.get("hints", 0),
                "wrong_answers": sum(1 for a in r.get("answer_attempts", []) if not a["right"]),
                "seconds": (passed - started) if passed and started and passed >= started else None,
                "solution_seen": bool(r.get("solution_seen")),
                "reflection": (r.get("reflection") or {}).get("text"),
            })
    return rows


def report_text(rows):
    if not rows:
        return "no learner has started an exercise on this machine"
    lines = ["%-14s %-28s %-8s %6s %5s %5s %9s %s" % ("USER", "EXERCISE", "STATUS", "CHECKS", "HINTS", "WRONG",
                                                       "TIME", "SOLUTION SEEN")]
    for r in rows:
        t = r["seconds"]
        took = "-" if t is None else "%dm%02ds" % (t // 60, t % 60)
        lines.append("%-14s %-28s %-8s %6d %5d %5d %9s %s" % (r["user"], r["exercise"], r["status"] or "-",
                                                               r["checks"], r["hints"], r["wrong_answers"], took,
                                                               "yes" if r["solution_seen"] else "no"))
    return "\n".join(lines)


def report_junit(rows, path):
    """The class as JUnit XML: a test case per learner and exercise, failed until solved."""
    from stacklab import report as rep
    cases = [rep.Case("class.%s" % r["user"], "%s: %s" % (r["exercise"], find_exercise(r["exercise"]).title)
                      if r["exercise"] in list_exercises() else r["exercise"], r["seconds"] or 0.0,
                      None if r["status"] == "solved" else "not solved (%d checks, %d hints)" % (r["checks"],
                                                                                                r["hints"]))
             for r in rows]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    rep.junit_cases("class", cases, path)
