"""The flow check: a node's bridge holds the flows of a reference dump from
the documents (cookies, durations and counters aside), and nothing else
unless the document elides lines."""

import os

from stacklab import flows
from stacklab.errors import LabError
from stacklab.checks import FAIL, PASS, Checker, Outcome, register, require
from stacklab.scenario.schema import Field, ListOf, Name, Record, Str


@register
class FlowsCheck(Checker):
    """`ovs-ofctl dump-flows BRIDGE` on a node against a reference dump."""

    kind = "flows"
    params = Record({
        "node": Field(Name(example="compute1"), required=True),
        "bridge": Field(Str(example="br-tun"), required=True),
        "reference": Field(Str(example="vxlan-instance/br-tun"), required=True,
                           doc="A dump under scenarios/references/ (SCENARIO/BRIDGE) or a file path."),
        "expect_extra": Field(ListOf(Str(), example=["table=82, priority=77,ct_state=+new-est,reg5=0x7,tcp,"
                                                     "tp_dst=22 actions=ct(commit,zone=NXM_NX_REG6[0..15]),"
                                                     "output:\"tap57ff88f0-a4\",resubmit(,92)"]),
                              default=list,
                              doc="Flows the bridge must have beyond the reference, as `stacklab flows show` "
                                  "prints them (say why in a comment): then the extras must be exactly these."),
    }, doc="A bridge's flows against a document's dump.")

    def validate(self, scenario, params, report):
        require(scenario.nodes, params["node"], "node", ("node",), report)
        try:
            flows.load_reference(params["reference"])
        except LabError:
            report(("reference",), "no reference dump %s (looked in %s)" % (params["reference"], flows.REFERENCE_DIR))
        for i, text in enumerate(params["expect_extra"]):
            if flows.parse_flow(text) is None:
                report(("expect_extra", i), "not a flow as `stacklab flows show` prints one (TABLE, PRIORITY,"
                       "MATCH actions=ACTIONS)")

    def run(self, lab, p):
        ref, d = flows.diff_bridge(lab, p["node"], p["bridge"], p["reference"])
        if p["expect_extra"]:
            return self._with_expected_extras(ref, d, p)
        about = "vs %s of %s" % (os.path.relpath(ref.path, flows.REFERENCE_DIR), ref.document or "no document")
        counts = "%d missing, %d extra%s" % (len(d.missing), len(d.extra), " (elided reference)" if d.elided else "")
        data = {"missing": [str(f) for f in d.missing], "extra": [str(f) for f in d.extra]}
        if not d.clean:
            first = d.missing[0] if d.missing else d.extra[0]
            return Outcome(FAIL, "%s: %s; first: %s (all: stacklab flows diff %s %s --against %s)"
                           % (about, counts, first, p["node"], p["bridge"], p["reference"]), data)
        return Outcome(PASS, "%d/%d reference flows, %d extra%s (%s)" % (
            len(ref.flows), len(ref.flows), len(d.extra), ", elided reference" if d.elided else "", about), data)

    @staticmethod
    def _with_expected_extras(ref, d, p):
        """The bridge has the reference's flows plus exactly the expected extras."""
        want = {flows.parse_flow(text) for text in p["expect_extra"]}
        got = set(d.extra)
        about = "vs %s of %s" % (os.path.relpath(ref.path, flows.REFERENCE_DIR), ref.document or "no document")
        data = {"missing": [str(f) for f in d.missing], "extra": [str(f) for f in d.extra],
                "expected_extra": sorted(str(f) for f in want)}
        wrong = []
        if d.missing:
            wrong.append("%d missing, first: %s" % (len(d.missing), d.missing[0]))
        if want - got:
            wrong.append("expected extra not there: %s" % sorted(map(str, want - got))[0])
        if got - want:
            wrong.append("%d unexpected extra, first: %s" % (len(got - want), sorted(map(str, got - want))[0]))
        if wrong:
            return Outcome(FAIL, "%s: %s (all: stacklab flows diff %s %s --against %s)"
                           % (about, "; ".join(wrong), p["node"], p["bridge"], p["reference"]), data)
        return Outcome(PASS, "%d/%d reference flows, and the %d expected extra (%s)"
                       % (len(ref.flows), len(ref.flows), len(want), about), data)
