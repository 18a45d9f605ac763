"""stacklab apply on a running lab: an instance added is reachable, every
flow that was there is still there byte for byte (new flows are all about
the new instance), an open TCP connection survives; a rule removed closes
only its port; a change that cannot be live changes nothing."""

import subprocess
import sys

from stacklab import runner
from stacklab.runtime.running import RunningLab
from stacklab.runtime.state import LabState
from stacklab.scenario.loader import find_scenario
from tests.integration.conftest import Snapshot, stacklab, wait_clean

BASE = find_scenario("vxlan-instance")
RULE_80 = "      - {direction: ingress, protocol: tcp, port: 80}\n"
SSH_RULE = "      - {direction: ingress, protocol: tcp, port: 22}\n"
INSTANCE03 = """  instance03:
    node: compute1
    network: selfservice
    keypair: mykey
    listen: [80]
"""

# holds a TCP connection to instance02's SSH server open until told to use it again
HOLD = r"""
import socket, sys
s = socket.create_connection(("192.168.101.19", 22), timeout=5)
banner = s.recv(256)
print("connected", banner.split(b"\r")[0].decode(), flush=True)
sys.stdin.readline()
s.sendall(b"SSH-2.0-stacklab-test\r\n")
data = s.recv(4096)
print("alive", len(data), flush=True)
"""


def variant(tmp_path, name, rule80=False, instance03=False, text=None):
    with open(BASE) as f:
        text = text or f.read()
    if rule80:
        text = text.replace(SSH_RULE, SSH_RULE + RULE_80)
    if instance03:
        text = text.replace("\nchecks:", "\n" + INSTANCE03 + "\nchecks:", 1)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def all_flows(lab):
    """Every flow of every bridge, without counters (ovs-ofctl --no-stats), as lines."""
    out = set()
    for node, info in lab.state.nodes.items():
        for bridge in info["bridges"]:
            dump = lab.run(node, ["ovs-ofctl", "--no-stats", "dump-flows", bridge], check=True).stdout
            out |= {"%s %s %s" % (node, bridge, line.strip()) for line in dump.splitlines()
                    if line.strip() and not line.startswith("NXST")}
    return out


def test_apply_adds_and_removes_live(tmp_path):
    before_leaks = Snapshot()
    state = runner.up(runner.load("vxlan-instance"))
    try:
        lab = RunningLab(state)
        qdhcp = lab.scenario.dhcp_ports["selfservice"]
        dhcp_ns = "qdhcp-" + lab.scenario.networks["selfservice"].id
        assert qdhcp.node == "controller"
        held = subprocess.Popen(lab.argv(dhcp_ns, [sys.executable, "-c", HOLD]), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        assert held.stdout.readline().startswith("connected SSH-2.0-dropbear")
        flows_before = all_flows(lab)

        # an instance and a rule added
        out = stacklab("apply", variant(tmp_path, "add.yaml", rule80=True, instance03=True))
        assert "instance instance03 added on compute1" in out.stdout
        assert "security group default: + ingress tcp 80" in out.stdout
        state = LabState.load("vxlan-instance")
        lab = RunningLab(state)
        new = lab.scenario.instances["instance03"].port
        flows_after = all_flows(lab)
        gone = flows_before - flows_after
        assert not gone, "flows changed by adding an instance: %s" % sorted(gone)
        added = flows_after - flows_before
        ofport = int(lab.run("compute1", ["ovs-vsctl", "get", "interface", new.name, "ofport"]).stdout)
        markers = (new.mac, str(new.ip), "reg5=0x%x," % ofport, "reg5=0x%x " % ofport, "in_port=%d " % ofport,
                   "load:0x%x->NXM_NX_REG5[]" % ofport, "tp_dst=80")
        foreign = [f for f in added if not any(m in f for m in markers) and "table=20" not in f]
        assert not foreign, "flows not about instance03 or port 80 appeared: %s" % foreign
        assert added, "no flow for instance03"
        ping = lab.run(dhcp_ns, ["ping", "-c", "2", "-W", "1", str(new.ip)])
        assert ping.returncode == 0, ping.stdout
        page = lab.run(dhcp_ns, ["curl", "-sS", "-m", "5", "http://%s/" % new.ip])
        assert page.stdout.strip() == "instance03", page.stderr
        held.stdin.write("go\n")
        held.stdin.flush()
        assert held.stdout.readline().startswith("alive"), "the open connection did not survive the apply"
        held.wait(5)

        # the rule removed again: port 80 closes, port 22 and ping stay
        out = stacklab("apply", variant(tmp_path, "norule.yaml", instance03=True))
        assert out.stdout.splitlines()[1:] and "security group default: - ingress tcp 80" in out.stdout
        assert "instance03" not in out.stdout
        from stacklab.checks import run_check
        from stacklab.scenario.model import Check
        for port, expect in ((80, "filtered"), (22, "open")):
            result = run_check(lab, Check("tcp", {"from": dhcp_ns, "to": "instance03", "port": port,
                                                  "expect": expect}, 0, None))
            assert result.ok, result.detail
        assert lab.run(dhcp_ns, ["ping", "-c", "1", "-W", "1", str(new.ip)]).returncode == 0

        # a change that cannot be live: refused, and nothing changes
        flows_now = all_flows(lab)
        with open(variant(tmp_path, "norule2.yaml", instance03=True)) as f:
            moved = f.read().replace("ip: 192.168.101.19", "ip: 192.168.101.29")
        refused = stacklab("apply", variant(tmp_path, "moved.yaml", text=moved), check=False)
        assert refused.returncode == 1
        assert "instance instance02 changed (ip)" in refused.stderr and "nothing changed" in refused.stderr
        assert {f for f in flows_now ^ all_flows(lab) if "table=20" not in f} == set()
        assert sorted(LabState.load("vxlan-instance").instances) == ["instance02", "instance03"]

        # and the instance removed: its namespace and processes go, the rest stays
        out = stacklab("apply", BASE)
        assert "instance instance03 removed" in out.stdout
        assert sorted(LabState.load("vxlan-instance").instances) == ["instance02"]
        report = stacklab("check", "vxlan-instance")
        assert "15 passed, 0 failed" in report.stdout
    finally:
        runner.down("vxlan-instance")
    leaks = wait_clean(before_leaks)
    assert not leaks, "left: %s" % leaks


NEW_NETWORK = """  blue:
    type: vxlan
    segmentation_id: 300
    subnet: {cidr: 10.30.0.0/24}
"""


def test_apply_adds_a_network_and_a_floating_ip(tmp_path):
    """lb-amphora (003) gains a network with an instance on it (its own DHCP
    namespace answers it) and a floating IP for instance03; the load
    balancer keeps taking turns."""
    before_leaks = Snapshot()
    base = open(find_scenario("lb-amphora")).read()
    text = base.replace("\nsecurity_groups:", "\n" + NEW_NETWORK + "\nsecurity_groups:", 1) \
        if "\nsecurity_groups:" in base else None
    assert text, "lb-amphora.yaml changed shape: the test inserts its network before security_groups"
    text = text.replace("\nfloating_ips:\n", "\nfloating_ips:\n  - {address: 172.17.0.99, instance: instance03}\n")
    text = text.replace("\nhosts:", "\n  instance04: {node: compute1, network: blue}\n\nhosts:", 1)
    assert "instance04" in text and "172.17.0.99" in text
    path = tmp_path / "lb-grown.yaml"
    path.write_text(text)
    runner.up(runner.load("lb-amphora"))
    try:
        out = stacklab("apply", str(path)).stdout
        assert "network blue added (qdhcp-" in out
        assert "floating IP 172.17.0.99 -> 192.168.101.211" in out
        assert "instance instance04 added on compute1 (10.30.0." in out
        lab = RunningLab(LabState.load("lb-amphora"))
        ip = str(lab.scenario.instances["instance04"].port.ip)
        assert lab.run("instance04", ["ip", "-4", "-o", "addr", "show", "eth0"]).stdout.count(ip + "/24") == 1
        dhcp_ns = "qdhcp-" + lab.scenario.networks["blue"].id
        assert lab.run(dhcp_ns, ["ping", "-c", "2", "-W", "1", ip]).returncode == 0
        assert lab.run("workstation", ["ping", "-c", "2", "-W", "1", "172.17.0.99"]).returncode == 0
        nat = lab.run(lab.scenario.routers["router"].namespace, ["iptables-save", "-t", "nat"]).stdout
        assert "-A neutron-l3-agent-PREROUTING -d 172.17.0.99/32 -j DNAT --to-destination 192.168.101.211" in nat
        report = stacklab("check", "lb-amphora", check=False).stdout
        # compute1 holds instance04 now, so it no longer equals 003's dumps; everything else still holds
        failed = [line for line in report.splitlines() if " FAIL " in line or " ERROR " in line]
        assert all(line.startswith(("bridge compute1 br-int ", "flows compute1 br-int ", "flows compute1 br-tun "))
                   for line in failed), report
        assert sum("round_robin" in line and " PASS " in line for line in report.splitlines()) == 2, report
    finally:
        runner.down("lb-amphora")
    leaks = wait_clean(before_leaks)
    assert not leaks, "left: %s" % leaks
