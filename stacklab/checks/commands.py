"""The command check: a command run inside a lab namespace prints what the
document prints (the whole output, a block of it, or a piece of text), e.g.
`ip netns exec amphora-haproxy ip addr show` inside the amphora, or the
backend block of its haproxy.cfg."""

import re
import time

from stacklab.checks import FAIL, PASS, Checker, Outcome, register
from stacklab.errors import LabError
from stacklab.observe import references
from stacklab.scenario import endpoints
from stacklab.scenario.schema import Field, ListOf, Record, Str

# Differences the platform makes, not the cloud: each one named here and in
# docs/differences.md, applied to both sides only where a check asks for it.
NORMALIZATIONS = {
    # the kernel's default queueing discipline (fq_codel in the documents; a
    # kernel without it gives pfifo_fast)
    "qdisc": (re.compile(r"\bqdisc \S+"), "qdisc *"),
}


def normalize(lines, names):
    for name in names:
        pattern, replacement = NORMALIZATIONS[name]
        lines = [pattern.sub(replacement, line) for line in lines]
    return lines


def find_block(block, lines):
    """Index where `block` appears in `lines` as consecutive lines, or -1."""
    n = len(block)
    for i in range(len(lines) - n + 1):
        if lines[i:i + n] == block:
            return i
    return -1


def first_difference(want, got):
    for i, (a, b) in enumerate(zip(want, got)):
        if a != b:
            return "line %d: expected %r, got %r" % (i + 1, a, b)
    if len(want) != len(got):
        return "%d lines expected, %d printed" % (len(want), len(got))
    return None


@register
class CommandCheck(Checker):
    """A command's output inside a node, instance, host or agent namespace."""

    kind = "command"
    params = Record({
        "where": Field(Str(example="amphora-lb"), required=True, doc="Where to run it: %s." % endpoints.SOURCES),
        "run": Field(Str(example="ip netns exec amphora-haproxy ip addr show"), required=True,
                     doc="The command line (run by sh)."),
        "expect": Field(Str(example="lb-amphora/amphora-haproxy-ip-addr"),
                        doc="A reference output: SCENARIO/NAME under scenarios/references/ (.txt), or a file's "
                            "path (absolute, or from the current directory); the output must be exactly its "
                            "lines (leading `# ` comment lines left out; `# ..., from DOCUMENT` names its "
                            "document in the report)."),
        "expect_block": Field(Str(example="lb-amphora/haproxy-backend"),
                              doc="A reference (named as for expect, or a file's path) whose lines must appear in "
                                  "the output, together and in order."),
        "contains": Field(Str(example='{"api_version":"1.0"}'), doc="Text the output must contain."),
        "ignore": Field(ListOf(Str(choices=tuple(NORMALIZATIONS)), example=["qdisc"]), default=list,
                        doc="Named platform differences left out of the comparison (docs/differences.md)."),
    }, doc="Run a command in a lab namespace and compare its output with the document's.")

    def validate(self, scenario, params, report):
        if endpoints.namespace(scenario, params["where"]) is None:
            report(("where",), "no %s named %s" % (endpoints.SOURCES, params["where"]))
        given = [k for k in ("expect", "expect_block", "contains") if params[k] is not None]
        if len(given) != 1:
            report((), "give one of expect, expect_block or contains")
        for key in ("expect", "expect_block"):
            if params[key] is not None:
                try:
                    references.read(params[key], ".txt")
                except LabError:
                    report((key,), "no reference %s (looked in %s)" % (params[key], references.REFERENCE_DIR))

    def run(self, lab, p):
        where = endpoints.namespace(lab.scenario, p["where"])
        t0 = time.monotonic()
        proc = lab.run(where, ["sh", "-c", p["run"]], timeout=30)
        out = proc.stdout.rstrip("\n").splitlines()
        data = {"command": p["run"], "exit": proc.returncode, "output": proc.stdout[-4000:],
                "stderr": proc.stderr[-1000:], "seconds": time.monotonic() - t0}
        head = "%s: %s" % (p["where"], p["run"])
        if proc.returncode != 0:
            return Outcome(FAIL, "%s exited %d: %s" % (head, proc.returncode, proc.stderr.strip()[-200:]), data)
        if p["contains"] is not None:
            ok = p["contains"] in proc.stdout
            return Outcome(PASS if ok else FAIL, "%s %s %r" % (head, "prints" if ok else "does not print",
                                                               p["contains"]), data)
        ref = p["expect"] or p["expect_block"]
        path, text = references.read(ref, ".txt")
        want = normalize(references.body(text), p["ignore"])
        got = normalize(out, p["ignore"])
        about = references.label(ref, references.document(text)) + (
            " (ignoring %s)" % ", ".join(p["ignore"]) if p["ignore"] else "")
        if p["expect"] is not None:
            diff = first_difference(want, got)
            if diff:
                return Outcome(FAIL, "%s differs from %s: %s" % (head, about, diff), data)
            return Outcome(PASS, "%s prints %s (%d lines)" % (head, about, len(want)), data)
        at = find_block(want, got)
        if at < 0:
            return Outcome(FAIL, "%s lacks the %d lines of %s" % (head, len(want), about), data)
        return Outcome(PASS, "%s has the %d lines of %s (from line %d)" % (head, len(want), about, at + 1), data)
