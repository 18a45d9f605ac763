"""The validated scenario: plain objects the runtime, the agent and the checks
read. Everything here is complete: defaults are filled, references resolved."""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple
import ipaddress

# self-service network types: tunnelled between the nodes' tunnel IPs
TUNNEL_TYPES = ("vxlan", "geneve")
# their largest MTU over a 1500-byte underlay, as neutron computes it (IPv4: VXLAN's 50
# bytes; Geneve's 30 plus OVN's 38-byte option header, ml2's max_header_size)
TUNNEL_MTU = {"vxlan": 1450, "geneve": 1442}


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
class TunnelPort:
    """A netvirt tunnel port on br-int toward one peer."""
    name: str
    ofport: Optional[int]


@dataclass
class Node:
    name: str
    role: str
    nics: Dict[str, Nic]
    bridge_mappings: Dict[str, str]
    tunnel_ip: Optional[ipaddress.IPv4Address]
    provider_mappings: Dict[str, str] = field(default_factory=dict)   # physnet -> NIC in br-int (netvirt)
    datapath_id: Optional[int] = None                                  # netvirt: its br-int's
    tunnel_lport_tag: Optional[int] = None                             # netvirt
    tunnels: Dict[str, TunnelPort] = field(default_factory=dict)       # peer node -> port (netvirt)
    provider_lport_tag: Optional[int] = None
    provider_ofport: Optional[int] = None
    l3_agent_mode: Optional[str] = None     # legacy, dvr, dvr_snat; None: no L3 agent
    dvr_mac: Optional[str] = None           # with distributed routing: the node's DVR MAC

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
    external: bool = False
    local_vlans: Dict[str, int] = field(default_factory=dict)   # node -> tag, for every node it is on
    elan_tag: Optional[int] = None          # netvirt
    vpn_id: Optional[int] = None            # netvirt, an external network's


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
    name: str                  # the device on br-int: tap + id[:11], qr-/qg- + id[:11]
    network: str
    node: str
    mac: str
    ip: ipaddress.IPv4Address
    device_owner: str          # compute:nova, network:dhcp, network:router_interface, ...
    device_id: str
    security_groups: List[str]
    ofport: Optional[int] = None
    allowed_address_pairs: List[Tuple[ipaddress.IPv4Address, str]] = field(default_factory=list)  # (ip, mac)
    interface: str = "eth0"    # the device inside the instance (or router)
    netns: Optional[str] = None    # a namespace inside the instance holding it (amphora-haproxy)
    lport_tag: Optional[int] = None     # netvirt: genius' logical port tag
    l3_label: Optional[int] = None      # netvirt: the label routed traffic carries in tun_id
    group: Optional[int] = None         # netvirt: its next-hop group


@dataclass
class Instance:
    name: str
    id: str
    node: str
    ports: List[Port]
    keypair: Optional[str]
    address_mode: str          # of the ports in the instance's own namespace
    mtu: int                   # of its first port
    user: str = "cirros"       # who logs in by SSH (cirros; cloud-user on an amphora)
    listen: List[int] = field(default_factory=list)     # TCP ports of its web server
    config_drive: bool = False  # its key from a disk at boot; else fetched from 169.254.169.254
    image: str = "cirros-0.6"   # whose DHCP client sets its address up (topologies/lab.py)
    user_data: Optional[str] = None     # what nova's metadata API serves as its user data

    @property
    def port(self):
        """The first port (an instance of a scenario has one; an amphora two)."""
        return self.ports[0]


@dataclass
class Host:
    """A machine outside the cloud on a physical network (no Open vSwitch)."""
    name: str
    physical_network: str
    address: ipaddress.IPv4Interface
    mac: str
    gateway: Optional[ipaddress.IPv4Address]
    routes: bool = False        # it is an external network's gateway: the cloud's upstream router


@dataclass
class Router:
    """A legacy router: qrouter-<id> on `node`, a qg- port on the external
    network and a qr- port per internal network. A distributed one (DVR) has
    no `node`: `hosts` are its qr- ports as each dvr node has them (the same
    addresses and MACs everywhere), and its SNAT in snat-<id>, with an sg-
    port per interface and the qg- port, as each dvr_snat node hosting it has
    them (`snat_hosts`: one node, or each of an HA one's). An HA one has no
    `node` either: `hosts` are its qr- and qg- ports on each of its nodes,
    plus an ha- port each (`ha_ports`); a distributed HA one has its ha-
    ports on its snat_hosts, where keepalived keeps the SNAT."""
    name: str
    id: str
    node: Optional[str]
    gateway: Optional[Port]
    interfaces: List[Port]
    snat: bool
    vpn_id: Optional[int] = None        # netvirt
    metadata_proxy: bool = False        # the L3 agent's enable_metadata_proxy (topologies/metadata.py): in
                                        # its qrouter-, a distributed one's on each of its hosts
    distributed: bool = False           # neutron's DVR
    hosts: Dict[str, List[Port]] = field(default_factory=dict)
    snat_node: Optional[str] = None                 # the (first) dvr_snat node: its SNAT's at start
    snat_ports: List[Port] = field(default_factory=list)
    snat_hosts: Dict[str, List[Port]] = field(default_factory=dict)     # node: its sg- ports and qg-
    # L3 HA: the nodes hosting it (the first the master at start), each one's ha- port, the VRID
    ha: bool = False
    ha_ports: Dict[str, Port] = field(default_factory=dict)
    vrid: Optional[int] = None
    # DVR floating IPs: per node with one, the rfp-/fpr- pair's addresses (a /31 of 169.254.64.0/18)
    fip_links: Dict[str, Tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]] = field(default_factory=dict)

    @property
    def rfp(self):
        """DVR: its end of the link to the node's fip- namespace (in qrouter-)."""
        return "rfp-" + self.id[:11]

    @property
    def fpr(self):
        return "fpr-" + self.id[:11]

    @property
    def namespace(self):
        return "qrouter-" + self.id

    @property
    def snat_namespace(self):
        return "snat-" + self.id

    def ports(self):
        return ([self.gateway] if self.gateway else []) + list(self.interfaces)

    def bound_ports(self):
        """Its ports on the nodes' br-int: a legacy router's on its node; a
        distributed one's qr- on every node hosting it, sg- and qg- on each
        SNAT node; an HA one's on each of its nodes, an ha- port each; none
        for netvirt's and OVN's."""
        if self.distributed or self.ha:
            return [p for ports in list(self.hosts.values()) + list(self.snat_hosts.values()) for p in ports] + \
                list(self.ha_ports.values())
        return self.ports() if self.node is not None else []


@dataclass
class FloatingIP:
    address: ipaddress.IPv4Address
    id: str
    network: str
    fixed_ip: Optional[ipaddress.IPv4Address]     # None: not bound
    port_id: Optional[str]
    router: Optional[str]                          # the router that serves it (when bound)
    bound_to: Optional[str]                        # "instance02", "load balancer lb"
    mac: Optional[str] = None                      # its port's MAC (netvirt answers ARP with it)
    node: Optional[str] = None                     # DVR: the compute whose fip- namespace serves it
    rule_priority: Optional[int] = None            # DVR: its `ip rule` in that node's qrouter- (from 32768)


@dataclass
class Member:
    id: str
    address: ipaddress.IPv4Address
    port: int
    weight: int
    enabled: bool
    instance: Optional[str]     # the instance at that address, if any


@dataclass
class Pool:
    name: str
    id: str
    protocol: str
    algorithm: str
    members: List[Member]


@dataclass
class Listener:
    name: str
    id: str
    protocol: str
    port: int
    pool: Optional[str]
    connection_limit: int
    timeout_client_data: int
    timeout_member_connect: int
    timeout_member_data: int


@dataclass
class LoadBalancer:
    name: str
    id: str
    vip_network: str
    vip_address: ipaddress.IPv4Address
    vip_port_id: str
    amphora: str                    # the instance playing the amphora
    amphora_id: str
    listeners: Dict[str, Listener]
    pools: Dict[str, Pool]
    security_group: Optional[str]   # the VRRP port's (first) group: Octavia's lb-<id> unless given
    controller: str                 # the node Octavia's controller reaches the amphora from (lb-mgmt)


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

    TITLE_KEYS = ("node", "instance", "where", "load_balancer", "from", "to", "name", "bridge", "port", "expect", "db",
                  "table")


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
    hosts: Dict[str, Host] = field(default_factory=dict)
    sdn: str = "neutron"                      # or netvirt
    sdn_controller: Optional[str] = None      # netvirt's node
    sdn_port: int = 6653
    routers: Dict[str, Router] = field(default_factory=dict)
    floating_ips: List[FloatingIP] = field(default_factory=list)
    load_balancers: Dict[str, LoadBalancer] = field(default_factory=dict)
    l2_population: bool = False
    arp_responder: bool = False
    datapath_type: str = "netdev"             # or system: the kernel module
    restart_daemons: bool = True              # the keeper restarts a dead daemon, as systemd would
    isolated_metadata: bool = True            # the DHCP agent's enable_isolated_metadata
    force_metadata: bool = False              # the DHCP agent's force_metadata
    metadata_ports: Dict[str, Port] = field(default_factory=dict)    # ovn: network -> its ovnmeta- localport
    fip_gateways: List[Port] = field(default_factory=list)   # DVR: each node's fg- port on an external network
    distributed_floating_ips: bool = False    # ovn: [ovn] enable_distributed_floating_ip
    text: Optional[str] = field(default=None, repr=False, compare=False)     # the file's text

    @property
    def dhcp_node(self):
        for role in ("network", "controller"):
            for node in self.nodes.values():
                if node.role == role:
                    return node.name
        return None

    def ports(self, node=None):
        """Every port, or those bound on `node`: instances' first, then DHCP's,
        then routers'."""
        ports = [p for i in self.instances.values() for p in i.ports] + list(self.dhcp_ports.values())
        ports += [p for r in self.routers.values() for p in r.bound_ports()] + list(self.fip_gateways)
        return [p for p in ports if node is None or p.node == node]

    def instance_ports(self):
        return [p for i in self.instances.values() for p in i.ports]

    @property
    def distributed_routing(self):
        """neutron's enable_distributed_routing, on every node's OVS agent once any L3 agent runs DVR."""
        return any(n.l3_agent_mode in ("dvr", "dvr_snat") for n in self.nodes.values())

    @property
    def l3_node(self):
        """Where routers go unless told: the network node (as DHCP)."""
        return self.dhcp_node

    def tunnel_peers(self, node):
        """Tunnel IPs of the other nodes this node has a VXLAN port to: every
        node with a tunnel IP; with l2population only those that share a
        tunnelled network with it, both having ports on it (neutron's agent
        makes a tunnel when the server tells it of a remote port)."""
        me = self.nodes[node]
        if me.tunnel_ip is None:
            return []
        peers = [n for n in self.nodes.values() if n.name != node and n.tunnel_ip is not None]
        if self.l2_population:
            mine = self.tunnelled_networks(node)
            peers = [n for n in peers if mine & self.tunnelled_networks(n.name)]
        return [n.tunnel_ip for n in peers]

    def tunnelled_networks(self, node):
        """Names of the VXLAN networks with a port on `node`."""
        return {p.network for p in self.ports(node) if self.networks[p.network].type in TUNNEL_TYPES}

    def remote_ports(self, node, network):
        """{peer tunnel IP: [ports]}: the ports of `network` on other nodes
        with a tunnel IP (what l2population tells `node` of)."""
        out = {}
        for port in self.ports():
            peer = self.nodes.get(port.node)
            if port.network == network and port.node != node and peer is not None and peer.tunnel_ip is not None:
                out.setdefault(peer.tunnel_ip, []).append(port)
        return out
