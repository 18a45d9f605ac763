"""Stalled or just slow: the verdict behind the handshake watchdog. A switch
silent for QUIET_SECONDS is asked again for what the handshake waits on;
only one silent past LIMIT_SECONDS is closed; a connection with bytes we
have not read, or messages we have not sent, is waiting for us."""

import socket

import pytest
from os_ken.controller.handler import CONFIG_DISPATCHER, HANDSHAKE_DISPATCHER, MAIN_DISPATCHER

from controller import handshake
from controller.handshake import ASK, CLOSE, LIMIT_SECONDS, QUIET_SECONDS, RECHECK_SECONDS, WAIT, WatchedSocket, next_step

from .fake_switch import Datapath as FakeDatapath


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Queue:
    def __init__(self, n):
        self.n = n

    def qsize(self):
        return self.n


class Datapath:
    def __init__(self, unsent=0):
        self.send_q = Queue(unsent)


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    clock = Clock()
    yield WatchedSocket(ours, clock), theirs, clock
    ours.close()
    theirs.close()


def test_traffic_either_way_is_noted_and_what_came_apart(pair):
    sock, theirs, clock = pair
    clock.now += 5
    theirs.sendall(b"hello")
    assert sock.recv(5) == b"hello" and sock.last_traffic == sock.last_received == clock.now
    clock.now += 5
    sock.sendall(b"features?")
    assert theirs.recv(9) == b"features?" and sock.last_traffic == clock.now
    assert sock.last_received == clock.now - 5


def test_everything_else_passes_through(pair):
    sock, theirs, _ = pair
    sock.settimeout(2.5)
    assert sock.gettimeout() == 2.5 and sock.fileno() >= 0


def test_unread_bytes_and_a_close_are_seen(pair):
    sock, theirs, _ = pair
    assert not sock.unread()
    theirs.sendall(b"x")
    assert sock.unread()
    sock.recv(1)
    assert not sock.unread()
    theirs.close()
    assert sock.unread()


def test_a_silent_switch_is_asked_again_not_closed(pair):
    sock, _, clock = pair
    started = clock.now
    assert next_step(Datapath(), sock, started, clock.now + QUIET_SECONDS) == (ASK, QUIET_SECONDS)


def test_our_own_request_does_not_make_the_switch_talkative(pair):
    sock, theirs, clock = pair
    started = clock.now
    clock.now += QUIET_SECONDS - 1
    sock.sendall(b"features?")                  # we asked a second ago; it has said nothing for longer
    theirs.recv(9)
    assert next_step(Datapath(), sock, started, clock.now + 1) == (ASK, QUIET_SECONDS)


def test_a_switch_that_spoke_lately_is_waited_for(pair):
    sock, theirs, clock = pair
    started = clock.now
    clock.now += 5
    theirs.sendall(b"echo")
    sock.recv(4)
    step, seconds = next_step(Datapath(), sock, started, clock.now + 3)
    assert step == WAIT and seconds == pytest.approx(QUIET_SECONDS - 3)


def test_bytes_we_have_not_read_mean_we_are_slow_not_the_switch(pair):
    sock, theirs, clock = pair
    theirs.sendall(b"features reply")
    assert next_step(Datapath(), sock, clock.now, clock.now + LIMIT_SECONDS + 10) == (WAIT, RECHECK_SECONDS)


def test_messages_we_have_not_sent_mean_we_are_slow_not_the_switch(pair):
    sock, _, clock = pair
    assert next_step(Datapath(unsent=1), sock, clock.now, clock.now + LIMIT_SECONDS + 10) == (WAIT, RECHECK_SECONDS)


def test_only_a_switch_silent_past_the_limit_is_closed(pair):
    sock, _, clock = pair
    started = clock.now
    assert next_step(Datapath(), sock, started, started + LIMIT_SECONDS) == (CLOSE, 0)
    assert next_step(Datapath(), sock, started, started + LIMIT_SECONDS - 0.5)[0] == ASK


def test_asked_again_is_what_the_handshake_waits_on():
    features = FakeDatapath(None, CONFIG_DISPATCHER)
    assert handshake.ask_again(features, "no features reply handled") == "the features"
    assert [type(m).__name__ for m in features.sent] == ["OFPFeaturesRequest"]
    ports = FakeDatapath(0x2a, MAIN_DISPATCHER)
    assert handshake.ask_again(ports, "no port list") == "the port list"
    assert [type(m).__name__ for m in ports.sent] == ["OFPPortDescStatsRequest"]
    before_hello = FakeDatapath(None, HANDSHAKE_DISPATCHER)
    assert handshake.ask_again(before_hello, "no features reply handled") is None and not before_hello.sent


def test_a_closed_socket_has_nothing_unread(pair):
    sock, _, _ = pair
    sock._sock.close()
    assert not sock.unread()


def test_a_datapath_past_its_send_loop_has_nothing_unsent():
    dp = Datapath()
    dp.send_q = None                            # os-ken clears it when the send loop ends
    assert not handshake.unsent(dp)


def test_a_connection_closed_by_either_side_is_gone():
    from os_ken.controller.handler import DEAD_DISPATCHER

    class Dp:
        def __init__(self, active, state):
            self.is_active, self.state = active, state
    assert handshake.gone(Dp(False, CONFIG_DISPATCHER))      # the switch closed it
    assert handshake.gone(Dp(True, DEAD_DISPATCHER))         # we did; its FIN has not come yet
    assert not handshake.gone(Dp(True, CONFIG_DISPATCHER))
