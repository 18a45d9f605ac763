"""The Lab composes a scenario out of nodes, the fabric and instances, and
records each piece in the lab's state as soon as it exists. It only composes:
each node owns its processes, each link its interfaces."""

import os
import subprocess
import time

from stacklab import naming
from stacklab.agent_plan import node_plan
from stacklab.errors import LabError
from stacklab.teardown import sweep
from topologies import fabric, plumbing
from topologies.links import Veth, veth_script
from topologies.node import CloudNode, FabricHost, InstanceHost
from topologies.services import DhcpNamespace
from topologies.shell import run_parallel, script


# What udhcpc runs when it gets a lease: configure eth0 as cirros' client does.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done ;;
esac
exit 0
"""


def wait_pidfile(path, what, timeout=5.0):
    """The pid a daemon writes once it has detached (its child writes it, so
    it may come a moment after the start command returns)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            if time.monotonic() > deadline:
                raise LabError("%s did not start: no pid in %s after %.0f s" % (what, path, timeout)) from None
            time.sleep(0.02)


def keypair_file(lab_dir, name):
    return os.path.join(lab_dir, "keys", name)


class Lab:
    """A scenario built for real. `build()` creates it, `stop()` removes all of it."""

    FABRIC = "fabric"

    def __init__(self, scenario, state, progress=None):
        self.scenario = scenario
        self.state = state
        self.progress = progress or (lambda step, detail, seconds: None)
        self.nodes = {}         # name -> CloudNode
        self.instances = {}     # name -> InstanceHost
        self.dhcp = {}          # qdhcp-<network id> -> DhcpNamespace
        self.fabric = None
        self.links = []
        self.script_dir = os.path.join(state.dir, "scripts")

    def hosts(self):
        """Nodes and instances by name (what the CLI talks to)."""
        return {**self.nodes, **self.instances, **self.dhcp}

    # -- building -------------------------------------------------------------
    def build(self):
        steps = [
            ("nodes", self._create_nodes),
            ("open vswitch", self._start_ovs),
            ("physical networks", self._wire_fabric),
            ("bridges", self._configure_bridges),
            ("agents", self._start_agents),
            ("instances", self._create_instances),
            ("ssh servers", self._start_ssh),
            ("dhcp", self._start_dhcp),
            ("flows", self._wait_for_flows),
            ("addresses", self._request_addresses),
        ]
        for title, step in steps:
            t0 = time.monotonic()
            if os.environ.get("STACKLAB_FAIL_AT") == title:      # fault injection for the tests
                raise LabError("injected failure at %s" % title)
            detail = step()
            self.state.save()
            self.progress(title, detail, time.monotonic() - t0)
            if os.environ.get("STACKLAB_PAUSE_AFTER") == title:  # lets the crash test kill us mid-build
                print("paused after %s" % title, flush=True)
                time.sleep(60)
        self.state.phase = "up"
        self.state.save()

    def _record(self, host, kind):
        netns, mntns = host.namespace_ids()
        self.state.add_namespace(host.name, kind, host.pid, netns, mntns)

    def _create_nodes(self):
        self.fabric = FabricHost(self.FABRIC, self.script_dir)
        self._record(self.fabric, "fabric")
        self.state.save()
        for node in self.scenario.nodes.values():
            host = CloudNode(node.name, self.script_dir, os.path.join(self.state.dir, "nodes", node.name), node.role)
            self.nodes[node.name] = host
            self._record(host, "node")
            self.state.nodes[node.name] = {"role": node.role, "bridges": self._bridge_names(node)}
            self.state.save()       # recorded before anything runs inside it
        return "%d nodes" % len(self.nodes)

    @staticmethod
    def _bridge_names(node):
        names = [naming.INTEGRATION_BRIDGE]
        if node.tunnel_ip is not None:
            names.append(naming.TUNNEL_BRIDGE)
        return names + node.physical_bridges

    def _start_ovs(self):
        run_parallel([(host, host.ovs_start_script()) for host in self.nodes.values()], "starting Open vSwitch")
        for host in self.nodes.values():
            for pidfile in host.pidfiles():
                with open(pidfile) as f:
                    self.state.add_process(int(f.read().split()[0]), "%s %s" % (host.name, os.path.basename(pidfile)))
        return "%d x (ovsdb-server, ovs-vswitchd)" % len(self.nodes)

    def _wire_fabric(self):
        physnets = sorted({nic.physical_network for n in self.scenario.nodes.values() for nic in n.nics.values()})
        switches = fabric.switch_names(physnets)
        lines = ["sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
                 "ip link set lo up"]
        lines += [FabricHost.switch_script(switches[p]) for p in physnets]
        script(self.fabric, "\n".join(lines), "creating physical network switches")
        ups = []
        for index, node in enumerate(self.scenario.nodes.values()):
            host = self.nodes[node.name]
            for nic in node.nics.values():
                far = fabric.port_name(index, node.name, nic.name)
                script(host, veth_script(nic.name, far, self.fabric.pid, mac1=nic.mac),
                       "plugging %s %s into %s" % (node.name, nic.name, nic.physical_network))
                self.links.append(Veth(host, self.fabric, nic.name, far, mac1=nic.mac, create=False))
                ups.append("ip link set %s master %s up" % (far, switches[nic.physical_network]))
        if ups:
            script(self.fabric, "\n".join(ups), "connecting NICs to physical networks")
        return ", ".join(physnets) or "none"

    def _configure_bridges(self):
        jobs = []
        for node in self.scenario.nodes.values():
            peers = self.scenario.tunnel_peers(node.name)
            jobs.append((self.nodes[node.name], plumbing.bridges_script(node, peers)))
        run_parallel(jobs, "configuring bridges")
        return "%d bridges" % sum(len(v["bridges"]) for v in self.state.nodes.values())

    def _start_agents(self):
        for name, host in self.nodes.items():
            host.write_agent_plan(node_plan(self.scenario, name))
        run_parallel([(host, host.agent_start_script()) for host in self.nodes.values()], "starting the OVS agents")
        for host in self.nodes.values():
            self.state.add_process(host.agent_pid(), "%s openvswitch-agent" % host.name)
        return "%d x openvswitch-agent" % len(self.nodes)

    def _wait_for_flows(self, timeout=15.0):
        """Until every agent reports every bridge programmed and every port
        of its node bound: `up` means the data plane is ready."""
        deadline = time.monotonic() + timeout
        while True:
            missing = self.unprogrammed()
            if not missing:
                return "%d flows" % sum(b["flows"] for h in self.nodes.values()
                                        for b in (h.agent_status() or {}).get("bridges", {}).values())
            if time.monotonic() > deadline:
                node, what = missing[0]
                raise LabError("the OVS agent of %s did not program %s within %.0f s (its log, %s:\n%s)"
                               % (node, what, timeout, os.path.join(self.state.dir, "nodes", node, "neutron",
                                                                  "openvswitch-agent.log"),
                                  self.nodes[node].agent_log_tail()))
            time.sleep(0.05)

    def unprogrammed(self):
        """[(node, what)] the agents have not confirmed yet."""
        out = []
        for name, host in self.nodes.items():
            status = host.agent_status() or {}
            bridges = status.get("bridges", {})
            for bridge in self.state.nodes[name]["bridges"]:
                if bridge not in bridges:
                    out.append((name, bridge))
            bound = set(bridges.get(naming.INTEGRATION_BRIDGE, {}).get("bound", []))
            for port in self.scenario.ports(name):
                if port.name not in bound:
                    out.append((name, "port %s" % port.name))
        return out

    def _create_instances(self):
        by_node = {}
        for inst in self.scenario.instances.values():
            host = InstanceHost(inst.name, self.script_dir, inst, os.path.join(self.state.dir, "instances", inst.name))
            self.instances[inst.name] = host
            self._record(host, "instance")
            port = inst.port
            self.state.instances[inst.name] = {
                "node": inst.node, "network": port.network, "ip": str(port.ip), "mac": port.mac,
                "tap": port.name, "mtu": inst.mtu, "port_id": port.id}
            self.state.save()
            node = self.nodes[inst.node]
            self.links.append(Veth(host, node, "eth0", port.name, mac1=port.mac, mac2=naming.tap_mac(port.mac),
                                   mtu=inst.mtu))
            by_node.setdefault(inst.node, []).append(inst)
        jobs = [(self.instances[i.name], self._instance_script(i)) for i in self.scenario.instances.values()]
        run_parallel(jobs, "configuring instances")
        instance_of = {i.port.id: i.id for i in self.scenario.instances.values()}
        jobs = [(self.nodes[n], plumbing.tap_ports_script([i.port for i in insts], instance_of))
                for n, insts in by_node.items()]
        run_parallel(jobs, "plugging taps into br-int")
        return "%d instances" % len(self.instances)

    def _instance_script(self, inst):
        net = self.scenario.networks[inst.port.network]
        prefix = net.subnet.cidr.prefixlen
        lines = [
            "ip link set lo up",
            # TX checksum offload off: userspace conntrack marks partial checksums invalid (platform notes)
            "ethtool -K eth0 tx off >/dev/null",
            "ip link set eth0 up",
        ]
        if inst.address_mode == "static":
            lines.append("ip addr add %s/%d dev eth0" % (inst.port.ip, prefix))
            if net.subnet.gateway:
                lines.append("ip route add default via %s dev eth0" % net.subnet.gateway)
        return "\n".join(lines)

    def _start_ssh(self):
        """dropbear in every instance, the scenario's key pair authorized."""
        keys = {name: self.public_key(name) for name in self.scenario.keypairs}
        for inst in self.scenario.instances.values():
            self.instances[inst.name].prepare_ssh(keys.get(inst.keypair, ""))
        run_parallel([(h, h.ssh_server_script()) for h in self.instances.values()], "starting SSH servers")
        for host in self.instances.values():
            self.state.add_process(wait_pidfile(host.ssh_pidfile(), "dropbear in " + host.name), "%s dropbear" % host.name)
        return "%d x dropbear, %d key pairs" % (len(self.instances), len(keys))

    def public_key(self, name):
        """A key pair's public key: the scenario's, or one made for this lab
        (private key in <lab>/keys/<name>, as `stacklab ssh` uses it)."""
        pair = self.scenario.keypairs[name]
        if pair.public_key:
            return pair.public_key
        path = keypair_file(self.state.dir, name)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stacklab-%s" % name, "-f", path],
                           check=True, stdout=subprocess.DEVNULL)
        with open(path + ".pub") as f:
            return f.read()

    def _start_dhcp(self):
        """qdhcp-<network id> on the DHCP node for each network with DHCP:
        its tap on br-int, neutron's files, dnsmasq."""
        ports = self.scenario.dhcp_ports
        if not ports:
            return "none"
        for net_name, port in ports.items():
            net = self.scenario.networks[net_name]
            node = self.nodes[port.node]
            host = DhcpNamespace(naming.qdhcp_namespace(net.id), self.script_dir, net, port,
                                 os.path.join(node.workdir, "neutron"))
            self.dhcp[host.name] = host
            self._record(host, "dhcp")
            self.state.save()
            self.links.append(Veth(host, node, port.name, port.name, mac1=port.mac, mtu=net.mtu))
            host.write_files([i.port for i in self.scenario.instances.values() if i.port.network == net_name])
        by_node = {}
        for port in ports.values():
            by_node.setdefault(port.node, []).append(port)
        run_parallel([(self.nodes[n], plumbing.tap_ports_script(p, {})) for n, p in by_node.items()],
                     "plugging DHCP ports into br-int")
        run_parallel([(h, h.start_script()) for h in self.dhcp.values()], "starting dnsmasq")
        for host in self.dhcp.values():
            self.state.add_process(wait_pidfile(host.pidfile(), "dnsmasq in " + host.name), "%s dnsmasq" % host.name)
        return "%d x dnsmasq" % len(self.dhcp)

    def _request_addresses(self):
        """Instances in dhcp mode ask for their address, as cirros does at boot."""
        asking = [i for i in self.scenario.instances.values() if i.address_mode == "dhcp"]
        if not asking:
            return "all static"
        client = os.path.join(self.script_dir, "udhcpc-event.sh")
        with open(client, "w") as f:
            f.write(UDHCPC_SCRIPT)
        os.chmod(client, 0o755)
        run_parallel([(self.instances[i.name], "busybox udhcpc -i eth0 -f -q -n -t 10 -T 1 -O mtu -s %s >/dev/null"
                       % client) for i in asking], "asking for addresses by DHCP")
        return "%d by DHCP" % len(asking)

    # -- tearing down ---------------------------------------------------------
    def stop(self):
        """Remove everything: processes (namespaces and veths go with them),
        then the lab's directory. Safe to call twice."""
        try:
            sweep(self.state)
        finally:
            for host in list(self.hosts().values()) + ([self.fabric] if self.fabric else []):
                try:
                    host.cleanup()      # close our end of its pty, reap its shell
                except (OSError, ValueError):
                    pass
            self.nodes, self.instances, self.dhcp, self.fabric = {}, {}, {}, None


def build_lab(scenario, state, progress=None):
    """Build `scenario`; on any failure or interruption remove what was built."""
    lab = Lab(scenario, state, progress)
    try:
        lab.build()
    except BaseException:
        lab.stop()
        raise
    return lab

