"""netvirt's handshake watchdog: the same verdict as the agent's (see
test_handshake.py), on the Switch it keeps per datapath."""

import logging

from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER

from controller.netvirt.app import NetvirtController, Switch

from .fake_switch import Datapath as FakeDatapath


def Datapath(dpid, state=MAIN_DISPATCHER):
    return FakeDatapath(dpid, state, ("10.0.0.21", 40000))


def controller():
    app = NetvirtController.__new__(NetvirtController)      # only its switches are read
    app.switches = {}
    return app


def test_a_quiet_switch_without_its_port_list_is_closed(quiet, caplog):
    app, dp = controller(), Datapath(0x2a)
    app.switches[dp.id] = Switch(dp)                        # features came, the port list did not
    with caplog.at_level(logging.WARNING):
        app._check_handshake(dp, quiet, quiet.last_traffic)
    assert dp.closed and "datapath id 000000000000002a" in caplog.text and "no port list" in caplog.text


def test_a_quiet_switch_without_features_is_closed(quiet, caplog):
    dp = Datapath(None, CONFIG_DISPATCHER)
    with caplog.at_level(logging.WARNING):
        controller()._check_handshake(dp, quiet, quiet.last_traffic)
    assert dp.closed and "a bridge connected from 10.0.0.21:40000" in caplog.text
    assert "no features reply handled" in caplog.text


def test_a_described_switch_is_left_alone(quiet):
    app, dp = controller(), Datapath(0x2a)
    app.switches[dp.id] = Switch(dp)
    app.switches[dp.id].described = True
    app._check_handshake(dp, quiet, quiet.last_traffic)
    assert not dp.closed


def test_a_switch_that_reconnected_leaves_its_old_connection_to_be_closed(quiet):
    app, old, new = controller(), Datapath(0x2a), Datapath(0x2a)
    app.switches[new.id] = Switch(new)
    app.switches[new.id].described = True
    app._check_handshake(old, quiet, quiet.last_traffic)
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
