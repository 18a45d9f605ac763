"""A continuous ping (one every 10 ms) through a lab, read back as the
longest outage: what an HA router's failover costs the traffic through it.
Used by tests/integration/test_ha.py and bench/bench_ha.py."""

import re
import subprocess
import sys

INTERVAL_MS = 10


def start_ping(lab_name, src, target, seconds):
    """`ping -i 0.01` from `src` (an instance or host of the lab) to `target`
    for `seconds`, running (a Popen; read it with result())."""
    argv = [sys.executable, "-m", "stacklab.cli", "exec", "--lab", lab_name, src, "--", "ping", "-n", "-i",
            "%.2f" % (INTERVAL_MS / 1000.0), "-w", str(int(seconds)), "-W", "1", target]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def result(proc):
    """(longest run of lost replies in ms, sent, received) of a start_ping()."""
    return outage(proc.communicate()[0])


def outage(text):
    """(longest run of lost replies in ms, sent, received) of ping's output;
    the replies' sequence numbers tell which were lost (a reply never
    received and one that came late count the same: not in time)."""
    seqs = sorted({int(s) for s in re.findall(r"icmp_seq=(\d+) ttl=", text)})
    sent = re.search(r"(\d+) packets transmitted, (\d+) received", text)
    sent, received = (int(sent.group(1)), int(sent.group(2))) if sent else (0, len(seqs))
    if not seqs:
        return float(sent * INTERVAL_MS), sent, received
    ends = [seqs[0] - 1] + [b - a - 1 for a, b in zip(seqs, seqs[1:])] + [sent - seqs[-1]]     # (from 1)
    return max(ends) * INTERVAL_MS, sent, received
