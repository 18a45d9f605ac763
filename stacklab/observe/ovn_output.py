"""What `ovn-nbctl`/`ovn-sbctl` print, made comparable between two clouds:
row UUIDs (random in every database) and neutron's revision numbers (which
count a resource's updates) normalized, nothing else; and the order OVSDB
prints rows and children in (the order of their UUIDs) taken away.

Pure functions: stacklab/checks/ovn.py runs the commands and compares."""

import re
from collections import Counter

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ROW = "<uuid>"
REVISION = re.compile(r'("neutron:revision_number"|neutron:revision_number)=("\d+"|\d+)')
# `show`: a switch's or router's row UUID before its name; everything else there is a name
SHOW_ROW = re.compile(r"^(\s*(?:switch|router) )%s( \()" % UUID)
# `list`: an unquoted UUID is a row reference (a string that looks like one is printed quoted)
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
BARE_UUID = re.compile(r"\b%s\b" % UUID)


def normalize_line(line, mode):
    line = REVISION.sub(lambda m: '%s="<n>"' % m.group(1), line)
    if mode == "show":
        return SHOW_ROW.sub(r"\1%s\2" % ROW, line)
    out, pos = [], 0
    for m in QUOTED.finditer(line):        # quoted strings are kept as they are
        out.append(BARE_UUID.sub(ROW, line[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(BARE_UUID.sub(ROW, line[pos:]))
    return "".join(out)


def _tree(lines):
    """`show` output as nested (line, children), by indentation."""
    root = ("", [])
    stack = [(-1, root)]
    for line in lines:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip(" "))
        node = (line.strip(), [])
        while stack[-1][0] >= depth:
            stack.pop()
        stack[-1][1][1].append(node)
        stack.append((depth, node))
    return root


def _flatten(node, depth=0):
    """The tree as lines again, every node's children in sorted order."""
    out = []
    for child in sorted(node[1], key=lambda c: _canonical(c)):
        out.append("    " * depth + child[0])
        out += _flatten(child, depth + 1)
    return out


def _canonical(node):
    return node[0] + "\n" + "\n".join(_flatten(node, 1))


def canonical(lines, mode):
    """Lines in a canonical order: `show` as a tree with sorted children;
    `list` as records (blank-line separated) sorted, columns kept in order."""
    lines = [normalize_line(line.rstrip(), mode) for line in lines]
    if mode == "show":
        return _flatten(_tree(lines))
    records, current = [], []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            records.append(current)
            current = []
    if current:
        records.append(current)
    out = []
    for record in sorted(records):
        out += record + [""]
    return out[:-1]


def differences(want, got):
    """Lines of `want` missing from `got`, and lines of `got` not in `want`
    (counted: a line twice in one and once in the other is one difference)."""
    have, need = Counter(got), Counter(want)
    missing = [line for line in (need - have).elements() if line.strip()]
    extra = [line for line in (have - need).elements() if line.strip()]
    return missing, extra
