"""What a router namespace's iptables do to a packet, read from
`iptables-save -t nat` and followed rule by rule, as the kernel's nat
table would for the first packet of a connection: PREROUTING (DNAT) before
the routing decision, POSTROUTING (SNAT) after it, through the L3 agent's
jumps. What `walk` shows inside a qrouter- namespace: the rule that matched
and the addresses after it.

The matches a router's rules use are understood: -s, -d, -i, -o, -p,
--dport, each with `!`; `-m mark` against the mark the mangle table's
PREROUTING gave the packet (the L3 agent marks what comes in by its
gateway port 0x2), `-m conntrack` for the first packet of a connection
(state NEW, DNATed if a PREROUTING rule did it)."""

import ipaddress
import shlex
from dataclasses import dataclass, field
from typing import List, Optional

BUILTIN = ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")


@dataclass
class Rule:
    chain: str
    text: str                   # as iptables-save prints it, after "-A CHAIN "
    matches: list               # (option, value, negated)
    target: str
    target_args: dict


@dataclass
class Verdict:
    """Where a packet went through a hook: the rules it matched, in order,
    and what the nat target made of it (None: no translation)."""
    matched: List[str] = field(default_factory=list)      # "-A chain rule" lines
    target: Optional[str] = None                          # DNAT, SNAT, MASQUERADE
    address: Optional[str] = None                         # the new destination or source


def parse(text, table="nat"):
    """{chain: [Rule]} of `table` in `iptables-save` output (other tables' lines are skipped)."""
    chains, current = {}, "nat"
    for line in text.splitlines():
        if line.startswith("*"):
            current = line[1:].strip()
        if current != table:
            continue
        if line.startswith(":"):
            chains.setdefault(line[1:].split()[0], [])
        elif line.startswith("-A "):
            words = shlex.split(line)
            chain = words[1]
            chains.setdefault(chain, []).append(_rule(chain, words[2:], line.split(" ", 2)[2]))
    return chains


def _rule(chain, words, text):
    matches, target, args, negate, i = [], None, {}, False, 0
    while i < len(words):
        w = words[i]
        if w == "!":
            negate = True
            i += 1
            continue
        if w in ("-j", "-g"):
            target = words[i + 1]
            i += 2
            while i < len(words) and words[i].startswith("--"):
                args[words[i]] = words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("--") else ""
                i += 2 if args[words[i]] else 1
            continue
        if w == "-m":
            i += 2
            continue
        if w.startswith("-") and i + 1 < len(words):
            matches.append((w, words[i + 1], negate))
            negate = False
            i += 2
            continue
        i += 1
    return Rule(chain, text, matches, target or "", args)


def _match(rule, packet, dnatted):
    for opt, value, negated in rule.matches:
        if opt in ("-s", "--source", "-d", "--destination"):
            addr = packet["src" if opt in ("-s", "--source") else "dst"]
            ok = addr is not None and ipaddress.ip_address(addr) in ipaddress.ip_network(value, strict=False)
        elif opt in ("-i", "--in-interface", "-o", "--out-interface"):
            have = packet.get("in" if opt in ("-i", "--in-interface") else "out")
            ok = have is not None and (have == value or (value.endswith("+") and have.startswith(value[:-1])))
        elif opt in ("-p", "--protocol"):
            ok = packet.get("proto") == value
        elif opt == "--dport":
            ok = str(packet.get("dport")) == value
        elif opt == "--mark":
            want, _, mask = value.partition("/")
            mask = int(mask, 0) if mask else 0xffffffff
            ok = packet.get("mark", 0) & mask == int(want, 0) & mask
        elif opt == "--ctstate":
            ok = ("DNAT" in value.split(",")) == dnatted or "NEW" in value.split(",")
        elif opt == "--comment":
            ok = True
        else:
            ok = True       # (what the router's rules do not use)
        if ok == negated:
            return False
    return True


def _through(chains, hook, match, act):
    """Follow `hook` rule by rule through the jumps, as the kernel does:
    act(chain, rule) of each rule that matches says "stop" (a final
    target) or None (go on: jump, or the next rule)."""
    def walk(chain, depth):
        for rule in chains.get(chain, []):
            if not match(rule):
                continue
            if act(chain, rule) == "stop" or rule.target in ("ACCEPT", "DROP"):
                return True
            if rule.target == "RETURN":
                return False
            if rule.target in chains and depth < 16 and walk(rule.target, depth + 1):
                return True
        return False

    walk(hook, 0)


def mark_of(mangle, packet):
    """The mark the mangle table's PREROUTING (`mangle`: parse(text, "mangle"))
    gives `packet`: its MARK --set-xmark rules, followed through the jumps."""
    mark = [packet.get("mark", 0)]

    def act(chain, rule):
        if rule.target == "MARK":
            value, _, mask = (rule.target_args.get("--set-xmark") or rule.target_args.get("--set-mark", "0")
                              ).partition("/")
            mask = int(mask, 0) if mask else 0xffffffff
            mark[0] = (mark[0] & ~mask) ^ int(value, 0)

    _through(mangle, "PREROUTING", lambda rule: _match(rule, dict(packet, mark=mark[0]), False), act)
    return mark[0]


def traverse(chains, hook, packet, dnatted=False):
    """The Verdict of `packet` ({src, dst, in, out, proto, dport, mark}) through `hook`."""
    verdict = Verdict()

    def act(chain, rule):
        verdict.matched.append("-A %s %s" % (chain, rule.text))
        if rule.target in ("DNAT", "SNAT"):
            verdict.target = rule.target
            key = "--to-destination" if rule.target == "DNAT" else "--to-source"
            verdict.address = rule.target_args.get(key, "").split(":")[0]
            return "stop"
        if rule.target == "MASQUERADE":
            verdict.target = "MASQUERADE"
            return "stop"
        return None

    _through(chains, hook, lambda rule: _match(rule, packet, dnatted), act)
    return verdict
