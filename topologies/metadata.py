"""The metadata path of a routed network, as neutron and nova build it:

  instance -> http://169.254.169.254:80
    -> qrouter-<id>: iptables REDIRECT to 9697 (and a mark that lets it in)
    -> haproxy in the namespace, adding X-Neutron-Router-ID
    -> the node's neutron-metadata-agent on /var/lib/neutron/metadata_proxy,
       which finds the instance by router and address and signs its id
    -> nova's metadata API on the controller (port 8775), which answers with
       the instance's own data: instance-id, hostname, local-ipv4, its key.

The agent and the API are stacklab's (topologies/metadata_agent.py,
topologies/nova_metadata.py); haproxy and iptables are the real ones. This
module renders what each reads (pure functions)."""

import hashlib
import hmac
import json
import os

from stacklab.scenario.metadata import METADATA_IP, meta_data
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


def proxy_config(router_id, pidfile):
    """haproxy.cfg of a router's metadata proxy, laid out as neutron's."""
    # (neutron's also logs to /dev/log: the machine's journal, which a lab leaves alone)
    return """global
    log-tag     haproxy-metadata-proxy-{rid}
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

listen listener
    bind 0.0.0.0:{port}
    server metadata {sock}
    http-request del-header X-Neutron-Router-ID
    http-request set-header X-Neutron-Router-ID {rid}
""".format(rid=router_id, pid=pidfile, port=PROXY_PORT, sock=SOCKET)


def agent_ports(scenario, node):
    """What the metadata agent of `node` looks instances up in: for each
    router there, the instances behind it by address (neutron asks its
    server for the router's networks' ports)."""
    out = {}
    for router in scenario.routers.values():
        if router.node != node:
            continue
        nets = {p.network for p in router.interfaces}
        found = out.setdefault(router.id, {})
        for inst in scenario.instances.values():
            for port in inst.ports:
                if port.network in nets and port.netns is None:
                    found[str(port.ip)] = {"instance_id": inst.id, "project_id": PROJECT_ID}
    return out


def nova_records(scenario, public_key):
    """What nova's metadata API knows of each instance: {instance id: data}.
    `public_key(name)` gives a key pair's public key."""
    out = {}
    for inst in scenario.instances.values():
        keys = {}
        if inst.keypair:
            keys[inst.keypair] = public_key(inst.keypair).strip()
        out[inst.id] = {"uuid": inst.id, "name": inst.name, "meta_data": meta_data(scenario, inst.name),
                        "public_keys": keys, "project_id": PROJECT_ID}
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
