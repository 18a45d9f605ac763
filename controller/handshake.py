"""Telling a stalled OpenFlow handshake from a busy controller.

A bridge whose handshake stops (hellos exchanged, then no features reply or
no port list) is closed, so that Open vSwitch connects it again. But one
os-ken process serves every bridge of a lab, in green threads of one OS
thread: while it computes twenty nodes' flows under software emulation it
may not read a switch's answer, or send its own request, for many seconds.
Closing such a connection only starts its handshake over at the back of the
same queue, again and again. So the connection's socket notes when bytes
last went either way, and a handshake counts as stalled only when this side
has nothing unread and nothing unsent and the line has been quiet for
QUIET_SECONDS; a handshake that still has not finished after LIMIT_SECONDS
is closed whatever the reason."""

import select
import time

from os_ken.controller.handler import DEAD_DISPATCHER

QUIET_SECONDS = 8.0
LIMIT_SECONDS = 60.0
RECHECK_SECONDS = 1.0       # how soon to look again while this side is behind


class WatchedSocket:
    """The switch's socket as os-ken's Datapath uses it, noting the time of
    the last bytes received or sent (everything else passes through)."""

    def __init__(self, sock, clock=time.monotonic):
        self._sock = sock
        self._clock = clock
        self.last_traffic = clock()

    def recv(self, *args):
        data = self._sock.recv(*args)
        self.last_traffic = self._clock()
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


def wait_longer(dp, sock, started, now=None):
    """Seconds to wait before looking at this unfinished handshake again,
    or 0 if it has stalled and should be closed now."""
    now = time.monotonic() if now is None else now
    left = LIMIT_SECONDS - (now - started)
    if left <= 0:
        return 0
    if sock.unread() or unsent(dp):           # we are the slow side
        return min(RECHECK_SECONDS, left)
    quiet = now - sock.last_traffic
    if quiet < QUIET_SECONDS:
        return min(QUIET_SECONDS - quiet, left)
    return 0


def stalled(dp, sock, started, how_far):
    """The warning for a connection about to be closed: how far its handshake got."""
    now = time.monotonic()
    return ("a bridge connected from %s:%d %.0f s ago and did not finish the handshake, %.0f s without a word "
            "either way (datapath id %s, os-ken state %s, %s); closing the connection so that it connects again"
            % (*dp.address, now - started, now - sock.last_traffic,
               "%016x" % dp.id if dp.id is not None else "not yet", dp.state, how_far))
