"""What a lab will cost before it is built: memory and time, from the
figures `make bench` measures (README, "Figures"), so that `up` refuses a
lab the machine cannot hold instead of swapping it to a standstill, and
`validate` tells what a scenario asks for.

Memory (PSS, every process of the lab): a node is its ovsdb-server,
ovs-vswitchd and shell, ~20 MB, growing with its VXLAN ports (a full mesh
of N nodes: N-1 each); an instance is a shell, a DHCP client and dropbear;
an amphora adds its agent (Python) and haproxy; the agents' process (or
netvirt's) and the keeper are paid once. Time follows the scale table:
linear in the nodes, plus the mesh (every node's tunnels to every other)."""

from dataclasses import dataclass

NODE_MB = 20.0
TUNNEL_MB = 0.035
INSTANCE_MB = 1.5
AMPHORA_MB = 45.0
CONTROLLER_PROCESS_MB = 60.0     # the agents' os-ken process, or netvirt's, and the keeper
DHCP_MB = 2.0                    # a qdhcp- namespace with dnsmasq
ROUTER_MB = 1.0

SECONDS_FIXED = 2.0
SECONDS_PER_NODE = 0.25
SECONDS_PER_NODE_PAIR = 0.0022   # (nodes^2: the mesh)

# Kept free for everything else on the machine: a tenth of it, at least this.
MARGIN_MB = 256


@dataclass
class Estimate:
    memory_mb: float
    seconds: float

    def __str__(self):
        return "about %s of memory and %s to build" % (_mb(self.memory_mb), _duration(self.seconds))


def _mb(mb):
    return "%.1f GB" % (mb / 1024.0) if mb >= 1024 else "%.0f MB" % mb


def _duration(seconds):
    return "%.0f s" % seconds if seconds < 120 else "%.0f min" % (seconds / 60.0)


def estimate(scenario):
    """The Estimate of building `scenario`."""
    nodes = len(scenario.nodes)
    tunnelled = sum(1 for n in scenario.nodes.values() if n.tunnel_ip is not None)
    amphorae = {lb.amphora for lb in scenario.load_balancers.values()}
    instances = len(scenario.instances) - len(amphorae)
    routers = sum(1 for r in scenario.routers.values() if r.node is not None)
    memory = (CONTROLLER_PROCESS_MB + nodes * NODE_MB + tunnelled * max(tunnelled - 1, 0) * TUNNEL_MB
              + instances * INSTANCE_MB + len(amphorae) * AMPHORA_MB + len(scenario.dhcp_ports) * DHCP_MB
              + routers * ROUTER_MB)
    seconds = SECONDS_FIXED + nodes * SECONDS_PER_NODE + nodes * nodes * SECONDS_PER_NODE_PAIR
    return Estimate(memory, seconds)


def available_mb(meminfo="/proc/meminfo"):
    """(MemAvailable, MemTotal) in MB."""
    values = {}
    with open(meminfo) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("MemAvailable", "MemTotal"):
                values[key] = int(rest.split()[0]) / 1024.0
    return values.get("MemAvailable", 0.0), values.get("MemTotal", 0.0)


def refusal(est, available, total):
    """Why the machine cannot hold a lab of `est`, or None."""
    margin = max(MARGIN_MB, total / 10.0)
    room = available - margin
    if est.memory_mb > room:
        return ("this lab needs %s, and this machine has %s available (%s kept free for the rest): "
                "make it smaller, free memory, or build it anyway with --force"
                % (_mb(est.memory_mb), _mb(available), _mb(margin)))
    return None
