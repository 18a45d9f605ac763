"""The flow check: a node's bridge holds the flows of a reference dump from
the documents (cookies, durations and counters aside), and nothing else
unless the document elides lines."""

import os

from stacklab import flows
from stacklab.errors import LabError
from stacklab.checks import FAIL, PASS, Checker, Outcome, register, require
from stacklab.scenario.schema import Field, Name, Record, Str


@register
class FlowsCheck(Checker):
    """`ovs-ofctl dump-flows BRIDGE` on a node against a reference dump."""

    kind = "flows"
    params = Record({
        "node": Field(Name(example="compute1"), required=True),
        "bridge": Field(Str(example="br-tun"), required=True),
        "reference": Field(Str(example="vxlan-instance/br-tun"), required=True,
                           doc="A dump under scenarios/references/ (SCENARIO/BRIDGE) or a file path."),
    }, doc="A bridge's flows against a document's dump.")

    def validate(self, scenario, params, report):
        require(scenario.nodes, params["node"], "node", ("node",), report)
        try:
            flows.load_reference(params["reference"])
        except LabError:
            report(("reference",), "no reference dump %s (looked in %s)" % (params["reference"], flows.REFERENCE_DIR))

    def run(self, lab, p):
        ref, d = flows.diff_bridge(lab, p["node"], p["bridge"], p["reference"])
        about = "vs %s of %s" % (os.path.relpath(ref.path, flows.REFERENCE_DIR), ref.document or "no document")
        counts = "%d missing, %d extra%s" % (len(d.missing), len(d.extra), " (elided reference)" if d.elided else "")
        data = {"missing": [str(f) for f in d.missing], "extra": [str(f) for f in d.extra]}
        if not d.clean:
            first = d.missing[0] if d.missing else d.extra[0]
            return Outcome(FAIL, "%s: %s; first: %s (all: stacklab flows diff %s %s --against %s)"
                           % (about, counts, first, p["node"], p["bridge"], p["reference"]), data)
        return Outcome(PASS, "%d/%d reference flows, %d extra%s (%s)" % (
            len(ref.flows), len(ref.flows), len(d.extra), ", elided reference" if d.elided else "", about), data)
