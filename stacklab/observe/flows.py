"""Compare OpenFlow tables as `ovs-ofctl dump-flows` prints them, ignoring what
changes from run to run (duration, counters, ages; cookies where they are
random, as neutron's agent makes them): what a reference dump from the
documents has that the emulated node lacks, and the reverse. A reference may
also hold a bridge's groups (`dump-groups` lines), compared the same way."""

import re
from dataclasses import dataclass, field
from typing import Optional

from stacklab.errors import LabError
from stacklab.observe import references

VOLATILE = ("duration", "n_packets", "n_bytes", "idle_age", "hard_age")
REFERENCE_DIR = references.REFERENCE_DIR
_LEARN_COOKIE = re.compile(r"cookie=0x[0-9a-f]+")


@dataclass(frozen=True)
class Style:
    """How a flow set is dumped and compared: the OpenFlow version to ask
    with (None: ovs-ofctl's default), ports by name or number, cookies kept
    or not. neutron's documents print names and random cookies; 004 prints
    OpenFlow 1.3 dumps with port numbers, and netvirt's cookies mean
    something (which service wrote the flow)."""
    protocol: Optional[str] = None
    names: bool = True
    cookies: bool = False

    def dump_flows_argv(self, bridge):
        return self._argv("dump-flows", bridge)

    def dump_groups_argv(self, bridge):
        return self._argv("dump-groups", bridge)

    def _argv(self, command, bridge):
        argv = ["ovs-ofctl"]
        if self.protocol:
            argv += ["-O", self.protocol]
        return argv + ["--names" if self.names else "--no-names", command, bridge]


NEUTRON = Style()
NETVIRT = Style(protocol="OpenFlow13", names=False, cookies=True)


def style_of(scenario):
    return NETVIRT if scenario.sdn == "netvirt" else NEUTRON


@dataclass(frozen=True)
class Flow:
    """One flow, normalized: table, priority, the match as a set of fields, actions."""
    table: int
    priority: int
    match: frozenset
    actions: str
    cookie: Optional[str] = None        # kept only where cookies are compared

    @property
    def learned(self):
        """Made by traffic (a learn() action), not by the agent: it carries
        the timeout learn() gave it, and comes and goes with the traffic."""
        return any(m.startswith(("hard_timeout=", "idle_timeout=")) for m in self.match)

    def __str__(self):
        fields = ",".join(sorted(self.match))
        return "%stable=%d, priority=%d%s actions=%s" % ("cookie=%s, " % self.cookie if self.cookie else "",
                                                        self.table, self.priority, "," + fields if fields else "",
                                                        self.actions)

    def sort_key(self):
        return (0, self.table, -self.priority, str(self))


@dataclass(frozen=True)
class Group:
    """One group as `dump-groups` prints it: its id and the rest, verbatim."""
    group_id: int
    text: str

    @property
    def learned(self):
        return False

    def __str__(self):
        return self.text

    def sort_key(self):
        return (1, self.group_id, 0, self.text)


def parse_group(line):
    """A dump-groups line as a Group, or None."""
    line = line.strip()
    m = re.match(r"group_id=(\d+),", line)
    return Group(int(m.group(1)), line) if m else None


def parse_flow(line, cookies=False):
    """A dump-flows line as a Flow, or None for a line that is not a flow.
    `cookies`: keep the cookie (netvirt's mean something; neutron's are random)."""
    line = line.strip()
    if " actions=" not in line and not line.startswith("actions="):
        return None
    head, _, actions = line.partition("actions=")
    table, priority, match, cookie = 0, 32768, set(), None
    for token in (t.strip() for t in head.split(",")):
        if not token:
            continue
        key = token.split("=", 1)[0]
        if key in VOLATILE:
            continue
        if key == "cookie":
            cookie = token.split("=", 1)[1] if cookies else None
        elif key == "table":
            table = int(token.split("=", 1)[1])
        elif key == "priority":
            priority = int(token.split("=", 1)[1])
        else:
            match.add(token)
    actions = actions.strip() if cookies else _LEARN_COOKIE.sub("cookie=*", actions.strip())
    return Flow(table, priority, frozenset(match), actions, cookie)


def parse_dump(text, cookies=False):
    return [f for f in (parse_flow(line, cookies) for line in text.splitlines()) if f is not None]


def parse_groups(text):
    return [g for g in map(parse_group, text.splitlines()) if g is not None]


@dataclass
class Reference:
    """A document's dump of one bridge, as kept in scenarios/references/.
    Its first line is the command that printed it (`-O OpenFlow13`,
    `--no-names` say how to dump the node's bridge alike); `# compared:
    cookies` keeps cookies in the comparison; `# elided` says the document
    shows only some of the flows; group lines are the bridge's groups."""
    path: str
    document: str
    elided: bool
    flows: list
    style: Style = NEUTRON
    groups: list = field(default_factory=list)


def reference_style(text):
    first = text.splitlines()[0] if text else ""
    protocol = re.search(r"-O (\S+)", first)
    return Style(protocol.group(1) if protocol else None, "--no-names" not in first,
                 bool(re.search(r"^# compared:.*\bcookies\b", text, re.M)))


def load_reference(name):
    path, text = references.read(name, ".flows")
    elided = bool(re.search(r"^# elided", text, re.M))
    style = reference_style(text)
    return Reference(path, references.document(text), elided, parse_dump(text, style.cookies), style,
                     parse_groups(text))


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
            lines += ["  " + str(f) for f in sorted(flows, key=lambda f: f.sort_key())]
        return "\n".join(lines)


def diff(reference_flows, actual_flows, elided=False):
    """Missing and extra flows (and groups, when given among them); learned
    flows are traffic state and left out on both sides (the documents'
    dumps, taken long after, show none)."""
    ref = {f for f in reference_flows if not f.learned}
    act = {f for f in actual_flows if not f.learned}
    return FlowDiff(missing=sorted(ref - act, key=lambda f: f.sort_key()),
                    extra=sorted(act - ref, key=lambda f: f.sort_key()), elided=elided)


def _run(lab, node, argv):
    proc = lab.run(node, argv)
    if proc.returncode != 0:
        raise LabError("%s: %s failed: %s" % (node, " ".join(argv), proc.stderr.strip()))
    return proc.stdout


def dump(lab, node, bridge, style=NEUTRON):
    """The flows of `bridge` on `node` of a running lab, normalized, in
    `style` (neutron's by default: ports by name, cookies left out)."""
    return parse_dump(_run(lab, node, style.dump_flows_argv(bridge)), style.cookies)


def dump_groups(lab, node, bridge, style=NETVIRT):
    return parse_groups(_run(lab, node, style.dump_groups_argv(bridge)))


def diff_bridge(lab, node, bridge, reference):
    """Compare a node's bridge with a reference (a path, or scenario/bridge
    under scenarios/references), in the reference's style, with its groups
    if it has any; returns (Reference, FlowDiff)."""
    ref = load_reference(reference)
    actual = dump(lab, node, bridge, ref.style)
    if ref.groups:
        actual += dump_groups(lab, node, bridge, ref.style)
    return ref, diff(ref.flows + ref.groups, actual, ref.elided)
