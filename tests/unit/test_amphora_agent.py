"""What the amphora agent reads from /proc to tell that a haproxy reload has taken effect."""

import os
import socket
import subprocess
import sys

from stacklab.runtime.procs import children
from topologies.amphora_agent import listens


def test_listens_sees_a_listening_socket_and_not_a_closed_one():
    assert not listens(os.getpid())
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    assert not listens(os.getpid()), "bound is not listening"
    s.listen()
    try:
        assert listens(os.getpid())
    finally:
        s.close()
    assert not listens(os.getpid())


def test_children_are_the_workers_of_a_master():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in children(os.getpid())
        assert child.pid not in children(child.pid)
    finally:
        child.kill()
        child.wait()
    assert child.pid not in children(os.getpid())
