"""What the handshake watchdogs read of os-ken's Datapath (id, state,
is_active, address), its close(), and enough of sending for a port-list
request; and a switch's socket gone quiet."""

import contextlib
import socket

from os_ken.controller.handler import MAIN_DISPATCHER
from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser

from controller import handshake


class Datapath:
    ofproto, ofproto_parser = ofproto_v1_3, ofproto_v1_3_parser

    def __init__(self, dpid, state=MAIN_DISPATCHER, address=("127.0.0.1", 40000)):
        self.id, self.state, self.is_active, self.address = dpid, state, True, address
        self.closed = False
        self.xid = 0
        self.sent = []

    def close(self):
        self.closed = True

    def set_xid(self, msg):
        self.xid += 1
        msg.set_xid(self.xid)
        return self.xid

    def send_msg(self, msg):
        self.sent.append(msg)


@contextlib.contextmanager
def quiet_socket():
    """A switch's socket with nothing unread and no traffic for longer than QUIET_SECONDS."""
    ours, theirs = socket.socketpair()
    sock = handshake.WatchedSocket(ours)
    sock.last_traffic -= handshake.QUIET_SECONDS + 1
    sock.last_received = sock.last_traffic
    try:
        yield sock
    finally:
        ours.close()
        theirs.close()
