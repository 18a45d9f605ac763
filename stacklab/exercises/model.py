"""An exercise: exercises/NN-name/ with README.md (the story and the task),
exercise.yaml (scenario, faults, hints, questions, grading criteria, the
worked solution's steps) and solution.md (the solution, explained).

An exercise may come in variants (which tunnel breaks, which member, which
wrong address): `variants` lists their values and `{name}` stands for one
anywhere else in exercise.yaml. Each start draws one, so answers cannot be
passed around, and grades it.

exercise.yaml is validated like a scenario, every variant of it: every
problem with its file, line and key, before anything is built."""

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from stacklab.errors import Problem, ScenarioError
from stacklab.scenario.schema import (INVALID, Any, Bool, Field, Int, ListOf, MapOf, Name, OneOfKinds, Record,
                                      Str)
from stacklab.scenario.yamlsrc import load_source
from stacklab.shipped import shipped_dir

EXERCISE_DIR = shipped_dir("exercises")

LEVELS = {1: "reading", 2: "fixing", 3: "debugging across services"}


class CriterionType(OneOfKinds):
    """A check kind with its parameters, plus `says`: what the learner is
    told while it fails (a symptom: what is still wrong, never how to fix
    it), and `holds`: what the line says once it passes. `keep: true` marks
    what already works in the broken lab and must keep working (a fix that
    breaks it is no fix). The kind `answer: QUESTION` passes when the
    question was answered right."""

    name = "a check with `says` and `holds`"
    EXTRA = {"says": Str(), "holds": Str(), "keep": Bool()}

    def check(self, value, path, report):
        if not isinstance(value, dict) or "says" not in value or "holds" not in value:
            report(path, "a criterion is a check kind with its parameters, `says` (shown while it fails) "
                         "and `holds` (shown once it passes)")
            return INVALID
        extra = {k: t.check(value[k], path + (k,), report) for k, t in self.EXTRA.items() if k in value}
        extra.setdefault("keep", False)
        rest = {k: v for k, v in value.items() if k not in self.EXTRA}
        if set(rest) == {"answer"}:
            kind = ("answer", {"question": Name().check(rest["answer"], path + ("answer",), report)})
            if kind[1]["question"] is INVALID:
                kind = INVALID
        else:
            kind = super().check(rest, path, report)
        return INVALID if INVALID in (kind,) + tuple(extra.values()) else kind + (extra,)


class SymptomType(OneOfKinds):
    """What the broken lab does, as the story tells it: a check kind that
    passes (`expect: pass`) or fails (`expect: fail`) before the learner
    does anything, and `story`, the words of README.md that say so. The
    tests hold the story to the lab."""

    name = "a check with `expect` and `story`"
    EXTRA = {"expect": Str(choices=("pass", "fail")), "story": Str()}

    def check(self, value, path, report):
        if not isinstance(value, dict) or set(self.EXTRA) - set(value):
            report(path, "a symptom is a check kind with its parameters, `expect` (pass or fail) and `story` "
                         "(the README's words for it)")
            return INVALID
        extra = {k: t.check(value[k], path + (k,), report) for k, t in self.EXTRA.items()}
        kind = super().check({k: v for k, v in value.items() if k not in self.EXTRA}, path, report)
        return INVALID if INVALID in (kind,) + tuple(extra.values()) else kind + (extra,)


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
    "misconceptions": Field(MapOf(Str(example="3 is the local VLAN on this node; the VNI is on the wire"),
                                  key=Str()), default=dict,
                            doc="Wrong answers a learner is likely to give -> what that answer mistakes."),
})

REFLECTION = Record({
    "ask": Field(Str(example="Why did SNAT still work while the floating IP did not?"), required=True),
    "answer": Field(Str(), required=True, doc="What a good answer says (shown once the learner has answered)."),
}, doc="Asked once the exercise is solved; the learner's answer is recorded for the instructor.")

EXERCISE = Record({
    "title": Field(Str(example="A broken VXLAN tunnel"), required=True),
    "level": Field(Int(min=1, max=3, example=2), required=True, doc="1 reading, 2 fixing, 3 across services."),
    "document": Field(Str(choices=("000", "002", "003", "004"), example="000"),
                      doc="The document whose deployment it builds on, if it builds on one."),
    "scenario": Field(Str(example="vxlan-instance"), required=True,
                      doc="A scenario name (scenarios/) or a file beside exercise.yaml."),
    "faults": Field(ListOf(OneOfKinds(_fault_kinds)), default=list, doc="What goes wrong once the lab is up."),
    "hints": Field(ListOf(Str()), default=list, doc="Shown one at a time, the vaguest first."),
    "variants": Field(ListOf(MapOf(Any(), key=Name())), default=list,
                      doc="The values `{name}` stands for elsewhere in this file, one mapping per variant; "
                          "each start draws one."),
    "questions": Field(MapOf(QUESTION), default=dict),
    "symptoms": Field(ListOf(SymptomType(_check_kinds)), default=list,
                      doc="What the broken lab does, in the story's words (the tests hold the story to the lab)."),
    "criteria": Field(ListOf(CriterionType(_check_kinds)), required=True, doc="All must pass."),
    "reflection": Field(REFLECTION, doc="A question for after solving."),
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
class Criterion:
    kind: str
    params: dict
    says: str           # while it fails: a symptom
    holds: str          # once it passes
    keep: bool          # already holds in the broken lab, and must keep holding
    line: int


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
    criteria: List[Criterion]
    solution: List[Step]
    wrong_fixes: Dict[str, List[Step]] = field(default_factory=dict)
    symptoms: List[tuple] = field(default_factory=list)     # (kind, params, expect, story)
    reflection: Optional[dict] = None
    variant: int = 0            # which of the variants this is
    variants: List["Exercise"] = field(default_factory=list, repr=False)

    @property
    def level_name(self):
        return LEVELS[self.level]

    @property
    def number(self):
        return self.name.split("-", 1)[0]

    def of_variant(self, index):
        """This exercise as variant `index` draws it (itself when it has none)."""
        if not self.variants:
            return self
        if not 0 <= index < len(self.variants):
            raise ScenarioError([Problem(self.name, None, (), "no variant %s (there are %d: 0..%d)"
                                         % (index, len(self.variants), len(self.variants) - 1))])
        return self.variants[index]

    def readme(self):
        with open(os.path.join(self.dir, "README.md")) as f:
            return f.read()

    def task(self):
        """README.md without what it teaches (that comes once it is solved: it would name the fault)."""
        return _without_section(self.readme(), TEACHES).rstrip() + "\n"

    def teaches(self):
        return _section(self.readme(), TEACHES)

    def story(self):
        """The README before its task: what the learner is told happens."""
        return self.readme().split("## Task", 1)[0]

    def solution_text(self):
        with open(os.path.join(self.dir, "solution.md")) as f:
            return f.read()

    def file(self, name):
        return os.path.join(self.dir, name)


TEACHES = "## What it teaches"


def _section(text, title):
    if title not in text:
        return ""
    rest = text.split(title, 1)[1]
    return title + rest.split("\n## ", 1)[0].rstrip() + "\n"


def _without_section(text, title):
    if title not in text:
        return text
    before, rest = text.split(title, 1)
    after = rest.split("\n## ", 1)
    return before + ("## " + after[1] if len(after) == 2 else "")


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


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute(value, variant):
    """`value` with each `{name}` of `variant` replaced by its value (a
    string that is only `{name}` takes the value's own type)."""
    if isinstance(value, dict):
        return {k: substitute(v, variant) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variant) for v in value]
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in variant:
            return variant[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(variant[m.group(1)]) if m.group(1) in variant else m.group(0), value)
    return value


def placeholders(value, path=()):
    """[(key path, name)] of every `{name}` in `value`'s strings."""
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in placeholders(v, path + (k,))]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in placeholders(v, path + (i,))]
    return [(path, name) for name in _PLACEHOLDER.findall(value)] if isinstance(value, str) else []


def load_exercise(directory):
    from stacklab.scenario.loader import find_scenario, load_scenario
    path = os.path.join(directory, "exercise.yaml")
    src = load_source(path)
    problems = []
    raw = src.data if isinstance(src.data, dict) else {}
    variants = raw.get("variants") or []
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        variants = []           # (the schema says what is wrong with it)
    given = set().union(*variants) if variants else set()
    for index, variant in enumerate(variants):
        if set(variant) != given:
            problems.append(src.problem(("variants", index), "this variant lacks %s (each variant gives every name)"
                                        % ", ".join(sorted(given - set(variant)))))
    for where, name in placeholders({k: v for k, v in raw.items() if k != "variants"}):
        # (a `{x}` no variant defines is most likely a typo; a shell's braces hold blanks or a $)
        if name not in given:
            problems.append(src.problem(where, "{%s} is used but no variant gives it a value" % name))
    if problems:
        raise ScenarioError(problems)
    scenario, scenario_file = None, None
    out = []
    for index, variant in enumerate(variants or [{}]):
        label = " (variant %d)" % index if variants else ""

        def report(p, message, label=label):
            problems.append(src.problem(p, message + label))

        data = dict(substitute({k: v for k, v in raw.items() if k != "variants"}, variant), variants=variants)
        d = EXERCISE.check(data, (), report)
        if d is INVALID or problems:
            raise ScenarioError(problems)
        if index == 0:
            for doc in ("README.md", "solution.md"):
                if not os.path.isfile(os.path.join(directory, doc)):
                    problems.append(Problem(path, None, (), "%s is missing beside it" % doc))
            local = os.path.join(directory, d["scenario"])
            try:
                scenario = load_scenario(local if os.path.isfile(local) else find_scenario(d["scenario"]))
                scenario_file = scenario.file
            except ScenarioError as e:
                problems.append(src.problem(("scenario",), "scenario %s: %s" % (d["scenario"], e.render())))
                raise ScenarioError(problems)
        out.append(_exercise(directory, d, scenario, scenario_file, src, report, index))
    if problems:
        raise ScenarioError(problems)
    first = out[0]
    first.variants = out if variants else []
    for ex in out:
        ex.variants = first.variants
    return first


def _exercise(directory, d, scenario, scenario_file, src, report, index):
    """One variant of the exercise, its references checked against the scenario."""
    from stacklab.checks import registry
    from stacklab.exercises.faults import FAULTS
    for i, (kind, params) in enumerate(d["faults"]):
        FAULTS[kind].validate(scenario, params, lambda p, m, base=("faults", i, kind): report(base + tuple(p), m))
    criteria = []
    for i, (kind, params, extra) in enumerate(d["criteria"]):
        base = ("criteria", i)
        if kind == "answer":
            if params["question"] not in d["questions"]:
                report(base + ("answer",), "no question named %s" % params["question"])
        else:
            registry()[kind].validate(scenario, params, lambda p, m, b=base + (kind,): report(b + tuple(p), m))
        criteria.append(Criterion(kind, params, extra["says"], extra["holds"], extra["keep"], src.line(base)))
    symptoms = []
    for i, (kind, params, extra) in enumerate(d["symptoms"]):
        base = ("symptoms", i)
        registry()[kind].validate(scenario, params, lambda p, m, b=base + (kind,): report(b + tuple(p), m))
        symptoms.append((kind, params, extra["expect"], extra["story"]))
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

    def to_steps(items):
        return [Step(**s) for s in items]
    return Exercise(os.path.basename(directory.rstrip("/")), directory, d["title"], d["level"], d["document"],
                    scenario_file, d["faults"], d["hints"], d["questions"], criteria, to_steps(d["solution"]),
                    {k: to_steps(v) for k, v in d["wrong_fixes"].items()}, symptoms, d["reflection"], index)
