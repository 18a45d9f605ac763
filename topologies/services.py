"""Services of the cloud that run beside the data plane, as neutron runs
them. DHCP: per network, a namespace `qdhcp-<network id>` on the DHCP node
with a tap port on that node's br-int, and dnsmasq reading neutron's files in
/var/lib/neutron/dhcp/<network id>/ (host, addn_hosts, opts; it writes leases).
The namespace class owns its dnsmasq; the file formats are plain functions."""

import ipaddress
import os
import shlex

from stacklab.scenario import metadata as scenario_metadata
from topologies import metadata
from topologies.node import LabHost, bind, tmpfs

DHCP_DIR = "/var/lib/neutron/dhcp"
DOMAIN = "openstacklocal"
LEASE_SECONDS = 86400


def hostname(ip):
    """neutron's DNS name of a port: host-192-168-101-19."""
    return "host-" + str(ip).replace(".", "-")


def host_file(ports):
    """`host`: MAC, FQDN and IP of each port dnsmasq serves, as 000 shows."""
    return "".join("%s,%s.%s,%s\n" % (p.mac, hostname(p.ip), DOMAIN, p.ip) for p in ports)


def addn_hosts_file(ports):
    """`addn_hosts`: the DNS entries, as 000 shows."""
    return "".join("%s\t%s.%s %s\n" % (p.ip, hostname(p.ip), DOMAIN, hostname(p.ip)) for p in ports)


WIN2K3_STATIC_ROUTES = 249             # Microsoft's classless static routes, which neutron also sends


def opts_file(network, subnet_tag, host_routes=()):
    """`opts`, in neutron's order: DNS servers, the classless static routes
    (121 and 249: the metadata address and the default route), the router."""
    lines = []
    if network.subnet.dns_nameservers:
        lines.append("tag:%s,option:dns-server,%s" % (subnet_tag, ",".join(map(str, network.subnet.dns_nameservers))))
    if host_routes:
        routes = ",".join("%s,%s" % r for r in host_routes)
        lines += ["tag:%s,option:classless-static-route,%s" % (subnet_tag, routes),
                  "tag:%s,%d,%s" % (subnet_tag, WIN2K3_STATIC_ROUTES, routes)]
    lines.append("tag:%s,option:router,%s" % (subnet_tag, network.subnet.gateway))
    return "\n".join(lines) + "\n"


def subnet_tag(network):
    return "subnet-" + network.id


class DhcpNamespace(metadata.ProxyHost, LabHost):
    """qdhcp-<network id>: the DHCP port's interface and dnsmasq behind it,
    and where the network is isolated, the metadata proxy on 169.254.169.254.
    It sees the DHCP node's /var/lib/neutron, so paths are neutron's."""

    def __init__(self, name, script_dir, network, port, neutron_dir, node_pid, serves_metadata=False, **params):
        """`node_pid`: its node's shell, whose processes it shares (dnsmasq is in the node's `ps`)."""
        self.network = network
        self.port = port
        self.serves_metadata = serves_metadata
        self.neutron_dir = neutron_dir            # the DHCP node's /var/lib/neutron, seen from outside
        super().__init__(name, script_dir, mounts=[tmpfs("/run"), tmpfs("/var/lib"),
                                                   bind("/var/lib/neutron", neutron_dir)],
                         hostname=port.node, pid_ns=node_pid, **params)     # (a netns of its node: its hostname)

    @property
    def conf_dir(self):
        return os.path.join(DHCP_DIR, self.network.id)

    def ports_of(self, scenario):
        """The instance ports of `scenario` on this namespace's network: what its files list."""
        return [p for p in scenario.instance_ports() if p.network == self.network.name]

    def write_files(self, scenario):
        """neutron's files for the network as `scenario` has it: its instance
        ports, its host routes."""
        ports = self.ports_of(scenario)
        outside = os.path.join(self.neutron_dir, "dhcp", self.network.id)
        os.makedirs(outside, exist_ok=True)
        routes = scenario_metadata.host_routes(scenario, self.network.name)
        files = {"host": host_file(ports), "addn_hosts": addn_hosts_file(ports),
                 "opts": opts_file(self.network, subnet_tag(self.network), routes)}
        for name, text in files.items():
            with open(os.path.join(outside, name), "w") as f:
                f.write(text)
        open(os.path.join(outside, "leases"), "a").close()

    def dnsmasq_argv(self, lease_max):
        net, d = self.network, self.conf_dir
        cidr = net.subnet.cidr
        return ["dnsmasq", "--no-hosts", "--no-resolv", "--pid-file=%s/pid" % d,
                "--dhcp-hostsfile=%s/host" % d, "--addn-hosts=%s/addn_hosts" % d, "--dhcp-optsfile=%s/opts" % d,
                "--dhcp-leasefile=%s/leases" % d, "--dhcp-match=set:ipxe,175", "--local-service", "--bind-dynamic",
                "--dhcp-range=set:%s,%s,static,%s,%ds" % (subnet_tag(net), cidr.network_address, cidr.netmask,
                                                         LEASE_SECONDS),
                "--dhcp-option-force=option:mtu,%d" % net.mtu, "--dhcp-lease-max=%d" % lease_max,
                "--conf-file=/dev/null", "--domain=%s" % DOMAIN, "--user=root", "--group=root"]

    def start_script(self, lease_max=256):
        """Bring up the port (address, MTU) and start dnsmasq, which detaches
        once it is ready and writes its pidfile."""
        p, net = self.port, self.network
        prefix = ipaddress.ip_network(net.subnet.cidr).prefixlen
        lines = [
            "ip link set lo up",
            "ethtool -K %s tx off >/dev/null" % p.name,
            "ip link set %s mtu %d up" % (p.name, net.mtu),
            "ip addr add %s/%d dev %s" % (p.ip, prefix, p.name),
        ]
        if self.serves_metadata:
            # the agent's metadata addresses on the port (neutron waits out IPv6 DAD before haproxy
            # binds; on a port no other agent shares, nodad skips the wait)
            lines += ["ip addr add %s/32 dev %s" % (scenario_metadata.METADATA_IP, p.name),
                      "ip addr add %s/128 dev %s nodad" % (metadata.METADATA_IP6, p.name)]
        return "\n".join(lines + [self.dnsmasq_command(lease_max)])

    def dnsmasq_command(self, lease_max=256):
        """dnsmasq's command line (the build's, and the supervisor's when it died)."""
        return " ".join(shlex.quote(a) for a in self.dnsmasq_argv(lease_max))

    def pidfile(self):
        return os.path.join(self.neutron_dir, "dhcp", self.network.id, "pid")

    # -- the metadata proxy of an isolated network (topologies/metadata.py) --
    @property
    def proxy_uuid(self):
        return self.network.id

    def proxy_config_text(self):
        return metadata.proxy_config(self.proxy_pidfile(), network_id=self.network.id, interface=self.port.name)
