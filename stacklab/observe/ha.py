"""An HA router's state on each of its nodes, as neutron-keepalived-state-change
wrote it (read inside the node, as an operator would)."""

HA_CONFS = "/var/lib/neutron/ha_confs"      # the L3 agent's ha_confs_path: <router id>/keepalived.conf, state
STATE_FILE = HA_CONFS + "/%s/state"


def states(lab, router):
    """{node: primary | backup | None (no state written)} of HA router
    `router` on each node running its keepalived (a distributed one's: its
    dvr_snat nodes)."""
    out = {}
    for node in router.ha_ports:
        proc = lab.run(node, ["cat", STATE_FILE % router.id])
        out[node] = (proc.stdout.strip() or None) if proc.returncode == 0 else None
    return out


def master(lab, router):
    """The node whose copy of `router` is primary (the first, if several), or None."""
    return next((node for node, state in states(lab, router).items() if state == "primary"), None)
