"""Nodes that feel like the machines they stand for: inside a node,
`hostname` says its name and resolves, `systemctl` lists and drives the
node's units (the agent restarted drops a hand-made flow and re-tags, Open
vSwitch stopped stops traffic until started), an instance asks DHCP again
with cirros' `udhcpc` and takes the MTU it is given. One two-node lab for
all of them, removed without a trace at the end."""

import os
import re
import socket
import subprocess
import sys
import time

import pytest

from stacklab.runtime.procs import inner_pid
from stacklab.runtime.state import LabState

from .conftest import kept_lab, renamed, scenario_path, stacklab

NAME = "it-nodes"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with kept_lab(renamed(scenario_path("two-node"), NAME, str(tmp_path_factory.mktemp("nodes"))), NAME) as running:
        yield running


def sh(lab, where, text, timeout=60):
    return lab.run(where, ["sh", "-c", text], timeout=timeout)


def pings(lab):
    server = str(lab.scenario.dhcp_ports["selfservice"].ip)
    return " 0% packet loss" in sh(lab, "vm1", "ping -c 2 -W 1 %s" % server).stdout


def pings_within(lab, seconds):
    """Pings within `seconds` (a switch just programmed again, MACs learned again)."""
    deadline = time.monotonic() + seconds
    while not pings(lab):
        if time.monotonic() > deadline:
            return False
    return True


def test_every_node_and_instance_has_its_own_name(lab):
    mine = socket.gethostname()
    for where in ("controller", "compute1", "vm1"):
        out = sh(lab, where, "hostname; hostname -f; grep -c '127.0.1.1.*%s' /etc/hosts" % where).stdout.split()
        assert out == [where, where, "1"], (where, out)
    qdhcp = next(n for n in lab.state.namespaces if n.startswith("qdhcp-"))
    assert sh(lab, qdhcp, "hostname").stdout.strip() == "controller"     # a namespace of the controller
    assert socket.gethostname() == mine and "127.0.1.1\tvm1" not in open("/etc/hosts").read()


def _ps(lab, where):
    """{pid: command line} of `ps ax` inside `where`."""
    out = sh(lab, where, "ps -eo pid=,args=").stdout
    return {int(line.split(None, 1)[0]): line.split(None, 1)[1] for line in out.splitlines() if line.strip()}


def test_each_node_and_instance_sees_its_own_processes(lab):
    """A PID namespace per node and per instance: a node's `ps` lists its
    daemons (its qdhcp- namespace's dnsmasq among them, as `ip netns` leaves
    it on a real node) and nothing of the machine, its instances or other
    nodes; pidfiles and `systemctl status` use the node's numbers."""
    controller, compute, vm = _ps(lab, "controller"), _ps(lab, "compute1"), _ps(lab, "vm1")
    assert controller[1].startswith("bash") and compute[1].startswith("bash") and vm[1].startswith("bash")
    assert any(c.startswith("dnsmasq ") for c in controller.values()), controller
    for procs in (controller, compute):
        assert sum(c.startswith(("ovsdb-server", "ovs-vswitchd")) for c in procs.values()) == 2, procs
    assert not any(c.startswith("dnsmasq ") for c in compute.values()), compute
    assert not any(c.startswith("dropbear") for c in list(controller.values()) + list(compute.values()))
    assert any(c.startswith("dropbear") for c in vm.values()) and not any("ovs" in c for c in vm.values()), vm
    machine = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    assert len(controller) < 20 and os.getpid() not in controller, controller      # not the machine's
    assert not any("pytest" in c or "systemd" in c for c in controller.values()), controller
    # the node's pidfile names the node's ovs-vswitchd, and systemctl says the same number
    inside = int(sh(lab, "compute1", "cat /run/openvswitch/ovs-vswitchd.pid").stdout)
    assert compute[inside].startswith("ovs-vswitchd"), (inside, compute)
    status = sh(lab, "compute1", "systemctl status openvswitch-switch").stdout
    assert re.search(r"^\s+%d\s+ovs-vswitchd$" % inside, status, re.M), status
    # the lab records the machine's number of that same process
    recorded = next(p for p in LabState.load(NAME).processes if p.what == "compute1 ovs-vswitchd")
    assert recorded.pid in machine and recorded.pid != inside and inner_pid(recorded.pid) == inside


def test_systemctl_lists_the_units_of_the_node(lab):
    out = sh(lab, "controller", "systemctl list-units").stdout
    for unit in ("openvswitch-switch", "neutron-openvswitch-agent", "neutron-dhcp-agent"):
        assert re.search(r"%s\.service\s+active\s+running" % unit, out), out
    compute = sh(lab, "compute1", "systemctl list-units").stdout
    assert "neutron-openvswitch-agent" in compute and "neutron-dhcp-agent" not in compute
    missing = sh(lab, "compute1", "systemctl status nova-compute")
    assert missing.returncode == 4 and "could not be found" in missing.stdout + missing.stderr
    status = sh(lab, "compute1", "systemctl status neutron-openvswitch-agent")
    assert status.returncode == 0 and "active (running)" in status.stdout and "Main PID:" in status.stdout


def test_systemctl_outside_a_node_refuses():
    proc = subprocess.run([sys.executable, "-m", "stacklab.nodectl", "status", "openvswitch-switch"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "not inside a stacklab node" in proc.stderr


def test_restarting_the_agent_removes_what_it_does_not_own_and_tags_again(lab):
    tap = lab.scenario.instances["vm1"].port.name
    assert sh(lab, "compute1", "ovs-ofctl add-flow br-int table=0,priority=99,dl_type=0x88b5,actions=drop"
              ).returncode == 0
    sh(lab, "compute1", "ovs-vsctl set port %s tag=4095" % tap)
    assert not pings(lab)
    before = sh(lab, "compute1", "ovs-ofctl dump-flows br-int table=0 | grep -o 'cookie=0x[0-9a-f]*' | sort -u").stdout
    restart = sh(lab, "compute1", "systemctl restart neutron-openvswitch-agent")
    assert restart.returncode == 0, restart.stdout + restart.stderr
    flows = sh(lab, "compute1", "ovs-ofctl dump-flows br-int").stdout
    assert "0x88b5" not in flows and "dl_type=0x88b5" not in flows       # the hand-made flow is gone
    after = set(re.findall(r"cookie=(0x[0-9a-f]+)", flows))
    assert after and after.isdisjoint(set(before.split()) - {"cookie=0x0"})   # a new agent, a new cookie
    assert sh(lab, "compute1", "ovs-vsctl get port %s tag" % tap).stdout.strip() != "4095"
    assert pings_within(lab, 10)


def test_open_vswitch_stopped_stops_traffic_until_started(lab):
    assert pings(lab)
    stop = sh(lab, "compute1", "systemctl stop openvswitch-switch")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    try:
        assert sh(lab, "compute1", "systemctl is-active openvswitch-switch").stdout.strip() == "inactive"
        assert not pings(lab)
        status = stacklab("status", NAME, check=False)
        assert "stopped" in status.stdout + status.stderr      # said, and not restarted behind the learner's back
        assert sh(lab, "compute1", "systemctl is-active openvswitch-switch").stdout.strip() == "inactive"
    finally:
        start = sh(lab, "compute1", "systemctl start openvswitch-switch")
    assert start.returncode == 0, start.stdout + start.stderr
    assert sh(lab, "compute1", "systemctl is-active openvswitch-switch").stdout.strip() == "active"
    assert pings_within(lab, 20)


def test_an_instance_asks_dhcp_again_as_cirros_does(lab):
    sh(lab, "vm1", "ip link set eth0 mtu 1500; ip addr flush dev eth0")
    assert not pings(lab)
    out = sh(lab, "vm1", "udhcpc -i eth0 -n -q 2>&1; ip -o addr show eth0; cat /sys/class/net/eth0/mtu")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "192.168.101.19/24" in out.stdout and out.stdout.split()[-1] == "1450", out.stdout
    assert pings(lab)
    assert os.path.exists(lab.state.dir)
