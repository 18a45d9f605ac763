"""What the lab tells the netvirt controller: the whole cloud, as neutron's
northbound and genius' id pools give it to OpenDaylight (one file on the
controller node, rewritten when the cloud changes). Plain data, so the
service modules can be tested without a lab."""

from dataclasses import asdict, dataclass, field
import json
from typing import Dict, List, Optional

from controller.appkit import JsonFile

PLAN_FILE = "/var/lib/odl/stacklab-netvirt-plan.json"
STATUS_FILE = "/var/lib/odl/stacklab-netvirt-status.json"


@dataclass
class Node:
    name: str
    dpid: int
    tunnel_ip: Optional[str] = None
    tunnel_lport_tag: Optional[int] = None
    tunnels: Dict[str, str] = field(default_factory=dict)     # peer node -> tunnel port name on br-int
    provider_nic: Optional[str] = None                         # the external network's NIC on br-int
    provider_lport_tag: Optional[int] = None


@dataclass
class Network:
    name: str
    elan_tag: int
    cidr: str
    external: bool = False
    vpn_id: Optional[int] = None        # an external network's VPN (floating IPs)
    router: Optional[str] = None        # the router it is an interface of
    gateway_ip: Optional[str] = None    # that interface's address and MAC
    gateway_mac: Optional[str] = None
    upstream_mac: Optional[str] = None  # external: the subnet gateway's MAC (ODL resolves it by ARP)


@dataclass
class Router:
    name: str
    vpn_id: int


@dataclass
class Port:
    """A VM port bound on a node's br-int."""
    name: str
    node: str
    network: str
    mac: str
    ip: str
    lport_tag: int
    label: Optional[int] = None         # routed traffic toward it over tunnels carries this tun_id
    group: Optional[int] = None         # its next-hop group on its node


@dataclass
class FloatingIp:
    address: str
    mac: str                            # the floating IP port's MAC
    port: str                           # the VM port it is bound to
    network: str                        # the external network


@dataclass
class Plan(JsonFile):
    nodes: Dict[str, Node]
    networks: Dict[str, Network]
    routers: Dict[str, Router]
    ports: Dict[str, Port]
    floating_ips: List[FloatingIp] = field(default_factory=list)

    def node_by_dpid(self, dpid):
        return next((n for n in self.nodes.values() if n.dpid == dpid), None)

    def to_json(self):
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        d = json.loads(text)
        return cls(nodes={k: Node(**v) for k, v in d["nodes"].items()},
                   networks={k: Network(**v) for k, v in d["networks"].items()},
                   routers={k: Router(**v) for k, v in d["routers"].items()},
                   ports={k: Port(**v) for k, v in d["ports"].items()},
                   floating_ips=[FloatingIp(**f) for f in d.get("floating_ips", [])])
