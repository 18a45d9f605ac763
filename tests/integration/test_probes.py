"""The probes and their checks on a real lab, passing and, above all, failing
when they must: a closed port, a port the security group filters, a wrong
expected address, a stopped dnsmasq, an instance whose tap port is gone."""

import os
import signal

import pytest

from stacklab.checks import FAIL, PASS, run_check
from stacklab.observe import probes
from stacklab.scenario.model import Check
from stacklab.runtime.procs import read_pidfile

from .conftest import built_lab


@pytest.fixture(scope="module")
def vxlan():
    with built_lab("vxlan-instance", rename="it-vxlan-probes") as lab:
        yield lab


def check(lab, kind, **params):
    """Run one check of `kind`, its parameters completed by the schema's defaults."""
    from stacklab.checks import registry
    full = {name: (f.default() if callable(f.default) else f.default)
            for name, f in registry()[kind].params.fields.items()}
    full.update(params)
    return run_check(lab, Check(kind, full, 0, None))


def test_ping_replies_and_silence(vxlan):
    lab, _ = vxlan
    ok = check(lab, "ping", **{"from": "qdhcp-selfservice", "to": "instance02"})
    assert ok.verdict == PASS and ok.data["rtt_ms"], ok.detail
    # nothing lives at .250: a ping that expects replies must fail
    none = check(lab, "ping", **{"from": "qdhcp-selfservice", "to": "192.168.101.250", "count": 1})
    assert none.verdict == FAIL and "0/1 replies" in none.detail, none.detail
    assert check(lab, "ping", **{"from": "qdhcp-selfservice", "to": "192.168.101.250", "count": 1,
                                 "expect": "no-reply"}).verdict == PASS


def test_tcp_open_closed_filtered_kept_apart(vxlan):
    lab, _ = vxlan
    src = {"from": "qdhcp-selfservice"}
    assert lab.probe("qdhcp-9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1", probes.tcp_syn, "192.168.101.19", 22)["state"] \
        == "open"
    # closed: the DHCP namespace itself has no listener on 2222 and no firewall: RST
    assert lab.probe("instance02", probes.tcp_syn, "192.168.101.2", 2222)["state"] == "closed"
    # filtered: the security group has no rule for 80, the SYN is dropped
    r = check(lab, "tcp", to="instance02", port=80, expect="open", **src)
    assert r.verdict == FAIL and "filtered" in r.detail, r.detail
    # the report says where: the trace on the instance's node ends in the firewall's drop
    assert "ofproto/trace on compute1 br-int" in r.detail and "datapath actions: drop" in r.detail, r.detail
    assert "resubmit(,93)" in r.data["trace"]["output"], r.data["trace"]["output"]
    r = check(lab, "tcp", to="instance02", port=22, expect="filtered", **src)
    assert r.verdict == FAIL and "open" in r.detail, r.detail


def test_dhcp_wrong_expectation_fails(vxlan):
    lab, _ = vxlan
    r = check(lab, "dhcp", instance="instance02", expect_ip="192.168.101.99")
    assert r.verdict == FAIL and "ip 192.168.101.19, not 192.168.101.99" in r.detail, r.detail
    r = check(lab, "dhcp", instance="instance02", expect_mtu=1500)
    assert r.verdict == FAIL and "mtu 1450, not 1500" in r.detail, r.detail


def test_ssh_wrong_output_fails(vxlan):
    lab, _ = vxlan
    assert check(lab, "ssh", instance="instance02", command="hostname -I",
                 expect_output="192.168.101.19").verdict == PASS
    r = check(lab, "ssh", instance="instance02", command="hostname -I", expect_output="10.9.9.9")
    assert r.verdict == FAIL


def test_walks_to_and_from_a_dhcp_namespace_and_within_a_subnet(vxlan):
    """A walk ends where it may start: a qdhcp- namespace, or an address of
    the same subnet (no router needed); an address nothing has is said."""
    from stacklab.errors import LabError
    from stacklab.observe.walk import Walker
    lab, _ = vxlan
    dhcp = str(lab.scenario.dhcp_ports["selfservice"].ip)
    for to in ("qdhcp-selfservice", dhcp):
        hops = Walker(lab).walk("instance02", to)
        assert [h.node for h in hops] == ["compute1", "controller"], [str(h) for h in hops]
        assert str(hops[-1]).endswith("(tap%s)" % lab.scenario.dhcp_ports["selfservice"].id[:11]) or \
            "output:" in str(hops[-1]), [str(h) for h in hops]
    back = Walker(lab).walk("qdhcp-selfservice", "instance02")
    assert [h.node for h in back] == ["controller", "compute1"] and str(back[-1]).endswith("(instance02)"), \
        [str(h) for h in back]
    with pytest.raises(LabError, match="nothing of the scenario has 192.168.101.250"):
        Walker(lab).walk("instance02", "192.168.101.250")


def test_stopped_dnsmasq_means_no_answer(vxlan):
    lab, built = vxlan
    host = built.dhcp["qdhcp-9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1"]
    pid = read_pidfile(host.pidfile(), host.pid)       # the pidfile's number is the node's
    os.kill(pid, signal.SIGTERM)
    r = check(lab, "dhcp", instance="instance02", expect_ip="192.168.101.19")
    assert r.verdict == FAIL and "no DHCP answer" in r.detail, r.detail


def test_removed_tap_breaks_ping(vxlan):
    lab, _ = vxlan
    lab.run("compute1", ["ovs-vsctl", "del-port", "br-int", "tap8811e933-5c"], check=True)
    r = check(lab, "ping", **{"from": "qdhcp-selfservice", "to": "instance02", "count": 2})
    assert r.verdict == FAIL and "0/2 replies" in r.detail, r.detail

