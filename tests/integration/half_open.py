"""Two fake switches for the handshake watchdog, run inside a node: each
connects where the node's bridges connect and sends an OpenFlow hello, then
"mute" says nothing more (a handshake stalled after the hello) and "chatty"
sends an echo request every 2 s without ever answering the features request
(slow, but the line is alive). For each: the message types it received and
after how many seconds the controller closed it (None: still open when the
watch ended).

The labs these run against are built with a short handshake limit and quiet
time (WATCHDOG, in the environment of the controller's process): the real
ones are 45 s and 8 s. The chatty switch's echo every 2 s keeps it talking
well within the quiet time."""

import json
import sys

LIMIT = 10
QUIET = 4
WATCHDOG = {"STACKLAB_HANDSHAKE_LIMIT": str(LIMIT), "STACKLAB_HANDSHAKE_QUIET": str(QUIET)}

SCRIPT = r"""
import json, socket, struct, sys, threading, time
host, port, watch = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
result = {}

def header(kind, xid):
    return struct.pack("!BBHI", 4, kind, 8, xid)        # OpenFlow 1.3, no body

def switch(name):
    s = socket.create_connection((host, port), timeout=0.5)
    start = time.monotonic()
    s.sendall(header(0, 1))                             # OFPT_HELLO
    got, buf, closed, xid, echo_at = [], b"", None, 100, start + 2
    while time.monotonic() - start < watch:
        if name == "chatty" and time.monotonic() >= echo_at:
            s.sendall(header(2, xid))                   # OFPT_ECHO_REQUEST
            xid, echo_at = xid + 1, echo_at + 2
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            data = b""
        if not data:
            closed = round(time.monotonic() - start, 2)
            break
        buf += data
        while len(buf) >= 8:
            length = struct.unpack("!H", buf[2:4])[0]
            got.append(buf[1])
            buf = buf[length:]
    result[name] = {"got": got, "closed_after": closed}
    s.close()

threads = [threading.Thread(target=switch, args=(n,)) for n in ("mute", "chatty")]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(result))
"""

HELLO, ECHO_REPLY, FEATURES_REQUEST = 0, 3, 5


def half_open_switches(lab, node, host, port, watch):
    """Run both fake switches from `node` against host:port for `watch` seconds."""
    proc = lab.run(node, [sys.executable, "-c", SCRIPT, host, str(port), str(watch)], check=True)
    return json.loads(proc.stdout)


def assert_watchdog_at(lab, node, host, port, log):
    """Both fake switches at host:port from `node`: the silent one is asked
    again for its features once it has been silent for QUIET_SECONDS, and
    closed once silent past the limit, with one warning in the controller's
    `log` (and no other connection is warned about meanwhile); the talking
    one is still connected at the end, never asked again."""
    warned_before = open(log).read().count("did not finish the handshake")
    asked_before = open(log).read().count("asking again for the features")
    seen = half_open_switches(lab, node, host, port, watch=LIMIT + QUIET + 4)
    mute, chatty = seen["mute"], seen["chatty"]
    assert HELLO in mute["got"] and mute["got"].count(FEATURES_REQUEST) >= 2, mute
    assert mute["closed_after"] is not None, "the silent switch was never closed: %s" % mute
    assert LIMIT - 0.5 <= mute["closed_after"] <= LIMIT + QUIET + 2, mute
    assert ECHO_REPLY in chatty["got"] and chatty["closed_after"] is None, chatty
    assert chatty["got"].count(FEATURES_REQUEST) == 1, chatty
    text = open(log).read()
    assert text.count("asking again for the features") - asked_before >= 1
    warnings = text.split("did not finish the handshake")[warned_before + 1:]
    assert len(warnings) == 1 and "datapath id not yet" in warnings[0], warnings
    assert "no features reply handled" in warnings[0]
