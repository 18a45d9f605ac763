"""The agent's handshake timeout: a bridge that connected but never gave the
agent its ports is closed (so that Open vSwitch connects it again), with a
warning saying how far it got; a bridge that did, or is gone, is left alone."""

import logging

from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER

from controller.neutron.agent import BridgeSession, NodeAgent


class Datapath:
    """What check_handshake reads of os-ken's Datapath, and its close()."""

    def __init__(self, dpid, state=MAIN_DISPATCHER):
        self.id, self.state, self.is_active, self.address = dpid, state, True, ("127.0.0.1", 40000)
        self.closed = False

    def close(self):
        self.closed = True


def agent(tmp_path):
    return NodeAgent("compute1", str(tmp_path / "plan.json"), str(tmp_path / "status.json"))


def test_a_bridge_without_a_features_reply_is_closed(tmp_path, caplog):
    dp = Datapath(None, CONFIG_DISPATCHER)
    with caplog.at_level(logging.WARNING):
        agent(tmp_path).check_handshake(dp)
    assert dp.closed
    assert "compute1: a bridge connected from 127.0.0.1:40000" in caplog.text
    assert "datapath id not yet" in caplog.text and "no features reply handled" in caplog.text


def test_a_bridge_without_its_port_list_is_closed(tmp_path, caplog):
    a, dp = agent(tmp_path), Datapath(0x2a)
    a.sessions[dp.id] = BridgeSession(dp)       # features came, the port list did not
    with caplog.at_level(logging.WARNING):
        a.check_handshake(dp)
    assert dp.closed and "datapath id 000000000000002a" in caplog.text and "no port list" in caplog.text


def test_a_connection_replaced_by_a_newer_one_is_closed(tmp_path):
    a, old, new = agent(tmp_path), Datapath(0x2a), Datapath(0x2a)
    a.sessions[new.id] = BridgeSession(new)
    a.sessions[new.id].name = "br-int"
    a.check_handshake(old)
    assert old.closed and not new.closed


def test_a_bridge_that_gave_its_ports_is_left_alone(tmp_path, caplog):
    a, dp = agent(tmp_path), Datapath(0x2a)
    a.sessions[dp.id] = BridgeSession(dp)
    a.sessions[dp.id].name = "br-int"
    a.check_handshake(dp)
    assert not dp.closed and not caplog.text


def test_a_bridge_already_gone_is_left_alone(tmp_path):
    dp = Datapath(0x2a)
    dp.is_active = False
    agent(tmp_path).check_handshake(dp)
    assert not dp.closed
