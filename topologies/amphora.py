"""Octavia's amphora and the controller's side of talking to it.

The amphora is an instance like the others, with two NICs made as a VM's
(tap pairs, topologies/links.py): ens3 on the management network in its own
namespace, eth1 on the VIP network inside the nested namespace
amphora-haproxy, holding its own address and the VIP as a /32, as 003
prints them. It runs the amphora agent (topologies/amphora_agent.py) on the
management address, port 9443, and haproxy in amphora-haproxy once the
controller has sent the configuration.

The controller (OctaviaController) does what Octavia's worker does: render
haproxy.cfg (topologies/haproxy_cfg.py), PUT it to the agent with its
client certificate, and ask for start or reload; from the node that holds an
address on the management network, with curl, as the documents' operator."""

import json
import os
import sys

from stacklab.errors import LabError
from topologies import haproxy_cfg
from topologies.node import InstanceHost, bind, systemctl_script

NETNS = "amphora-haproxy"
AGENT_PORT = 9443
CERTS = "/etc/octavia/certs"
CONTROLLER_CLIENT_CERT = CERTS + "/private/client.cert-and-key.pem"
CONTROLLER_CA = CERTS + "/ca_01.pem"
AMPHORA_SERVER_CERT = CERTS + "/server.pem"
AMPHORA_CLIENT_CA = CERTS + "/client_ca.pem"
AGENT_PIDFILE = haproxy_cfg.OCTAVIA_DIR + "/amphora-agent.pid"
AGENT_LOG = haproxy_cfg.OCTAVIA_DIR + "/amphora-agent.log"
# The amphora's NICs as 003 prints them inside it: the management NIC is the
# VM's first (index 2, PCI slot 3); the VRRP NIC was hot-plugged later (slot
# 7) and keeps index 3 in amphora-haproxy.
NIC_LAYOUT = {"ens3": (True, "enp0s3"), "eth1": (False, "enp0s7")}


def install_controller_certs(etc_octavia, ca, client_cert):
    """The controller's /etc/octavia/certs (seen from outside at `etc_octavia`)."""
    _copy(ca.cert, os.path.join(etc_octavia, "certs", "ca_01.pem"))
    _copy(client_cert, os.path.join(etc_octavia, "certs", "private", "client.cert-and-key.pem"))


def _copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src) as f, open(dst, "w") as out:
        out.write(f.read())
    os.chmod(dst, 0o600)


class AmphoraHost(InstanceHost):
    """An amphora: an instance with /var/lib/octavia and /etc/octavia of its
    own; its image (Ubuntu's) configures DHCP addresses as NetworkManager does."""

    DHCP_STYLE = "networkmanager"

    def __init__(self, name, script_dir, model, workdir, **params):
        self.octavia_dir = os.path.join(workdir, "octavia")
        self.etc_octavia = os.path.join(workdir, "etc-octavia")
        mounts = [bind(haproxy_cfg.OCTAVIA_DIR, self.octavia_dir), bind("/etc/octavia", self.etc_octavia)]
        # an amphora is an Ubuntu VM: systemd runs its agent and haproxy
        super().__init__(name, script_dir, model, workdir, mounts=mounts, commands={"systemctl": systemctl_script()},
                         **params)

    def install_certs(self, ca, server_cert):
        _copy(ca.cert, os.path.join(self.etc_octavia, "certs", "client_ca.pem"))
        _copy(server_cert, os.path.join(self.etc_octavia, "certs", "server.pem"))

    @staticmethod
    def nested_namespace_script():
        """amphora-haproxy, as the agent makes it: IPv6 off, its loopback down (003 shows it so)."""
        return "\n".join([
            "ip netns add %s" % NETNS,
            "ip netns set %s 0" % NETNS,
            "ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1"
            % NETNS,
        ])

    def nested_netns_inode(self):
        """The nested namespace's identity, read through the amphora's mount namespace."""
        return os.stat("/proc/%d/root/run/netns/%s" % (self.pid, NETNS)).st_ino

    @staticmethod
    def vip_script(port, prefix, vip, gateway):
        """eth1's address and the VIP as a /32 (no broadcast, as the agent
        adds them), the default route through the subnet's gateway."""
        enter = "ip netns exec %s " % NETNS
        lines = [enter + "ip addr add %s/%d dev %s" % (port.ip, prefix, port.interface),
                 enter + "ip addr add %s/32 dev %s" % (vip, port.interface)]
        if gateway:
            lines.append(enter + "ip route add default via %s dev %s onlink" % (gateway, port.interface))
        return "\n".join(lines)

    def agent_start_script(self, amphora_id):
        """The agent on every address of the amphora's own namespace (the management one)."""
        return ("{py} -m topologies.amphora_agent --amphora-id {amp} --cert {cert} --client-ca {ca} "
                "--netns {ns} --pidfile {pid} </dev/null >>{log} 2>&1 &").format(
                    py=sys.executable, amp=amphora_id, cert=AMPHORA_SERVER_CERT, ca=AMPHORA_CLIENT_CA, ns=NETNS,
                    pid=AGENT_PIDFILE, log=AGENT_LOG)

    @staticmethod
    def haproxy_start_command(lb_id):
        """haproxy of `lb_id` started again as its systemd unit would (inside the amphora)."""
        return "%s -m topologies.amphora_agent start-haproxy %s" % (sys.executable, lb_id)

    def agent_pidfile(self):
        return os.path.join(self.octavia_dir, os.path.basename(AGENT_PIDFILE))

    def haproxy_pidfile(self, lb_id):
        """The haproxy master's pidfile, seen from outside (the agent writes it)."""
        return os.path.join(self.octavia_dir, lb_id, lb_id + ".pid")


class OctaviaController:
    """Octavia's worker toward one amphora: `run(where, argv, input=, timeout=)`
    runs a command inside a lab node (RunningLab.run)."""

    def __init__(self, run, node, amphora_ip, amphora_id):
        self.run = run
        self.node = node
        self.url = "https://%s:%d" % (amphora_ip, AGENT_PORT)
        self.amphora_id = amphora_id

    def call(self, method, path, data=None, timeout=20):
        """(HTTP status, body) of one request to the agent."""
        argv = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", str(timeout - 2),
                "-E", CONTROLLER_CLIENT_CERT, "--cacert", CONTROLLER_CA, "-X", method]
        if data is not None:
            argv += ["-H", "Content-Type: text/plain", "--data-binary", "@-"]
        proc = self.run(self.node, argv + [self.url + path], input=data, timeout=timeout)
        body, _, code = proc.stdout.rpartition("\n")
        if proc.returncode != 0 or not code.isdigit():
            raise LabError("%s %s%s from %s: %s" % (method, self.url, path, self.node,
                                                     (proc.stderr or proc.stdout).strip() or "no answer"))
        return int(code), body

    def wait_ready(self, timeout=10.0):
        import time
        deadline = time.monotonic() + timeout
        while True:
            try:
                code, body = self.call("GET", "/", timeout=5)
                if code == 200:
                    return json.loads(body)
            except LabError:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise LabError("the amphora agent at %s does not answer" % self.url)
            time.sleep(0.1)

    def deploy(self, lb):
        """Send `lb`'s haproxy.cfg, then start haproxy (or reload it, keeping
        its connections), as Octavia's worker does after any change."""
        code, body = self.call("PUT", "/1.0/loadbalancer/%s/%s/haproxy" % (self.amphora_id, lb.id),
                               haproxy_cfg.render(lb))
        if code != 202:
            raise LabError("the amphora refused haproxy.cfg of %s (%d): %s" % (lb.name, code, body))
        code, body = self.call("GET", "/1.0/loadbalancer/%s" % lb.id)
        action = "reload" if code == 200 and json.loads(body).get("haproxy_pid") else "start"
        code, body = self.call("PUT", "/1.0/loadbalancer/%s/%s" % (lb.id, action))
        if code != 202:
            raise LabError("haproxy %s for %s failed (%d): %s" % (action, lb.name, code, body))
        return action


def octavia_controller(running, scenario, lb):
    """The controller toward `lb`'s amphora, from the node Octavia runs on."""
    amp = scenario.instances[lb.amphora]
    return OctaviaController(running.run, lb.controller, amp.port.ip, lb.amphora_id)
