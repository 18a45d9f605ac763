"""Telling a stalled OpenFlow handshake from a busy switch.

A bridge whose handshake stops (hellos exchanged, then no features reply or
no port list) must not be left unprogrammed. But a slow answer is no lost
one: a hundred userspace ovs-vswitchd on two cores, each adding its tunnel
ports, were seen silent for 14 s in the middle of a handshake, and closing
them (as this watchdog first did after 8 s) only started their handshakes
again behind Open vSwitch's reconnect back-off, over and over, until a
100-node build gave up. So, for a handshake not finished:

- bytes unread or messages unsent on our side: we are the slow side; wait;
- the switch said something within QUIET_SECONDS: it is alive; wait;
- otherwise ask again for what we wait for (the features reply, the port
  list): a lost message is recovered without a reconnect, a busy switch
  answers one of the two requests;
- only a switch silent for QUIET_SECONDS after LIMIT_SECONDS in all is
  closed, so that Open vSwitch connects it again."""

import os
import select
import time

from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER

from controller import openflow

# (the tests of a closed handshake shorten both; nothing else should)
QUIET_SECONDS = float(os.environ.get("STACKLAB_HANDSHAKE_QUIET", "8"))
LIMIT_SECONDS = float(os.environ.get("STACKLAB_HANDSHAKE_LIMIT", "45"))
RECHECK_SECONDS = 1.0       # how soon to look again while this side is behind

WAIT, ASK, CLOSE = "wait", "ask again", "close"


class WatchedSocket:
    """The switch's socket as os-ken's Datapath uses it, noting when bytes
    last came from the switch and last went either way (everything else
    passes through)."""

    def __init__(self, sock, clock=time.monotonic):
        self._sock = sock
        self._clock = clock
        self.last_traffic = self.last_received = clock()

    def recv(self, *args):
        data = self._sock.recv(*args)
        self.last_traffic = self.last_received = self._clock()
        return data

    def sendall(self, *args):
        self._sock.sendall(*args)
        self.last_traffic = self._clock()

    def unread(self):
        """Bytes (or the switch's close) waiting that we have not read yet."""
        try:
            return bool(select.select([self._sock.fileno()], [], [], 0)[0])
        except (OSError, ValueError):       # closed under us: nothing to wait for
            return False

    def __getattr__(self, name):
        return getattr(self._sock, name)


def gone(dp):
    """Closed already (by the switch, or by us: a close waits for the switch's FIN)."""
    return not dp.is_active or dp.state == DEAD_DISPATCHER


def how_far(record, dp, finished):
    """None if `dp`'s handshake is over (its app's `record` of the bridge is
    for this connection and `finished`), else how far it got, for stalled()."""
    if record is None:
        return "no features reply handled"
    if record.datapath is not dp:
        return "a newer connection of the bridge took its place"
    return None if finished else "no port list"


def unsent(dp):
    queue = getattr(dp, "send_q", None)
    return queue is not None and queue.qsize() > 0


def next_step(dp, sock, started, now=None):
    """(WAIT, ASK or CLOSE, seconds until the next look) for an unfinished handshake."""
    now = time.monotonic() if now is None else now
    if sock.unread() or unsent(dp):           # we are the slow side
        return WAIT, RECHECK_SECONDS
    silent = now - sock.last_received
    if silent < QUIET_SECONDS:
        return WAIT, QUIET_SECONDS - silent
    if now - started >= LIMIT_SECONDS:
        return CLOSE, 0
    return ASK, QUIET_SECONDS


def ask_again(dp, got):
    """Send again the request the handshake waits on (`got`: how_far's
    words); returns what was asked, or None (still before the hellos, or
    another connection's business)."""
    if dp.state == CONFIG_DISPATCHER:
        dp.send_msg(dp.ofproto_parser.OFPFeaturesRequest(dp))
        return "the features"
    if dp.state == MAIN_DISPATCHER and got == "no port list":
        dp.send_msg(openflow.port_desc_request(dp))
        return "the port list"
    return None


def stalled(dp, sock, started, how_far):
    """The warning for a connection about to be closed: how far its handshake got."""
    now = time.monotonic()
    return ("a bridge connected from %s:%d %.0f s ago and did not finish the handshake, silent for %.0f s "
            "(datapath id %s, os-ken state %s, %s); closing the connection so that it connects again"
            % (*dp.address, now - started, now - sock.last_received,
               "%016x" % dp.id if dp.id is not None else "not yet", dp.state, how_far))
