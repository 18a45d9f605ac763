"""An exercise: exercises/NN-name/ with README.md (the story and the task),
exercise.yaml (scenario, faults, hints, questions, grading criteria, the
worked solution's steps) and solution.md (the solution, explained).

exercise.yaml is validated like a scenario: every problem with its file,
line and key, before anything is built."""

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from stacklab.errors import Problem, ScenarioError
from stacklab.scenario.schema import INVALID, Field, Int, ListOf, MapOf, Name, OneOfKinds, Record, Str
from stacklab.scenario.yamlsrc import load_source
from stacklab.shipped import shipped_dir

EXERCISE_DIR = shipped_dir("exercises")

LEVELS = {1: "reading", 2: "fixing", 3: "debugging across services"}


class Criterion(OneOfKinds):
    """A check kind with its parameters, plus `says`: what the learner is
    told while it fails (what is still wrong, not how to fix it). The kind
    `answer: QUESTION` passes when the question was answered right."""

    name = "a check with `says`"

    def check(self, value, path, report):
        if not isinstance(value, dict) or "says" not in value:
            report(path, "a criterion is a check kind with its parameters and `says`, the message "
                         "shown while it fails")
            return INVALID
        says = Str().check(value["says"], path + ("says",), report)
        rest = {k: v for k, v in value.items() if k != "says"}
        if set(rest) == {"answer"}:
            question = Name().check(rest["answer"], path + ("answer",), report)
            return INVALID if INVALID in (says, question) else ("answer", {"question": question}, says)
        kind = super().check(rest, path, report)
        return INVALID if INVALID in (says, kind) else kind + (says,)


def _fault_kinds():
    from stacklab.exercises.faults import FAULTS
    return {k: f.params for k, f in FAULTS.items()}


def _check_kinds():
    from stacklab.checks import registry
    return {k: c.params for k, c in registry().items()}


STEP = Record({
    "where": Field(Name(example="compute1"),
                   doc="Where `run` runs: a node, instance, host, qdhcp-/qrouter- namespace."),
    "run": Field(Str(example="ovs-vsctl set interface vxlan-ac10000b options:remote_ip=172.16.0.11"),
                 doc="A command, as the learner types it there."),
    "apply": Field(Str(example="solution.yaml"), doc="`stacklab apply` this file (beside exercise.yaml)."),
    "answer": Field(Name(example="vni"), doc="Answer this question..."),
    "value": Field(Str(example="203"), doc="...with this value."),
}, doc="One step: run a command somewhere, apply a scenario file, or answer a question.")

QUESTION = Record({
    "ask": Field(Str(example="Which VNI carries selfservice?"), required=True),
    "answers": Field(ListOf(Str(example="203")), required=True,
                     doc="Accepted answers (compared without case and surrounding blanks; numbers in any base)."),
})

EXERCISE = Record({
    "title": Field(Str(example="A broken VXLAN tunnel"), required=True),
    "level": Field(Int(min=1, max=3, example=2), required=True, doc="1 reading, 2 fixing, 3 across services."),
    "document": Field(Str(choices=("000", "002", "003", "004"), example="000"), required=True,
                      doc="The document whose deployment it builds on."),
    "scenario": Field(Str(example="vxlan-instance"), required=True,
                      doc="A scenario name (scenarios/) or a file beside exercise.yaml."),
    "faults": Field(ListOf(OneOfKinds(_fault_kinds)), default=list, doc="What goes wrong once the lab is up."),
    "hints": Field(ListOf(Str()), default=list, doc="Shown one at a time, the vaguest first."),
    "questions": Field(MapOf(QUESTION), default=dict),
    "criteria": Field(ListOf(Criterion(_check_kinds)), required=True, doc="All must pass."),
    "solution": Field(ListOf(STEP), required=True, doc="The worked solution's steps (solution.md explains them)."),
    "wrong_fixes": Field(MapOf(ListOf(STEP), key=Str()), default=dict,
                         doc="Plausible fixes that must not pass (the tests prove the grading sees through them)."),
}, doc="An exercise.")


@dataclass
class Step:
    where: Optional[str]
    run: Optional[str]
    apply: Optional[str]
    answer: Optional[str]
    value: Optional[str]


@dataclass
class Exercise:
    name: str                   # 03-security-group
    dir: str
    title: str
    level: int
    document: str
    scenario_file: str
    faults: List[tuple]         # (kind, params)
    hints: List[str]
    questions: Dict[str, dict]
    criteria: List[tuple]       # (kind, params, says, line)
    solution: List[Step]
    wrong_fixes: Dict[str, List[Step]] = field(default_factory=dict)

    @property
    def level_name(self):
        return LEVELS[self.level]

    def readme(self):
        with open(os.path.join(self.dir, "README.md")) as f:
            return f.read()

    def solution_text(self):
        with open(os.path.join(self.dir, "solution.md")) as f:
            return f.read()

    def file(self, name):
        return os.path.join(self.dir, name)


def list_exercises(directory=EXERCISE_DIR):
    try:
        return sorted(d for d in os.listdir(directory)
                      if os.path.isfile(os.path.join(directory, d, "exercise.yaml")))
    except FileNotFoundError:
        return []


def find_exercise(name, directory=EXERCISE_DIR):
    """`name`: 03-security-group, 03 or security-group."""
    names = list_exercises(directory)
    for n in names:
        if name in (n, n.split("-", 1)[0], n.split("-", 1)[-1]):
            return load_exercise(os.path.join(directory, n))
    raise ScenarioError([Problem(name, None, (), "no exercise of that name (there are: %s)" % ", ".join(names))])


def load_exercise(directory):
    from stacklab.scenario.loader import find_scenario, load_scenario
    path = os.path.join(directory, "exercise.yaml")
    src = load_source(path)
    problems = []

    def report(p, message):
        problems.append(src.problem(p, message))

    d = EXERCISE.check(src.data, (), report)
    if d is INVALID or problems:
        raise ScenarioError(problems)
    for doc in ("README.md", "solution.md"):
        if not os.path.isfile(os.path.join(directory, doc)):
            problems.append(Problem(path, None, (), "%s is missing beside it" % doc))
    local = os.path.join(directory, d["scenario"])
    scenario_file = local if os.path.isfile(local) else None
    try:
        scenario = load_scenario(scenario_file or find_scenario(d["scenario"]))
        scenario_file = scenario.file
    except ScenarioError as e:
        problems.append(src.problem(("scenario",), "scenario %s: %s" % (d["scenario"], e.render())))
        raise ScenarioError(problems)
    from stacklab.exercises.faults import FAULTS
    from stacklab.checks import registry
    for i, (kind, params) in enumerate(d["faults"]):
        FAULTS[kind].validate(scenario, params, lambda p, m, base=("faults", i, kind): report(base + tuple(p), m))
    criteria = []
    for i, (kind, params, says) in enumerate(d["criteria"]):
        base = ("criteria", i)
        if kind == "answer":
            if params["question"] not in d["questions"]:
                report(base + ("answer",), "no question named %s" % params["question"])
        else:
            registry()[kind].validate(scenario, params, lambda p, m, b=base + (kind,): report(b + tuple(p), m))
        criteria.append((kind, params, says, src.line(base)))
    steps = {"solution": d["solution"]}
    steps.update({"wrong_fixes.%s" % k: v for k, v in d["wrong_fixes"].items()})
    for key, items in steps.items():
        for i, s in enumerate(items):
            path = tuple(key.split(".")) + (i,)
            given = [k for k in ("run", "apply", "answer") if s[k] is not None]
            if len(given) != 1:
                report(path, "a step is one of run (with where), apply or answer (with value)")
            elif s["run"] is not None and s["where"] is None:
                report(path, "run needs where: the node, instance or namespace it runs in")
            elif s["answer"] is not None and (s["value"] is None or s["answer"] not in d["questions"]):
                report(path, "answer needs value and one of the questions")
            elif s["apply"] is not None and not os.path.isfile(os.path.join(directory, s["apply"])):
                report(path + ("apply",), "no file %s beside exercise.yaml" % s["apply"])
    if problems:
        raise ScenarioError(problems)
    to_steps = lambda items: [Step(**s) for s in items]
    return Exercise(os.path.basename(directory.rstrip("/")), directory, d["title"], d["level"], d["document"],
                    scenario_file, d["faults"], d["hints"], d["questions"], criteria, to_steps(d["solution"]),
                    {k: to_steps(v) for k, v in d["wrong_fixes"].items()})
