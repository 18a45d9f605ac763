"""Which of a lab's recorded processes still run. `status`, `check` and
`apply` look here first: a dead ovs-vswitchd is named as what it is, not
found later as a flow that did not match or a command that timed out.

A process is recorded as "<where> <daemon>" (compute1 ovs-vswitchd,
qdhcp-<network id> dnsmasq, agents neutron-openvswitch-agent) with its pid
and start time; a recycled pid never passes for it."""

from stacklab.naming import invocation

# What each Open vSwitch command needs running on its node. ovs-vswitchd
# without its ovsdb-server spins trying to reconnect and answers nothing
# (an ovs-ofctl waited 30 s for it): its commands need both.
OVS_COMMAND_NEEDS = {
    "ovs-vsctl": ("ovsdb-server",),
    "ovs-ofctl": ("ovsdb-server", "ovs-vswitchd"),
    "ovs-appctl": ("ovsdb-server", "ovs-vswitchd"),
    "ovs-dpctl": ("ovsdb-server", "ovs-vswitchd"),
}


def split(what):
    """("compute1", "ovs-vswitchd") of a record's "compute1 ovs-vswitchd"."""
    where, _, daemon = what.partition(" ")
    return where, daemon


def dead(state):
    """The recorded processes that no longer run, in the record's order."""
    return [p for p in state.processes if not p.alive()]


def describe(proc, state):
    """compute1: ovs-vswitchd dead (restarted 2x)"""
    where, daemon = split(proc.what)
    return "%s: %s dead%s" % (where, daemon, _restarts(state, proc.what))


def _restarts(state, what):
    info = state.daemons.get(what) or {}
    if info.get("stopped"):
        return " (%s)" % info["stopped"]
    parts = []
    if info.get("restarts"):
        parts.append("restarted %dx" % info["restarts"])
    if info.get("gave_up"):
        parts.append(info["gave_up"])
    elif info.get("restart") and not parts:
        parts.append("the keeper restarts it")
    elif info and not info.get("restart"):
        parts.append("restarting is off")
    return " (%s)" % ", ".join(parts) if parts else ""


def restarted(state):
    """["compute1: ovs-vswitchd restarted 1x (last: killed by SIGKILL)"] for every daemon restarted."""
    out = []
    for what, info in sorted(state.daemons.items()):
        if info.get("restarts"):
            where, daemon = split(what)
            out.append("%s: %s restarted %dx%s" % (where, daemon, info["restarts"],
                                                   " (last: %s)" % info["last"] if info.get("last") else ""))
    return out


def blocking(dead_names, where, argv, lab):
    """Why running `argv` at `where` is pointless now (a dead daemon it
    needs, among `dead_names`: "<where> <daemon>"), or None: an ovs-vsctl
    against a dead ovsdb-server would wait for it forever."""
    needs = OVS_COMMAND_NEEDS.get(argv[0] if argv else None)
    if not needs:
        return None
    gone = [daemon for w, daemon in map(split, dead_names) if w == where and daemon in needs]
    if not gone:
        return None
    return "%s needs %s, which is dead on %s (%s)" % (argv[0], " and ".join(gone), where, invocation("status " + lab))
