"""Checks: what a scenario says must hold, each kind run by a pluggable
checker. A checker declares its parameters (validated with the scenario,
before anything is built), resolves references, and runs against a lab."""

import importlib
import time
from dataclasses import dataclass, field

from stacklab.errors import StacklabError

PASS, FAIL, ERROR = "pass", "fail", "error"


@dataclass
class Outcome:
    verdict: str
    detail: str
    data: dict = field(default_factory=dict)


@dataclass
class CheckResult:
    check: object          # model.Check
    verdict: str
    detail: str
    seconds: float
    data: dict = field(default_factory=dict)

    @property
    def ok(self):
        return self.verdict == PASS


class Checker:
    """Base class; subclasses set `kind` and `params` and implement run()."""

    kind = None
    params = None

    def validate(self, scenario, params, report):
        """Report references to things the scenario lacks (report(path, msg))."""

    def run(self, lab, params):
        raise NotImplementedError


_REGISTRY = {}
_LOADED = False


def register(cls):
    """Class decorator: make a checker available under its kind."""
    if cls.kind in _REGISTRY and type(_REGISTRY[cls.kind]) is not cls:
        raise ValueError("check kind %s is registered twice" % cls.kind)
    _REGISTRY[cls.kind] = cls()
    return cls


def registry():
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for module in ("structural", "flows", "probes", "commands", "services", "daemons", "ovn", "routers"):
            # importing a module registers its kinds
            importlib.import_module("stacklab.checks." + module)
    return _REGISTRY


def run_check(lab, check):
    checker = registry()[check.kind]
    t0 = time.monotonic()
    try:
        out = checker.run(lab, check.params)
    except StacklabError as e:
        out = Outcome(ERROR, str(e))
    except Exception as e:   # a checker bug must not hide the other checks' results
        out = Outcome(ERROR, "%s: %s" % (type(e).__name__, e))
    return CheckResult(check, out.verdict, out.detail, time.monotonic() - t0, out.data)


def run_checks(running, scenario=None):
    """The lab's health first (a row only when a process of the lab is dead:
    then every failing check names that as its likely cause), then the
    scenario's checks (`scenario`: the one the lab runs, by default)."""
    from stacklab.scenario.model import Check
    if scenario is not None:
        running.scenario = scenario         # the probes name things as the scenario does
    first = run_check(running, Check("daemons", {"where": None}, -1, None))
    running.dead = first.data.get("dead", [])
    results = [] if first.verdict == PASS else [first]
    for check in running.scenario.checks:
        result = run_check(running, check)
        if running.dead and not result.ok:
            result.detail = "%s [while %s]" % (result.detail, first.detail)
        results.append(result)
    return results


def require(scenario_names, name, what, path, report):
    if name is not None and name not in scenario_names:
        report(path, "no %s named %s" % (what, name))
