"""Run shell scripts in Mininet nodes and fail loudly when they fail."""

from stacklab.errors import LabError

_RC = "__stacklab_rc="


def script(node, text, what):
    """Run `text` (a shell script, `set -e`) in `node`; raise LabError with
    its output if it fails. Returns the output."""
    send(node, text)
    return wait(node, what)


def send(node, text):
    """Start `text` in `node` without waiting: lets several nodes work at once."""
    node.sendCmd("( set -e\n%s\n) 2>&1; echo %s$?" % (text.strip(), _RC))


def wait(node, what):
    out = node.waitOutput()
    body, _, rc = out.rpartition(_RC)
    if rc.strip() != "0":
        raise LabError("%s failed on %s:\n%s" % (what, node.name, body.strip()))
    return body


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
