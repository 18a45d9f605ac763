"""Routers, floating IPs and Octavia load balancers for real: 003 reproduced,
source and destination NAT seen from outside, round robin over two and three
members, a member removed while connections keep coming (haproxy reloaded,
none refused), the rules and configuration as the nodes print them, and the
checks failing when they must."""

import copy
import os
import time

import pytest

from stacklab.checks import FAIL, PASS
from stacklab.checks import run_checks
from stacklab.checks.services import LoadBalancerCheck, MetadataCheck, SnatCheck
from stacklab.observe.ssh import key_file
from stacklab.observe import probes
from topologies import haproxy_cfg
from topologies.amphora import octavia_controller
from topologies.routers import nat_table

from .conftest import built_lab, kill_dead, scenario_path, wait_for


def check(lab, checker, **params):
    """Run one check of a kind with its defaults filled, as a scenario would."""
    filled = checker.params.check(params, (), lambda p, m: pytest.fail("bad check params: %s %s" % (p, m)))
    return checker.run(lab, filled)


def test_lb_amphora_reproduces_003():
    """Every check of the scenario: 003's four bridges, the amphora's
    namespace and haproxy backend, the agent's API, round robin through the
    floating IP, instance02's floating IP, SNAT."""
    with built_lab("lb-amphora", rename="it-lb-amphora") as (lab, built):
        results = run_checks(lab, built.scenario)
        failed = ["%s: %s" % (r.check.title, r.detail) for r in results if not r.ok]
        assert not failed, "\n".join(failed)
        assert len(results) == 22
        # the load balancer's first two connections, as 003 shows them
        first = next(r for r in results if r.check.kind == "lb")
        assert first.data["served"] == ["instance02", "instance03"]


@pytest.fixture(scope="module")
def three():
    with built_lab(scenario_path("lb-three")) as (lab, built):
        yield lab, built.scenario, built


def test_snat_gateway_address_and_floating_ip(three):
    lab, scenario, _ = three
    r = check(lab, SnatCheck(), **{"from": "m1", "to": "outside"})
    assert r.verdict == PASS and "from 172.17.0.60" in r.detail, r.detail       # the router's gateway
    r = check(lab, SnatCheck(), **{"from": "m2", "to": "outside"})
    assert r.verdict == PASS and "from 172.17.0.111" in r.detail, r.detail      # m2's own floating IP


def test_dnat_reaches_the_instance_at_its_floating_ip(three):
    lab, scenario, _ = three
    assert lab.run("outside", ["ping", "-c", "2", "-i", "0.2", "-W", "1", "172.17.0.111"]).returncode == 0
    assert lab.probe("outside", probes.tcp_syn, "172.17.0.111", 22)["state"] == "open"
    login = lab.run("outside", ["ssh", "cirros@172.17.0.111", "/sbin/ip", "addr", "show", "eth0"], timeout=20)
    assert login.returncode == 0 and "inet 192.168.50.12/24" in login.stdout, login.stderr


def test_unbound_floating_ip_is_unreachable(three):
    lab, scenario, _ = three
    r = lab.probe("outside", probes.ping, "172.17.0.122", 2)
    assert r["replies"] == 0
    assert lab.probe("outside", probes.tcp_syn, "172.17.0.122", 22)["state"] == "filtered"
    router = scenario.routers["r1"]
    addrs = lab.run(router.namespace, ["ip", "-4", "-o", "addr", "show", "dev", router.gateway.interface]).stdout
    assert "172.17.0.111/32" in addrs and "172.17.0.122" not in addrs


def test_snat_check_fails_without_the_snat_rule(three):
    lab, scenario, _ = three
    router = scenario.routers["r1"]
    rule = ["-o", router.gateway.interface, "-j", "SNAT", "--to-source", "172.17.0.60", "--random-fully"]
    listed = lab.run(router.namespace, ["iptables", "-t", "nat", "-S", "neutron-l3-agent-snat"], check=True).stdout
    position = [line.split()[2:] for line in listed.splitlines()[1:]].index(rule) + 1
    lab.run(router.namespace, ["iptables", "-t", "nat", "-D", "neutron-l3-agent-snat"] + rule, check=True)
    try:
        r = check(lab, SnatCheck(), **{"from": "m1", "to": "outside"})
        assert r.verdict == FAIL and "192.168.50.11" in r.detail, r.detail     # it left unchanged
    finally:
        lab.run(router.namespace, ["iptables", "-t", "nat", "-I", "neutron-l3-agent-snat", str(position)] + rule,
                check=True)
    # the rule is back where the L3 agent puts it: the check passes again
    assert check(lab, SnatCheck(), **{"from": "m1", "to": "outside"}).verdict == PASS


def test_round_robin_over_three_members(three):
    lab, _, _ = three
    r = check(lab, LoadBalancerCheck(), load_balancer="lb3", **{"from": "outside"}, to="172.17.0.100",
              connections=6)
    assert r.verdict == PASS, r.detail
    served = r.data["served"]
    assert sorted(served[:3]) == ["m1", "m2", "m3"] and served[3:] == served[:3]


def test_lb_check_fails_when_a_member_is_down(three):
    lab, _, _ = three
    block = ["INPUT", "-p", "tcp", "--dport", "22", "-j", "REJECT", "--reject-with", "tcp-reset"]
    lab.run("m3", ["iptables", "-A"] + block, check=True)
    try:
        r = check(lab, LoadBalancerCheck(), load_balancer="lb3", **{"from": "outside"}, to="172.17.0.100",
                  connections=6)
        assert r.verdict == FAIL and "m3" in r.detail, r.detail
    finally:
        lab.run("m3", ["iptables", "-D"] + block, check=True)


def test_lb_check_fails_when_the_algorithm_is_not_round_robin(three):
    lab, scenario, _ = three
    lb = scenario.load_balancers["lb3"]
    source_ip = copy.deepcopy(lb)
    source_ip.pools["members"].algorithm = "SOURCE_IP"
    ctl = octavia_controller(lab, scenario, lb)
    assert ctl.deploy(source_ip) == "reload"
    try:
        args = dict(load_balancer="lb3", to="172.17.0.100", connections=4, **{"from": "outside"})
        r = check(lab, LoadBalancerCheck(), **args)
        assert r.verdict == FAIL, r.detail
        assert check(lab, LoadBalancerCheck(), expect="sticky", **args).verdict == PASS
    finally:
        ctl.deploy(lb)


def test_member_removed_by_reload_without_refusing_connections(three):
    lab, scenario, _ = three
    lb = scenario.load_balancers["lb3"]
    pidfile = os.path.join(lab.state.dir, "instances", lb.amphora, "octavia", lb.id, lb.id + ".pid")
    master = open(pidfile).read().split()[0]
    fewer = copy.deepcopy(lb)
    fewer.pools["members"].members = [m for m in fewer.pools["members"].members if m.instance != "m3"]
    client = lab.start_probe("outside", probes.connections, "172.17.0.100", 22, 3.0)
    ctl = octavia_controller(lab, scenario, lb)
    try:
        time.sleep(1.0)
        assert ctl.deploy(fewer) == "reload"
        counts = lab.finish_probe(client)
        client = None
        assert counts["ok"] > 20 and counts["refused"] == 0 and counts["failed"] == 0, counts
        assert open(pidfile).read().split()[0] == master, "haproxy was restarted, not reloaded"
        without = copy.deepcopy(scenario)
        without.load_balancers["lb3"] = fewer
        lab.scenario = without
        r = check(lab, LoadBalancerCheck(), load_balancer="lb3", to="172.17.0.100", connections=6,
                  **{"from": "outside"})
        assert r.verdict == PASS and "m3" not in r.data["served"], r.detail
    finally:
        lab.scenario = scenario
        if client is not None:
            lab.finish_probe(client)
        ctl.deploy(lb)


def test_rules_and_configuration_as_the_nodes_print_them(three):
    lab, scenario, _ = three
    router = scenario.routers["r1"]
    node = router.node
    out = lab.run(node, ["ip", "netns", "exec", router.namespace, "iptables-save", "-t", "nat"], check=True).stdout
    printed = [line.split(" [")[0] if line.startswith(":") else line
               for line in out.splitlines() if not line.startswith("#")]
    wanted = [line.split(" [")[0] if line.startswith(":") else line
              for line in nat_table(router, scenario.floating_ips)]
    assert printed == wanted
    assert router.namespace in lab.run(node, ["ip", "netns"], check=True).stdout
    lb = scenario.load_balancers["lb3"]
    cfg = lab.run(lb.amphora, ["cat", haproxy_cfg.config_path(lb.id)], check=True).stdout
    assert cfg == haproxy_cfg.render(lb)


def _link_local(mac):
    """fe80:: from a MAC (EUI-64), as the kernel makes it."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 2
    words = [b[0] << 8 | b[1], b[2] << 8 | 0xff, 0xfe << 8 | b[3], b[4] << 8 | b[5]]
    return "fe80::" + ":".join("%x" % w for w in words)


def test_the_router_namespace_as_the_l3_agent_leaves_it(three):
    """IPv6 on (::1, each port's link-local address from its MAC), the
    default route `proto static`, forwarding and ARP as the agent sets them."""
    lab, scenario, _ = three
    router = scenario.routers["r1"]

    def inside(*argv):
        return lab.run(router.node, ["ip", "netns", "exec", router.namespace] + list(argv), check=True).stdout

    addrs = inside("ip", "-6", "-o", "addr")
    assert "inet6 ::1/128" in addrs, addrs
    for port in router.ports():
        want = "%s    inet6 %s/64 scope link" % (port.interface, _link_local(port.mac))
        assert want in addrs, (want, addrs)
    routes = inside("ip", "route", "show", "default")
    assert routes.strip() == "default via 172.17.0.1 dev %s proto static" % router.gateway.interface, routes
    sysctls = inside("sysctl", "-n", "net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding",
                     "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce").split()
    assert sysctls == ["1", "1", "1", "2"], sysctls


def test_pinned_dhcp_and_router_ports_as_a_deployment_numbers_them(three):
    """The DHCP port and the router's ports where the scenario pins them
    (OpenFlow numbers 20, 21, 22 on the controller's br-int), and the
    agent's per-port flows follow those numbers."""
    lab, scenario, _ = three
    router, dhcp = scenario.routers["r1"], scenario.dhcp_ports["tenant"]
    assert (dhcp.id, dhcp.mac, str(dhcp.ip)) == ("6a1e2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b", "fa:16:3e:50:50:02",
                                                 "192.168.50.2")
    for port, number in ((dhcp, 20), (router.interfaces[0], 21), (router.gateway, 22)):
        got = lab.run(port.node, ["ovs-vsctl", "get", "Interface", port.name, "ofport"], check=True).stdout.strip()
        assert got == str(number), (port.name, got)
    table60 = lab.run(dhcp.node, ["ovs-ofctl", "dump-flows", "br-int", "table=60"], check=True).stdout
    assert "in_port=20" in table60 or 'in_port="%s"' % dhcp.name in table60, table60
    inside = lab.run(dhcp.node, ["ip", "netns", "exec", "qdhcp-" + scenario.networks["tenant"].id,
                                 "ip", "-br", "addr", "show", dhcp.name], check=True).stdout
    assert "192.168.50.2/24" in inside, inside


def _metadata(lab, instance, path="latest/meta-data/instance-id"):
    return check(lab, MetadataCheck(), instance=instance, path=path)


def test_metadata_path_end_to_end(three):
    """Each instance's curl to 169.254.169.254 comes back with its own data:
    through its router's REDIRECT and haproxy, the node's metadata agent
    (which finds it by router and address) and nova's API on the controller."""
    lab, scenario, _ = three
    for name in ("m1", "m2", "m3"):
        r = _metadata(lab, name)
        assert r.verdict == PASS, r.detail
    ids = {_metadata(lab, n).data["received"][0] for n in ("m1", "m2", "m3")}
    assert len(ids) == 3                        # three instances, three answers
    r = check(lab, MetadataCheck(), instance="m2", path="latest/meta-data/local-ipv4")
    assert r.verdict == PASS and "192.168.50.12" in r.detail, r.detail
    key = lab.run("m1", ["curl", "-s", "-m", "5", "http://169.254.169.254/latest/meta-data/public-keys/0/openssh-key"],
                  check=True).stdout.strip()
    with open(key_file(scenario, "key", lab.state.dir) + ".pub") as f:
        assert key == f.read().strip()
    r = check(lab, MetadataCheck(), instance="m1", path="latest/meta-data/hostname", expect="m2.novalocal")
    assert r.verdict == FAIL and "not 'm2.novalocal'" in r.detail, r.detail


def test_metadata_fails_where_the_path_is_broken(three):
    """The check fails when any part of the path is missing: the metadata
    agent stopped (haproxy answers 503), the router's REDIRECT deleted (the
    L3 agent's resync puts it back), a request to nova without the agent's
    signature."""
    lab, scenario, built = three
    router = scenario.routers["r1"]
    assert built.units.run(router.node, "neutron-metadata-agent", "stop")[0] == 0     # (its systemctl)
    try:
        r = _metadata(lab, "m1")
        assert r.verdict == FAIL and "HTTP 503" in r.detail, r.detail
    finally:
        assert built.units.run(router.node, "neutron-metadata-agent", "start")[0] == 0
    assert wait_for(lambda: _metadata(lab, "m1").verdict == PASS, 10)
    rule = ["-d", "169.254.169.254/32", "-i", "qr-+", "-p", "tcp", "-m", "tcp", "--dport", "80", "-j", "REDIRECT",
            "--to-ports", "9697"]
    lab.run(router.node, ["ip", "netns", "exec", router.namespace, "iptables", "-t", "nat", "-D",
                          "neutron-l3-agent-PREROUTING"] + rule, check=True)
    try:
        r = _metadata(lab, "m1")
        assert r.verdict == FAIL, r.detail
    finally:
        assert built.units.run(router.node, "neutron-l3-agent", "restart")[0] == 0
    assert _metadata(lab, "m1").verdict == PASS
    m1 = scenario.instances["m1"]
    controller = next(n for n in scenario.nodes.values() if n.role == "controller")
    api = "http://%s:8775/latest/meta-data/instance-id" % next(n.address.ip for n in controller.nics.values()
                                                               if n.address)
    forged = lab.run("controller", ["curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
                                    "-H", "X-Instance-ID: " + m1.id, "-H", "X-Instance-ID-Signature: 00", api])
    assert forged.stdout.strip() == "403", forged.stdout


def test_amphora_agent_wants_a_client_certificate(three):
    lab, scenario, _ = three
    lb = scenario.load_balancers["lb3"]
    url = "https://%s:9443/" % scenario.instances[lb.amphora].port.ip
    anonymous = lab.run(lb.controller, ["curl", "-ksS", url])
    assert anonymous.returncode != 0, anonymous.stdout
    signed = lab.run(lb.controller, ["curl", "-ksS", "-E", "/etc/octavia/certs/private/client.cert-and-key.pem", url])
    assert signed.stdout.strip() == '{"api_version":"1.0"}'


@pytest.mark.parametrize("daemon", ["haproxy", "amphora-agent"])
def test_a_killed_haproxy_or_amphora_agent_is_started_again(three, daemon):
    """As the amphora's systemd units do: haproxy started again with its
    configuration (the listener serves again), the agent answers again."""
    lab, scenario, built = three
    lb = scenario.load_balancers["lb3"]
    what = "%s %s" % (lb.amphora, daemon)
    old = next(p for p in built.state.processes if p.what == what)
    kill_dead(old.pid)
    # haproxy gone: nothing answers on the VIP; the agent gone: haproxy serves on
    assert check(lab, LoadBalancerCheck(), load_balancer="lb3", to="172.17.0.100", connections=4,
                 **{"from": "outside"}).verdict == (FAIL if daemon == "haproxy" else PASS)
    assert built.supervisor.tick() == [what]
    new = next(p for p in built.state.processes if p.what == what)
    assert new.pid != old.pid and new.alive() and built.state.daemons[what]["restarts"] == 1
    assert wait_for(lambda: check(lab, LoadBalancerCheck(), load_balancer="lb3", to="172.17.0.100",
                                  connections=4, **{"from": "outside"}).verdict == PASS, 20)
    ctl = octavia_controller(lab, scenario, lb)
    assert ctl.call("GET", "/1.0/loadbalancer/%s" % lb.id)[0] == 200


def _walk(lab, src, dst, proto="icmp", port=None):
    from stacklab.observe.walk import Walker
    return Walker(lab).walk(src, dst, proto, port)


def test_a_walk_goes_through_the_routers_nat(three):
    """From outside to a floating IP: DNAT in the router, no SNAT (the packet
    came in by the gateway port, marked 0x2), delivered to m2; from m1 (no
    floating IP) outward: SNAT to the router's gateway address."""
    from stacklab.observe.walk import RouterHop
    lab, scenario, _ = three
    lab.run("outside", ["ping", "-c", "1", "-W", "1", "172.17.0.111"])       # ARP entries, as a real client has
    hops = _walk(lab, "outside", "172.17.0.111", "tcp", 22)
    router = [h for h in hops if isinstance(h, RouterHop)]
    assert len(router) == 1 and "DNAT 172.17.0.111 -> 192.168.50.12" in router[0].summary, [str(h) for h in hops]
    assert "SNAT" not in router[0].summary and str(hops[-1]).endswith("(m2)"), [str(h) for h in hops]
    assert any("neutron-l3-agent-PREROUTING -d 172.17.0.111/32 -j DNAT" in rule for _, rule in router[0].matched)
    lab.run("m1", ["ping", "-c", "1", "-W", "1", "172.17.0.10"])
    out = _walk(lab, "m1", "outside")
    router = [h for h in out if isinstance(h, RouterHop)]
    assert router and "SNAT 192.168.50.11 -> 172.17.0.60" in router[0].summary, [str(h) for h in out]
    # without the agent's DNAT rule the floating IP is the router's own address: the walk says so
    ns = scenario.routers["r1"].namespace
    rule = ["-d", "172.17.0.111/32", "-j", "DNAT", "--to-destination", "192.168.50.12"]
    lab.run(ns, ["iptables", "-t", "nat", "-D", "neutron-l3-agent-PREROUTING"] + rule, check=True)
    try:
        cut = _walk(lab, "outside", "172.17.0.111", "tcp", 22)
        hop = [h for h in cut if isinstance(h, RouterHop)][0]
        assert "DNAT" not in hop.summary and "for the router itself" in hop.summary, hop.summary
    finally:
        lab.run(ns, ["iptables", "-t", "nat", "-I", "neutron-l3-agent-PREROUTING"] + rule, check=True)


def test_a_walk_without_an_arp_entry_walks_the_arp_request(three):
    """No neighbour entry for the destination: the walk is of the ARP
    request (a broadcast flooded to the network's ports), and says so; a
    destination that never answers ARP is found out this way."""
    from stacklab.observe.walk import Note
    lab, scenario, _ = three
    lab.run("m1", ["ip", "neigh", "flush", "dev", "eth0"], check=True)
    hops = _walk(lab, "m1", "m2")
    notes = [h.text for h in hops if isinstance(h, Note)]
    assert notes and "ARP" in notes[0] and any("reaches 192.168.50.12" in n for n in notes), notes
    lab.run("m1", ["ping", "-c", "1", "-W", "1", "192.168.50.12"], check=True)
    direct = _walk(lab, "m1", "m2")
    assert not [h for h in direct if isinstance(h, Note)] and str(direct[-1]).endswith("(m2)"), \
        [str(h) for h in direct]
    # the VIP is the amphora's by an allowed address pair: a walk finds it
    lab.run("m1", ["ping", "-c", "1", "-W", "1", "192.168.50.100"])
    vip = _walk(lab, "m1", "192.168.50.100", "tcp", 22)
    assert str(vip[-1]).endswith("(%s)" % scenario.load_balancers["lb3"].amphora), [str(h) for h in vip]
