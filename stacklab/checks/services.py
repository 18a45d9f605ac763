"""Checks of the cloud's services as the outside sees them: a router's source
NAT (what address a packet from an instance arrives with at an external
host) and a load balancer's balancing (which member answers each new
connection, from the member's own answer)."""

import random
import re
import time

from stacklab.checks import FAIL, PASS, Checker, Outcome, register, require
from stacklab.observe import probes
from stacklab.scenario import endpoints, metadata
from stacklab.scenario.schema import Field, Int, IPv4Address, Name, Record, Str

LB_EXPECT = ("round_robin", "sticky", "spread")


def expected_source(scenario, instance):
    """What an instance's packets leave the cloud as: its floating IP, else
    the gateway address of the router on its network (None if neither)."""
    inst = scenario.instances[instance]
    for fip in scenario.floating_ips:
        if fip.port_id == inst.port.id:
            return str(fip.address)
    for router in scenario.routers.values():
        if router.gateway and router.snat and any(p.network == inst.port.network for p in router.interfaces):
            return str(router.gateway.ip)
    return None


@register
class SnatCheck(Checker):
    """Pings from an instance to an external host; the host sees them come from the expected address."""

    kind = "snat"
    params = Record({
        "from": Field(Name(example="instance03"), required=True, doc="An instance behind a router."),
        "to": Field(Name(example="workstation"), required=True, doc="An external host (hosts:)."),
        "expect_source": Field(IPv4Address(example="172.17.0.101"),
                               doc="Default: the instance's floating IP, else its router's gateway address."),
    }, doc="Source NAT seen from outside: the address an instance's packets arrive with.")

    def validate(self, scenario, params, report):
        require(scenario.instances, params["from"], "instance", ("from",), report)
        require(scenario.hosts, params["to"], "external host", ("to",), report)
        if params["from"] in scenario.instances and params["expect_source"] is None \
                and expected_source(scenario, params["from"]) is None:
            report(("from",), "%s has neither a floating IP nor a router with SNAT (give expect_source)"
                   % params["from"])

    def run(self, lab, p):
        scenario = lab.scenario
        want = str(p["expect_source"] or expected_source(scenario, p["from"]))
        dst = str(scenario.hosts[p["to"]].address.ip)
        token = b"stacklab-snat-%08x" % random.getrandbits(32)
        t0 = time.monotonic()
        watch = lab.start_probe(p["to"], probes.watch_icmp, token, 5.0)
        try:
            r = lab.probe(p["from"], probes.ping, dst, 3, 1.0, token)
        finally:
            seen = lab.finish_probe(watch)
        sources = sorted({s["src"] for s in seen})
        ok = r["replies"] == r["count"] and sources == [want]
        data = {"sent": r["sent"], "received": r["received"], "seen_at_destination": seen,
                "seconds": time.monotonic() - t0}
        detail = "%s -> %s (%s): %d/%d replies; %s saw them from %s (expected %s)" % (
            p["from"], p["to"], dst, r["replies"], r["count"], p["to"], ", ".join(sources) or "nothing", want)
        return Outcome(PASS if ok else FAIL, detail, data)


def _member_names(lb):
    return [m.instance or str(m.address) for pool in lb.pools.values() for m in pool.members]


@register
class LoadBalancerCheck(Checker):
    """New connections through a load balancer, each identified by the member
    that answers: an SSH login runs `/sbin/ip addr show`, as 003 does, and
    the member's address in its output names it."""

    kind = "lb"
    params = Record({
        "load_balancer": Field(Name(example="lb"), required=True),
        "from": Field(Str(example="workstation"), required=True, doc="Where the client runs: %s." % endpoints.SOURCES),
        "to": Field(IPv4Address(example="172.17.0.146"), doc="Address to connect to (default: the VIP)."),
        "listener": Field(Name(example="lb-ssh"), doc="Default: the load balancer's only listener."),
        "connections": Field(Int(min=1, max=50, example=6), default=6),
        "expect": Field(Str(choices=LB_EXPECT, example="round_robin"), default="round_robin",
                        doc="round_robin: the pool's enabled members take turns, in the pool's order (by member id, "
                            "as Octavia writes them into haproxy.cfg from its database, not the order they were "
                            "added); sticky: one member serves all; spread: every enabled member serves at least one."),
        "first": Field(Str(example="instance02"), doc="The member (instance or address) the first connection "
                                                     "must reach."),
    }, doc="Balancing seen from a client: which member serves each new connection.")

    def validate(self, scenario, params, report):
        require(scenario.load_balancers, params["load_balancer"], "load balancer", ("load_balancer",), report)
        if endpoints.namespace(scenario, params["from"]) is None:
            report(("from",), "no %s named %s" % (endpoints.SOURCES, params["from"]))
        lb = scenario.load_balancers.get(params["load_balancer"])
        if lb is None:
            return
        if params["listener"] is not None:
            require(lb.listeners, params["listener"], "listener of %s" % lb.name, ("listener",), report)
        elif len(lb.listeners) != 1:
            report((), "%s has %d listeners: say which with `listener:`" % (lb.name, len(lb.listeners)))
        if params["first"] is not None and params["first"] not in _member_names(lb):
            report(("first",), "%s is not a member of %s (members: %s)" % (params["first"], lb.name,
                                                                         ", ".join(_member_names(lb))))

    def run(self, lab, p):
        from stacklab.observe.ssh import login_argv, private_key
        scenario = lab.scenario
        lb = scenario.load_balancers[p["load_balancer"]]
        listener = lb.listeners[p["listener"]] if p["listener"] else next(iter(lb.listeners.values()))
        pool = lb.pools.get(listener.pool)
        if pool is None:
            return Outcome(FAIL, "listener %s of %s has no pool" % (listener.name, lb.name))
        members = [m for m in pool.members if m.instance in scenario.instances]
        logins = [scenario.instances[m.instance] for m in members if scenario.instances[m.instance].keypair]
        if not logins:
            return Outcome(FAIL, "no member of %s is an instance with a key pair to log in with" % pool.name)
        login = logins[0]
        key = private_key(scenario, login, lab.state.dir)
        where = endpoints.namespace(scenario, p["from"])
        to = str(p["to"] or lb.vip_address)
        argv = login_argv(key, login.user, to, ["/sbin/ip", "addr", "show"])
        argv[1:1] = ["-p", str(listener.port)]
        served, outputs = [], []
        t0 = time.monotonic()
        for _ in range(p["connections"]):
            proc = lab.run(where, argv, timeout=20)
            served.append(self._member(pool, proc.stdout) if proc.returncode == 0 else None)
            outputs.append(proc.stdout[-300:] if proc.returncode == 0 else "exit %d: %s" % (proc.returncode,
                                                                                        proc.stderr.strip()))
            if served[-1] is None:
                break       # the verdict is made (and one that hangs costs haproxy's connect timeout)
        names = [m.instance or str(m.address) if m else "nothing" for m in served]
        data = {"served": names, "outputs": outputs, "seconds": time.monotonic() - t0}
        wrong = self._judge(pool, served, p)
        detail = "%d connections from %s to %s:%d served by %s" % (len(served), p["from"], to, listener.port,
                                                                 ", ".join(names))
        if len(served) < p["connections"]:
            detail += " (the other %d not tried)" % (p["connections"] - len(served))
        if wrong:
            return Outcome(FAIL, "%s; %s" % (detail, wrong), data)
        return Outcome(PASS, "%s (%s)" % (detail, p["expect"].replace("_", " ")), data)

    @staticmethod
    def _member(pool, output):
        for m in pool.members:
            if re.search(r"inet %s/" % re.escape(str(m.address)), output):
                return m
        return None

    @staticmethod
    def _judge(pool, served, p):
        """What is wrong with the sequence of members that served (None: nothing)."""
        if None in served:
            return "connection %d reached no member" % (served.index(None) + 1)
        up = [m for m in pool.members if m.enabled and m.weight > 0]
        if p["first"] is not None and p["first"] not in (served[0].instance, str(served[0].address)):
            return "the first connection should reach %s" % p["first"]
        if p["expect"] == "sticky":
            return None if len({m.id for m in served}) == 1 else "the connections reached several members"
        missing = [m.instance or str(m.address) for m in up if m not in served]
        if p["expect"] == "spread" or missing:
            return "never served: %s" % ", ".join(missing) if missing else None
        start = up.index(served[0]) if served[0] in up else 0
        for i, m in enumerate(served):
            if m is not up[(start + i) % len(up)]:
                return "connection %d went to %s, not %s: the members did not take turns in the pool's order" % (
                    i + 1, m.instance or m.address, up[(start + i) % len(up)].instance)
        return None


@register
class MetadataCheck(Checker):
    """An instance asks the metadata service, as cloud-init and cirros do at boot."""

    kind = "metadata"
    params = Record({
        "instance": Field(Name(example="instance02"), required=True),
        "path": Field(Str(example="latest/meta-data/instance-id"), default="latest/meta-data/instance-id",
                      doc="What it asks for at http://169.254.169.254/ (EC2 or openstack/latest/... paths)."),
        "expect": Field(Str(example="i-00000002"),
                        doc="The answer (default, for latest/meta-data/instance-id, hostname, local-hostname, "
                            "local-ipv4 and latest/user-data: what nova holds for this instance); give it for "
                            "other paths."),
    }, doc="The metadata path end to end: the instance's own `curl` through its router's proxy (or, on "
           "an isolated network, its DHCP namespace's), the metadata agent and nova's metadata API must "
           "return the instance's own data.")

    def validate(self, scenario, params, report):
        require(scenario.instances, params["instance"], "instance", ("instance",), report)
        if params["expect"] is None and params["instance"] in scenario.instances \
                and metadata.expected(scenario, params["instance"], params["path"]) is None:
            report(("expect",), "give the answer expected for %s (derived only for latest/meta-data/"
                                "instance-id, hostname, local-hostname and local-ipv4, and for the user data "
                                "of an instance that has some)" % params["path"])

    def run(self, lab, p):
        want = p["expect"] if p["expect"] is not None else metadata.expected(lab.scenario, p["instance"], p["path"])
        url = "http://%s/%s" % (metadata.METADATA_IP, p["path"].lstrip("/"))
        t0 = time.monotonic()
        proc = lab.run(p["instance"], ["curl", "-s", "-S", "-m", "5", "-w", "\n%{http_code}", url], timeout=15)
        body, _, code = proc.stdout.rpartition("\n")
        got = body.strip()
        ok = proc.returncode == 0 and code == "200" and got == want.strip()
        data = {"sent": [url], "received": [got[-500:]], "outcome": "HTTP %s" % (code or "-"),
                "seconds": time.monotonic() - t0}
        if proc.returncode != 0:
            detail = "%s: curl %s: %s" % (p["instance"], url, proc.stderr.strip()[-200:] or "exit %d" % proc.returncode)
        elif code != "200":
            detail = "%s: %s answered HTTP %s: %s" % (p["instance"], url, code, got[:120])
        elif not ok:
            detail = "%s: %s says %r, not %r" % (p["instance"], url, got[:120], want)
        else:
            detail = "%s: %s says %r" % (p["instance"], url, got[:120])
        return Outcome(PASS if ok else FAIL, detail, data)
