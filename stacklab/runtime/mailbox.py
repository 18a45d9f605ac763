"""Requests to the process that holds a lab (its keeper), such as `stacklab
apply`'s: the lab is that process's Mininet objects, so only it can change
them. A request is a JSON file in <lab>/requests/ and a wake-up: a byte
into the keeper's FIFO there (which a node's `systemctl` can write from
inside the node's PID namespace, where the keeper's pid means nothing), or
a SIGUSR1; the keeper answers with a file beside it. The keeper takes requests one at a time,
between signals, so a `down` waits until a change is complete."""

import json
import os
import signal
import threading
import time
import uuid

from stacklab.errors import LabError
from stacklab.naming import invocation

SIGNAL = signal.SIGUSR1
WAKE_FIFO = "wake"


def _dir(state):
    return os.path.join(state.dir, "requests")


def listen(state):
    """In the holder: each byte written into <lab>/requests/wake becomes a
    SIGUSR1 to this process, taken where the holder takes its signals."""
    os.makedirs(_dir(state), exist_ok=True)
    path = os.path.join(_dir(state), WAKE_FIFO)
    if not os.path.exists(path):
        os.mkfifo(path, 0o600)
    fd = os.open(path, os.O_RDWR)        # a writer of its own: no end of file when senders close

    def relay():
        while os.read(fd, 64):
            os.kill(os.getpid(), SIGNAL)
    threading.Thread(target=relay, name="mailbox", daemon=True).start()


def _wake(state, keeper):
    """The keeper's FIFO when it listens; its pid (when this process can see it) otherwise."""
    try:
        fd = os.open(os.path.join(_dir(state), WAKE_FIFO), os.O_WRONLY | os.O_NONBLOCK)
    except OSError:             # no FIFO, or nobody reading it
        try:
            keeper.signal(SIGNAL)
        except RuntimeError:    # inside a node, whose PID namespace does not see the holder
            raise LabError("the process holding lab %s takes no requests from inside its nodes" % state.name) \
                from None
        return
    try:
        os.write(fd, b".")
    finally:
        os.close(fd)


def _write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def send(state, request, timeout=300.0):
    """Ask the lab's keeper to do `request` (a dict with "kind"); wait for
    its answer (a dict). Raises LabError if it has no keeper or dies."""
    keeper = state.keeper
    if keeper is None or not keeper.alive():
        raise LabError("lab %s has no process holding it (was it killed? %s)"
                       % (state.name, invocation("down " + state.name)))
    os.makedirs(_dir(state), exist_ok=True)
    rid = uuid.uuid4().hex[:12]
    answer = os.path.join(_dir(state), rid + ".answer")
    _write(os.path.join(_dir(state), rid + ".request"), request)
    _wake(state, keeper)
    deadline = time.monotonic() + timeout
    while not os.path.exists(answer):
        if not keeper.alive():
            raise LabError("the process holding lab %s ended before answering" % state.name)
        if time.monotonic() > deadline:
            raise LabError("lab %s did not answer within %.0f s" % (state.name, timeout))
        time.sleep(0.02)
    with open(answer) as f:
        data = json.load(f)
    os.unlink(answer)
    return data


def serve(state, handle):
    """In the keeper: answer every pending request with handle(request) -> dict."""
    try:
        names = sorted(os.listdir(_dir(state)))
    except FileNotFoundError:
        return
    for name in names:
        if not name.endswith(".request"):
            continue
        path = os.path.join(_dir(state), name)
        try:
            with open(path) as f:
                request = json.load(f)
        except (OSError, ValueError):
            continue
        os.unlink(path)
        _write(path[:-len(".request")] + ".answer", handle(request))
