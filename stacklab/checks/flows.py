"""The flow checks: a node's bridge holds the flows of a reference dump from
the documents (durations and counters aside, and neutron's random cookies),
and nothing else unless the document elides lines; a packet walks the
pipelines the way the document traces it (walk)."""

import re

from stacklab.checks import FAIL, PASS, Checker, Outcome, register, require
from stacklab import naming
from stacklab.errors import LabError
from stacklab.observe import flows, references
from stacklab.observe.walk import Walker
from stacklab.scenario import endpoints
from stacklab.scenario.schema import Field, Int, ListOf, Name, Record, Str


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
        about = "vs " + references.label(p["reference"], ref.document)
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
        want = {flows.parse_flow(text, ref.style.cookies) for text in p["expect_extra"]}
        got = set(d.extra)
        about = "vs " + references.label(p["reference"], ref.document)
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


def _bare(line):
    """A walk line without its annotations: `output:7 (E)` -> `output:7`."""
    while True:                     # innermost first: `output:5 (qrouter-X (router r))`
        bare = re.sub(r" \([^()]*\)", "", line)
        if bare == line:
            return bare
        line = bare


LOGICAL = "ovn-trace: "          # the walk's lines of OVN's logical path


@register
class WalkCheck(Checker):
    """A packet's way through the nodes' pipelines (stacklab flows walk)."""

    kind = "walk"
    params = Record({
        "from": Field(Name(example="A"), required=True, doc="An instance, or an external host (toward a floating IP)."),
        "to": Field(Str(example="E"), required=True, doc="An instance or an IP address."),
        "proto": Field(Str(choices=("icmp", "tcp", "udp"), example="icmp"), default="icmp"),
        "port": Field(Int(example=22), doc="The destination port (tcp, udp)."),
        "path": Field(ListOf(Str(example="compute1: 0 17 40 17 19 21 group:150011 220 251 220 -> output:7 (D)")),
                      required=True,
                      doc="One line per node, as `stacklab flows walk --brief` prints them: the tables (and groups, "
                          "bridges) in order, then the output; the annotations in parentheses may be left out. "
                          "On OVN also (or only) the logical path, as its `ovn-trace: DATAPATH PIPELINE: STAGES "
                          "-> END` lines: the lines of the kind given are compared."),
    }, doc="The tables a packet goes through on each node and where it leaves (ofproto/trace, following tunnels).")

    def validate(self, scenario, params, report):
        src, dst = params["from"], params["to"]
        if src not in scenario.instances and src not in scenario.hosts:
            report(("from",), "no instance or host named %s" % src)
        if dst not in scenario.instances and endpoints.address(scenario, dst) is None:
            report(("to",), "%s is no instance and no IP address" % dst)
        for i, line in enumerate(params["path"]):
            if line.startswith(LOGICAL):
                if scenario.sdn != "ovn":
                    report(("path", i), "ovn-trace lines are an OVN lab's logical path (sdn: {type: ovn})")
                continue
            node, sep, rest = line.partition(": ")
            namespaces = {ns for r in scenario.routers.values() for ns in (r.namespace, r.snat_namespace)}
            namespaces |= {naming.fip_namespace(scenario.networks[p.network].id) for p in scenario.fip_gateways}
            if sep and node in namespaces:
                continue                # a router's hop: what its routes and iptables do
            if not sep or " -> " not in rest:
                report(("path", i), "not a walk line (NODE: TABLES... -> OUTPUT, or ROUTER NAMESPACE: ...)")
            elif node not in scenario.nodes:
                report(("path", i), "no node named %s" % node)

    def run(self, lab, p):
        hops = Walker(lab).walk(p["from"], p["to"], p["proto"], p["port"])
        got = [str(h) for h in hops]
        logical = [line for line in p["path"] if line.startswith(LOGICAL)]
        if not logical:                 # the nodes' path only: OVN's logical lines are not asked about
            got = [line for line in got if not line.startswith(LOGICAL)]
        elif len(logical) == len(p["path"]):        # the logical path only
            got = [line for line in got if line.startswith(LOGICAL)]
        data = {"walk": got, "expected": list(p["path"]), "traces": {h.node: h.trace[-6000:] for h in hops}}
        head = "%s -> %s (%s)" % (p["from"], p["to"], p["proto"])
        same = len(got) == len(p["path"]) and all(
            want == line or want == _bare(line) for want, line in zip(p["path"], got))
        if same:
            return Outcome(PASS, "%s: %s" % (head, " | ".join(got)), data)
        return Outcome(FAIL, "%s went %s; expected %s (all: stacklab flows walk %s %s)"
                       % (head, " | ".join(got), " | ".join(p["path"]), p["from"], p["to"]), data)
