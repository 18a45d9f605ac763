"""Figures for the routers' and load balancers' targets (printed, never asserted):
  - `stacklab up lb-amphora` (target < 8 s on 2 cores) and its teardown;
  - new TCP connections per second from the workstation through the floating
    IP -> router -> haproxy in the amphora -> a member, and the same straight
    to a member through its own floating IP (router only), in one run
    (target: through the load balancer >= 0.5 x direct). A connection is
    connect, the SSH server's banner read, close.
Run as root: sudo make bench"""

import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stacklab.observe import probes  # noqa: E402
from stacklab.runtime.running import RunningLab  # noqa: E402

STACKLAB = [sys.executable, "-m", "stacklab.cli"]
SECONDS = 4.0

def timed(*args):
    t0 = time.monotonic()
    subprocess.run(STACKLAB + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def rate(lab, where, address):
    r = lab.finish_probe(lab.start_probe(where, probes.connections, address, 22, SECONDS))
    return r["per_second"], r["refused"] + r["failed"]


def main():
    if os.geteuid() != 0:
        sys.exit("run as root: sudo make bench")
    ups, downs = [], []
    for _ in range(3):
        ups.append(timed("up", "lb-amphora"))
        downs.append(timed("down", "lb-amphora"))
    print("lb-amphora up (2 nodes, router, amphora with haproxy, 3 instances): %.2f s median of 3 (target < 8 s); "
          "down %.2f s" % (statistics.median(ups), statistics.median(downs)))
    timed("up", "lb-amphora")
    try:
        lab = RunningLab.open("lb-amphora")
        through, failed_lb = rate(lab, "workstation", "172.17.0.146")
        direct, failed_direct = rate(lab, "workstation", "172.17.0.95")
        print("new TCP connections/s from the workstation: through floating IP -> haproxy -> member %.0f/s, "
              "straight to a member's floating IP %.0f/s: ratio %.2f (target >= 0.5); failed %d and %d"
              % (through, direct, through / direct if direct else 0.0, failed_lb, failed_direct))
    finally:
        timed("down", "lb-amphora")


if __name__ == "__main__":
    main()
