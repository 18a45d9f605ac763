"""Checks of neutron's routers as the L3 agents keep them: which node's
copy of an HA router is master, as each node's neutron-keepalived-state-change
wrote it (/var/lib/neutron/ha_confs/<router id>/state, read inside the
node, as an operator would)."""

import time

from stacklab.checks import FAIL, PASS, Checker, Outcome, register, require
from stacklab.observe.ha import states
from stacklab.scenario.schema import Field, Int, Name, Record


@register
class RouterStateCheck(Checker):
    """Exactly one node holds an HA router as master (the one named, if any);
    every other node's copy is backup."""

    kind = "router_state"
    params = Record({
        "router": Field(Name(example="router"), required=True, doc="An HA router (`ha: true`)."),
        "master": Field(Name(example="network1"), doc="The node that must be master (default: any one)."),
        "stable": Field(Int(min=0, max=60, example=8), default=0,
                        doc="Seconds it must hold without a change (read every 0.5 s, waiting up to twice as "
                            "long for such a stretch): a backup that hears no master becomes master after three "
                            "adverts (about 7 s), so one look can see a state about to go. 0: one look."),
    }, doc="Which node's copy of an HA router is master, as neutron's state-change monitor wrote it.")

    def validate(self, scenario, params, report):
        require(scenario.routers, params["router"], "router", ("router",), report)
        router = scenario.routers.get(params["router"])
        if router is not None and not router.ha:
            report(("router",), "router %s is no HA router (ha: true)" % router.name)
        elif router is not None and params["master"] is not None and params["master"] not in router.ha_ports:
            report(("master",), "%s does not host router %s%s (it runs on %s)"
                   % (params["master"], router.name, "'s SNAT" if router.distributed else "",
                      ", ".join(router.ha_ports)))

    def run(self, lab, p):
        router = lab.scenario.routers[p["router"]]
        deadline = time.monotonic() + 2 * p["stable"]
        since = None
        while True:
            outcome = self._look(router, states(lab, router), p["master"])
            now = time.monotonic()
            if outcome.verdict == PASS:
                since = now if since is None else since
                if now - since >= p["stable"]:
                    if p["stable"]:
                        outcome.detail += " (for %d s)" % p["stable"]
                    return outcome
            else:
                since = None
                if now >= deadline:
                    return outcome
            time.sleep(0.5)

    @staticmethod
    def _look(router, seen, want):
        masters = [node for node, state in seen.items() if state == "primary"]
        said = ", ".join("%s %s" % (node, state or "(no state)") for node, state in seen.items())
        if len(masters) > 1:
            return Outcome(FAIL, "%s: %s: %d masters (split brain)" % (router.name, said, len(masters)), seen)
        if not masters:
            return Outcome(FAIL, "%s: %s: no master" % (router.name, said), seen)
        if any(state != "backup" for node, state in seen.items() if node not in masters):
            return Outcome(FAIL, "%s: %s: a copy is neither master nor backup" % (router.name, said), seen)
        if want is not None and masters != [want]:
            return Outcome(FAIL, "%s: %s (expected %s master)" % (router.name, said, want), seen)
        return Outcome(PASS, "%s: %s" % (router.name, said), seen)
