"""What a node's agent is told about the cloud: the networks bound on the node
with their local VLANs, the node's ports, and the security groups those
ports use with their members. It is what neutron's server sends an OVS agent
over RPC; here the lab writes it as JSON into the node (/var/lib/neutron) and
rewrites it when the cloud changes. Plain data: the bridge classes take these
objects and nothing else, so they can be tested without a lab."""

from dataclasses import asdict, dataclass, field
import json
from typing import Dict, List, Optional

from controller.appkit import JsonFile
from controller.neutron.br_int import RATE_LIMIT_TABLE

PLAN_FILE = "/var/lib/neutron/stacklab-agent-plan.json"
STATUS_FILE = "/var/lib/neutron/stacklab-agent-status.json"
# What the node asks of its agent, as systemd and an operator would: {"id": n, "action": restart | stop |
# start | resync}. The agent answers in its status ("handled": n) once it is done.
REQUEST_FILE = "/var/lib/neutron/stacklab-agent-request.json"
REQUEST_ACTIONS = ("restart", "stop", "start", "resync")

# The agent releases whose flow sets differ where the documents differ, oldest first
# (one list: br_int.py's table map; the scenario format offers these, the last by default).
RELEASES = tuple(RATE_LIMIT_TABLE)
DEFAULT_RELEASE = RELEASES[-1]


@dataclass
class NetworkBinding:
    id: str
    name: str
    type: str                           # flat, vlan or vxlan
    segmentation_id: Optional[int]      # VLAN id or VNI; None for flat
    physical_network: Optional[str]
    local_vlan: int


@dataclass
class PortBinding:
    id: str
    name: str                           # the device on br-int, e.g. tap8811e933-5c
    network: str                        # network id
    mac: str
    ips: List[str]
    device_owner: str = "compute:nova"
    security_groups: List[str] = field(default_factory=list)   # ids
    port_security: bool = True
    allowed_address_pairs: List[List[str]] = field(default_factory=list)   # [[ip, mac], ...]

    @property
    def trusted(self):
        """neutron's own ports (DHCP, router) are not filtered."""
        return self.device_owner.startswith("network:")


@dataclass
class SecurityGroupRule:
    direction: str                      # ingress or egress
    ethertype: str                      # IPv4 or IPv6
    protocol: Optional[str] = None      # icmp, tcp, udp, ipv6-icmp; None: any
    port_min: Optional[int] = None
    port_max: Optional[int] = None
    remote_ip: Optional[str] = None     # a prefix; None: any
    remote_group: Optional[str] = None  # a group id


@dataclass
class SecurityGroup:
    id: str
    name: str
    rules: List[SecurityGroupRule]
    members: Dict[str, List[List[str]]] = field(default_factory=dict)   # ethertype -> [[ip, mac], ...]


@dataclass
class NodePlan(JsonFile):
    node: str
    release: str
    networks: Dict[str, NetworkBinding]            # by id
    ports: Dict[str, PortBinding]                  # by device name
    security_groups: Dict[str, SecurityGroup]      # by id
    physical_bridges: Dict[str, str]               # physical network -> bridge
    tunnel_ports: Dict[str, str] = field(default_factory=dict)    # vxlan port name -> remote IP
    tunnel_ip: Optional[str] = None
    # l2population: what the server tells the agent of the other nodes' ports,
    # network id -> vxlan port name -> [[mac, ip], ...] (a node listed here
    # gets the network's floods, even with no port but its DHCP's)
    l2_population: bool = False
    arp_responder: bool = False
    fdb: Dict[str, Dict[str, List[List[str]]]] = field(default_factory=dict)
    # DVR (the agents' enable_distributed_routing): this node's DVR MAC (None: DVR off), the
    # other nodes' DVR MACs, and by network id the gateway [ip, mac] of the distributed
    # routers' subnets bound here (what the server's get_subnet_for_dvr answers)
    dvr_mac: Optional[str] = None
    dvr_macs: List[str] = field(default_factory=list)
    dvr_gateways: Dict[str, List[str]] = field(default_factory=dict)

    def to_json(self):
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        d = json.loads(text)
        return cls(
            node=d["node"], release=d["release"],
            networks={k: NetworkBinding(**v) for k, v in d["networks"].items()},
            ports={k: PortBinding(**v) for k, v in d["ports"].items()},
            security_groups={k: SecurityGroup(v["id"], v["name"], [SecurityGroupRule(**r) for r in v["rules"]],
                                              v.get("members", {}))
                             for k, v in d["security_groups"].items()},
            physical_bridges=d["physical_bridges"], tunnel_ports=d.get("tunnel_ports", {}),
            tunnel_ip=d.get("tunnel_ip"), l2_population=d.get("l2_population", False),
            arp_responder=d.get("arp_responder", False), fdb=d.get("fdb", {}),
            dvr_mac=d.get("dvr_mac"), dvr_macs=d.get("dvr_macs", []), dvr_gateways=d.get("dvr_gateways", {}))
