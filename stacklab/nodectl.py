"""`systemctl` as a lab's node (or amphora) has it: the lab puts a
`systemctl` that runs this on the PATH of every node and amphora, so
`systemctl restart neutron-openvswitch-agent` typed in a node does what it
does on a real node. Which lab and which node: the network namespace it
runs in, matched against the running labs' records. The work is done by
the lab's keeper (topologies/units.py), which owns the processes.

    systemctl [status|start|stop|restart|is-active] UNIT...
    systemctl [list-units]

An instance's `reboot` runs it too (--reboot): the instance boots again."""

import os
import sys

from stacklab.errors import StacklabError
from stacklab.runtime import procs
from stacklab.runtime.state import LabState, running_labs

VERBS = ("status", "start", "stop", "restart", "is-active", "list-units")


def where_am_i():
    """(lab name, node or instance) of the namespace this process runs in, or None."""
    netns = os.stat("/proc/self/ns/net").st_ino
    for name in running_labs():
        try:
            state = LabState.load(name)
        except StacklabError:
            continue
        for where, ns in state.namespaces.items():
            if ns.get("netns") == netns and ns.get("kind") in ("node", "instance"):
                return name, where
    return None


def reboot():
    """`reboot` typed in an instance: the lab boots it again (Lab.reboot_instance)."""
    from stacklab import runner
    here = where_am_i()
    if here is None:
        print("reboot: not inside a stacklab instance", file=sys.stderr)
        return 1
    lab, where = here
    try:
        print(runner.reboot(lab, where))
    except StacklabError as e:
        print("reboot: %s" % e, file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    from stacklab import runner
    procs.use_machine_proc()        # the keeper and the lab's daemons are the machine's processes
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--reboot"]:
        return reboot()
    args = [a for a in argv if not a.startswith("-")]
    verb = args[0] if args else "list-units"
    if verb not in VERBS:
        print("Unknown command verb %s (stacklab's systemctl knows %s)." % (verb, ", ".join(VERBS)), file=sys.stderr)
        return 1
    here = where_am_i()
    if here is None:
        print("systemctl: not inside a stacklab node", file=sys.stderr)
        return 1
    lab, where = here
    units = args[1:] or ([""] if verb == "list-units" else [])
    if not units:
        print("Too few arguments.", file=sys.stderr)
        return 1
    code = 0
    for unit in units:
        rc, output = runner.service(lab, where, unit, verb)
        if output:
            print(output, file=sys.stdout if rc in (0, 3) or verb in ("status", "is-active") else sys.stderr)
        code = code or rc
    return code


if __name__ == "__main__":
    sys.exit(main())
