"""ML2/OVN with the real OVN (ovn-instance, kept by its keeper as `stacklab
up` leaves it): every check passes; the northbound holds neutron's rows and
the southbound every chassis with its Geneve encap; no dnsmasq and no agent
runs; the security group is OVN's ACLs (the probe fails when the rule goes,
passes when it comes back); the key pair came from the OVN metadata path;
killed OVN daemons are started again and traffic comes back."""

import json
import os
import re

import pytest

from stacklab.observe import probes
from stacklab.runtime.running import RunningLab
from stacklab.runtime.state import LabState

from .conftest import kept_lab, kill_dead, renamed, stacklab, wait_for

LAB = "it-ovn"


@pytest.fixture(scope="module")
def ovn(tmp_path_factory):
    with kept_lab(renamed("ovn-instance", LAB, str(tmp_path_factory.mktemp("ovn"))), LAB) as lab:
        yield lab


def nbctl(lab, *args):
    out = lab.run("controller", ["ovn-nbctl"] + list(args))
    assert out.returncode == 0, out.stderr
    return out.stdout


def tcp(lab, port):
    target = str(lab.scenario.instances["instance02"].port.ip)
    return lab.probe("instance03", probes.tcp_syn, target, port)["state"]


def pings(lab):
    target = str(lab.scenario.instances["instance02"].port.ip)
    return lab.probe("instance03", probes.ping, target, 1, 1.0)["replies"] == 1


def record(what):
    return next(p for p in LabState.load(LAB).processes if p.what == what)


def test_every_check_of_ovn_instance_passes(ovn):
    out = stacklab("check", LAB, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "8 checks: 8 passed" in out.stdout or re.search(r"(\d+) checks: \1 passed", out.stdout), out.stdout


def test_the_databases_hold_what_neutron_and_the_chassis_write(ovn):
    ports = json.loads(nbctl(ovn, "--format=json", "--columns=name,up,type", "list", "Logical_Switch_Port"))
    up = {row[0]: row[1] for row in ports["data"]}
    for inst in ovn.scenario.instances.values():
        assert up[inst.port.id] is True, up
    show = nbctl(ovn, "show")
    assert "(neutron-9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1) (aka selfservice)" in show
    assert "type: localport" in show and "type: localnet" in show
    sb = ovn.run("controller", ["ovn-sbctl", "show"]).stdout
    for node, ip in (("controller", "172.16.0.11"), ("compute1", "172.16.0.31"), ("compute2", "172.16.0.32")):
        assert re.search(r'hostname: "?%s"?\s+Encap geneve\s+ip: "%s"' % (node, ip), sb), sb
    assert re.search(r"Chassis compute1\n(    .*\n)*    Port_Binding \"8811e933-5c4e-4bd2-a6a1-0c87c2f1a3b5\"", sb), sb
    ids = ovn.run("compute1", ["ovs-vsctl", "get", "Open_vSwitch", ".", "external_ids"]).stdout
    for want in ('ovn-encap-type=geneve', 'ovn-remote="tcp:172.16.0.11:6642"', 'ovn-encap-ip="172.16.0.31"',
                 'ovn-bridge-mappings="provider:br-provider"'):
        assert want in ids, ids
    # ovn-controller made br-int and the tunnels; no agent, no dnsmasq, no qdhcp-
    vsctl = ovn.run("compute1", ["ovs-vsctl", "show"]).stdout
    assert "type: geneve" in vsctl and 'remote_ip="172.16.0.11"' in vsctl
    whats = [p.what for p in LabState.load(LAB).processes]
    assert not [w for w in whats if "dnsmasq" in w or "openvswitch-agent" in w], whats
    assert "ovnmeta-9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1" in ovn.run("compute1", ["ip", "netns"]).stdout


def test_the_key_came_from_the_ovn_metadata_path(ovn):
    """instance02 has no config drive: its authorized key is what it fetched."""
    out = ovn.run("instance02", ["curl", "-s", "-m", "5", "http://169.254.169.254/latest/meta-data/instance-id"])
    assert out.stdout.strip() == "i-00000001"
    log = os.path.join(LabState.load(LAB).dir, "nodes", "compute1", "neutron", "metadata-agent.log")
    assert os.path.exists(log)


def test_the_security_group_is_ovn_acls(ovn):
    """Port 22 is open by mysecurity's rule; without that ACL it is filtered (the
    default drop), with it back open again."""
    assert tcp(ovn, 22) == "open"
    group = ovn.scenario.security_groups["mysecurity"].id.replace("-", "_")
    match = "outport == @pg_%s && ip4 && tcp && tcp.dst == 22" % group
    nbctl(ovn, "--type=port-group", "acl-del", "pg_" + group, "to-lport", "1002", match)
    try:
        assert wait_for(lambda: tcp(ovn, 22) == "filtered", 10), "port 22 still answers without its ACL"
    finally:
        nbctl(ovn, "--type=port-group", "acl-add", "pg_" + group, "to-lport", "1002", match, "allow-related")
    assert wait_for(lambda: tcp(ovn, 22) == "open", 10)


@pytest.mark.parametrize("what", ["compute1 ovn-controller", "controller ovn-northd", "controller ovsdb-server-sb"])
def test_a_killed_ovn_daemon_is_started_again(ovn, what):
    old = record(what)
    kill_dead(old.pid)
    assert wait_for(lambda: record(what).pid != old.pid and record(what).alive(), 15), "%s not started again" % what
    where, daemon = what.split(" ", 1)
    status = stacklab("status", LAB)
    assert re.search(r"%s: %s restarted \dx" % (where, daemon), status.stdout), status.stdout
    assert wait_for(lambda: pings(ovn), 30), "no traffic after %s came back" % what


def test_systemctl_in_the_nodes_knows_ovn_units(ovn):
    """(Before the router's lab is up: a daemon started again here would be new to its leak check.)
    The units a node of an ML2/OVN cloud has, stopped and started as there:
    with compute1's ovn-controller stopped, a new port there would not bind;
    started again, traffic flows as before."""
    units = ovn.run("controller", ["systemctl", "list-units"]).stdout
    for unit in ("ovn-ovsdb-server-nb", "ovn-ovsdb-server-sb", "ovn-northd", "ovn-controller"):
        assert unit + ".service" in units, units
    node = ovn.run("compute1", ["systemctl", "list-units"]).stdout
    assert "neutron-ovn-metadata-agent.service" in node and "ovn-northd" not in node, node
    assert ovn.run("compute1", ["systemctl", "stop", "ovn-controller"]).returncode == 0
    try:
        assert ovn.run("compute1", ["systemctl", "is-active", "ovn-controller"]).stdout.strip() == "inactive"
    finally:
        assert ovn.run("compute1", ["systemctl", "start", "ovn-controller"]).returncode == 0
    assert wait_for(lambda: pings(ovn), 15)


# -- ovn-router: the logical router, SNAT through the gateway chassis, floating IPs --------------
ROUTED = "it-ovn-router"


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    with kept_lab(renamed("ovn-router", ROUTED, str(tmp_path_factory.mktemp("ovnr"))), ROUTED) as lab:
        yield lab


def left_through(lab, node, instance, payload=b"stacklab-ovn-fip"):
    """The sources of `instance`'s echo requests to the workstation seen on
    `node`'s eth0 as plain ICMP (not inside Geneve): where they leave the cloud."""
    watch = lab.start_probe(node, probes.watch_icmp, payload, 3.0, "eth0")
    try:
        lab.probe(instance, probes.ping, "172.16.0.5", 3, 1.0, payload)
    finally:
        seen = lab.finish_probe(watch)
    return sorted({s["src"] for s in seen})


def test_every_check_of_ovn_router_passes(routed):
    out = stacklab("check", ROUTED, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    # OVN's router: no qrouter- namespace anywhere, the gateway port bound on the gateway chassis
    assert "qrouter-" not in routed.run("controller", ["ip", "netns"]).stdout
    sb = routed.run("controller", ["ovn-sbctl", "show"]).stdout
    assert re.search(r"Chassis controller\n(    .*\n)*    Port_Binding cr-lrp-", sb), sb


def test_snat_and_the_floating_ip_leave_through_the_gateway_chassis(routed):
    """Centralized (neutron's default): both leave the cloud on the controller's NIC, none on compute1's."""
    assert left_through(routed, "controller", "vm1") == ["172.16.0.150"]
    assert left_through(routed, "controller", "vm2") == ["172.16.0.101"]
    assert left_through(routed, "compute1", "vm1") == []


def test_snat_fails_without_its_nat_row(routed):
    router = "neutron-" + routed.scenario.routers["router"].id
    out = routed.run("controller", ["ovn-nbctl", "lr-nat-del", router, "snat", "192.168.2.0/24"])
    assert out.returncode == 0, out.stderr
    try:
        result = stacklab("check", ROUTED, check=False)
        assert re.search(r"snat vm2 workstation\s+FAIL", result.stdout), result.stdout
        assert re.search(r"snat vm1 workstation\s+PASS", result.stdout), result.stdout
    finally:
        routed.run("controller", ["ovn-nbctl", "lr-nat-add", router, "snat", "172.16.0.101", "192.168.2.0/24"],
                   check=True)
    assert wait_for(lambda: left_through(routed, "controller", "vm2") == ["172.16.0.101"], 10)


def test_a_distributed_floating_ip_leaves_from_its_own_chassis(tmp_path):
    """sdn.distributed_floating_ips: the NAT row names the port and the MAC, and
    vm1's packets leave on compute1's own NIC with the floating IP."""
    path = renamed("ovn-router", "it-ovn-dfip", str(tmp_path))
    text = open(path).read().replace("sdn: {type: ovn}", "sdn: {type: ovn, distributed_floating_ips: true}")
    open(path, "w").write(text)
    with kept_lab(path, "it-ovn-dfip") as lab:
        fip = lab.scenario.floating_ips[0]
        nat = lab.run("controller", ["ovn-nbctl", "--format=csv", "--columns=external_mac,logical_port", "find",
                                     "NAT", "type=dnat_and_snat"]).stdout
        assert fip.mac in nat and fip.port_id in nat, nat
        assert left_through(lab, "compute1", "vm1") == ["172.16.0.150"]
        assert left_through(lab, "controller", "vm1") == []
        assert stacklab("check", "it-ovn-dfip", check=False).returncode == 0


def test_apply_on_ovn_is_northbound_writes(tmp_path):
    """`stacklab apply` on an OVN lab: an instance (on a chassis new to its
    network: its ovnmeta- comes with it), a rule and a floating IP added by
    northbound writes, done when every chassis has them; logins to vm1
    through its floating IP keep working meanwhile; then all of it removed
    again, vm3's ovnmeta- with it."""
    path = renamed("ovn-router", "it-ovn-apply", str(tmp_path))
    base = open(path).read()
    rule = "      - {direction: ingress, protocol: tcp, port: 22}\n"
    grown = base.replace("\nfloating_ips:", "\n  vm3: {node: compute2, network: selfservice1, keypair: mykey}\n"
                                            "\nfloating_ips:", 1) \
        .replace(rule, rule + "      - {direction: ingress, protocol: tcp, port: 8080}\n", 1) \
        .replace("  - {address: 172.16.0.150, instance: vm1}\n",
                 "  - {address: 172.16.0.150, instance: vm1}\n  - {address: 172.16.0.151, instance: vm3}\n")
    (tmp_path / "grown.yaml").write_text(grown)
    with kept_lab(path, "it-ovn-apply") as lab:
        hold = lab.start_probe("workstation", probes.connections, "172.16.0.150", 22, 8.0)
        out = stacklab("apply", str(tmp_path / "grown.yaml"))
        assert "instance vm3 added on compute2" in out.stdout, out.stdout
        assert "every chassis caught up" in out.stdout and "floating IP 172.16.0.151" in out.stdout
        meta = "ovnmeta-" + lab.scenario.networks["selfservice1"].id
        assert meta in lab.run("compute2", ["ip", "netns"]).stdout
        lab = RunningLab.open("it-ovn-apply")
        assert lab.probe("workstation", probes.ping, "172.16.0.151", 1, 1.0)["replies"] == 1
        assert lab.probe("vm1", probes.tcp_syn, str(lab.scenario.instances["vm3"].port.ip), 8080)["state"] == "closed"
        ssh = stacklab("ssh", "--lab", "it-ovn-apply", "vm3", "--", "hostname", check=False)
        assert ssh.returncode == 0, ssh.stdout + ssh.stderr    # its key came through its new ovnmeta-
        connections = lab.finish_probe(hold)
        assert connections["failed"] == 0 and connections["refused"] == 0 and connections["ok"] > 0, connections
        out = stacklab("apply", path)
        assert "instance vm3 removed" in out.stdout and "floating IP 172.16.0.151 removed" in out.stdout, out.stdout
        meta = "ovnmeta-" + lab.scenario.networks["selfservice1"].id
        assert meta not in lab.run("compute2", ["ip", "netns"]).stdout
        lab = RunningLab.open("it-ovn-apply")
        assert lab.probe("workstation", probes.ping, "172.16.0.151", 1, 1.0)["replies"] == 0
        assert stacklab("check", "it-ovn-apply", check=False).returncode == 0


def test_the_ovn_check_fails_on_a_row_neutron_would_not_write(ovn):
    """The port's external_ids changed by hand: the list comparison names the line."""
    from stacklab.checks import run_check
    from stacklab.scenario.model import Check
    check = next(c for c in ovn.scenario.checks if c.kind == "ovn" and c.params.get("table") == "Logical_Switch_Port")
    assert run_check(ovn, check).ok
    port = "8811e933-5c4e-4bd2-a6a1-0c87c2f1a3b5"
    nbctl(ovn, "set", "Logical_Switch_Port", port, 'external_ids:"neutron:port_name"=by-hand')
    try:
        result = run_check(ovn, check)
        assert not result.ok and '"neutron:port_name"=by-hand' in result.detail, result.detail
        assert "1 lines missing, 1 not in it" in result.detail
    finally:
        nbctl(ovn, "set", "Logical_Switch_Port", port, 'external_ids:"neutron:port_name"=""')
    assert run_check(ovn, check).ok


def test_the_walk_on_ovn_logical_path_then_each_chassis(routed, ovn):
    """vm1 to vm2: ovn-trace's logical path through both switches and the
    router, then compute1's tables, the Geneve port with OVN's logical ports
    in its metadata, compute2's egress pipeline, vm2's tap."""
    from stacklab.observe.walk import Walker
    routed.run("vm1", ["ping", "-c1", "-W1", str(routed.scenario.instances["vm2"].port.ip)])   # (ARP learned)
    hops = [str(h) for h in Walker(routed).walk("vm1", "vm2")]
    logical = [h for h in hops if h.startswith("ovn-trace: ")]
    assert any(h.startswith("ovn-trace: router ingress:") and "lr_in_ip_routing" in h for h in logical), hops
    assert logical[-1].startswith("ovn-trace: selfservice2 egress:") and "-> " in logical[-1], hops
    physical = [h for h in hops if h.startswith(("compute1:", "compute2:"))]
    assert physical[0].startswith("compute1:") and "(ovn-comput-" in physical[0] and "to compute2)" in physical[0]
    assert physical[1].startswith("compute2:") and physical[1].endswith("(vm2)"), physical
    # from outside, to vm1's floating IP: in by the localnet port, DNAT on the gateway chassis, Geneve to compute1
    inbound = [str(h) for h in Walker(routed).walk("workstation", "172.16.0.150")]
    assert any(h.startswith("ovn-trace: router ingress:") and "lr_in_dnat" in h for h in inbound), inbound
    nodes = [h for h in inbound if h.startswith(("controller:", "compute1:"))]
    assert nodes[0].startswith("controller:") and "to compute1)" in nodes[0], inbound
    assert nodes[-1].startswith("compute1:") and nodes[-1].endswith("(vm1)"), inbound
    # and where a packet dies: port 80 of instance02 is in no rule of mysecurity: neutron_pg_drop's ACL, on compute1
    ovn.run("instance03", ["ping", "-c1", "-W1", str(ovn.scenario.instances["instance02"].port.ip)])
    blocked = [str(h) for h in Walker(ovn).walk("instance03", "instance02", proto="tcp", port=80)]
    assert any(h.startswith("ovn-trace: selfservice egress:") and "ls_out_acl -> drop (" in h
               and "neutron_pg_drop" in h for h in blocked), blocked
    assert blocked[-1].startswith("compute1:") and blocked[-1].endswith("-> drop"), blocked
    # the walk check asks about the logical path alone, and fails when it goes elsewhere
    from stacklab.checks.flows import WalkCheck
    logical = [h for h in blocked if h.startswith("ovn-trace: ")]
    params = {"from": "instance03", "to": "instance02", "proto": "tcp", "port": 80, "path": logical}
    check = WalkCheck()
    filled = check.params.check(params, (), lambda p, m: pytest.fail("%s %s" % (p, m)))
    assert check.run(ovn, filled).verdict == "pass"
    filled["port"] = 22
    assert check.run(ovn, filled).verdict == "fail"

