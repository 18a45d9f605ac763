"""Run shell scripts in Mininet nodes and fail loudly when they fail.

A script is written to a file in the lab's directory (visible inside every
node) and run from there: a node's shell reads commands through a terminal,
whose line limit (4 KB) a 20-node VXLAN mesh's ovs-vsctl easily exceeds."""

import itertools
import os

from stacklab.errors import LabError

_RC = "__stacklab_rc="
_COUNTER = itertools.count()


def script(node, text, what):
    """Run `text` (a shell script, `set -e`) in `node`; raise LabError with
    its output if it fails. Returns the output."""
    send(node, text)
    return wait(node, what)


def send(node, text):
    """Start `text` in `node` without waiting: lets several nodes work at once."""
    directory = node.script_dir
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "%s-%d.sh" % (node.name, next(_COUNTER)))
    with open(path, "w") as f:
        f.write("set -e\n" + text.strip() + "\n")
    node.sendCmd("sh %s 2>&1; echo %s$?" % (path, _RC))
    node.stacklab_script = path


def wait(node, what):
    out = node.waitOutput()
    _remove(getattr(node, "stacklab_script", None))
    body, _, rc = out.rpartition(_RC)
    if rc.strip() != "0":
        raise LabError("%s failed on %s:\n%s" % (what, node.name, body.strip()))
    return body


def _remove(path):
    """The script is removed here, not by an `rm` in the node: one process
    fewer per script, which counts where starting a process is slow (a VM
    under software emulation)."""
    if path:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def run_parallel(jobs, what):
    """jobs: [(node, script)]; runs them all at once, one per node."""
    for node, text in jobs:
        send(node, text)
    errors = []
    for node, _ in jobs:
        try:
            wait(node, what)
        except LabError as e:
            errors.append(str(e))
    if errors:
        raise LabError("\n".join(errors))
