"""Checks that send packets: ping, tcp, dhcp (scapy probes from inside the
source namespace) and ssh (a real login). Sources and targets are named as
in the scenario: an instance, a node, or `qdhcp-<network>` for a network's
DHCP namespace; a target may also be an IP address."""

import time

from stacklab.checks import FAIL, PASS, Checker, Outcome, register, require
from stacklab.errors import LabError
from stacklab.observe import probes, trace
from stacklab.observe.walk import Walker
from stacklab.scenario import endpoints
from stacklab.scenario.schema import Field, Int, IPv4Address, Name, Record, Str


def _with_trace(lab, outcome, p, proto, port=None):
    """A failed probe: add where the packet goes. From an instance or a host,
    its walk through every node's pipeline (stacklab flows walk); from elsewhere
    toward an instance, ofproto/trace through the instance's node."""
    scenario = lab.scenario
    if outcome.verdict == PASS:
        return outcome
    if lab.dead:            # a dead daemon is the likely cause (run_checks names it); a walk would mislead
        return outcome
    if p["from"] in scenario.instances or p["from"] in scenario.hosts:
        try:
            to = p["to"] if p["to"] in scenario.instances else endpoints.address(scenario, p["to"])
            hops = Walker(lab).walk(p["from"], to, proto, port)
        except LabError as e:
            outcome.detail += "; no walk: %s" % e
            return outcome
        outcome.data["walk"] = [{"hop": str(h), "flow": h.flow, "trace": h.trace} for h in hops]
        outcome.detail += "; walk: %s" % " | ".join(map(str, hops))
        return outcome
    if p["to"] not in scenario.instances or scenario.sdn != "neutron":
        return outcome
    _, src_ip, src_mac = endpoints.endpoint(scenario, p["from"]) or (None, None, None)
    if src_ip is None:
        return outcome
    node, flow = trace.packet_to_instance(scenario, scenario.instances[p["to"]], src_ip, src_mac, proto, port)
    if node is None:
        return outcome
    text, summary = trace.trace(lab, node, flow)
    outcome.data["trace"] = {"node": node, "bridge": "br-int", "flow": flow, "output": text}
    outcome.detail += "; ofproto/trace on %s br-int: %s" % (node, summary)
    return outcome


def _outcome(ok, result, detail):
    data = {"sent": result.sent, "received": result.received, "outcome": result.outcome, **result.data}
    return Outcome(PASS if ok else FAIL, detail, data)


class _PathCheck(Checker):
    """A probe from a source namespace (`from`) to a target address (`to`)."""

    def validate(self, scenario, params, report):
        if endpoints.namespace(scenario, params["from"]) is None:
            report(("from",), "no %s named %s" % (endpoints.SOURCES, params["from"]))
        if endpoints.address(scenario, params["to"]) is None:
            report(("to",), "%s is neither an IP address nor %s with one" % (params["to"], endpoints.SOURCES))


@register
class PingCheck(_PathCheck):
    """ICMP echo from a namespace to an address: replies expected (or none)."""

    kind = "ping"
    params = Record({
        "from": Field(Str(example="qdhcp-selfservice"), required=True, doc="An instance, node or qdhcp-NETWORK."),
        "to": Field(Str(example="instance02"), required=True, doc="An instance, node, qdhcp-NETWORK or IP."),
        "count": Field(Int(min=1, max=100, example=3), default=3),
        "expect": Field(Str(choices=("reply", "no-reply"), example="reply"), default="reply"),
    }, doc="Ping with scapy from inside a namespace.")

    def run(self, lab, p):
        scenario = lab.scenario
        src, dst = endpoints.namespace(scenario, p["from"]), endpoints.address(scenario, p["to"])
        t0 = time.monotonic()
        r = lab.probe(src, probes.ping, dst, p["count"])
        seconds = time.monotonic() - t0
        outcome = "%d/%d replies" % (r["replies"], r["count"])
        if r["rtt_ms"]:
            outcome += ", rtt %.2f/%.2f ms" % (min(r["rtt_ms"]), max(r["rtt_ms"]))
        ok = r["replies"] == r["count"] if p["expect"] == "reply" else r["replies"] == 0
        result = probes.ProbeResult("ping", src, dst, ok, outcome, r["sent"], r["received"], seconds,
                                    {"rtt_ms": r["rtt_ms"]})
        out = _outcome(ok, result, "%s -> %s: %s (expected %s)" % (p["from"], dst, outcome, p["expect"]))
        return _with_trace(lab, out, p, "icmp") if p["expect"] == "reply" else out


@register
class TcpCheck(_PathCheck):
    """A TCP SYN: the port is open (SYN/ACK), closed (RST) or filtered (nothing)."""

    kind = "tcp"
    params = Record({
        "from": Field(Str(example="qdhcp-selfservice"), required=True),
        "to": Field(Str(example="instance02"), required=True),
        "port": Field(Int(min=1, max=65535, example=22), required=True),
        "expect": Field(Str(choices=("open", "closed", "filtered"), example="open"), default="open"),
    }, doc="A SYN from inside a namespace; open, closed and filtered kept apart.")

    def run(self, lab, p):
        scenario = lab.scenario
        src, dst = endpoints.namespace(scenario, p["from"]), endpoints.address(scenario, p["to"])
        t0 = time.monotonic()
        r = lab.probe(src, probes.tcp_syn, dst, p["port"])
        ok = r["state"] == p["expect"]
        result = probes.ProbeResult("tcp", src, dst, ok, r["state"], r["sent"], r["received"],
                                    time.monotonic() - t0)
        out = _outcome(ok, result, "%s -> %s:%d %s (expected %s)" % (p["from"], dst, p["port"], r["state"],
                                                                    p["expect"]))
        return _with_trace(lab, out, p, "tcp", p["port"]) if p["expect"] == "open" else out


@register
class DhcpCheck(Checker):
    """DISCOVER/REQUEST from an instance's interface: the address and options offered."""

    kind = "dhcp"
    params = Record({
        "instance": Field(Name(example="instance02"), required=True),
        "interface": Field(Str(example="eth0"), default="eth0"),
        "mac": Field(Str(example="fa:16:3e:55:18:7a"), doc="Ask as this MAC (default: the interface's)."),
        "expect_ip": Field(IPv4Address(example="192.168.101.19")),
        "expect_mtu": Field(Int(min=68, example=1450)),
        "expect_router": Field(IPv4Address(example="192.168.101.1")),
    }, doc="A DHCP exchange with scapy from inside an instance.")

    def validate(self, scenario, params, report):
        require(scenario.instances, params["instance"], "instance", ("instance",), report)

    def run(self, lab, p):
        t0 = time.monotonic()
        r = lab.probe(p["instance"], probes.dhcp, p["interface"], p["mac"])
        seconds = time.monotonic() - t0
        if not r["answered"]:
            result = probes.ProbeResult("dhcp", p["instance"], "broadcast", False, "no answer", r["sent"],
                                        r["received"], seconds)
            return _outcome(False, result, "%s: no DHCP answer to %s" % (p["instance"], ", ".join(r["sent"])))
        wrong = []
        for key, got in (("expect_ip", r["ip"]), ("expect_mtu", r["mtu"]), ("expect_router", r["router"])):
            if p[key] is not None and str(got) != str(p[key]):
                wrong.append("%s %s, not %s" % (key[len("expect_"):], got, p[key]))
        if r["reply"] != "ack":
            wrong.append("reply %s" % r["reply"])
        outcome = "%s %s lease %ss router %s mtu %s from %s" % (r["reply"], r["ip"], r["lease_time"], r["router"],
                                                              r["mtu"], r["server"])
        result = probes.ProbeResult("dhcp", p["instance"], "broadcast", not wrong, outcome, r["sent"],
                                    r["received"], seconds, {k: r[k] for k in ("ip", "mtu", "router", "lease_time")})
        return _outcome(not wrong, result, "%s: %s%s" % (p["instance"], outcome,
                                                         "; " + "; ".join(wrong) if wrong else ""))


@register
class SshCheck(Checker):
    """A real SSH login as the instance's user with its key pair, running a command."""

    kind = "ssh"
    params = Record({
        "instance": Field(Name(example="instance00"), required=True),
        "command": Field(Str(example="/sbin/ip addr"), default="true"),
        "expect_output": Field(Str(example="172.16.0.112/24"), doc="Text the output must contain."),
        "from": Field(Str(example="workstation"), doc="Where to log in from (default: the instance's network)."),
        "address": Field(IPv4Address(example="172.17.0.95"),
                         doc="The address to log in to (default: the instance's own; e.g. its floating IP)."),
    }, doc="Log in and run a command, as `stacklab ssh` does.")

    def validate(self, scenario, params, report):
        require(scenario.instances, params["instance"], "instance", ("instance",), report)
        if params["instance"] in scenario.instances and scenario.instances[params["instance"]].keypair is None:
            report(("instance",), "%s has no key pair to log in with" % params["instance"])
        if params["from"] is not None and endpoints.namespace(scenario, params["from"]) is None:
            report(("from",), "no %s named %s" % (endpoints.SOURCES, params["from"]))

    def run(self, lab, p):
        from stacklab.observe.ssh import ssh_argv
        command = p["command"].split()
        source = endpoints.namespace(lab.scenario, p["from"]) if p["from"] else None
        where, argv = ssh_argv(lab.scenario, p["instance"], lab.state.dir, command, source=source,
                               address=p["address"])
        t0 = time.monotonic()
        try:
            proc = lab.run(where, argv, timeout=20)
        except LabError as e:
            return Outcome(FAIL, "%s: %s" % (p["instance"], e))
        out = proc.stdout.strip()
        ok = proc.returncode == 0 and (p["expect_output"] is None or p["expect_output"] in proc.stdout)
        login = argv[-1 - len(command):]          # user@address and the command
        result = probes.ProbeResult("ssh", where, p["instance"], ok, "exit %d" % proc.returncode,
                                    [" ".join(login)], [out[-500:]], time.monotonic() - t0)
        detail = "%s from %s: exit %d" % (login[0], where, proc.returncode)
        if not ok:
            detail += ": " + (proc.stderr.strip() or out)[-200:]
        elif p["expect_output"]:
            detail += ", output has %r" % p["expect_output"]
        return _outcome(ok, result, detail)
