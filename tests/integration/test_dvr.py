"""Neutron's DVR on the OVS agents (scenarios/dvr.yaml, kept by its keeper as
`stacklab up` leaves it): every check passes; a qrouter- with the same qr-
ports on each compute, snat- on the network node; and the proof that it is
distributed, read from the flows' packet counters: routing between two
subnets on one compute never reaches its br-tun, routing between computes
goes compute to compute with the sender's DVR MAC on the wire and never
through the network node, SNAT goes through the network node's sg- port.
A routed packet for a remote instance needs the ARP entry the L3 agent put
in the compute's qrouter-: without it the compute cannot reach the other
subnet's remote instances (nobody answers a router's ARP across nodes)."""

import re

import pytest

from stacklab import naming
from stacklab.observe import probes

from .conftest import flow_packets as packets, kept_lab, output, renamed, stacklab

LAB = "it-dvr"
ROUTER = "d7a3c1f0-5b2e-4e8a-9c6d-1f2e3a4b5c6d"
QROUTER, SNAT = "qrouter-" + ROUTER, "snat-" + ROUTER


@pytest.fixture(scope="module")
def dvr(tmp_path_factory):
    with kept_lab(renamed("dvr", LAB, str(tmp_path_factory.mktemp("dvr"))), LAB) as lab:
        yield lab


def ping(lab, src, dst, count=5):
    target = str(lab.scenario.instances[dst].port.ip)
    return lab.probe(src, probes.ping, target, count, 1.0)["replies"]


def test_every_check_passes(dvr):
    result = stacklab("check", LAB, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_router_on_each_compute_and_its_snat_on_the_network_node(dvr):
    router = dvr.scenario.routers["router"]
    seen = {}
    for node in ("compute1", "compute2", "network"):
        assert QROUTER in output(dvr, node, "ip", "netns")
        addr = output(dvr, node, "ip", "-n", QROUTER, "-o", "-4", "addr", "show")
        links = output(dvr, node, "ip", "-n", QROUTER, "-o", "link", "show")
        seen[node] = sorted((p.name, str(p.ip), p.mac) for p in router.interfaces
                            if p.name in addr and str(p.ip) in addr and p.mac in links)
    assert seen["compute1"] == seen["compute2"] == seen["network"] and len(seen["compute1"]) == 2
    assert SNAT not in output(dvr, "compute1", "ip", "netns")
    snat = output(dvr, "network", "ip", "-n", SNAT, "-o", "-4", "addr", "show")
    for port in router.snat_ports + [router.gateway]:
        assert port.name[:3] in ("sg-", "qg-") and str(port.ip) in snat, (port, snat)
    nat = output(dvr, "network", "ip", "netns", "exec", SNAT, "iptables-save", "-t", "nat")
    assert "-j SNAT --to-source %s" % router.gateway.ip in nat
    # each compute's DVR MAC, from neutron's fa:16:3f range, all different
    macs = {n.dvr_mac for n in dvr.scenario.nodes.values()}
    assert len(macs) == 4 and all(m.startswith("fa:16:3f:") for m in macs)


def test_routing_on_one_compute_never_leaves_it(dvr):
    """Frames the local router sends (source: a qr- MAC) pass br-tun's
    DVR_PROCESS on their way out; none do while blue-1 and green-1 talk."""
    routed = [r"table=1,.*priority=1,dl_vlan=\d+,dl_src=%s " % p.mac for p in dvr.scenario.routers["router"].interfaces]
    assert ping(dvr, "blue-1", "green-1", 2) == 2          # ARP and MACs settled
    before = [packets(dvr, "compute1", "br-tun", r) for r in routed]
    assert ping(dvr, "blue-1", "green-1", 5) == 5
    assert [packets(dvr, "compute1", "br-tun", r) for r in routed] == before, "routed frames went to br-tun"
    # and the same flows do count what leaves: blue-1 to green-2 on compute2
    assert ping(dvr, "blue-1", "green-2", 3) == 3
    assert sum(packets(dvr, "compute1", "br-tun", r) for r in routed) >= sum(before) + 3


def test_routing_between_computes_goes_straight_with_the_dvr_mac(dvr):
    compute1_mac = dvr.scenario.nodes["compute1"].dvr_mac
    green2 = dvr.scenario.instances["green-2"].port.mac
    assert ping(dvr, "blue-1", "green-2", 2) == 2
    wire = r"table=0,.*priority=2,in_port=\S+,dl_src=%s actions=resubmit\(,1\)" % compute1_mac
    to_port = r"table=1,.*priority=20,dl_vlan=\d+,dl_dst=%s " % green2
    network = r"table=9,.*priority=1,dl_src=%s " % compute1_mac
    before = (packets(dvr, "compute2", "br-int", wire), packets(dvr, "compute2", "br-int", to_port),
              packets(dvr, "network", "br-tun", network))
    assert ping(dvr, "blue-1", "green-2", 5) == 5
    after = (packets(dvr, "compute2", "br-int", wire), packets(dvr, "compute2", "br-int", to_port),
             packets(dvr, "network", "br-tun", network))
    assert after[0] - before[0] >= 5, "compute2 saw no frames from compute1's DVR MAC"
    assert after[1] - before[1] >= 5, "compute2 gave the frames no gateway MAC"
    assert after[2] == before[2], "the network node saw the routed frames"


def test_snat_goes_through_the_network_nodes_sg_port(dvr):
    router = dvr.scenario.routers["router"]
    sg = next(p for p in router.snat_ports if p.network == "green")
    to_sg = r"table=1,.*priority=20,dl_vlan=\d+,dl_dst=%s " % sg.mac
    before = packets(dvr, "network", "br-int", to_sg)
    target = str(dvr.scenario.hosts["workstation"].address.ip)
    assert dvr.probe("green-2", probes.ping, target, 3, 1.0)["replies"] == 3       # (blue-1 has a floating IP)
    assert packets(dvr, "network", "br-int", to_sg) - before >= 3


def test_without_the_prepopulated_arp_entry_the_remote_instance_is_unreachable(dvr):
    green2 = dvr.scenario.instances["green-2"].port
    green1 = dvr.scenario.instances["green-1"].port
    qr = next(p for p in dvr.scenario.routers["router"].hosts["compute1"] if p.network == "green")
    output(dvr, "compute1", "ip", "-n", QROUTER, "neigh", "del", str(green2.ip), "dev", qr.name)
    try:
        assert ping(dvr, "blue-1", "green-2", 3) == 0               # the router's ARP request dies on compute2
        assert ping(dvr, "blue-1", "green-1", 3) == 3               # a local instance still answers
        assert ping(dvr, "green-2", "green-1", 3) == 3              # and compute2 is fine
    finally:
        output(dvr, "compute1", "ip", "-n", QROUTER, "neigh", "replace", str(green2.ip), "lladdr", green2.mac,
            "nud", "permanent", "dev", qr.name)
    assert ping(dvr, "blue-1", "green-2", 3) == 3
    assert green1.ip != green2.ip


def port_packets(lab, node, port):
    """(rx, tx) packets of `port` on node's br-int."""
    out = output(lab, node, "ovs-ofctl", "dump-ports", "br-int", port)
    rx = int(re.search(r"rx pkts=(\d+)", out).group(1))
    tx = int(re.search(r"tx pkts=(\d+)", out).group(1))
    return rx, tx


def test_the_floating_ip_lives_on_the_instances_compute(dvr):
    router = dvr.scenario.routers["router"]
    fip = next(f for f in dvr.scenario.floating_ips if f.node == "compute1")
    fg = next(p for p in dvr.scenario.fip_gateways if p.node == "compute1")
    namespace = naming.fip_namespace(dvr.scenario.networks[fg.network].id)
    assert namespace in output(dvr, "compute1", "ip", "netns")
    assert namespace not in output(dvr, "compute2", "ip", "netns") + output(dvr, "network", "ip", "netns")
    addr = output(dvr, "compute1", "ip", "-n", namespace, "-o", "-4", "addr", "show")
    assert "%s: inet %s/24" % (fg.name, fg.ip) in addr.replace("    ", " ") or (fg.name in addr and str(fg.ip) in addr)
    rtr_2_fip, fip_2_rtr = router.fip_links["compute1"]
    assert "%s/31" % fip_2_rtr in addr and router.fpr in addr
    assert output(dvr, "compute1", "ip", "netns", "exec", namespace, "sysctl", "-n",
               "net.ipv4.conf.%s.proxy_arp" % fg.name).strip() == "1"
    qaddr = output(dvr, "compute1", "ip", "-n", QROUTER, "-o", "-4", "addr", "show", "dev", router.rfp)
    assert "%s/31" % rtr_2_fip in qaddr and "%s/32" % fip.address in qaddr
    assert "%d:\tfrom %s lookup 16" % (fip.rule_priority, fip.fixed_ip) in output(dvr, "compute1", "ip", "-n", QROUTER,
                                                                                "rule")
    target = str(fip.address)
    # the workstation's ARP for the floating IP first: a broadcast, it reaches every node's ports
    assert dvr.probe("workstation", probes.ping, target, 1, 1.0)["replies"] == 1
    before = port_packets(dvr, "compute1", fg.name), port_packets(dvr, "network", router.gateway.name)
    assert dvr.probe("workstation", probes.ping, target, 5, 1.0)["replies"] == 5
    after = port_packets(dvr, "compute1", fg.name), port_packets(dvr, "network", router.gateway.name)
    assert after[0][0] - before[0][0] >= 5 and after[0][1] - before[0][1] >= 5, (before, after)
    # (a stray broadcast may reach it, as every port on the external network; not the five pings)
    assert after[1][0] - before[1][0] < 5 and after[1][1] - before[1][1] < 5, \
        ("the network node's qg- carried floating IP traffic", before, after)


def test_metadata_comes_from_the_instances_own_compute(dvr):
    """green-2's 169.254.169.254 is compute2's qrouter- (its REDIRECT to the
    L3 agent's haproxy on 9697) and compute2's metadata agent; without the
    redirect nothing answers, until the L3 agent's full sync renders it again."""
    log = "/var/lib/neutron/metadata-agent.log"
    nodes = ("compute1", "compute2", "network")
    url = "http://169.254.169.254/latest/meta-data/hostname"

    def asked():
        return {n: output(dvr, n, "cat", log).count("10.0.2.12 \"GET /latest/meta-data/hostname") for n in nodes}
    before = asked()
    assert output(dvr, "green-2", "curl", "-s", "-m", "5", url).startswith("green-2")
    after = asked()
    assert after["compute2"] == before["compute2"] + 1, (before, after)
    assert after["compute1"] == before["compute1"] and after["network"] == before["network"], (before, after)

    rule = ["ip", "netns", "exec", QROUTER, "iptables", "-t", "nat", "-D", "neutron-l3-agent-PREROUTING", "-d",
            "169.254.169.254/32", "-i", "qr-+", "-p", "tcp", "-m", "tcp", "--dport", "80", "-j", "REDIRECT",
            "--to-ports", "9697"]
    output(dvr, "compute2", *rule)
    assert dvr.run("green-2", ["curl", "-s", "-m", "3", url]).returncode != 0
    output(dvr, "compute2", "systemctl", "restart", "neutron-l3-agent")
    # unredirected, the request went on by the SNAT route to the sg- port, out of the very qr- it
    # came in by, and the router told green-2 so (an ICMP redirect it keeps): forget it
    output(dvr, "green-2", "ip", "route", "flush", "cache")
    assert output(dvr, "green-2", "curl", "-s", "-m", "5", url).startswith("green-2")
