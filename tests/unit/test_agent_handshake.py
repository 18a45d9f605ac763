"""The agent's handshake watchdog: a bridge that connected but never gave the
agent its ports, and that has gone silent, is asked again for what it owes;
past the limit it is closed (so that Open vSwitch connects it again), with
a warning saying how far it got; a bridge that did, is gone, or is only
waiting for this busy process, is left alone. The verdict itself is tested
in test_handshake.py."""

import logging
import time

from os_ken.controller.handler import CONFIG_DISPATCHER

from controller.handshake import LIMIT_SECONDS
from controller.neutron.agent import BridgeSession, NodeAgent

from .fake_switch import Datapath


def agent(tmp_path):
    return NodeAgent("compute1", str(tmp_path / "plan.json"), str(tmp_path / "status.json"))


def check(a, dp, sock, started=None):
    a.check_handshake(dp, sock, sock.last_traffic if started is None else started)


def long_ago():
    return time.monotonic() - LIMIT_SECONDS - 1


def test_a_silent_bridge_without_a_features_reply_is_asked_again(tmp_path, caplog, quiet, monkeypatch):
    later = []
    monkeypatch.setattr("controller.neutron.agent.hub.spawn_after", lambda *args: later.append(args))
    dp = Datapath(None, CONFIG_DISPATCHER)
    with caplog.at_level(logging.INFO, logger="stacklab.agent"):
        check(agent(tmp_path), dp, quiet)
    assert not dp.closed and [type(m).__name__ for m in dp.sent] == ["OFPFeaturesRequest"]
    assert "has been silent" in caplog.text and "asking again for the features" in caplog.text
    assert len(later) == 1                      # and it looks again later


def test_a_bridge_silent_past_the_limit_without_a_features_reply_is_closed(tmp_path, caplog, quiet):
    dp = Datapath(None, CONFIG_DISPATCHER)
    with caplog.at_level(logging.WARNING):
        check(agent(tmp_path), dp, quiet, long_ago())
    assert dp.closed
    assert "compute1: a bridge connected from 127.0.0.1:40000" in caplog.text
    assert "datapath id not yet" in caplog.text and "no features reply handled" in caplog.text


def test_a_silent_bridge_without_its_port_list_is_asked_again_then_closed(tmp_path, caplog, quiet, monkeypatch):
    monkeypatch.setattr("controller.neutron.agent.hub.spawn_after", lambda *args: None)
    a, dp = agent(tmp_path), Datapath(0x2a)
    a.sessions[dp.id] = BridgeSession(dp)       # features came, the port list did not
    check(a, dp, quiet)
    assert not dp.closed and [type(m).__name__ for m in dp.sent] == ["OFPPortDescStatsRequest"]
    with caplog.at_level(logging.WARNING):
        check(a, dp, quiet, long_ago())
    assert dp.closed and "datapath id 000000000000002a" in caplog.text and "no port list" in caplog.text


def test_a_connection_replaced_by_a_newer_one_is_closed_past_the_limit(tmp_path, quiet):
    a, old, new = agent(tmp_path), Datapath(0x2a), Datapath(0x2a)
    a.sessions[new.id] = BridgeSession(new)
    a.sessions[new.id].name = "br-int"
    check(a, old, quiet, long_ago())
    assert old.closed and not new.closed


def test_a_bridge_that_gave_its_ports_is_left_alone(tmp_path, caplog, quiet):
    a, dp = agent(tmp_path), Datapath(0x2a)
    a.sessions[dp.id] = BridgeSession(dp)
    a.sessions[dp.id].name = "br-int"
    check(a, dp, quiet, long_ago())
    assert not dp.closed and not dp.sent and not caplog.text


def test_a_bridge_already_gone_is_left_alone(tmp_path, quiet):
    dp = Datapath(0x2a)
    dp.is_active = False
    check(agent(tmp_path), dp, quiet, long_ago())
    assert not dp.closed


def test_a_bridge_still_talking_is_left_alone_and_looked_at_again(tmp_path, quiet, monkeypatch):
    later = []
    monkeypatch.setattr("controller.neutron.agent.hub.spawn_after", lambda *args: later.append(args))
    dp = Datapath(None, CONFIG_DISPATCHER)
    quiet.last_received += 2                    # its last bytes came QUIET_SECONDS - 1 s ago
    check(agent(tmp_path), dp, quiet, long_ago())
    assert not dp.closed and not dp.sent
    (seconds, again, *args), = later
    assert 0.9 < seconds <= 1.0 and args[:2] == [dp, quiet]


class Features:
    def __init__(self, dp):
        self.datapath = dp


def test_a_bridge_that_connects_again_has_its_old_connection_closed(tmp_path, caplog):
    """ovs-vswitchd restarted: its old connection never said goodbye (the FIN
    left by a port of the process that died), so the new one closes it."""
    a, old, new = agent(tmp_path), Datapath(0x2a), Datapath(0x2a)
    a.switch_features(Features(old))
    a.sessions[old.id].name = "br-int"
    with caplog.at_level(logging.INFO, logger="stacklab.agent"):
        a.switch_features(Features(new))
    assert old.closed and not new.closed and a.sessions[0x2a].datapath is new
    assert "compute1 br-int connected again from 127.0.0.1:40000; closing its previous connection" in caplog.text
    assert [type(m).__name__ for m in new.sent] == ["OFPPortDescStatsRequest"]


def test_a_features_reply_again_on_the_same_connection_closes_nothing(tmp_path):
    a, dp = agent(tmp_path), Datapath(0x2a)
    a.switch_features(Features(dp))
    a.switch_features(Features(dp))
    assert not dp.closed
