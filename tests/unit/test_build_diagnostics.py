"""What a build that waits in vain for its flows says about each missing
bridge: its switch's account of the controller connection, and the
controller's lines about that node and bridge."""

import types

from topologies.lab import Lab
from topologies.node import CloudNode


def node_with_log(tmp_path, text):
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "ovs-vswitchd.log").write_text(text)
    host = types.SimpleNamespace(workdir=str(tmp_path))
    host.controller_log = lambda bridge, lines=4: CloudNode.controller_log(host, bridge, lines)
    return host


def test_both_sides_of_a_missing_bridge(tmp_path):
    host = node_with_log(tmp_path, "t|1|rconn|INFO|br-int<->tcp:127.0.0.1:6633: connecting...\n"
                                   "t|2|rconn|INFO|br-tun<->tcp:127.0.0.1:6633: connected\n"
                                   "t|3|rconn|INFO|br-int<->tcp:127.0.0.1:6633: connected\n")
    agent_log = tmp_path / "agent.log"
    agent_log.write_text("x INFO stacklab.agent controller: plan with 1 networks, 1 ports\n"
                         "x INFO stacklab.agent controller br-tun: 13 flows sent\n"
                         "x INFO stacklab.agent compute1 br-int: 80 flows sent\n")
    lab = types.SimpleNamespace(nodes={"controller": host})
    said = Lab._controller_connections(lab, [("controller", "br-int"), ("controller", "port tap1")], str(agent_log))
    assert said.splitlines() == [
        "", "controller br-int, its ovs-vswitchd:",
        "t|1|rconn|INFO|br-int<->tcp:127.0.0.1:6633: connecting...",
        "t|3|rconn|INFO|br-int<->tcp:127.0.0.1:6633: connected",
        "its controller's log about it:",
        "x INFO stacklab.agent controller: plan with 1 networks, 1 ports"]


def test_a_bridge_nobody_mentions(tmp_path):
    lab = types.SimpleNamespace(nodes={"compute1": node_with_log(tmp_path, "")})
    said = Lab._controller_connections(lab, [("compute1", "br-tun")], str(tmp_path / "missing.log"))
    assert "(nothing about a controller)" in said and said.endswith("its controller's log about it:\n(nothing)")
