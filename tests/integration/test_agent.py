"""The OVS agent for real: the documents' dumps reproduced on the emulated
nodes, packets across VXLAN, vlan and flat networks, the firewall deciding
with conntrack, and the flows coming back after ovs-vswitchd or the agent
restarts, or changing for one port only when that port goes; a switch
whose handshake stalls is closed, one that is only slow is not."""

import os
import sys
import time

import pytest

from stacklab.observe import flows
from stacklab.runtime.procs import read_pidfile

from .conftest import built_lab, kill_dead, wait_for
from .half_open import WATCHDOG, assert_watchdog_at


@pytest.mark.parametrize("scenario,node,bridges", [
    ("vxlan-instance", "compute1", ["br-int", "br-tun", "br-provider"]),
    ("flat-instance", "compute1", ["br-int", "br-provider", "br-mgmt"]),
])
def test_documents_dumps_are_reproduced(scenario, node, bridges):
    with built_lab(scenario, rename="it-" + scenario) as (lab, built):     # (copied under another name)
        for bridge in bridges:
            ref, d = flows.diff_bridge(lab, node, bridge, "%s/%s" % (scenario, bridge))
            assert ref.flows, "empty reference %s" % ref.path
            assert not d.missing, "%s %s lacks reference flows:\n%s" % (scenario, bridge, d.render())
            if not ref.elided:
                assert not d.extra, "%s %s has flows the document does not:\n%s" % (scenario, bridge, d.render())
        # the agent tagged the port with the network's local VLAN, as `ovs-vsctl show` prints it
        port = built.scenario.instances[next(iter(built.scenario.instances))].port
        tag = lab.run(node, ["ovs-vsctl", "get", "Port", port.name, "tag"], check=True).stdout.strip()
        assert tag == str(built.scenario.networks[port.network].local_vlans[node])


@pytest.fixture(scope="module")
def three():
    with built_lab("three-networks", rename="it-three", env=WATCHDOG) as (lab, built):
        yield lab, built.scenario, built


def ping(lab, src, dst, count=2):
    proc = lab.run(src, ["ping", "-c", str(count), "-i", "0.2", "-W", "1", dst])
    return proc.returncode == 0


@pytest.mark.parametrize("src,dst", [
    ("vm-t1", "192.168.30.12"),      # vxlan: compute1 -> br-tun -> VNI 300 -> compute2
    ("vm-v2", "10.101.0.11"),        # vlan: local VLAN -> VLAN 101 on the wire -> local VLAN
    ("vm-f1", "10.10.0.112"),        # flat: untagged on the wire; both in `default` (remote group)
])
def test_ping_across_compute_nodes(three, src, dst):
    lab, _, _ = three
    assert ping(lab, src, dst), "%s cannot ping %s" % (src, dst)


def test_networks_are_isolated(three):
    """A vxlan instance does not reach the vlan network's address: no route,
    and no shared segment on the fabric."""
    lab, _, _ = three
    assert not ping(lab, "vm-t1", "10.101.0.12", count=1)


SERVER = r"""
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(8)
    while True:
        c, _ = s.accept(); c.sendall(b"hello from %d\n" % port); c.close()
for p in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(p),), daemon=True).start()
print("listening", flush=True)
threading.Event().wait()
"""

CLIENT = r"""
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    print(c.recv(64).decode(errors="replace").splitlines()[0])
except OSError as e:
    print("failed:", e); sys.exit(1)
"""


@pytest.fixture(scope="module")
def tcp_server(three):
    """A listener on port 80 inside vm-t2 beside its SSH server on 22 (the
    lab's teardown ends both)."""
    lab, _, built = three
    path = os.path.join(built.state.dir, "tcp_server.py")
    with open(path, "w") as f:
        f.write(SERVER)
    lab.run("vm-t2", "%s %s 80 >/dev/null 2>&1 &" % (sys.executable, path), check=True)
    # the server answers locally on both ports: a failure across the fabric is the firewall's doing
    for _ in range(50):
        if all(connect(lab, "vm-t2", "127.0.0.1", p).returncode == 0 for p in (22, 80)):
            return lab
        time.sleep(0.1)
    pytest.fail("the test TCP server did not start in vm-t2")


def connect(lab, src, dst, port):
    return lab.run(src, [sys.executable, "-c", CLIENT, dst, str(port)])


def test_firewall_allows_ssh_and_its_reply(tcp_server):
    proc = connect(tcp_server, "vm-t1", "192.168.30.12", 22)
    # the SYN went in (rule: tcp 22), the SYN-ACK and dropbear's banner came back (ct: +est+rpl)
    assert proc.returncode == 0 and proc.stdout.startswith("SSH-2.0-dropbear"), proc.stdout + proc.stderr


def test_firewall_drops_port_80(tcp_server):
    before = dropped(tcp_server, "compute2")
    proc = connect(tcp_server, "vm-t1", "192.168.30.12", 80)
    assert proc.returncode == 1 and "timed out" in proc.stdout, proc.stdout + proc.stderr
    # and it was the security group on compute2: its drop table counted the SYNs
    assert dropped(tcp_server, "compute2") > before


def dropped(lab, node):
    out = lab.run(node, ["ovs-ofctl", "dump-flows", "br-int", "table=93"], check=True).stdout
    return sum(int(part.split("=")[1].rstrip(",")) for part in out.split() if part.startswith("n_packets="))


def test_firewall_allows_icmp_in(three):
    lab, _, _ = three
    assert ping(lab, "vm-t2", "192.168.30.11")


def normalized(lab, node, bridge):
    """The bridge's flows without what traffic taught br-tun (learned flows)."""
    return {f for f in flows.dump(lab, node, bridge) if not f.learned}


def cookies(lab, node, bridge):
    out = lab.run(node, ["ovs-ofctl", "dump-flows", bridge], check=True).stdout
    return {part.split("=")[1].rstrip(",") for line in out.splitlines()
            for part in line.split() if part.startswith("cookie=")}


def test_port_removed_and_added_changes_only_its_flows(three):
    lab, scenario, built = three
    port = scenario.instances["vm-v1"].port
    before = normalized(lab, "compute1", "br-int")
    ofport = int(lab.run("compute1", ["ovs-vsctl", "get", "Interface", port.name, "ofport"], check=True).stdout)
    lab.run("compute1", ["ovs-vsctl", "del-port", "br-int", port.name], check=True)
    assert wait_for(lambda: normalized(lab, "compute1", "br-int") != before)
    time.sleep(0.3)
    after = normalized(lab, "compute1", "br-int")
    gone, new = before - after, after - before
    assert not new, "flows appeared when a port went: %s" % sorted(map(str, new))
    for flow in gone:
        text = str(flow)
        assert any(mark in text for mark in (port.name, port.mac, str(port.ip), "reg5=0x%x" % ofport)), \
            "a flow of another port went: %s" % text
    # the other ports' flows are all still there
    assert any(scenario.instances["vm-t1"].port.name in str(f) for f in after)
    lab.run("compute1", ["ovs-vsctl", "add-port", "br-int", port.name, "--", "set", "Interface", port.name,
                         "external_ids:iface-id=" + port.id, "ofport_request=%d" % ofport], check=True)
    assert wait_for(lambda: normalized(lab, "compute1", "br-int") == before), \
        "flows after re-adding differ:\n%s" % flows.diff(before, normalized(lab, "compute1", "br-int")).render()
    assert wait_for(lambda: ping(lab, "vm-v1", "10.101.0.12", count=1))


def test_flows_come_back_after_vswitchd_restart(three):
    lab, _, built = three
    node = built.nodes["compute1"]
    wanted = {b: normalized(lab, "compute1", b) for b in ("br-int", "br-tun", "br-provider")}
    pidfile = os.path.join(node.workdir, "run", "ovs-vswitchd.pid")
    pid = read_pidfile(pidfile, node.pid)
    kill_dead(pid)
    assert built.supervisor.tick() == ["compute1 ovs-vswitchd"]       # started again, as systemd would
    for bridge, flows_before in wanted.items():
        assert wait_for(lambda: normalized(lab, "compute1", bridge) == flows_before), \
            "%s after restart:\n%s" % (bridge, flows.diff(flows_before, normalized(lab, "compute1", bridge)).render())
    assert wait_for(lambda: ping(lab, "vm-t1", "192.168.30.12", count=1))
    # the dead process's connections never said goodbye (compute1's address was its port): closed
    log = open(built.plane.log_path()).read()
    assert all("compute1 %s connected again from" % bridge in log for bridge in wanted), log[-3000:]


def test_agent_restart_resyncs_with_a_new_cookie(three):
    """The agents' process (one for every node) killed and started again:
    each node's bridges get the new run's flows and lose the old run's."""
    lab, _, built = three
    wanted = {name: normalized(lab, name, "br-int") for name in built.nodes}
    old = {name: node.agent_status()["cookie"] for name, node in built.nodes.items()}
    kill_dead(built.plane.process.pid())
    assert built.supervisor.tick() == ["agents neutron-openvswitch-agent"]
    for name, node in built.nodes.items():
        assert wait_for(lambda: (node.agent_status() or {}).get("cookie") not in (None, old[name])), name
        new = node.agent_status()["cookie"]
        for bridge in built.state.nodes[name]["bridges"]:
            # every flow carries the new run's cookie: the old run's flows were removed
            assert wait_for(lambda: cookies(lab, name, bridge) == {new}), (name, bridge, cookies(lab, name, bridge))
        assert normalized(lab, name, "br-int") == wanted[name]
    assert wait_for(lambda: ping(lab, "vm-t2", "192.168.30.11", count=1))


def test_a_stalled_handshake_is_asked_again_then_closed_and_a_slow_one_is_not(three):
    """Two fake switches at compute1's agent: the one silent after its hello
    is asked again, then closed once silent past the limit, with a warning;
    the one that keeps talking is still connected. The node's real bridges
    go on working."""
    lab, _, built = three
    assert_watchdog_at(lab, "compute1", "127.0.0.1", 6633, built.plane.log_path())
    assert ping(lab, "vm-t1", "192.168.30.12")
