"""netvirt's handshake watchdog: the same verdict as the agent's (see
test_handshake.py), on the Switch it keeps per datapath."""

import logging
import time

from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER

from controller.appkit import new_lock
from controller.handshake import LIMIT_SECONDS
from controller.netvirt.app import NetvirtController, Switch

from .fake_switch import Datapath as FakeDatapath


def Datapath(dpid, state=MAIN_DISPATCHER):
    return FakeDatapath(dpid, state, ("10.0.0.21", 40000))


def controller():
    app = NetvirtController.__new__(NetvirtController)      # only its switches (and lock) are read
    app.lock = new_lock()
    app.switches = {}
    return app


def long_ago():
    return time.monotonic() - LIMIT_SECONDS - 1


def test_a_silent_switch_without_its_port_list_is_asked_again_then_closed(quiet, caplog, monkeypatch):
    monkeypatch.setattr("controller.netvirt.app.hub.spawn_after", lambda *args: None)
    app, dp = controller(), Datapath(0x2a)
    app.switches[dp.id] = Switch(dp)                        # features came, the port list did not
    app._check_handshake(dp, quiet, quiet.last_traffic)
    assert not dp.closed and [type(m).__name__ for m in dp.sent] == ["OFPPortDescStatsRequest"]
    with caplog.at_level(logging.WARNING):
        app._check_handshake(dp, quiet, long_ago())
    assert dp.closed and "datapath id 000000000000002a" in caplog.text and "no port list" in caplog.text


def test_a_silent_switch_without_features_is_asked_again_then_closed(quiet, caplog, monkeypatch):
    monkeypatch.setattr("controller.netvirt.app.hub.spawn_after", lambda *args: None)
    app, dp = controller(), Datapath(None, CONFIG_DISPATCHER)
    app._check_handshake(dp, quiet, quiet.last_traffic)
    assert not dp.closed and [type(m).__name__ for m in dp.sent] == ["OFPFeaturesRequest"]
    with caplog.at_level(logging.WARNING):
        app._check_handshake(dp, quiet, long_ago())
    assert dp.closed and "a bridge connected from 10.0.0.21:40000" in caplog.text
    assert "no features reply handled" in caplog.text


def test_a_described_switch_is_left_alone(quiet):
    app, dp = controller(), Datapath(0x2a)
    app.switches[dp.id] = Switch(dp)
    app.switches[dp.id].described = True
    app._check_handshake(dp, quiet, long_ago())
    assert not dp.closed and not dp.sent


def test_a_switch_that_reconnected_leaves_its_old_connection_to_be_closed(quiet):
    app, old, new = controller(), Datapath(0x2a), Datapath(0x2a)
    app.switches[new.id] = Switch(new)
    app.switches[new.id].described = True
    app._check_handshake(old, quiet, long_ago())
    assert old.closed and not new.closed


class Event:
    def __init__(self, dp):
        self.msg = type("Msg", (), {"datapath": dp})()


def test_a_switch_that_connects_again_has_its_old_connection_closed(caplog):
    app, old, new = controller(), Datapath(0x2a), Datapath(0x2a)
    app._switch_features(Event(old))
    app.switches[old.id].node = "compute1"
    with caplog.at_level(logging.INFO, logger="stacklab.netvirt"):
        app._switch_features(Event(new))
    assert old.closed and not new.closed and app.switches[0x2a].datapath is new
    assert "compute1 connected again from 10.0.0.21:40000; closing its previous connection" in caplog.text
    assert app.switches[0x2a].node == "compute1"       # known until its port list says otherwise
