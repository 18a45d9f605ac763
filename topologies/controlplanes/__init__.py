"""The control planes: what programs the nodes' switches. Each is one module
behind ControlPlane (neutron.py: neutron's OVS agent on every node; netvirt.py:
OpenDaylight netvirt, one controller for the cloud; ovn.py: the real OVN,
ovn-central and an ovn-controller per node), chosen by the scenario's
`sdn: {type: ...}`. The Lab composes its build steps and asks its control
plane, never which one it is:

  binds()               private directories its processes need on nodes
  bridge_names(node)    the bridges a node gets
  bridges_script(node)  shell text that makes them (one transaction)
  start()               write the plans, start the process(es), watch them
  unprogrammed()        [(node, what)] not confirmed yet (`up` waits)
  summary()             what is programmed, for the progress line
  stalled(node, what)   the subject of the error when `up` waits in vain
  process               its process (pidfile(), pid(), log_path(), log_tail(n))
  units(where)          its systemd units on a node (`systemctl` there: topologies/units.py)
  update_plans()        a live change: plans written again, the nodes whose changed
  update_tunnels(old, new)  a live change: tunnel ports that come or go

To add one (neutron DVR/HA): a module here with a ControlPlane
subclass (base.py), its class in PLANES, its scenario keys in stacklab/scenario/."""

from topologies.controlplanes.netvirt import Netvirt
from topologies.controlplanes.neutron import NeutronAgents
from topologies.controlplanes.ovn import Ovn

# the scenario's sdn type -> its control plane
PLANES = {
    "neutron": NeutronAgents,
    "netvirt": Netvirt,
    "ovn": Ovn,
}


def control_plane(lab):
    """The ControlPlane of `lab`'s scenario."""
    return PLANES[lab.scenario.sdn](lab)
