"""What every control plane tells the Lab (the list is in __init__.py)."""

from stacklab.errors import LabError


class ControlPlane:
    """Base: what a control plane tells the Lab. `lab` is the Lab it serves
    (its scenario, state, nodes, fabric, supervisor)."""

    NAME = "the control plane"
    # the metadata agent's systemd unit where this control plane runs one
    METADATA_AGENT = ("neutron-metadata-agent", "OpenStack Neutron Metadata Agent")

    def __init__(self, lab):
        self.lab = lab
        self.process = None

    @property
    def scenario(self):
        return self.lab.scenario        # a live change gives the lab a new one

    def binds(self):
        return {}

    def bridge_names(self, node):
        raise NotImplementedError

    def bridges_script(self, node):
        raise NotImplementedError

    def start(self):
        raise NotImplementedError

    def unprogrammed(self):
        raise NotImplementedError

    def summary(self):
        raise NotImplementedError

    def stalled(self, node, what):
        """The subject of the error when `what` of `node` is never confirmed."""
        return "%s did not program %s of %s" % (self.NAME, what, node)

    def log_path(self):
        return self.process.log_path()

    def log_tail(self, lines=5):
        return self.process.log_tail(lines)

    def settle(self):
        """Bring the switches to what the control plane's next full pass
        leaves: what it would remove (flows added by hand) removed. What was
        done, for the grader's log."""
        return []

    def units(self, where):
        """The systemd units of its own on node `where` (topologies/units.py)."""
        return []

    def update_plans(self):
        """Write every plan again from the lab's scenario; the nodes whose plan changed."""
        raise LabError("live changes are not made with %s: rebuild the lab" % self.NAME)

    def plans_line(self, plans):
        """What `apply` says once the flows of a change are confirmed."""
        return "agents: new plans for %s, flows confirmed" % ", ".join(plans) if plans else "agents: flows confirmed"

    def update_tunnels(self, old, new):
        """Add and remove tunnel ports for a live change from `old` to `new`; what changed."""
        raise LabError("live changes are not made with %s: rebuild the lab" % self.NAME)
