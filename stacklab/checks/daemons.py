"""The lab's own health: every process it started still runs (checked by
pid and start time). `stacklab check` runs it before the scenario's checks,
so that a probe failing beside a dead ovs-vswitchd is blamed on it, not on
a flow that did not match."""

from stacklab.checks import FAIL, PASS, Checker, Outcome, register, require
from stacklab.runtime import health
from stacklab.runtime.state import LabState
from stacklab.scenario.schema import Field, Name, Record


@register
class DaemonsCheck(Checker):
    """Every process the lab started runs (or every one at `where`)."""

    kind = "daemons"
    params = Record({
        "where": Field(Name(example="compute1"), doc="Only the processes of this node or namespace."),
    }, doc="The lab's daemons run: ovsdb-server, ovs-vswitchd, the agents, dnsmasq, haproxy, ...")

    def validate(self, scenario, params, report):
        if params["where"] is not None and params["where"] not in set(scenario.nodes) | set(scenario.instances):
            require(scenario.nodes, params["where"], "node", ("where",), report)

    def run(self, lab, p):
        state = LabState.load(lab.name)          # the keeper's latest word (restarts)
        procs = [q for q in state.processes if p["where"] is None or health.split(q.what)[0] == p["where"]]
        dead = [q for q in procs if not q.alive()]
        if dead:
            return Outcome(FAIL, "; ".join(health.describe(q, state) for q in dead),
                           {"dead": [q.what for q in dead]})
        restarted = health.restarted(state)
        return Outcome(PASS, "%d processes run%s" % (len(procs), "; " + "; ".join(restarted) if restarted else ""))
