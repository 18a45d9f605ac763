"""What the root network namespace looks like, to prove a test run left it
as it found it: links, addresses, routes and rules, iptables and nftables
rules, and the net.* sysctls. Counters, lifetimes and statistics are left
out: they change by themselves."""

import re
import shutil
import subprocess

# sysctls that move on their own (counters, random seeds, live tables)
VOLATILE_SYSCTLS = re.compile(r"^net\.(netfilter\.nf_conntrack_count|ipv4\.tcp_fastopen_key|core\.bpf_jit_kallsyms"
                              r"|ipv6\.route\.gc_|ipv4\.route\.gc_|netfilter\.nf_conntrack_buckets)")


def _run(argv):
    if shutil.which(argv[0]) is None:
        return "(%s not installed)" % argv[0]
    proc = subprocess.run(argv, capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else "(%s failed: %s)" % (" ".join(argv), proc.stderr.strip())


def _without_counters(text):
    text = re.sub(r"\[\d+:\d+\]", "[]", text)                        # iptables-save chain counters
    text = re.sub(r"counter packets \d+ bytes \d+", "counter", text)  # nft
    text = re.sub(r"(valid|preferred)_lft \S+", "", text)             # address lifetimes
    text = re.sub(r" expires \d+sec", "", text)                       # route lifetimes (router advertisements)
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def snapshot():
    """{aspect: text} of the root namespace (run as root, in the root namespace)."""
    out = {
        "links": _run(["ip", "-d", "-o", "link", "show"]),
        "addresses": _without_counters(_run(["ip", "-o", "addr", "show"])),
        "routes": _without_counters(_run(["ip", "route", "show", "table", "all"])),
        "routes6": _without_counters(_run(["ip", "-6", "route", "show", "table", "all"])),
        "rules": _run(["ip", "rule", "show"]) + _run(["ip", "-6", "rule", "show"]),
        "iptables": _without_counters(_run(["iptables-save"])),
        "ip6tables": _without_counters(_run(["ip6tables-save"])),
        "nftables": _without_counters(_run(["nft", "list", "ruleset"])),
    }
    sysctls = _run(["sysctl", "-a"])
    out["sysctls"] = "\n".join(sorted(line for line in sysctls.splitlines()
                                      if line.startswith("net.") and not VOLATILE_SYSCTLS.match(line)))
    return out


def differences(before, after):
    """Lines added or removed, per aspect: {aspect: (removed, added)}."""
    out = {}
    for aspect in sorted(set(before) | set(after)):
        old, new = set(before.get(aspect, "").splitlines()), set(after.get(aspect, "").splitlines())
        if aspect == "sysctls":
            # a sysctl that appeared belongs to a kernel module loaded meanwhile (the kernel
            # datapath loads openvswitch and conntrack): only a value that changed was set by someone
            known = {line.split(" = ")[0] for line in old}
            new = {line for line in new if line.split(" = ")[0] in known}
        if old != new:
            out[aspect] = (sorted(old - new), sorted(new - old))
    return out


def render(diffs):
    lines = []
    for aspect, (removed, added) in diffs.items():
        lines.append("%s:" % aspect)
        lines += ["  - %s" % line for line in removed] + ["  + %s" % line for line in added]
    return "\n".join(lines)
