"""neutron's Open vSwitch agent, played by an os-ken app in every node: one
class per bridge (br_int, br_tun, br_phys), the OVS firewall (firewall), a
node's whole flow set (pipeline), what the lab tells it (plan), the app
(agent). See docs/agent.md for which file builds which table."""
