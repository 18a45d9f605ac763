"""The metadata path of ML2/OVN, as neutron's OVN metadata agent builds it
on a chassis: for each network with a port bound there, the namespace
ovnmeta-<network id>, a veth pair tap<id[:10]>0 (on br-int, bound to the
network's metadata localport by external_ids:iface-id) / tap<id[:10]>1 (in
the namespace, with the localport's MAC and address and 169.254.169.254),
and haproxy there adding X-OVN-Network-ID and forwarding to the agent's
socket. The localport is on every chassis: each answers its own instances.

It is also where people log in from on an OVN cloud
(`ip netns exec ovnmeta-<network id> ssh cirros@...`)."""

from stacklab import naming
from stacklab.scenario.metadata import METADATA_IP
from topologies import metadata, plumbing
from topologies.node import LabHost, bind, tmpfs


def veth_names(network_id):
    """(on br-int, in the namespace): the agent's tap<network id[:10]>0 / 1."""
    return "tap%s0" % network_id[:10], "tap%s1" % network_id[:10]


def proxy_config(pidfile, network_id):
    """haproxy.cfg of the OVN metadata agent's proxy for one network."""
    return metadata.proxy_head(network_id, pidfile) + """
listen listener
    bind {ip}:80
    server metadata {sock}
    http-request add-header X-OVN-Network-ID {uuid}
""".format(uuid=network_id, ip=METADATA_IP, sock=metadata.SOCKET)


class MetadataNamespace(metadata.ProxyHost, LabHost):
    """ovnmeta-<network id> on one chassis. It shares its node's processes
    and /var/lib/neutron (haproxy's files are where the agent keeps them)."""

    def __init__(self, script_dir, node, network, port, neutron_dir, node_pid, **params):
        self.node = node
        self.network = network
        self.port = port
        self.neutron_dir = neutron_dir
        self.proxy_uuid = network.id
        super().__init__(naming.ovnmeta_host(node, network.id), script_dir,
                         mounts=[tmpfs("/run"), tmpfs("/var/lib"), bind("/var/lib/neutron", neutron_dir)],
                         hostname=node, pid_ns=node_pid, **params)

    @property
    def namespace(self):
        """Its name in the node's `ip netns`."""
        return naming.ovnmeta_namespace(self.network.id)

    def proxy_config_text(self):
        return proxy_config(self.proxy_pidfile(), self.network.id)

    def plug_script(self):
        """Run in the node: the OVS end on br-int, bound to the localport."""
        outer, _ = veth_names(self.network.id)
        args = ["--may-exist", "add-port", naming.INTEGRATION_BRIDGE, outer, "--", "set", "Interface", outer,
                "external_ids:iface-id=" + self.port.id]
        return "\n".join(["ip link set %s up" % outer, plumbing.ovs_owned_script([outer]), plumbing.vsctl(args)])

    def configure_script(self):
        """Run inside: the localport's address and 169.254.169.254 on its end."""
        _, inner = veth_names(self.network.id)
        return "\n".join([
            "ip link set lo up",
            "ethtool -K %s tx off >/dev/null" % inner,
            "ip link set %s up" % inner,
            "ip addr add %s/%d dev %s" % (self.port.ip, self.network.subnet.cidr.prefixlen, inner),
            "ip addr add %s/32 dev %s" % (METADATA_IP, inner),
        ])
