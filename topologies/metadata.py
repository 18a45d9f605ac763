"""The metadata path, as neutron and nova build it. Of a routed network:

  instance -> http://169.254.169.254:80
    -> qrouter-<id>: iptables REDIRECT to 9697 (and a mark that lets it in)
    -> haproxy in the namespace, adding X-Neutron-Router-ID
    -> the node's neutron-metadata-agent on /var/lib/neutron/metadata_proxy,
       which finds the instance by router and address and signs its id
    -> nova's metadata API on the controller (port 8775), which answers with
       the instance's own data: instance-id, hostname, local-ipv4, its key.

Of an isolated network (the DHCP agent's enable_isolated_metadata): the
DHCP port holds 169.254.169.254, dnsmasq hands out a host route to it, and
haproxy in qdhcp-<network id> listens there, adding X-Neutron-Network-ID.

The agent and the API are stacklab's (topologies/metadata_agent.py,
topologies/nova_metadata.py); haproxy and iptables are the real ones. This
module renders what each reads (pure functions)."""

import hashlib
import hmac
import json
import os

from stacklab.scenario.metadata import METADATA_IP, meta_data, served_by_dhcp
from stacklab.scenario.ovn import metadata_chassis
METADATA_IP6 = "fe80::a9fe:a9fe"         # the DHCP namespace's, on its port
PROXY_PORT = 9697                       # the L3 agent's metadata_port
ACCESS_MARK = "0x1"                     # metadata_access_mark
MARK_MASK = "0xffff"
SOCKET = "/var/lib/neutron/metadata_proxy"
PORTS_FILE = "/var/lib/neutron/stacklab-metadata-ports.json"
NOVA_PORT = 8775
NOVA_DIR = "/var/lib/nova"
NOVA_FILE = NOVA_DIR + "/stacklab-metadata.json"
# metadata_proxy_shared_secret, the same in the agent's and nova's configuration
SHARED_SECRET = "stacklab-metadata-secret"
PROJECT_ID = "f2aeffb34ff34ffb8959f1cd813655c6"


def signature(instance_id, secret=SHARED_SECRET):
    """X-Instance-ID-Signature: HMAC-SHA256 of the instance id with the shared secret."""
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def proxy_config(pidfile, router_id=None, network_id=None, interface=None):
    """haproxy.cfg of a metadata proxy, laid out as neutron's: a router's
    listens on every address (IPv4 and IPv6) at 9697 and names the router; a
    DHCP namespace's on 169.254.169.254:80 (and fe80::a9fe:a9fe on its
    `interface`) and names the network. Each drops the other's header."""
    # (neutron's also logs to /dev/log: the machine's journal, which a lab leaves alone)
    if router_id is not None:
        uuid, kind, other, bind = router_id, "Router", "Network", ":::%d" % PROXY_PORT
        bind_v6 = ""
    else:
        uuid, kind, other, bind = network_id, "Network", "Router", "%s:80" % METADATA_IP
        bind_v6 = "bind %s:80 interface %s" % (METADATA_IP6, interface)
    return proxy_head(uuid, pidfile) + """
listen listener
    bind {bind}
    {bind_v6}
    server metadata {sock}
    http-request del-header X-Neutron-{other}-ID
    http-request set-header X-Neutron-{kind}-ID {uuid}
""".format(uuid=uuid, bind=bind, bind_v6=bind_v6, sock=SOCKET, kind=kind, other=other)


def proxy_head(uuid, pidfile):
    """What every metadata proxy's haproxy.cfg starts with (the L3, DHCP and
    OVN metadata agents render the same): its global and defaults sections."""
    return """global
    log-tag     haproxy-metadata-proxy-{uuid}
    maxconn     1024
    pidfile     {pid}
    daemon

defaults
    mode http
    option httplog
    option dontlognull
    option http-server-close
    option forwardfor
    retries                 3
    timeout http-request    30s
    timeout connect         30s
    timeout client          32s
    timeout server          32s
    timeout http-keep-alive 30s
""".format(uuid=uuid, pid=pidfile)


class ProxyHost:
    """A namespace that runs a metadata proxy (a qrouter- or a qdhcp-): its
    configuration and pidfile where neutron keeps them, in its node's
    /var/lib/neutron (`self.neutron_dir` outside). `proxy_uuid` names them."""

    proxy_uuid = None

    def proxy_config_text(self):
        raise NotImplementedError

    def proxy_config_path(self, outside=False):
        return self._neutron_path("/var/lib/neutron/ns-metadata-proxy/%s.conf" % self.proxy_uuid, outside)

    def proxy_pidfile(self, outside=False):
        return self._neutron_path("/var/lib/neutron/external/pids/%s.pid.haproxy" % self.proxy_uuid, outside)

    def _neutron_path(self, inside, outside):
        return os.path.join(self.neutron_dir, os.path.relpath(inside, "/var/lib/neutron")) if outside else inside

    def write_proxy_config(self):
        for path in (self.proxy_config_path(outside=True), self.proxy_pidfile(outside=True)):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(self.proxy_config_path(outside=True), "w") as f:
            f.write(self.proxy_config_text())

    def proxy_command(self):
        """haproxy as the agent starts it in the namespace (it detaches, writing its pidfile)."""
        return "haproxy -f %s" % self.proxy_config_path()


class RouterProxyHost(ProxyHost):
    """A router namespace's proxy (legacy, DVR or HA qrouter-): named by the
    router's id, which it adds as X-Neutron-Router-ID."""

    @property
    def proxy_uuid(self):
        return self.router.id

    def proxy_config_text(self):
        return proxy_config(self.proxy_pidfile(), router_id=self.router.id)


def agent_ports(scenario, node):
    """What the metadata agent of `node` looks instances up in:
    {"routers": {router id: {address: instance}}, "networks": {network id:
    ...}} for the routers there and the networks whose DHCP namespace there
    serves metadata (neutron's agent asks its server for the ports of the
    router's networks, or of the network)."""
    def behind(nets):
        return {str(port.ip): {"instance_id": inst.id, "project_id": PROJECT_ID}
                for inst in scenario.instances.values() for port in inst.ports
                if port.network in nets and port.netns is None}
    routers = {r.id: behind({p.network for p in r.interfaces})
               for r in scenario.routers.values() if node in proxy_nodes(r)}
    networks = {scenario.networks[n].id: behind({n}) for n, port in scenario.dhcp_ports.items()
                if port.node == node and served_by_dhcp(scenario, n)}
    networks.update({scenario.networks[n].id: behind({n}) for where, n in metadata_chassis(scenario)
                     if where == node})
    return {"routers": routers, "networks": networks}


def proxy_nodes(router):
    """The nodes with `router`'s metadata proxy: its node, a distributed
    one's hosts, an HA one's nodes (running on the master only)."""
    if not router.metadata_proxy:
        return []
    return list(router.hosts) if router.distributed or router.ha else [router.node] if router.node else []


def agent_nodes(scenario):
    """The nodes that run a metadata agent: those with a proxy (OVN's in ovnmeta-)."""
    nodes = {n for r in scenario.routers.values() for n in proxy_nodes(r)}
    nodes |= {p.node for n, p in scenario.dhcp_ports.items() if served_by_dhcp(scenario, n)}
    return sorted(nodes | {where for where, _ in metadata_chassis(scenario)})


def nova_records(scenario, public_key):
    """What nova's metadata API knows of each instance: {instance id: data}.
    `public_key(name)` gives a key pair's public key."""
    out = {}
    for inst in scenario.instances.values():
        keys = {}
        if inst.keypair:
            keys[inst.keypair] = public_key(inst.keypair).strip()
        out[inst.id] = {"uuid": inst.id, "name": inst.name, "meta_data": meta_data(scenario, inst.name),
                        "public_keys": keys, "project_id": PROJECT_ID, "user_data": inst.user_data}
    return out


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def iptables_filter_rules():
    """neutron-l3-agent-INPUT: what the mark lets in reaches the proxy; the proxy's port is closed otherwise."""
    return ["-m mark --mark %s/%s -j ACCEPT" % (ACCESS_MARK, MARK_MASK),
            "-p tcp -m tcp --dport %d -j DROP" % PROXY_PORT]


def iptables_nat_rule():
    """neutron-l3-agent-PREROUTING: requests to the metadata address go to the proxy."""
    return "-d %s/32 -i qr-+ -p tcp -m tcp --dport 80 -j REDIRECT --to-ports %d" % (METADATA_IP, PROXY_PORT)


def iptables_mangle_rule():
    """neutron-l3-agent-PREROUTING (mangle): mark those requests."""
    return "-d %s/32 -i qr-+ -p tcp -m tcp --dport 80 -j MARK --set-xmark %s/%s" % (METADATA_IP, ACCESS_MARK,
                                                                                   MARK_MASK)
