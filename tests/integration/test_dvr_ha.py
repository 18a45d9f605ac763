"""DVR with L3 HA on neutron's agents (scenarios/dvr-ha.yaml, kept by its
keeper as `stacklab up` leaves it): every check passes; keepalived runs in
each dvr_snat node's snat- with neutron's configuration, the master's snat-
holds the sg- and qg- addresses and the default route, the backup's the same
ports without them, while the qrouter- namespaces are DVR's and addressed on
every node; `stacklab status` says which snat- is master. Routing to a VLAN
network goes compute to compute over br-provider with the sender's DVR MAC,
read from the flows' packet counters. Failover under a
continuous ping (one every 10 ms): the master's keepalived killed moves the
SNAT to the other node within a bounded outage, and the floating IP, which
lives on compute1, sees no outage at all; after it, one master."""

import os
import signal
import time

import pytest

from stacklab.checks import run_check
from stacklab.observe import failover, probes
from stacklab.observe.ha import states
from stacklab.runtime.state import LabState
from stacklab.scenario.model import Check
from topologies.ha_router import keepalived_conf, link_local

from .conftest import flow_packets as packets, kept_lab, output, renamed, stacklab, wait_states

LAB = "it-dvr-ha"
ROUTER = "4c2e8a1b-7d3f-4b6e-9a5c-2f1d0e3b4a5c"
QROUTER, SNAT = "qrouter-" + ROUTER, "snat-" + ROUTER
MAX_OUTAGE_MS = 15000       # three adverts of 2 s, keepalived's skew and the GARPs, with room


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with kept_lab(renamed("dvr-ha", LAB, str(tmp_path_factory.mktemp("dvr-ha"))), LAB) as lab:
        yield lab


def test_every_check_passes(lab):
    result = stacklab("check", LAB, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_keepalived_keeps_the_snat_on_the_master_and_the_qrouters_stay_distributed(lab):
    router = lab.scenario.routers["router"]
    for node, port in router.ha_ports.items():
        conf = output(lab, node, "cat", "/var/lib/neutron/ha_confs/%s/keepalived.conf" % ROUTER)
        assert conf == keepalived_conf(router, port, lab.scenario.networks, lab.scenario.floating_ips)
        assert port.name in output(lab, node, "ip", "-n", SNAT, "-o", "link", "show")     # ha- in snat-
    master = output(lab, "network1", "ip", "-n", SNAT, "addr", "show")
    backup = output(lab, "network2", "ip", "-n", SNAT, "addr", "show")
    for port in router.snat_hosts["network1"]:
        for text in ("%s/" % port.ip, str(link_local(port.mac))):
            assert text in master, text
            assert text not in backup, text
    assert "default via 172.17.0.1" in output(lab, "network1", "ip", "-n", SNAT, "route")
    assert "default" not in output(lab, "network2", "ip", "-n", SNAT, "route")
    # the qrouter- namespaces are no keepalived's: the same qr- addresses on every node
    for node in ("network1", "network2", "compute1", "compute2"):
        addr = output(lab, node, "ip", "-n", QROUTER, "-o", "-4", "addr", "show")
        assert all(str(p.ip) in addr for p in router.interfaces), (node, addr)
    assert SNAT not in output(lab, "compute1", "ip", "netns")
    status = stacklab("status", LAB).stdout
    assert "%s@network1  (HA: primary)" % SNAT in status and "%s@network2  (HA: backup)" % SNAT in status, status
    assert "%s@network1  (HA" % QROUTER not in status


def test_routing_to_a_vlan_network_goes_between_computes_with_the_dvr_mac(lab):
    router = lab.scenario.routers["router"]
    red = next(p for p in router.interfaces if p.network == "red")
    compute1 = lab.scenario.nodes["compute1"].dvr_mac
    target = str(lab.scenario.instances["red-2"].port.ip)
    assert lab.probe("blue-1", probes.ping, target, 2, 1.0)["replies"] == 2      # ARP and the fabric settled
    counters = [("compute1", r"table=1,.*priority=1,dl_vlan=\d+,dl_src=%s actions=mod_dl_src:%s" % (red.mac, compute1)),
                ("compute2", r"table=3,.*priority=2,dl_src=%s actions=output" % compute1),
                ("network1", r"table=3,.*priority=2,dl_src=%s actions=output" % compute1)]
    before = [packets(lab, node, "br-provider", pattern) for node, pattern in counters]
    assert lab.probe("blue-1", probes.ping, target, 5, 1.0)["replies"] == 5
    after = [packets(lab, node, "br-provider", pattern) for node, pattern in counters]
    assert after[0] - before[0] >= 5, "compute1 put no DVR MAC on the routed frames"
    assert after[1] - before[1] >= 5, "compute2 took no frames from compute1's DVR MAC"
    assert after[2] == before[2], "a network node saw the routed frames"


def test_failover_moves_the_snat_and_leaves_the_floating_ip_alone(lab):
    workstation = str(lab.scenario.hosts["workstation"].address.ip)

    def kill():
        for p in LabState.load(LAB).processes:
            if p.what == "%s@network1 keepalived" % SNAT:
                vrrp = int(output(lab, "network1", "cat", "/var/lib/neutron/ha_confs/%s.pid-vrrp" % ROUTER).split()[0])
                os.kill(p.pid, signal.SIGKILL)
                output(lab, "network1", "kill", "-9", str(vrrp))     # its VRRP child, by the node's own pid
        want = {"network1": "backup", "network2": "primary"}
        assert wait_states(lab, want) == want

    snat = failover.start_ping(LAB, "green-2", workstation, 9)
    fip = failover.start_ping(LAB, "workstation", "172.17.0.120", 9)
    time.sleep(2.0)
    kill()
    (s_ms, _, s_got), (f_ms, _, f_got) = failover.result(snat), failover.result(fip)
    assert 0 < s_ms < MAX_OUTAGE_MS and s_got > 0, s_ms          # the SNAT was down, and came back
    assert f_ms < 500 and f_got > 0, f_ms                         # compute1's fip- never noticed
    assert "default via 172.17.0.1" in output(lab, "network2", "ip", "-n", SNAT, "route")
    # the lab started network1's keepalived again: it is backup, one master
    outcome = run_check(lab, Check("router_state", {"router": "router", "master": "network2", "stable": 0}, 0, 0))
    assert outcome.ok, outcome.detail
    nat = output(lab, "network2", "ip", "netns", "exec", SNAT, "iptables-save", "-c", "-t", "nat")
    assert any("SNAT --to-source 172.17.0.101" in line and not line.startswith("[0:")
               for line in nat.splitlines()), nat


def test_the_masters_ha_link_down_moves_the_snat_and_its_return_moves_nothing(lab):
    """network2 is master now (the test before): its ha- link down in its
    snat- makes network1 master, whose gratuitous ARPs teach the computes'
    br-tun where the sg- MACs are; back up, nopreempt keeps network1."""
    workstation = str(lab.scenario.hosts["workstation"].address.ip)
    router = lab.scenario.routers["router"]
    master = next(n for n, s in states(lab, router).items() if s == "primary")
    other = next(n for n in router.ha_ports if n != master)
    port = router.ha_ports[master].name

    def under_ping(action, seconds):
        snat = failover.start_ping(LAB, "green-2", workstation, seconds)
        time.sleep(2.0)
        action()
        return failover.result(snat)

    def down():
        output(lab, master, "ip", "-n", SNAT, "link", "set", port, "down")
        want = {master: "backup", other: "primary"}
        assert wait_states(lab, want) == want
    s_ms, _, got = under_ping(down, 11)
    assert 0 < s_ms < MAX_OUTAGE_MS and got > 0, s_ms

    def up():
        output(lab, master, "ip", "-n", SNAT, "link", "set", port, "up")
        time.sleep(4)           # adverts heard at once: nopreempt keeps the new master
    s_ms, _, _ = under_ping(up, 7)
    assert s_ms < 1000, s_ms
    outcome = run_check(lab, Check("router_state", {"router": "router", "master": other, "stable": 0}, 0, 0))
    assert outcome.ok, outcome.detail
