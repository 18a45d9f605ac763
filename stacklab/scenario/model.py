"""The validated scenario: plain objects the runtime, the agent and the checks
read. Everything here is complete: defaults are filled, references resolved."""

from dataclasses import dataclass, field
from typing import Dict, List, Optional
import ipaddress


@dataclass
class Nic:
    name: str
    physical_network: str
    address: Optional[ipaddress.IPv4Interface]
    mac: str
    bridge: Optional[str]          # the OVS bridge holding this NIC, from bridge_mappings

    @property
    def ip_device(self):
        """Where the address lives: the bridge's internal port, or the NIC."""
        return self.bridge or self.name


@dataclass
class Node:
    name: str
    role: str
    nics: Dict[str, Nic]
    bridge_mappings: Dict[str, str]
    tunnel_ip: Optional[ipaddress.IPv4Address]

    @property
    def physical_bridges(self):
        return list(dict.fromkeys(self.bridge_mappings.values()))

    def addresses(self):
        return [nic.address for nic in self.nics.values() if nic.address]


@dataclass
class Subnet:
    cidr: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    pool_start: ipaddress.IPv4Address
    pool_end: ipaddress.IPv4Address
    dhcp: bool
    dns_nameservers: List[ipaddress.IPv4Address]


@dataclass
class Network:
    name: str
    id: str
    type: str
    segmentation_id: Optional[int]
    physical_network: Optional[str]
    mtu: int
    subnet: Subnet
    local_vlans: Dict[str, int] = field(default_factory=dict)   # node -> tag, for every node it is on


@dataclass
class Rule:
    direction: str
    ethertype: str
    protocol: Optional[str]                  # None: any protocol
    port_min: Optional[int]
    port_max: Optional[int]
    remote_ip: Optional[ipaddress.IPv4Network]
    remote_group: Optional[str]


@dataclass
class SecurityGroup:
    name: str
    id: str
    rules: List[Rule]


@dataclass
class Keypair:
    name: str
    public_key: Optional[str]
    private_key_file: Optional[str]


@dataclass
class Port:
    """A neutron port bound to a node's br-int."""
    id: str
    name: str                  # the device on br-int: tap + id[:11]
    network: str
    node: str
    mac: str
    ip: ipaddress.IPv4Address
    device_owner: str          # compute:nova or network:dhcp
    device_id: str
    security_groups: List[str]
    ofport: Optional[int] = None


@dataclass
class Instance:
    name: str
    id: str
    node: str
    port: Port
    keypair: Optional[str]
    address_mode: str
    mtu: int


@dataclass
class Check:
    kind: str
    params: dict
    index: int
    line: Optional[int]

    @property
    def title(self):
        """e.g. `port compute1 vxlan-ac10000b`: the kind, then what it is about."""
        about = [str(self.params[k]) for k in self.TITLE_KEYS if self.params.get(k) is not None]
        return " ".join([self.kind] + about)

    TITLE_KEYS = ("node", "instance", "from", "to", "name", "bridge", "port", "expect")


@dataclass
class Scenario:
    name: str
    file: str
    description: str
    reference: Optional[str]
    agent_release: str
    nodes: Dict[str, Node]
    networks: Dict[str, Network]
    security_groups: Dict[str, SecurityGroup]
    keypairs: Dict[str, Keypair]
    instances: Dict[str, Instance]
    dhcp_ports: Dict[str, Port]        # network -> its DHCP port
    checks: List[Check]

    @property
    def dhcp_node(self):
        for role in ("network", "controller"):
            for node in self.nodes.values():
                if node.role == role:
                    return node.name
        return None

    def ports(self, node=None):
        """Every port, or those bound on `node`, instances' first then DHCP."""
        ports = [i.port for i in self.instances.values()] + list(self.dhcp_ports.values())
        return [p for p in ports if node is None or p.node == node]

    def tunnel_peers(self, node):
        """Tunnel IPs of the other nodes that have one (one VXLAN port each)."""
        me = self.nodes[node]
        if me.tunnel_ip is None:
            return []
        return [n.tunnel_ip for n in self.nodes.values() if n.name != node and n.tunnel_ip is not None]
