"""Figures for the probes' targets (printed, never asserted):
  - every check of vxlan-instance in under 3 s (scapy imported once per run);
  - `make scenario vxlan-instance` on a set-up machine to the report in under
    10 s: `stacklab run vxlan-instance --no-cli` end to end (build, checks,
    report, teardown).
Run as root: sudo make bench"""

import json
import os
import subprocess
import sys
import time

STACKLAB = [sys.executable, "-m", "stacklab.cli"]


def timed(*args):
    t0 = time.monotonic()
    proc = subprocess.run(STACKLAB + list(args), capture_output=True, text=True)
    return time.monotonic() - t0, proc


def main():
    if os.geteuid() != 0:
        sys.exit("run as root: sudo make bench")
    for name in ("vxlan-instance", "flat-instance"):
        runs = []
        for _ in range(3):
            seconds, proc = timed("run", name, "--no-cli", "--json")
            report = json.loads(proc.stdout)
            checks = report["checks"]
            runs.append((seconds, sum(c["seconds"] for c in checks), len(checks),
                         sum(c["verdict"] == "pass" for c in checks)))
        best = min(runs)
        print("%-15s run to report (build, %d checks, teardown): %.2f s (best of 3; target < 10 s)"
              % (name, best[2], best[0]))
        print("%-15s all checks: %.2f s, %d/%d passed (target < 3 s)" % (name, best[1], best[3], best[2]))
        subprocess.run(STACKLAB + ["up", name], check=True, capture_output=True)
        try:
            seconds, proc = timed("check", name, "--json")
            print("%-15s `stacklab check` on the running lab, process start and scapy import included: %.2f s"
                  % (name, seconds))
        finally:
            subprocess.run(STACKLAB + ["down", name], check=True, capture_output=True)


if __name__ == "__main__":
    main()
