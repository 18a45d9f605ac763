"""Stalled or just slow: the verdict behind the handshake watchdog. A switch
that has owed us an answer for QUIET_SECONDS is stalled; a connection with
bytes we have not read, or messages we have not sent, is waiting for us."""

import socket

import pytest

from controller import handshake
from controller.handshake import LIMIT_SECONDS, QUIET_SECONDS, RECHECK_SECONDS, WatchedSocket, wait_longer


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


def test_traffic_either_way_is_noted(pair):
    sock, theirs, clock = pair
    clock.now += 5
    theirs.sendall(b"hello")
    assert sock.recv(5) == b"hello" and sock.last_traffic == clock.now
    clock.now += 5
    sock.sendall(b"features?")
    assert theirs.recv(9) == b"features?" and sock.last_traffic == clock.now


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


def test_a_quiet_line_has_stalled(pair):
    sock, _, clock = pair
    started = clock.now
    assert wait_longer(Datapath(), sock, started, clock.now + QUIET_SECONDS) == 0


def test_recent_traffic_waits_out_the_rest_of_the_quiet_time(pair):
    sock, _, clock = pair
    started = clock.now
    clock.now += 5
    sock.sendall(b"features?")
    assert wait_longer(Datapath(), sock, started, clock.now + 3) == pytest.approx(QUIET_SECONDS - 3)


def test_bytes_we_have_not_read_mean_we_are_slow_not_the_switch(pair):
    sock, theirs, clock = pair
    theirs.sendall(b"features reply")
    assert wait_longer(Datapath(), sock, clock.now, clock.now + QUIET_SECONDS + 10) == RECHECK_SECONDS


def test_messages_we_have_not_sent_mean_we_are_slow_not_the_switch(pair):
    sock, _, clock = pair
    assert wait_longer(Datapath(unsent=1), sock, clock.now, clock.now + QUIET_SECONDS + 10) == RECHECK_SECONDS


def test_no_handshake_outlasts_the_limit(pair):
    sock, theirs, clock = pair
    started = clock.now
    theirs.sendall(b"x")                       # even one we are still behind on
    assert wait_longer(Datapath(), sock, started, started + LIMIT_SECONDS) == 0
    assert wait_longer(Datapath(), sock, started, started + LIMIT_SECONDS - 0.5) == pytest.approx(0.5)


def test_a_closed_socket_has_nothing_unread(pair):
    sock, _, _ = pair
    sock._sock.close()
    assert not sock.unread()


def test_a_datapath_past_its_send_loop_has_nothing_unsent():
    dp = Datapath()
    dp.send_q = None                            # os-ken clears it when the send loop ends
    assert not handshake.unsent(dp)


def test_a_connection_closed_by_either_side_is_gone():
    from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER

    class Dp:
        def __init__(self, active, state):
            self.is_active, self.state = active, state
    assert handshake.gone(Dp(False, CONFIG_DISPATCHER))      # the switch closed it
    assert handshake.gone(Dp(True, DEAD_DISPATCHER))         # we did; its FIN has not come yet
    assert not handshake.gone(Dp(True, CONFIG_DISPATCHER))
