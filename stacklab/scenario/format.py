"""The scenario format: every key a scenario may have, its type, default and
an example. The validator and docs/scenario.schema.json are both made from it."""

from controller.neutron.plan import DEFAULT_RELEASE, RELEASES
from stacklab.datapath import DATAPATH_TYPES
from stacklab.scenario.schema import (
    Bool, Field, Int, IPv4Address, IPv4Interface, IPv4Network, ListOf, MAC, MapOf,
    Name, OneOfKinds, Record, Str, UUID, with_examples,
)

ROLES = ("controller", "network", "compute")
L3_AGENT_MODES = ("legacy", "dvr", "dvr_snat")
NETWORK_TYPES = ("flat", "vlan", "vxlan", "geneve")

NIC = Record({
    "physical_network": Field(Name(example="provider"), required=True,
                              doc="The emulated physical network (a switch joining the nodes) this NIC is "
                                  "plugged into. If the node's bridge_mappings map it to a bridge, the NIC "
                                  "becomes a port of that bridge, as eth0 in br-provider in the documents."),
    "address": Field(IPv4Interface(example="172.16.0.31/24"),
                     doc="The node's address on that network. When the NIC is in a bridge, the address "
                         "goes on the bridge's internal port (br-provider), as on a real node."),
    "mac": Field(MAC(example="00:15:5d:bf:ba:42"), doc="The NIC's MAC address (default: generated)."),
}, doc="A network interface of an emulated node.")

TUNNEL_PORT = Record({
    "name": Field(Name(example="tun4a3b08ef6e9", max_len=15), doc="The port's name on br-int."),
    "ofport": Field(Int(min=1, max=65279, example=6), doc="Its OpenFlow port number."),
}, doc="A netvirt tunnel port on br-int toward one peer node.")

NODE_NETVIRT = Record({
    "tunnel_lport_tag": Field(Int(min=1, max=0x1fffff, example=0x44),
                              doc="The lport tag of the node's tunnel ports (written to metadata in table 0)."),
    "tunnels": Field(MapOf(TUNNEL_PORT, example={"compute2": {"name": "tun4a3b08ef6e9", "ofport": 6}}),
                     default=dict, doc="Tunnel ports by peer node (default names: tun + 11 hex digits)."),
    "provider_lport_tag": Field(Int(min=1, max=0x1fffff, example=3), doc="The lport tag of the provider NIC."),
    "provider_ofport": Field(Int(min=1, max=65279, example=1), doc="The provider NIC's OpenFlow port."),
}, doc="What OpenDaylight's genius gives a node (with `sdn: {type: netvirt}`).")

NODE = Record({
    "role": Field(Str(choices=ROLES, example="compute"), required=True,
                  doc="controller, network or compute. The DHCP agent runs on the first controller or "
                      "network node."),
    "nics": Field(MapOf(NIC, key=Name(max_len=15), example={"eth0": {"physical_network": "provider",
                                                                    "address": "172.16.0.31/24"}}),
                  default=dict, doc="The node's NICs by interface name (eth0, eth1, ...)."),
    "bridge_mappings": Field(MapOf(Name(max_len=15), example={"provider": "br-provider"}), default=dict,
                             doc="neutron's bridge_mappings: which physical networks the node reaches, "
                                 "through which OVS bridge."),
    "tunnel_ip": Field(IPv4Address(example="172.16.0.31"),
                       doc="neutron's local_ip: the address VXLAN tunnels start from. Default: the "
                           "node's first address when the scenario has a vxlan network."),
    "provider_mappings": Field(MapOf(Name(max_len=15), example={"ext": "eth1"}), default=dict,
                               doc="OpenDaylight's provider_mappings (netvirt only): the NIC of a physical "
                                   "network, plugged straight into br-int."),
    "netvirt": Field(NODE_NETVIRT, default=dict),
    "l3_agent_mode": Field(Str(choices=L3_AGENT_MODES, example="dvr"),
                           doc="The agent_mode of the node's neutron L3 agent: legacy (routers live whole on "
                               "one node), dvr (a compute: the distributed routers of its instances, east-west "
                               "routing on the node itself) or dvr_snat (a network node: distributed routers "
                               "and their centralized SNAT in snat-<router id>). Default: legacy on controller "
                               "and network nodes, no L3 agent on computes. Any dvr or dvr_snat node turns on "
                               "the OVS agents' enable_distributed_routing on every node."),
    "dvr_mac": Field(MAC(example="fa:16:3f:5c:1a:0e"),
                     doc="The node's DVR MAC, which neutron's server gives each host from dvr_base_mac "
                         "fa:16:3f:00:00:00; routed frames leave the node with it (default: derived from the "
                         "node's name)."),
}, doc="An emulated node with its own Open vSwitch.")

SUBNET = Record({
    "cidr": Field(IPv4Network(example="192.168.101.0/24"), required=True, doc="The subnet."),
    "gateway": Field(IPv4Address(example="192.168.101.1"), doc="Gateway address (default: the first host)."),
    "allocation_pool": Field(Record({
        "start": Field(IPv4Address(example="192.168.101.2"), required=True),
        "end": Field(IPv4Address(example="192.168.101.254"), required=True),
    }), doc="Addresses given to ports (default: every host address but the gateway)."),
    "dhcp": Field(Bool(example=True), default=True, doc="Whether neutron's DHCP serves this subnet."),
    "dns_nameservers": Field(ListOf(IPv4Address(), example=["8.8.8.8"]), default=list,
                             doc="DNS servers handed out by DHCP."),
}, doc="The network's IPv4 subnet.")

NETWORK = Record({
    "id": Field(UUID(example="9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1"),
                doc="The network id (default: derived from the network's name, never from the lab's)."),
    "type": Field(Str(choices=NETWORK_TYPES, example="vxlan"), required=True,
                  doc="flat (untagged on a physical network), vlan (tagged), vxlan (self-service) or geneve "
                      "(self-service on ML2/OVN: `sdn: {type: ovn}`)."),
    "segmentation_id": Field(Int(min=1, max=16777215, example=203),
                             doc="VLAN id (vlan, 1-4094) or VNI (vxlan, geneve). Required for vlan; for vxlan "
                                 "and geneve allocated from 1 upward when left out."),
    "physical_network": Field(Name(example="provider"), doc="Physical network of a flat or vlan network."),
    "mtu": Field(Int(min=68, max=9000, example=1450), doc="Default: 1450 for vxlan, 1442 for geneve (as neutron computes them for a "
                                                        "1500-byte underlay), 1500 otherwise."),
    "local_vlans": Field(MapOf(Int(min=1, max=4094), example={"compute1": 3}), default=dict,
                         doc="Pinned local VLAN tag per node, as the documents show them. A network with "
                             "a pinned tag on a node is provisioned there even without ports."),
    "subnet": Field(SUBNET, required=True),
    "dhcp_port": Field(Record({
        "port_id": Field(UUID(example="34a023b5-05c6-4a5e-8f1d-2b3c4d5e6f70"),
                         doc="The DHCP port's id: its device is tap + its first 11 characters (default: derived)."),
        "mac": Field(MAC(example="fa:16:3e:0a:18:e4"), doc="Default: derived."),
        "ip": Field(IPv4Address(example="192.168.101.2"),
                    doc="Default: the first free pool address, taken before any instance's, as neutron does."),
        "ofport": Field(Int(min=1, max=65279, example=3),
                        doc="Its OpenFlow port number on the DHCP node's br-int (default: the next free one)."),
    }), default=dict, doc="The network's DHCP port (neutron's network:dhcp port in qdhcp-<network id>), "
                          "pinned as a deployment has it."),
    "external": Field(Bool(example=True), default=False,
                      doc="neutron's router:external: routers take their gateway and floating IPs from it. "
                          "It must be flat or vlan (it rides a physical network)."),
    "netvirt": Field(Record({
        "elan_tag": Field(Int(min=1, max=0xffff, example=5000), doc="The network's ELAN tag (metadata)."),
        "vpn_id": Field(Int(min=1, max=0x7fffff, example=70016),
                        doc="An external network's VPN id (floating IPs' FIB entries)."),
    }), default=dict, doc="What OpenDaylight gives the network (with `sdn: {type: netvirt}`)."),
}, doc="A neutron network with one IPv4 subnet.")

RULE = Record({
    "direction": Field(Str(choices=("ingress", "egress"), example="ingress"), required=True),
    "ethertype": Field(Str(choices=("IPv4", "IPv6"), example="IPv4"), default="IPv4"),
    "protocol": Field(Str(choices=("icmp", "tcp", "udp", "any"), example="tcp"), default="any"),
    "port": Field(Int(min=1, max=65535, example=22), doc="A single destination port (tcp/udp)."),
    "port_range": Field(Str(pattern=r"\d{1,5}-\d{1,5}", hint="a range like 8000-8080", example="8000-8080"),
                        doc="A destination port range (tcp/udp)."),
    "remote_ip": Field(IPv4Network(example="0.0.0.0/0"), doc="Remote CIDR (default: anywhere)."),
    "remote_group": Field(Name(example="default"), doc="Remote security group, by name."),
}, doc="A security group rule.")

SECURITY_GROUP = Record({
    "id": Field(UUID(example="87fd4685-d317-42fb-a487-28382d2c2750")),
    "default_egress": Field(Bool(), default=True,
                            doc="Add neutron's default rules allowing all egress IPv4 and IPv6."),
    "rules": Field(ListOf(RULE, example=[{"direction": "ingress", "protocol": "tcp", "port": 22}]),
                   default=list),
}, doc="A security group.")

KEYPAIR = Record({
    "public_key": Field(Str(example="ssh-rsa AAAA... user@host"), doc="OpenSSH public key (default: "
                                                                      "a key pair generated per lab)."),
    "private_key_file": Field(Str(example="demo_rsa"), doc="The matching private key, for `stacklab ssh`."),
}, doc="A key pair for SSH logins to instances.")

ADDRESS_PAIR = Record({
    "ip_address": Field(IPv4Address(example="192.168.101.228"), required=True,
                        doc="An address the port may also send from and receive on (e.g. a VIP)."),
    "mac_address": Field(MAC(example="fa:16:3e:46:89:39"), doc="Default: the port's own MAC."),
}, doc="An allowed address pair of a port.", shorthand="ip_address")

INSTANCE = Record({
    "id": Field(UUID(example="36b496b2-4976-4bf1-88c0-09f44385fd19"), doc="The instance (vm) uuid."),
    "node": Field(Name(example="compute1"), required=True, doc="The compute node the instance runs on."),
    "network": Field(Name(example="selfservice"), required=True, doc="The network of its port."),
    "ip": Field(IPv4Address(example="192.168.101.19"), doc="Fixed IP (default: next free in the pool)."),
    "mac": Field(MAC(example="fa:16:3e:55:18:7a"), doc="Port MAC (default: fa:16:3e:xx:xx:xx, derived)."),
    "port_id": Field(UUID(example="8811e933-5c8e-4d6f-9c61-3c1d5a6f0e27"),
                     doc="Neutron port id; the tap is named tap + its first 11 characters."),
    "ofport": Field(Int(min=1, max=65279, example=3), doc="The tap's OpenFlow port number on br-int."),
    "security_groups": Field(ListOf(Name(), example=["default"]), default=lambda: ["default"]),
    "keypair": Field(Name(example="mykey")),
    "allowed_address_pairs": Field(ListOf(ADDRESS_PAIR, example=[{"ip_address": "192.168.101.228"}]),
                                   default=list, doc="Addresses the port's anti-spoofing flows also let through, "
                                                     "as neutron's allowed-address-pairs extension."),
    "netvirt": Field(Record({
        "lport_tag": Field(Int(min=1, max=0x1fffff, example=0x41), doc="The port's lport tag."),
        "l3_label": Field(Int(min=1, max=0xffffff, example=0x11186),
                          doc="The label that carries routed traffic for it over tunnels (tun_id)."),
        "group": Field(Int(min=1, example=150004), doc="Its next-hop group on its node."),
    }), default=dict, doc="What OpenDaylight gives the port (with `sdn: {type: netvirt}`)."),
    "listen": Field(ListOf(Int(min=1, max=65535), example=[80]), default=list,
                    doc="TCP ports where a small web server in the instance answers (busybox httpd), "
                        "a page naming the instance: something for security group rules to open or close."),
    "address_mode": Field(Str(choices=("dhcp", "static"), example="dhcp"), default="dhcp",
                          doc="dhcp: the instance asks for its address with a DHCP client (udhcpc), as cirros "
                              "does at boot, from dnsmasq in qdhcp-<network id>; static: configured directly "
                              "(always, when the subnet has no DHCP)."),
    "image": Field(Str(choices=("cirros-0.6", "cirros-0.5"), example="cirros-0.5"), default="cirros-0.6",
                   doc="Whose DHCP client configures its address: cirros 0.6's dhcpcd leaves it `dynamic` "
                       "with the lease's lifetimes (valid: the lease, preferred: its rebinding time) and "
                       "routes `proto dhcp` at metric 1000 + the interface's index, as 002 shows; cirros "
                       "0.5's udhcpc leaves it valid forever."),
    "user_data": Field(Str(example="#!/bin/sh\necho hello\n"),
                       doc="Its user data (`openstack server create --user-data`), served at "
                           "latest/user-data and openstack/latest/user_data by the metadata service."),
    "config_drive": Field(Bool(example=True), default=False,
                          doc="nova's config drive: the instance reads its key pair and metadata from a disk "
                              "at boot. false: it fetches them from http://169.254.169.254 once it has its "
                              "address, as cirros does (through the router's or the DHCP namespace's metadata "
                              "proxy); with no answer there it boots without its key, as a real one would."),
}, doc="An instance: a namespace whose eth0 is on a tap port of its node's br-int.")

AGENT = Record({
    "release": Field(Str(choices=RELEASES, example="2024.1"), default=DEFAULT_RELEASE,
                     doc="The neutron release whose OVS agent flows are reproduced: 2023.2 uses table 59 "
                         "for rate limiting and has no RARP anti-spoofing flow; 2024.1 uses table 58."),
    "l2_population": Field(Bool(example=True), default=False,
                           doc="neutron's l2population: br-tun floods a network only to the nodes that have "
                               "ports on it, knows every remote MAC (table 20) instead of learning it, and "
                               "tunnels exist only between nodes that share a network."),
    "arp_responder": Field(Bool(example=True), default=False,
                           doc="With l2_population: br-tun answers ARP for remote ports itself (table 21)."),
    "metadata_proxy": Field(Bool(example=True), default=True,
                            doc="The L3 agent's enable_metadata_proxy: each router redirects "
                                "169.254.169.254:80 to haproxy in its namespace, which hands requests to the "
                                "node's neutron-metadata-agent and on to nova's metadata API on the controller."),
    "enable_isolated_metadata": Field(Bool(example=False), default=True,
                                      doc="The DHCP agent's option: a network no router serves gets the "
                                          "metadata service from its qdhcp- namespace (169.254.169.254 on the "
                                          "DHCP port, haproxy adding X-Neutron-Network-ID, and a DHCP host "
                                          "route to it). neutron's default is false; the installation guide's "
                                          "dhcp_agent.ini, which the documents' clouds follow, sets it true."),
    "force_metadata": Field(Bool(example=True), default=False,
                            doc="The DHCP agent's option: every network with DHCP gets the metadata service "
                                "from its qdhcp- namespace, routers or not."),
}, doc="The neutron OVS agent played on every node.")


HOST = Record({
    "physical_network": Field(Name(example="provider"), required=True,
                              doc="The physical network its eth0 is plugged into."),
    "address": Field(IPv4Interface(example="172.17.0.10/24"), required=True, doc="Its address on eth0."),
    "mac": Field(MAC(example="52:54:00:12:34:56"), doc="Default: generated."),
    "gateway": Field(IPv4Address(example="172.17.0.1"),
                     doc="Its default route (default: none, it reaches its own subnet only)."),
}, doc="A machine outside the cloud on a physical network, such as the workstation the documents log in "
       "from: a namespace whose eth0 is on that network's switch, with no Open vSwitch.")

ROUTER_PORT = Record({
    "network": Field(Name(example="selfservice"), required=True),
    "ip": Field(IPv4Address(example="192.168.101.1"),
                doc="Default: the subnet's gateway (an interface), the next free pool address (the gateway)."),
    "mac": Field(MAC(example="fa:16:3e:d5:7a:31"), doc="Default: derived."),
    "port_id": Field(UUID(example="3c1f5a2e-9b1d-4a8e-b1a7-0e2f9c4d6a10"),
                     doc="The device is qr- (interface) or qg- (gateway) + its first 11 characters."),
    "ofport": Field(Int(min=1, max=65279, example=9),
                    doc="Its OpenFlow port number on its node's br-int (default: the next free one, as OVS "
                        "numbers ports)."),
}, doc="A router port on a network.", shorthand="network")

ROUTER = Record({
    "id": Field(UUID(example="5f0b2c8e-6f0a-4c47-9f52-2a5e8d6c1b7e"), doc="The namespace is qrouter-<id>."),
    "node": Field(Name(example="controller"),
                  doc="The network node whose L3 agent hosts it (default: the node DHCP runs on)."),
    "external_gateway": Field(with_examples(ROUTER_PORT, network="provider", ip="172.17.0.101",
                                            mac="fa:16:3e:42:3f:3e", port_id="8897f45f-d0a1-4c2e-9b3d-5e6f7a8b9c01"),
                              doc="Its port on an external network (qg-): SNAT and floating IPs."),
    "interfaces": Field(ListOf(ROUTER_PORT, example=["selfservice"]), default=list,
                        doc="Its ports on internal networks (qr-), by network."),
    "snat": Field(Bool(example=True), default=True,
                  doc="enable_snat: traffic without a floating IP leaves with the gateway address."),
    "distributed": Field(Bool(example=True), default=False,
                         doc="A DVR router (neutron's agents only): a qrouter-<id> with the same qr- ports on "
                             "every dvr node hosting an instance on its networks, routing there; its SNAT "
                             "in snat-<id> (sg- and qg- ports) on the dvr_snat node. No `node`."),
    "ha": Field(Bool(example=True), default=False,
                doc="An L3 HA router: a qrouter-<id> on each of `ha_nodes`, keepalived (VRRP over the HA network "
                    "169.254.192.0/18, an ha- port per node) making one of them the master, which holds the "
                    "router's addresses and routes; neutron's agents only. With `distributed`: the SNAT is what "
                    "keepalived keeps, in snat-<id> on each of `ha_nodes` (dvr_snat nodes; an external_gateway "
                    "needed); routing stays on the computes."),
    "ha_nodes": Field(ListOf(Name(), example=["network1", "network2"]),
                      doc="With `ha: true`, the nodes whose L3 agents host it, the first the master at start "
                          "(default: every node with an L3 agent in legacy or dvr_snat mode, a distributed "
                          "router's in dvr_snat mode, at most 3, as neutron's max_l3_agents_per_router)."),
    "vrid": Field(Int(min=1, max=255, example=1),
                  doc="With `ha: true`, its VRRP virtual router id on the HA network (default: the lowest free, "
                      "as neutron allocates them)."),
    "netvirt": Field(Record({
        "vpn_id": Field(Int(min=1, max=0x7fffff, example=0x1117f), doc="The router's VPN id (metadata)."),
    }), default=dict, doc="With `sdn: {type: netvirt}` the router is distributed: flows on every node."),
}, doc="A neutron router: a qrouter namespace on a network node (neutron), or netvirt's distributed one.")

FLOATING_IP = Record({
    "address": Field(IPv4Address(example="172.17.0.146"), required=True),
    "id": Field(UUID(example="85103d40-fed1-49f9-8b5a-9afb31d900a5")),
    "network": Field(Name(example="provider"), doc="The external network (default: the only one)."),
    "instance": Field(Name(example="instance02"), doc="Bound to this instance's port."),
    "load_balancer": Field(Name(example="lb"), doc="Bound to this load balancer's VIP port."),
    "mac": Field(MAC(example="fa:16:3e:5b:aa:01"), doc="The floating IP port's MAC (netvirt answers ARP with it)."),
}, doc="A floating IP on an external network; unbound unless instance or load_balancer is given.")

MEMBER = Record({
    "address": Field(IPv4Address(example="192.168.101.19"), doc="The member's address (or give instance)."),
    "instance": Field(Name(example="instance02"), doc="The instance whose address this is."),
    "port": Field(Int(min=1, max=65535, example=22), required=True, doc="protocol_port."),
    "weight": Field(Int(min=0, max=256, example=1), default=1),
    "id": Field(UUID(example="0a4d9a4d-8141-4896-8cda-06c7caddb365"), doc="Names the haproxy server line."),
    "enabled": Field(Bool(example=True), default=True, doc="admin_state_up: a disabled member is skipped."),
}, doc="A pool member.")

LB_ALGORITHMS = ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP")
LB_PROTOCOLS = ("TCP", "HTTP")

POOL = Record({
    "id": Field(UUID(example="755b9fa0-c0af-43b9-86bf-48371eef7b7e")),
    "protocol": Field(Str(choices=LB_PROTOCOLS, example="TCP"), default="TCP"),
    "algorithm": Field(Str(choices=LB_ALGORITHMS, example="ROUND_ROBIN"), default="ROUND_ROBIN",
                       doc="haproxy's balance: roundrobin, leastconn or source."),
    "members": Field(ListOf(MEMBER), default=list,
                     doc="Octavia orders them by id (its database's order), whatever the order here: give ids "
                         "to decide which member round robin reaches first."),
}, doc="A pool of members behind a listener.")

LISTENER = Record({
    "id": Field(UUID(example="644fb30a-9d13-4ad5-90cd-77a399bbeb5d")),
    "protocol": Field(Str(choices=LB_PROTOCOLS, example="TCP"), default="TCP"),
    "port": Field(Int(min=1, max=65535, example=22), required=True, doc="protocol_port on the VIP."),
    "pool": Field(Name(example="lb-ssh-pool"), doc="Its default pool, by name."),
    "connection_limit": Field(Int(min=-1, example=-1), default=-1, doc="-1: Octavia's default, 50000."),
    "timeout_client_data": Field(Int(min=0, example=50000), default=50000, doc="Milliseconds."),
    "timeout_member_connect": Field(Int(min=0, example=5000), default=5000, doc="Milliseconds."),
    "timeout_member_data": Field(Int(min=0, example=50000), default=50000, doc="Milliseconds."),
}, doc="A listener: a port on the VIP that haproxy serves.")

AMPHORA_PORT = Record({
    "ip": Field(IPv4Address(example="10.0.0.213"), doc="Default: the next free pool address."),
    "mac": Field(MAC(example="fa:16:3e:04:af:90")),
    "port_id": Field(UUID(example="5757a3e3-a3c1-4d0e-9a57-3f8e2b6d4c10"),
                     doc="The tap is named tap + its first 11 characters."),
    "ofport": Field(Int(min=1, max=65279, example=6), doc="The tap's OpenFlow port number on br-int."),
}, doc="One of the amphora's ports.")

AMPHORA = Record({
    "node": Field(Name(example="compute1"), required=True, doc="The compute node the amphora runs on."),
    "id": Field(UUID(example="4e7e2dcd-f2f0-4375-bfef-22f5934ae06f"), doc="The amphora id."),
    "instance_id": Field(UUID(example="2b7b899c-053a-41b5-9b84-ad62696d1722"), doc="Its nova instance id."),
    "name": Field(Name(example="amphora-lb", max_len=15), doc="Its name in the lab (default: amphora-<lb>)."),
    "management_network": Field(Name(example="lb-mgmt"), required=True,
                                doc="Octavia's lb-mgmt network: the amphora agent's API and SSH listen there."),
    "management_port": Field(AMPHORA_PORT, doc="Its port on the management network (ens3)."),
    "vrrp_port": Field(with_examples(AMPHORA_PORT, ip="192.168.101.143", mac="fa:16:3e:46:89:39",
                                     port_id="57ff88f0-a4b2-4f61-8c3d-2e9a7b5c1d20", ofport=7), doc="Its port on the VIP network (eth1 in the amphora-haproxy "
                                         "namespace), holding the VIP as an allowed address pair."),
    "security_groups": Field(ListOf(Name(), example=["lb-mgmt-sec-grp"]), default=lambda: ["lb-mgmt-sec-grp"],
                             doc="Of the management port. lb-mgmt-sec-grp, when not declared, gets the rules "
                                 "Octavia's guide gives it: ICMP, TCP 22 and 9443."),
    "vrrp_security_groups": Field(ListOf(Name(), example=["lb-vrrp"]),
                                  doc="Of the VRRP port: groups of the scenario, as a deployment's port has them "
                                      "(its table-82 flows follow). Default: Octavia's own lb-<load balancer "
                                      "id>, one ingress rule per listener port and neutron's egress rules."),
    "keypair": Field(Name(example="mykey"), doc="amp_ssh_key_name: key for SSH logins as cloud-user."),
}, doc="The amphora: an instance with a management port and a port on the VIP network.")

LOAD_BALANCER = Record({
    "id": Field(UUID(example="3e7ed706-1dd4-4bd7-a7d5-9ea3f3485f4c")),
    "vip": Field(Record({
        "network": Field(Name(example="selfservice"), required=True, doc="The VIP's network (its subnet)."),
        "address": Field(IPv4Address(example="192.168.101.228"), doc="Default: the next free pool address."),
        "port_id": Field(UUID(example="1ccfecb0-cb40-417e-bed5-3e4ff1efe1ed"), doc="The VIP port's id."),
    }, shorthand="network"), required=True),
    "amphora": Field(AMPHORA, required=True),
    "listeners": Field(MapOf(LISTENER), default=dict),
    "pools": Field(MapOf(POOL), default=dict),
}, doc="An Octavia load balancer with the amphora provider (SINGLE topology).")


SDN = Record({
    "type": Field(Str(choices=("neutron", "netvirt", "ovn"), example="netvirt"), default="neutron",
                  doc="neutron: the OVS agent on every node; netvirt: one OpenDaylight-style controller; "
                      "ovn: ML2/OVN, the real OVN (northbound, southbound and ovn-northd on the "
                      "controller node, ovn-controller on every node; docs/ovn.md)."),
    "controller": Field(Name(example="controller"),
                        doc="The node netvirt (or OVN's central databases and ovn-northd) runs on "
                            "(default: the controller node)."),
    "port": Field(Int(min=1, max=65535, example=6653), default=6653),
    "distributed_floating_ips": Field(Bool(example=True), default=False,
                                      doc="With `type: ovn`: neutron's [ovn] enable_distributed_floating_ip: a "
                                          "floating IP's NAT happens on the instance's own chassis (its NAT row "
                                          "names the port and the floating IP's MAC); false, the default, sends "
                                          "it through the router's gateway chassis."),
}, doc="Which flow set programs br-int.")


DAEMONS = Record({
    "restart": Field(Bool(example=False), default=True,
                     doc="Start a dead daemon again, as systemd does on a real node (ovsdb-server, "
                         "ovs-vswitchd, the OVS agents, netvirt, dnsmasq, haproxy, the amphora agent); "
                         "false leaves it dead (`stacklab status` names it either way)."),
}, doc="How the lab treats its nodes' daemons.")


def check_kinds():
    from stacklab.checks import registry
    return {kind: checker.params for kind, checker in registry().items()}


SCENARIO = Record({
    "name": Field(Name(example="vxlan-instance", max_len=24), doc="The lab's name (default: the file's name)."),
    "description": Field(Str(example="instance02 on the VXLAN self-service network")),
    "reference": Field(Str(example="000_015d8bd505ee0f39.txt"), doc="The document the scenario reproduces."),
    "agent": Field(AGENT, default=lambda: {"release": DEFAULT_RELEASE, "l2_population": False,
                                           "arp_responder": False, "metadata_proxy": True,
                                           "enable_isolated_metadata": True, "force_metadata": False}),
    "sdn": Field(SDN, default=lambda: {"type": "neutron", "controller": None, "port": 6653,
                                       "distributed_floating_ips": False}),
    "datapath_type": Field(Str(choices=DATAPATH_TYPES, example="system"), default="netdev",
                           doc="Open vSwitch's datapath on every node: `netdev` (userspace; needs no kernel "
                               "module, works everywhere) or `system` (the kernel's openvswitch module, as "
                               "the documents show it). `stacklab run --datapath` overrides it."),
    "daemons": Field(DAEMONS, default=lambda: {"restart": True}),
    "nodes": Field(MapOf(NODE, key=Name(max_len=10), min_items=1), required=True,
                   doc="The emulated nodes, by name (at most 10 characters)."),
    "networks": Field(MapOf(NETWORK), default=dict),
    "security_groups": Field(MapOf(SECURITY_GROUP), default=dict,
                             doc="Security groups by name; `default` exists even when not listed."),
    "keypairs": Field(MapOf(KEYPAIR), default=dict),
    "instances": Field(MapOf(INSTANCE, key=Name(max_len=15)), default=dict),
    "hosts": Field(MapOf(HOST, key=Name(max_len=15)), default=dict,
                   doc="Machines outside the cloud (a workstation, an upstream router), by name."),
    "routers": Field(MapOf(ROUTER), default=dict),
    "floating_ips": Field(ListOf(FLOATING_IP), default=list),
    "load_balancers": Field(MapOf(LOAD_BALANCER), default=dict),
    "checks": Field(ListOf(OneOfKinds(check_kinds)), default=list,
                    doc="What must hold once the lab is up; each item is {kind: parameters}."),
}, doc="A stacklab scenario: an OpenStack-style cloud to build on one machine.")
