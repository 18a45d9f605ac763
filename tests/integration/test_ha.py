"""L3 HA on neutron's agents (scenarios/l3-ha.yaml, kept by its keeper as
`stacklab up` leaves it): every check passes; keepalived runs in each
network node's qrouter- with neutron's configuration; the master holds the
router's addresses, the backup's ports have none; and failover, under a
continuous ping (one every 10 ms) through the router's SNAT and through its
floating IP: the master's keepalived killed (the lab starts it again, as
neutron's process monitor does, and it comes back as backup), the master's
HA link down, then up again (nopreempt: it stays backup). Each outage is
bounded, and after each exactly one node is master; the metadata proxy
runs on the master only and moves with it. VRRP cut between the
nodes makes both masters (split brain), which the router_state check
reports; it heals once VRRP passes again."""

import os
import signal
import time

import pytest

from stacklab.checks import run_check
from stacklab.scenario.model import Check
from stacklab.observe import failover
from stacklab.observe.ha import states
from stacklab.runtime.state import LabState
from topologies.ha_router import keepalived_conf, link_local

from .conftest import kept_lab, output, renamed, stacklab, wait_states

LAB = "it-ha"
ROUTER = "6a1f3c9e-2b7d-4e5a-8c1f-9d2e3b4a5c6e"
QROUTER = "qrouter-" + ROUTER
MAX_OUTAGE_MS = 15000       # three adverts of 2 s, keepalived's skew and the GARPs, with room


@pytest.fixture(scope="module")
def ha(tmp_path_factory):
    with kept_lab(renamed("l3-ha", LAB, str(tmp_path_factory.mktemp("ha"))), LAB) as lab:
        yield lab


def router_state(lab, master=None):
    return run_check(lab, Check("router_state", {"router": "router", "master": master, "stable": 0}, 0, 0))


def under_ping(lab, action, seconds=9):
    """(SNAT outage, floating IP outage) in ms of 10 ms pings while `action` runs."""
    snat = failover.start_ping(LAB, "vm1", str(lab.scenario.hosts["workstation"].address.ip), seconds)
    fip = failover.start_ping(LAB, "workstation", "172.17.0.120", seconds)
    time.sleep(2.0)
    action()
    return failover.result(snat), failover.result(fip)


PROXY = "haproxy -f /var/lib/neutron/ns-metadata-proxy/%s.conf" % ROUTER


def proxies(lab):
    """{node: whether the router's metadata proxy runs there}, after the supervisor's second to follow."""
    time.sleep(1.5)
    return {n: PROXY in output(lab, n, "ps", "-eww", "-o", "args") for n in ("network1", "network2")}


def metadata_hostname(lab, instance):
    return output(lab, instance, "curl", "-s", "-m", "5", "http://169.254.169.254/latest/meta-data/hostname")


def test_every_check_passes(ha):
    result = stacklab("check", LAB, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_keepalived_runs_with_neutrons_configuration_and_the_master_holds_the_addresses(ha):
    router = ha.scenario.routers["router"]
    for node, port in router.ha_ports.items():
        conf = output(ha, node, "cat", "/var/lib/neutron/ha_confs/%s/keepalived.conf" % ROUTER)
        assert conf == keepalived_conf(router, port, ha.scenario.networks, ha.scenario.floating_ips)
        assert "keepalived -P -f /var/lib/neutron/ha_confs/%s/keepalived.conf" % ROUTER in output(ha, node, "ps", "-eww",
                                                                                               "-o", "args")
    qr, qg = (next(p for p in router.ports() if p.name.startswith(k)) for k in ("qr-", "qg-"))
    master = output(ha, "network1", "ip", "-n", QROUTER, "addr", "show")
    backup = output(ha, "network2", "ip", "-n", QROUTER, "addr", "show")
    for text in ("%s/24" % qr.ip, "%s/24" % qg.ip, "172.17.0.120/32", "169.254.0.1/24", str(link_local(qr.mac)),
                 str(link_local(qg.mac))):
        assert text in master, text
        assert text not in backup, text
    assert "%s/18" % router.ha_ports["network2"].ip in backup        # its own ha- address only
    assert "default via 172.17.0.1" in output(ha, "network1", "ip", "-n", QROUTER, "route")
    assert "default" not in output(ha, "network2", "ip", "-n", QROUTER, "route")
    # the metadata proxy: its rules in both copies, its haproxy on the master alone
    for node in ("network1", "network2"):
        assert "--to-ports 9697" in output(ha, node, "ip", "netns", "exec", QROUTER, "iptables-save", "-t", "nat")
    assert proxies(ha) == {"network1": True, "network2": False}
    assert metadata_hostname(ha, "vm1").startswith("vm1")


def test_failover_when_the_masters_keepalived_is_killed(ha):
    def kill():
        for p in LabState.load(LAB).processes:
            if p.what == "%s@network1 keepalived" % QROUTER:
                vrrp = int(output(ha, "network1", "cat", "/var/lib/neutron/ha_confs/%s.pid-vrrp" % ROUTER).split()[0])
                os.kill(p.pid, signal.SIGKILL)
                output(ha, "network1", "kill", "-9", str(vrrp))      # its VRRP child, by the node's own pid
        assert wait_states(ha, {"network1": "backup", "network2": "primary"}) == \
            {"network1": "backup", "network2": "primary"}
    (snat, _, got), (fip, _, fgot) = under_ping(ha, kill)
    assert 0 < snat < MAX_OUTAGE_MS and got > 0, snat
    assert 0 < fip < MAX_OUTAGE_MS and fgot > 0, fip
    # the lab started network1's keepalived again: it is backup, one master
    assert router_state(ha, "network2").ok
    # the metadata proxy moved with the master, as the L3 agent moves it
    assert proxies(ha) == {"network1": False, "network2": True}
    assert metadata_hostname(ha, "vm1").startswith("vm1")


def test_failover_when_the_masters_ha_link_goes_down_and_no_preemption_when_it_returns(ha):
    master = next(n for n, s in states(ha, ha.scenario.routers["router"]).items() if s == "primary")
    other = next(n for n in ("network1", "network2") if n != master)
    ha_port = ha.scenario.routers["router"].ha_ports[master].name

    def down():
        output(ha, master, "ip", "-n", QROUTER, "link", "set", ha_port, "down")
        assert wait_states(ha, {master: "backup", other: "primary"}) == {master: "backup", other: "primary"}
    (snat, _, _), (fip, _, _) = under_ping(ha, down, seconds=12)      # (up to three adverts)
    assert 0 < snat < MAX_OUTAGE_MS and 0 < fip < MAX_OUTAGE_MS, (snat, fip)

    def up():
        output(ha, master, "ip", "-n", QROUTER, "link", "set", ha_port, "up")
        time.sleep(5)           # adverts heard at once: nopreempt keeps the new master
    (snat, _, _), (fip, _, _) = under_ping(ha, up, seconds=8)
    assert snat < 1000 and fip < 1000, (snat, fip)
    assert router_state(ha, other).ok


def test_split_brain_while_vrrp_is_cut_and_healed_after(ha):
    router = ha.scenario.routers["router"]
    drop = ["iptables", "-I", "INPUT", "-p", "vrrp", "-j", "DROP"]
    for node in router.hosts:
        output(ha, node, "ip", "netns", "exec", QROUTER, *drop)
    try:
        assert wait_states(ha, {n: "primary" for n in router.hosts}) == {n: "primary" for n in router.hosts}
        outcome = router_state(ha)
        assert not outcome.ok and "split brain" in outcome.detail, outcome.detail
    finally:
        for node in router.hosts:
            output(ha, node, "ip", "netns", "exec", QROUTER, "iptables", "-D", "INPUT", "-p", "vrrp", "-j", "DROP")
    deadline = time.monotonic() + 20
    while not router_state(ha).ok and time.monotonic() < deadline:
        time.sleep(0.5)
    assert router_state(ha).ok, states(ha, router)
