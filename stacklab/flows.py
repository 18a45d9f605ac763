"""Compare OpenFlow tables as `ovs-ofctl dump-flows` prints them, ignoring what
changes from run to run (cookie, duration, counters, ages): what a reference
dump from the documents has that the emulated node lacks, and the reverse."""

import re
from dataclasses import dataclass

from stacklab import references
from stacklab.errors import LabError

VOLATILE = ("cookie", "duration", "n_packets", "n_bytes", "idle_age", "hard_age")
REFERENCE_DIR = references.REFERENCE_DIR
_LEARN_COOKIE = re.compile(r"cookie=0x[0-9a-f]+")


@dataclass(frozen=True)
class Flow:
    """One flow, normalized: table, priority, the match as a set of fields, actions."""
    table: int
    priority: int
    match: frozenset
    actions: str

    @property
    def learned(self):
        """Made by traffic (a learn() action), not by the agent: it carries
        the timeout learn() gave it, and comes and goes with the traffic."""
        return any(m.startswith(("hard_timeout=", "idle_timeout=")) for m in self.match)

    def __str__(self):
        fields = ",".join(sorted(self.match))
        return "table=%d, priority=%d%s actions=%s" % (self.table, self.priority,
                                                      "," + fields if fields else "", self.actions)


def parse_flow(line):
    """A dump-flows line as a Flow, or None for a line that is not a flow."""
    line = line.strip()
    if " actions=" not in line and not line.startswith("actions="):
        return None
    head, _, actions = line.partition("actions=")
    table, priority, match = 0, 32768, set()
    for token in (t.strip() for t in head.split(",")):
        if not token:
            continue
        key = token.split("=", 1)[0]
        if key in VOLATILE:
            continue
        if key == "table":
            table = int(token.split("=", 1)[1])
        elif key == "priority":
            priority = int(token.split("=", 1)[1])
        else:
            match.add(token)
    actions = _LEARN_COOKIE.sub("cookie=*", actions.strip())
    return Flow(table, priority, frozenset(match), actions)


def parse_dump(text):
    return [f for f in (parse_flow(line) for line in text.splitlines()) if f is not None]


@dataclass
class Reference:
    """A document's dump of one bridge, as kept in scenarios/references/."""
    path: str
    document: str
    elided: bool
    flows: list


def load_reference(name):
    path, text = references.read(name, ".flows")
    elided = bool(re.search(r"^# elided", text, re.M))
    return Reference(path, references.document(text), elided, parse_dump(text))


@dataclass
class FlowDiff:
    missing: list     # in the reference, not on the node
    extra: list       # on the node, not in the reference (not counted when the reference is elided)
    elided: bool

    @property
    def clean(self):
        return not self.missing and (self.elided or not self.extra)

    def render(self):
        lines = []
        for title, flows in (("missing (in the reference, not on the node)", self.missing),
                             ("extra (on the node, not in the reference%s)"
                              % (": expected, the document elides lines" if self.elided else ""), self.extra)):
            lines.append("%s: %d" % (title, len(flows)))
            lines += ["  " + str(f) for f in sorted(flows, key=lambda f: (f.table, -f.priority, str(f)))]
        return "\n".join(lines)


def diff(reference_flows, actual_flows, elided=False):
    """Missing and extra flows; learned flows are traffic state and left out
    on both sides (the documents' dumps, taken long after, show none)."""
    ref = {f for f in reference_flows if not f.learned}
    act = {f for f in actual_flows if not f.learned}
    return FlowDiff(missing=sorted(ref - act, key=str), extra=sorted(act - ref, key=str), elided=elided)


def dump(lab, node, bridge):
    """The flows of `bridge` on `node` of a running lab, normalized; port
    numbers shown by name, as the documents print them."""
    proc = lab.run(node, ["ovs-ofctl", "--names", "dump-flows", bridge])
    if proc.returncode != 0:
        raise LabError("%s: ovs-ofctl dump-flows %s failed: %s" % (node, bridge, proc.stderr.strip()))
    return parse_dump(proc.stdout)


def diff_bridge(lab, node, bridge, reference):
    """Compare a node's bridge with a reference (a path, or scenario/bridge
    under scenarios/references); returns (Reference, FlowDiff)."""
    ref = load_reference(reference)
    return ref, diff(ref.flows, dump(lab, node, bridge), ref.elided)
