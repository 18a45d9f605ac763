"""Figures for live changes and exercises (printed, never asserted):
  - `stacklab apply` adding one instance to a running 20-node lab (1
    controller + 19 computes x 2 instances): the whole command, from reading
    the file to the new instance having its DHCP address and flows confirmed;
  - `stacklab exercise start` of the simplest exercise (01, target < 5 s):
    build, faults, picture, the learner's copy, the task printed.
Run as root: sudo make bench"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stacklab.scenario.synth import mesh_scenario  # noqa: E402

STACKLAB = [sys.executable, "-m", "stacklab.cli"]


def timed(*args, env=None):
    t0 = time.monotonic()
    subprocess.run(STACKLAB + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.monotonic() - t0


def main():
    if os.geteuid() != 0:
        sys.exit("run as root: sudo make bench")
    tmp = tempfile.mkdtemp(prefix="stacklab-bench-")
    base = mesh_scenario(19, 2, name="apply20")
    grown = base + "  vm-extra: {node: compute7, network: selfservice}\n"
    paths = {}
    for name, text in (("base", base), ("grown", grown)):
        paths[name] = os.path.join(tmp, name + ".yaml")
        with open(paths[name], "w") as f:
            f.write(text)
    adds, removes = [], []
    timed("up", paths["base"])
    try:
        for _ in range(3):
            adds.append(timed("apply", paths["grown"]))
            removes.append(timed("apply", paths["base"]))
    finally:
        timed("down", "apply20")
    print("stacklab apply on a 20-node lab (38 instances): one instance added %.2f s, removed %.2f s "
          "(median of 3; the command, until its address and flows are confirmed)"
          % (statistics.median(adds), statistics.median(removes)))
    env = dict(os.environ, STACKLAB_PROGRESS=os.path.join(tmp, "progress.json"),
               STACKLAB_WORKDIR=os.path.join(tmp, "work"))
    starts = []
    for _ in range(3):
        starts.append(timed("exercise", "start", "01", env=env))
        timed("exercise", "stop", "01", env=env)
    print("stacklab exercise start 01-reading-the-topology: %.2f s median of 3 (target < 5 s)"
          % statistics.median(starts))


if __name__ == "__main__":
    main()
