"""The Lab composes a scenario out of nodes, the fabric and instances, and
records each piece in the lab's state as soon as it exists. It only composes:
each node owns its processes, each link its interfaces."""

import os
import shlex
import subprocess
import sys
import time
from functools import partial

from stacklab import naming
from stacklab.errors import LabError
from stacklab.observe.ssh import key_file
from stacklab.runtime.procs import read_pidfile, signals_deferred
from stacklab.runtime.teardown import sweep
from stacklab.scenario import metadata as scenario_metadata
from stacklab.scenario.ovn import metadata_chassis as ovn_metadata_chassis
from topologies import amphora, fabric, metadata, plumbing
from topologies.amphora import AmphoraHost, install_controller_certs, octavia_controller
from topologies.controlplanes import control_plane
from topologies.dvr import DvrRouterNamespace, FipNamespace, SnatNamespace
from topologies.ha_router import HaRouterNamespace, HaSnatNamespace
from topologies.links import TapPair, Veth, veth_script
from topologies.node import (CloudNode, ExternalHost, FabricHost, InstanceHost, log_lines, ssh_client_setup,
                             start_hosts)
from topologies.ovn_metadata import MetadataNamespace
from topologies.ovn_metadata import veth_names as ovn_veth_names
from topologies.pki import CertificateAuthority
from topologies.routers import RouterNamespace
from topologies.services import DhcpNamespace
from topologies.shell import run_parallel, script, send, wait
from topologies.supervisor import Supervisor
from topologies.units import Units


# What udhcpc runs when it gets a lease: configure the interface as the
# image's DHCP client does. STYLE=cirros (0.5 and before, busybox's udhcpc):
# the address with its broadcast, for good. STYLE=dhcpcd (cirros 0.6): a
# dynamic address valid for the lease and preferred until its rebinding time
# (7/8 of it), no prefix route; its routes `proto dhcp` at metric 1000 + the
# interface's index. STYLE=networkmanager (an Ubuntu amphora): a dynamic
# address with the lease's lifetime, its routes at metric 100.
INSTANCE_UDHCPC_SCRIPT = "/run/udhcpc-event.sh"
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    ip -4 addr flush dev "$interface"
    if [ "$STYLE" = networkmanager ] || [ "$STYLE" = dhcpcd ]; then
      if [ "$STYLE" = dhcpcd ]; then
        preferred=$((lease * 7 / 8)); n=$((1000 + $(cat /sys/class/net/$interface/ifindex)))
        metric="proto dhcp src $ip metric $n"
      else
        preferred=$lease; n=100
        metric="metric $n"
      fi
      ip addr add "$ip/$mask" brd + dev "$interface" valid_lft "$lease" preferred_lft "$preferred" noprefixroute
      eval $(busybox ipcalc -n "$ip/$mask")
      ip route replace "$NETWORK/$mask" dev "$interface" proto dhcp scope link src "$ip" metric $n
    else
      ip addr add "$ip/$mask" brd + dev "$interface"
    fi
    if [ -n "$staticroutes" ]; then
      # option 121 given: its routes, the default among them (RFC 3442: the router option is ignored)
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        case "$1" in
          0.0.0.0/0) ip route replace default via "$2" dev "$interface" $metric ;;
          *) ip route replace "$1" via "$2" dev "$interface" $metric ;;
        esac
        shift 2
      done
    else
      for r in $router; do ip route replace default via "$r" dev "$interface" $metric; break; done
    fi ;;
esac
exit 0
"""
# One interface's DHCP client: 5 DISCOVERs {timeout} s apart per try, tries until the deadline;
# on failure what the last try said (not every try's lines).
DHCP_ASK = ("end=$(( $(date +%s) + {patience} ))\n"
            "until STYLE={style} busybox udhcpc -i {iface} -f -q -n -t 5 -T {timeout} -O mtu -O staticroutes -s {script} "
            ">/dev/null 2>/run/udhcpc-{iface}.err; do\n"
            "  if [ $(date +%s) -ge $end ]; then\n"
            "    echo \"no lease on {iface} within {patience} s; udhcpc's last try:\" >&2\n"
            "    cat /run/udhcpc-{iface}.err >&2; exit 1\n"
            "  fi\n"
            "  sleep 0.1\n"
            "done")
DHCP_PATIENCE_SECONDS = 30
# How long an instance tries to read its key from 169.254.169.254 before it boots on
# without it (cirros tries 20 times): short, so that a lab whose metadata path is
# broken on purpose (an exercise) still comes up quickly.
INSTANCE_DATA_PATIENCE_SECONDS = 6
# How long a DHCP client waits for an answer before it asks again: 1 s where
# few ask (the first DISCOVER toward a new VXLAN peer is often lost while OVS
# resolves the peer: a quick retry keeps `up` fast); 3 s, busybox's and
# cirros's default, where many ask at once: every DISCOVER is flooded to every
# node, and 200 clients asking again each second while the answers are still
# on their way kept a 100-node lab's switches busy for 30 s (10 s with 3 s).
DHCP_FAST_TIMEOUT, DHCP_TIMEOUT, DHCP_FAST_UP_TO = 1, 3, 40


def dhcp_timeout(asking):
    """udhcpc's -T for `asking` clients asking at once."""
    return DHCP_FAST_TIMEOUT if asking <= DHCP_FAST_UP_TO else DHCP_TIMEOUT


def wait_pidfile(path, what, holder, timeout=5.0):
    """The pid a daemon writes once it has detached (its child writes it, so
    it may come a moment after the start command returns), as the lab sees
    it: `holder` is the shell of the host it runs in, whose PID namespace
    the pidfile's number is of (see read_pidfile())."""
    deadline = time.monotonic() + timeout
    while True:
        pid = read_pidfile(path, holder)
        if pid is not None:
            return pid
        if time.monotonic() > deadline:
            raise LabError("%s did not start: no pid (of a running process) in %s after %.0f s"
                           % (what, path, timeout)) from None
        time.sleep(0.02)


class Lab:
    """A scenario built for real. `build()` creates it, `stop()` removes all of it."""

    FABRIC = "fabric"

    def __init__(self, scenario, state, progress=None):
        self.scenario = scenario
        self.state = state
        self.progress = progress or (lambda step, detail, seconds: None)
        self.nodes = {}         # name -> CloudNode
        self.instances = {}     # name -> InstanceHost (AmphoraHost for an amphora)
        self.dhcp = {}          # qdhcp-<network id> -> DhcpNamespace
        self.ovnmeta = {}       # ovnmeta-<network id>@<node> -> MetadataNamespace (ML2/OVN)
        self.routers = {}       # qrouter-<router id> -> RouterNamespace
        self.dvr = {}           # qrouter-<router id>@<node>, snat-<router id>, fip-<network id>@<node> ->
                                # topologies/dvr.py's hosts; snat-<router id>@<node> of HA ones -> HaSnatNamespace
        self.ha = {}            # qrouter-<router id>@<node> -> topologies/ha_router.py's HaRouterNamespace
        self.external = {}      # name -> ExternalHost
        self.fabric = None
        self.links = []
        self.keys = {}          # key pair -> private key file
        self.pki = None         # Octavia's CA, when the scenario has load balancers
        self.script_dir = os.path.join(state.dir, "scripts")
        self.supervisor = Supervisor(state, enabled=scenario.restart_daemons)
        self.plane = control_plane(self)        # what programs the switches (topologies/controlplanes/)
        self.units = Units(self)                # what `systemctl` on a node answers

    def hosts(self):
        """Every namespace by name (what the CLI talks to)."""
        return {**self.nodes, **self.instances, **self.dhcp, **self.ovnmeta, **self.routers, **self.dvr,
                **self.ha, **self.external}

    # -- building -------------------------------------------------------------
    # the build, step by step: (title shown in the progress, method)
    STEPS = (
        ("nodes", "_create_nodes"),
        ("open vswitch", "_start_ovs"),
        ("physical networks", "_wire_fabric"),
        # the agents before the bridges: a bridge that finds nobody listening retries after 1, 2,
        # 4 s, and starting Python with os-ken takes longer than creating the bridges
        ("agents", "_start_control_plane"),
        ("bridges", "_configure_bridges"),
        ("instances", "create_instances"),
        ("ssh servers", "start_ssh"),
        ("web servers", "start_web_servers"),
        ("dhcp", "start_dhcp"),
        ("ovn metadata", "start_ovn_metadata_namespaces"),
        ("routers", "_start_routers"),
        ("metadata", "start_metadata"),
        ("flows", "wait_for_flows"),
        ("addresses", "request_addresses"),
        ("instance data", "fetch_instance_data"),
        ("load balancers", "_start_load_balancers"),
    )

    def build(self):
        for title, method in self.STEPS:
            step = getattr(self, method)
            t0 = time.monotonic()
            if os.environ.get("STACKLAB_FAIL_AT") == title:      # fault injection for the tests
                raise LabError("injected failure at %s" % title)
            detail = step()
            self.state.save()
            self.progress(title, detail, time.monotonic() - t0)
            if os.environ.get("STACKLAB_PAUSE_AFTER") == title:  # lets the crash test kill us mid-build
                print("paused after %s" % title, flush=True)
                pause_until = time.monotonic() + float(os.environ.get("STACKLAB_PAUSE_SECONDS", "60"))
                while time.monotonic() < pause_until:
                    # short sleeps: a signal that lands just before a sleep starts would not
                    # end it (Python runs its handler between sleeps), and the test waits
                    time.sleep(0.05)
        self.state.phase = "up"
        self.state.save()

    def _record(self, host, kind):
        netns, mntns = host.namespace_ids()
        self.state.add_namespace(host.name, kind, host.pid, netns, mntns)

    def _create_nodes(self):
        self._make_keys()
        binds = self._make_octavia_pki()
        for node, mounts in self.plane.binds().items():
            binds.setdefault(node, []).extend(mounts)
        jobs = [(lambda: FabricHost(self.FABRIC, self.script_dir), self._fabric_made)]
        jobs += [(partial(self._new_node, node, binds.get(node.name, ())), partial(self._node_made, node))
                 for node in self.scenario.nodes.values()]
        jobs += [(partial(self._new_external_host, h), partial(self._external_host_made, h))
                 for h in self.scenario.hosts.values()]
        self._start_hosts(jobs)
        return "%d nodes%s" % (len(self.nodes), ", %d hosts" % len(self.external) if self.external else "")

    def _start_hosts(self, jobs):
        """start_hosts(), then the state saved however it ended: every host
        is recorded before anything runs inside it."""
        try:
            start_hosts(jobs)
        finally:
            self.state.save()

    def _fabric_made(self, host):
        self.fabric = host
        self._record(host, "fabric")

    def _new_node(self, node, binds):
        workdir = os.path.join(self.state.dir, "nodes", node.name)
        ssh_client_setup(workdir, self.keys)
        return CloudNode(node.name, self.script_dir, workdir, node.role, binds=binds)

    def _node_made(self, node, host):
        self.nodes[node.name] = host
        self._record(host, "node")
        self.state.nodes[node.name] = {"role": node.role, "bridges": self.plane.bridge_names(node)}

    def _new_external_host(self, h):
        workdir = os.path.join(self.state.dir, "hosts", h.name)
        ssh_client_setup(workdir, self.keys)
        return ExternalHost(h.name, self.script_dir, h, workdir)

    def _external_host_made(self, h, host):
        self.external[h.name] = host
        self._record(host, "host")
        self.state.hosts[h.name] = {"physical_network": h.physical_network, "ip": str(h.address)}

    def _make_keys(self):
        """Every key pair's private key the lab can use: the scenario's file,
        or one made for this lab (in <lab>/keys/, where `stacklab ssh` finds it)."""
        for name in self.scenario.keypairs:
            self.public_key(name)           # makes the lab's own when the scenario gives none
            path = key_file(self.scenario, name, self.state.dir)
            if os.path.exists(path):
                self.keys[name] = path

    def _make_octavia_pki(self):
        """The CA, the controller's client certificate (its /etc/octavia),
        the amphorae's server certificates. Returns the nodes' extra mounts."""
        if not self.scenario.load_balancers:
            return {}
        self.pki = CertificateAuthority(os.path.join(self.state.dir, "octavia-pki"))
        binds = {}
        client = self.pki.issue("client", "octavia-controller")
        for lb in self.scenario.load_balancers.values():
            etc = os.path.join(self.state.dir, "nodes", lb.controller, "etc-octavia")
            install_controller_certs(etc, self.pki, client)
            binds[lb.controller] = [("/etc/octavia", etc)]
        return binds

    def _start_ovs(self):
        run_parallel([(host, host.ovs_start_script()) for host in self.nodes.values()], "starting Open vSwitch")
        for host in self.nodes.values():
            for daemon, command in host.OVS_DAEMONS:
                pidfile = host.pidfile(daemon)
                self.watch("%s %s" % (host.name, daemon), host.name, command, pidfile)
        return "%d x (ovsdb-server, ovs-vswitchd)" % len(self.nodes)

    def watch(self, what, where, command, pidfile):
        """Record daemon `what`, started at `where` by `command` (which the
        supervisor runs again should it die), from its pidfile."""
        self.supervisor.watch(what, where, command, pidfile,
                              wait_pidfile(pidfile, what, self.state.namespaces[where]["pid"]))

    def _wire_fabric(self):
        physnets = sorted({nic.physical_network for n in self.scenario.nodes.values() for nic in n.nics.values()})
        switches = fabric.switch_names(physnets)
        lines = ["sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
                 "ip link set lo up"]
        lines += [FabricHost.switch_script(switches[p]) for p in physnets]
        script(self.fabric, "\n".join(lines), "creating physical network switches")
        ups = []
        answered = {switch: [] for switch in switches.values()}
        veths = []
        for index, node in enumerate(self.scenario.nodes.values()):
            host = self.nodes[node.name]
            for nic in node.nics.values():
                far = fabric.port_name(index, node.name, nic.name)
                veths.append((host, self.fabric, nic.name, far, nic.mac, None, None))
                ups.append("ip link set %s master %s up" % (far, switches[nic.physical_network]))
                if nic.address:
                    answered[switches[nic.physical_network]].append((far, nic.address.ip, nic.mac))
        self._make_veths(veths, "plugging the nodes' NICs into the physical networks")
        for index, h in enumerate(self.scenario.hosts.values()):
            host = self.external[h.name]
            far = fabric.port_name(len(self.scenario.nodes) + index, h.name, "eth0")
            self.links.append(Veth(host, self.fabric, "eth0", far, mac1=h.mac))
            ups.append("ip link set %s master %s up" % (far, switches[h.physical_network]))
        ups += [fabric.arp_answers_script(switch, ports) for switch, ports in answered.items()]
        if ups:
            script(self.fabric, "\n".join(ups), "connecting NICs to physical networks")
        if self.external:
            run_parallel([(h, h.network_script()) for h in self.external.values()], "configuring external hosts")
        return ", ".join(physnets) or "none"

    def _configure_bridges(self):
        run_parallel([(self.nodes[node.name], self.plane.bridges_script(node)) for node in self.scenario.nodes.values()],
                     "configuring bridges")
        return "%d bridges" % sum(len(v["bridges"]) for v in self.state.nodes.values())

    def _start_control_plane(self):
        return self.plane.start()

    def wait_for_flows(self, stall=15.0, limit=300.0):
        """Until the control plane reports every bridge programmed and
        every port of its node bound: `up` means the data plane is ready.
        A big lab takes longer: give up only when nothing has been confirmed
        for `stall` seconds (or after `limit`)."""
        start = time.monotonic()
        progress, left = start, None
        while True:
            missing = self.plane.unprogrammed()
            if not missing:
                return self.plane.summary()
            now = time.monotonic()
            if left is None or len(missing) < left:
                progress, left = now, len(missing)
            if now - progress > stall or now - start > limit:
                timeout = now - start
                node, what = missing[0]
                more = "" if len(missing) == 1 else " (and %s)" % ", ".join("%s of %s" % (w, n) for n, w in missing[1:])
                raise LabError("%s%s within %.0f s (its log, %s:\n%s)%s"
                               % (self.plane.stalled(node, what), more, timeout, self.plane.log_path(),
                                  self.plane.log_tail(15), self._controller_connections(missing, self.plane.log_path())))
            time.sleep(0.05 + 0.002 * len(self.nodes))     # each look reads every node's status

    def _controller_connections(self, missing, controller_log):
        """For each bridge still missing, both sides of its connection: what
        its switch said (did it ever connect?) and what the controller's log
        says about that node and bridge."""
        heard = log_lines(controller_log)
        out = []
        for node, what in missing:
            host = self.nodes.get(node)
            if host is not None and not what.startswith("port "):
                bridge = what.split(" ", 1)[0]
                said = host.controller_log(bridge)
                about = [line for line in heard if " %s %s:" % (node, bridge) in line or " %s:" % node in line][-6:]
                out.append("\n%s %s, its ovs-vswitchd:\n%s\nits controller's log about it:\n%s"
                           % (node, bridge, "\n".join(said) or "(nothing about a controller)",
                              "\n".join(about) or "(nothing)"))
        return "".join(out)

    def create_instances(self, instances=None):
        """`instances`: those to create (default: the scenario's; `apply` adds some later)."""
        instances = list(self.scenario.instances.values()) if instances is None else instances
        by_node = {}
        amphorae = {lb.amphora for lb in self.scenario.load_balancers.values()}
        jobs = [(partial(self._new_instance, inst, amphorae), partial(self._instance_made, inst))
                for inst in instances]
        self._start_hosts(jobs)
        veths = []
        for inst in instances:
            host, node = self.instances[inst.name], self.nodes[inst.node]
            if isinstance(host, AmphoraHost):
                self._plug_amphora(host, node, inst)
            else:
                port = inst.port
                veths.append((host, node, "eth0", port.name, port.mac, naming.tap_mac(port.mac), inst.mtu))
            by_node.setdefault(inst.node, []).extend(inst.ports)
        self._make_veths(veths, "creating the instances' NICs")
        jobs = [(self.instances[i.name], self._instance_script(i)) for i in instances]
        run_parallel(jobs, "configuring instances")
        instance_of = {p.id: i.id for i in instances for p in i.ports}
        jobs = [(self.nodes[n], plumbing.tap_ports_script(ports, instance_of)) for n, ports in by_node.items()]
        run_parallel(jobs, "plugging taps into br-int")
        return "%d instances" % len(instances)

    def _new_instance(self, inst, amphorae):
        workdir = os.path.join(self.state.dir, "instances", inst.name)
        cls = AmphoraHost if inst.name in amphorae else InstanceHost
        return cls(inst.name, self.script_dir, inst, workdir)

    def _instance_made(self, inst, host):
        self.instances[inst.name] = host
        self._record(host, "instance")
        port = inst.port
        self.state.instances[inst.name] = {
            "node": inst.node, "network": port.network, "ip": str(port.ip), "mac": port.mac,
            "tap": port.name, "mtu": inst.mtu, "port_id": port.id}

    def _make_veths(self, veths, what):
        """Veth pairs [(host1, host2, name1, name2, mac1, mac2, mtu)], one of
        the two hosts a node. Each pair is made inside its node, the nodes at
        once: a node's interfaces get their indexes in the scenario's order,
        whatever runs first."""
        by_node = {}
        for host1, host2, name1, name2, mac1, mac2, mtu in veths:
            if isinstance(host1, CloudNode):
                by_node.setdefault(host1, []).append(veth_script(name1, name2, host1.netns_path(host2.pid),
                                                                 mac1, mac2, mtu))
            else:
                by_node.setdefault(host2, []).append(veth_script(name2, name1, host2.netns_path(host1.pid),
                                                                 mac2, mac1, mtu))
        run_parallel([(node, "\n".join(lines)) for node, lines in by_node.items()], what)
        for host1, host2, name1, name2, mac1, mac2, mtu in veths:
            self.links.append(Veth(host1, host2, name1, name2, mac1=mac1, mac2=mac2, mtu=mtu, create=False))

    def _plug_amphora(self, host, node, inst):
        """The amphora's nested namespace, then its NICs as a VM's (tap pairs)."""
        script(host, host.nested_namespace_script(), "creating %s in %s" % (amphora.NETNS, inst.name))
        netns, mntns = host.nested_netns_inode(), host.namespace_ids()[1]
        self.state.add_namespace("%s/%s" % (inst.name, amphora.NETNS), "nested", host.pid, netns, mntns)
        self.state.save()
        for port in inst.ports:
            mtu = self.scenario.networks[port.network].mtu
            pidfile = os.path.join(host.workdir, "nic-%s.pid" % port.interface)
            inner_first, altname = amphora.NIC_LAYOUT.get(port.interface, (True, None))
            self.links.append(TapPair(host, node, port.interface, port.name, pidfile, port.mac,
                                      naming.tap_mac(port.mac), mtu, port.netns, inner_first, altname))
            self.state.add_process(wait_pidfile(pidfile, "the NIC %s of %s" % (port.interface, inst.name), host.pid),
                                   "%s nic %s" % (inst.name, port.interface))
            self.state.save()

    def _instance_script(self, inst):
        lines = [
            "ip link set lo up",
        ]
        for port in inst.ports:
            net = self.scenario.networks[port.network]
            if port.netns is not None:          # the amphora's VIP side, set up as its agent does
                lb = next(lb for lb in self.scenario.load_balancers.values() if lb.amphora == inst.name)
                lines.append(AmphoraHost.vip_script(port, net.subnet.cidr.prefixlen, lb.vip_address,
                                                    net.subnet.gateway))
                continue
            # TX checksum offload off: userspace conntrack marks partial checksums invalid (platform notes).
            # Three router solicitations, as cirros's kernel sends (000's table 71 counts 3): today's
            # kernels go on forever, which a hundred instances flooding every node would feel.
            # A queue, as a VM's NIC has (cirros: pfifo_fast): a frame too big for the tap beyond is
            # then lost on the way, as from a VM, and not refused at once with ENOBUFS ("No buffer
            # space available") as a bare veth refuses it.
            lines += ["ethtool -K %s tx off >/dev/null 2>&1 || true" % port.interface,
                      "sysctl -qw net.ipv6.conf.%s.router_solicitations=3" % port.interface,
                      "tc qdisc replace dev %s root pfifo_fast" % port.interface,
                      "ip link set %s up" % port.interface]
            if inst.address_mode == "static":
                lines += self._static_address_lines(inst, port)
        return "\n".join(lines)

    def _static_address_lines(self, inst, port):
        """A port of a static instance configured directly, with what DHCP
        would have given: its host routes and the default route."""
        net = self.scenario.networks[port.network]
        lines = ["ip addr add %s/%d dev %s" % (port.ip, net.subnet.cidr.prefixlen, port.interface)]
        if port is inst.port:
            for dest, via in scenario_metadata.host_routes(self.scenario, port.network):
                if dest != "0.0.0.0/0":
                    lines.append("ip route add %s via %s dev %s" % (dest, via, port.interface))
            if net.subnet.gateway:
                lines.append("ip route add default via %s dev %s" % (net.subnet.gateway, port.interface))
        return lines

    def start_ssh(self, instances=None):
        """dropbear in every instance, the scenario's key pair authorized."""
        instances = list(self.scenario.instances.values()) if instances is None else instances
        hosts = [self.instances[i.name] for i in instances]
        keys = {name: self.public_key(name) for name in self.scenario.keypairs}
        for inst in instances:
            # the key is on its config drive, or read from the metadata service later (fetch_instance_data)
            on_disk = not scenario_metadata.fetches_key(inst)
            self.instances[inst.name].prepare_ssh(keys.get(inst.keypair, "") if on_disk else "")
        run_parallel([(h, h.ssh_server_script()) for h in hosts], "starting SSH servers")
        for host in hosts:
            self.state.add_process(wait_pidfile(host.ssh_pidfile(), "dropbear in " + host.name, host.pid), "%s dropbear" % host.name)
        return "%d x dropbear, %d key pairs" % (len(hosts), len(keys))

    def start_web_servers(self, instances=None):
        """busybox httpd on the ports an instance `listen`s on."""
        instances = list(self.scenario.instances.values()) if instances is None else instances
        serving = [i for i in instances if i.listen]
        if not serving:
            return "none"
        run_parallel([(self.instances[i.name], self.instances[i.name].web_server_script()) for i in serving],
                     "starting web servers")
        for inst in serving:
            host = self.instances[inst.name]
            for port in inst.listen:
                self.state.add_process(wait_pidfile(host.web_pidfile(port), "httpd in " + inst.name, host.pid),
                                       "%s httpd :%d" % (inst.name, port))
        return ", ".join("%s :%s" % (i.name, ",".join(map(str, i.listen))) for i in serving)

    def public_key(self, name):
        """A key pair's public key: the scenario's, or one made for this lab
        (private key in <lab>/keys/<name>, as `stacklab ssh` uses it)."""
        pair = self.scenario.keypairs[name]
        if pair.public_key:
            return pair.public_key
        path = key_file(self.scenario, name, self.state.dir)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stacklab-%s" % name, "-f", path],
                           check=True, stdout=subprocess.DEVNULL)
        with open(path + ".pub") as f:
            return f.read()

    def start_dhcp(self, networks=None):
        """qdhcp-<network id> on the DHCP node for each network with DHCP:
        its tap on br-int, neutron's files, dnsmasq. `networks`: only these."""
        ports = {n: p for n, p in self.scenario.dhcp_ports.items() if networks is None or n in networks}
        if not ports:
            return "none"
        started = []

        def new(net, port):
            node = self.nodes[port.node]
            return DhcpNamespace(naming.qdhcp_namespace(net.id), self.script_dir, net, port,
                                 os.path.join(node.workdir, "neutron"), node.pid,
                                 serves_metadata=scenario_metadata.served_by_dhcp(self.scenario, net.name))

        def made(host):
            self.dhcp[host.name] = host
            started.append(host)
            self._record(host, "dhcp")
        self._start_hosts([(partial(new, self.scenario.networks[n], p), made) for n, p in ports.items()])
        order = [naming.qdhcp_namespace(self.scenario.networks[n].id) for n in ports]
        started.sort(key=lambda h: order.index(h.name))         # plugged in the scenario's order
        for host in started:
            host.write_files(self.scenario)
        self._plug_agent_ports(started, lambda h: [h.port], "DHCP ports")
        run_parallel([(h, h.start_script()) for h in started], "starting dnsmasq")
        for host in started:
            self.watch("%s dnsmasq" % host.name, host.name, host.dnsmasq_command(), host.pidfile())
        return "%d x dnsmasq" % len(started)

    def start_ovn_metadata_namespaces(self, places=None):
        """ovnmeta-<network id> on each chassis with ports on a network that
        has a metadata port (ML2/OVN), as the OVN metadata agent makes it:
        its veth on br-int bound to the localport, the localport's address and
        169.254.169.254 inside. `places`: only these [(node, network)]."""
        places = ovn_metadata_chassis(self.scenario) if places is None else places
        if not places:
            return "none"
        started = []

        def new(node, net_name):
            host = self.nodes[node]
            return MetadataNamespace(self.script_dir, node, self.scenario.networks[net_name],
                                     self.scenario.metadata_ports[net_name], os.path.join(host.workdir, "neutron"),
                                     host.pid)

        def made(host):
            self.ovnmeta[host.name] = host
            started.append(host)
            self._record(host, "ovnmeta")
        self._start_hosts([(partial(new, node, net), made) for node, net in places])
        veths = [(self.nodes[h.node], h, *ovn_veth_names(h.network.id), None, h.port.mac, h.network.mtu)
                 for h in started]
        self._make_veths(veths, "creating the ovnmeta- ports")
        by_node = {}
        for h in started:
            by_node.setdefault(h.node, []).extend([self.nodes[h.node].expose_namespace_script(h.namespace, h.pid),
                                                   h.plug_script()])
        run_parallel([(self.nodes[n], "\n".join(lines)) for n, lines in by_node.items()],
                     "plugging ovnmeta- ports into br-int")
        run_parallel([(h, h.configure_script()) for h in started], "configuring ovnmeta- namespaces")
        return "%d x ovnmeta- on %d chassis" % (len(started), len(by_node))

    def _plug_agent_ports(self, hosts, ports_of, what):
        """Plug agent namespaces' ports (qr-, qg-, DHCP taps) into their
        node's br-int and list the namespaces in the node's `ip netns`, as on
        a real network node. On the kernel datapath each port is an internal
        port moved into its namespace, as neutron's interface driver makes
        it; the userspace datapath loses a moved internal port's device
        (docs/differences.md), so there it is a veth pair named alike on
        both ends."""
        system = self.scenario.datapath_type == "system"
        if not system:
            self._make_veths([(host, self.nodes[port.node], port.name, port.name, port.mac, None,
                               self.scenario.networks[port.network].mtu)
                              for host in hosts for port in ports_of(host)], "creating the %s" % what)
        by_node = {}
        for host in hosts:
            ports = ports_of(host)
            expose, plugs = by_node.setdefault(self.nodes[ports[0].node], ([], []))
            netns = getattr(host, "netns_name", host.name)      # (a DVR router's: the same on every node)
            expose.append(self.nodes[ports[0].node].expose_namespace_script(netns, host.pid))
            plugs.extend((p, netns, self.scenario.networks[p.network].mtu) for p in ports)
        # one port per transaction, as the agents plug them: OVS numbers the ports of one
        # transaction in no set order, one after another in the order they come
        run_parallel([(node, "\n".join(expose + [plumbing.internal_ports_script([plug]) if system else
                                                  plumbing.tap_ports_script([plug[0]], {}) for plug in plugs]))
                      for node, (expose, plugs) in by_node.items()], "plugging %s into br-int" % what)

    def _start_routers(self):
        """qrouter-<id> for each router: qr-/qg- ports on br-int, addresses,
        NAT; a distributed router's on each node hosting it, and its snat-."""
        routers = [r for r in self.scenario.routers.values() if r.node is not None]
        distributed = [r for r in self.scenario.routers.values() if r.distributed]
        ha = [r for r in self.scenario.routers.values() if r.ha and not r.distributed]
        said = []
        if distributed:
            self._start_dvr_routers(distributed)
            kept = sum(len(r.snat_hosts) for r in distributed if r.ha)
            said.append("%d distributed: %d x qrouter, %d x snat%s" % (
                len(distributed), sum(len(r.hosts) for r in distributed), sum(len(r.snat_hosts) for r in distributed),
                ", %d x keepalived" % kept if kept else ""))
        if ha:
            self._start_ha_routers(ha)
            said.append("%d HA: %d x qrouter, %d x keepalived" % (len(ha), sum(len(r.hosts) for r in ha),
                                                                 sum(len(r.hosts) for r in ha)))
        if not routers:
            if said:
                return ", ".join(said)
            return "distributed (%s's flows)" % self.plane.NAME if self.scenario.routers else "none"

        def new(router):
            node = self.nodes[router.node]
            return RouterNamespace(router.namespace, self.script_dir, router,
                                   os.path.join(self.state.dir, "routers", router.name), node.pid,
                                   os.path.join(node.workdir, "neutron"))

        def made(host):
            self.routers[host.name] = host
            self._record(host, "router")
        self._start_hosts([(partial(new, r), made) for r in routers])
        self._plug_agent_ports([self.routers[r.namespace] for r in routers], lambda h: h.router.ports(),
                               "router ports")
        run_parallel([(h, h.configure_script(self.scenario.networks, self.scenario.floating_ips))
                      for h in self.routers.values()], "configuring routers")
        fips = sum(1 for f in self.scenario.floating_ips if f.fixed_ip is not None)
        return "%d x qrouter, %d floating IPs" % (len(self.routers), fips)

    def _start_dvr_routers(self, routers):
        """topologies/dvr.py: qrouter-<id> on every node hosting each router,
        snat-<id> on its SNAT node (an HA one's on each of its nodes, kept
        by keepalived: topologies/ha_router.py)."""
        def workdir(router, node):
            return os.path.join(self.state.dir, "routers", router.name, node)

        def neutron_dir(node):
            return os.path.join(self.nodes[node].workdir, "neutron")

        def new_qrouter(router, node):
            return DvrRouterNamespace(router, node, self.script_dir, workdir(router, node), self.nodes[node].pid,
                                      neutron_dir(node))

        def new_snat(router, node):
            if router.ha:
                return HaSnatNamespace(router, node, self.script_dir, workdir(router, "snat-" + node),
                                       self.nodes[node].pid, neutron_dir(node))
            return SnatNamespace(router, self.script_dir, workdir(router, "snat"), self.nodes[node].pid,
                                 neutron_dir(node))

        def snat_name(router, node):
            return naming.node_host(router.snat_namespace, node) if router.ha else router.snat_namespace

        def made(host):
            self.dvr[host.name] = host
            self._record(host, "router")
        def new_fip(port):
            return FipNamespace(port, self.scenario.networks[port.network], self.script_dir,
                                os.path.join(self.state.dir, "fip", port.node, port.network),
                                self.nodes[port.node].pid, neutron_dir(port.node))

        jobs = [(partial(new_qrouter, r, node), made) for r in routers for node in r.hosts]
        jobs += [(partial(new_snat, r, node), made) for r in routers for node in r.snat_hosts]
        jobs += [(partial(new_fip, port), made) for port in self.scenario.fip_gateways]
        self._start_hosts(jobs)
        # in the scenario's order, not the order they came up in: a node's ports get their
        # OpenFlow numbers in the order they are plugged
        names = [naming.node_host(r.namespace, node) for r in routers for node in r.hosts]
        names += [snat_name(r, node) for r in routers for node in r.snat_hosts]
        names += [naming.node_host(naming.fip_namespace(self.scenario.networks[p.network].id), p.node)
                  for p in self.scenario.fip_gateways]
        hosts = [self.dvr[name] for name in names]
        self._plug_agent_ports(hosts, lambda h: h.router_ports(), "distributed routers' ports")
        # each router's rfp- (in its qrouter-) / fpr- (in the node's fip-) pair
        veths = []
        for fip in (h for h in hosts if isinstance(h, FipNamespace)):
            for router, _ in fip.links(self.scenario):
                qrouter = self.dvr[naming.node_host(router.namespace, fip.node_name)]
                veths.append((fip, qrouter, router.fpr, router.rfp, None, None, None))
        if veths:
            self._make_veths(veths, "linking the distributed routers to their fip- namespaces")
        kept = [h for h in hosts if isinstance(h, HaSnatNamespace)]
        for host in kept:
            host.write_files(self.scenario)
        run_parallel([(h, h.configure_script(self.scenario)) for h in hosts], "configuring distributed routers")
        if kept:
            self._keep_alive(kept)

    HA_MASTER_WAIT = 30.0       # keepalived's first master: three adverts (2 s) and its skew, with room

    def _start_ha_routers(self, routers):
        """topologies/ha_router.py: qrouter-<id> on each of a router's nodes,
        its state monitor and keepalived (_keep_alive: the master at start
        is the scenario's first node)."""
        def new(router, node):
            return HaRouterNamespace(router, node, self.script_dir,
                                     os.path.join(self.state.dir, "routers", router.name, node), self.nodes[node].pid,
                                     os.path.join(self.nodes[node].workdir, "neutron"))

        def made(host):
            self.ha[host.name] = host
            self._record(host, "router")
        self._start_hosts([(partial(new, r, node), made) for r in routers for node in r.hosts])
        hosts = [self.ha[naming.node_host(r.namespace, node)] for r in routers for node in r.hosts]
        for host in hosts:
            host.write_files(self.scenario)
        self._plug_agent_ports(hosts, lambda h: h.router_ports(), "HA routers' ports")
        run_parallel([(h, h.configure_script(self.scenario)) for h in hosts], "configuring HA routers")
        self._keep_alive(hosts)

    def _keep_alive(self, hosts):
        """The state monitor and keepalived in each of `hosts` (an HA router's
        namespaces, configured): the first node's keepalived first, until it is
        master (they all start BACKUP, nopreempt), then the others."""
        run_parallel([(h, h.monitor_command()) for h in hosts], "starting neutron-keepalived-state-change")
        for host in hosts:
            self.watch("%s neutron-keepalived-state-change" % host.name, host.name, host.monitor_command(),
                       host.monitor_pidfile(outside=True))
        first = [h for h in hosts if h.node_name == next(iter(h.router.ha_ports))]
        self._start_keepalived(first)
        deadline = time.monotonic() + self.HA_MASTER_WAIT
        for host in first:
            while host.state() != "primary":
                if time.monotonic() > deadline:
                    raise LabError("keepalived of router %s on %s did not become master within %.0f s (state: %s)"
                                   % (host.router.name, host.node_name, self.HA_MASTER_WAIT, host.state()))
                time.sleep(0.1)
        self._start_keepalived([h for h in hosts if h not in first])

    def _start_keepalived(self, hosts):
        run_parallel([(h, h.keepalived_command()) for h in hosts], "starting keepalived")
        for host in hosts:
            self.watch("%s keepalived" % host.name, host.name, host.keepalived_command(),
                       host.keepalived_pidfile(outside=True))

    # -- the metadata path (topologies/metadata.py) ---------------------------
    def _metadata_api(self):
        """(node, address) where nova's metadata API listens: the controller's first address."""
        for node in self.scenario.nodes.values():
            if node.role == "controller":
                for nic in node.nics.values():
                    if nic.address:
                        return node.name, str(nic.address.ip)
        return None, None

    def _nova_records(self):
        return os.path.join(self.state.dir, "nova", "metadata.json")

    def write_metadata(self):
        """What nova's API and each node's metadata agent know (again after `apply`)."""
        metadata.write_json(self._nova_records(), metadata.nova_records(self.scenario, self.public_key))
        for name in metadata.agent_nodes(self.scenario):
            path = os.path.join(self.nodes[name].workdir, "neutron", os.path.basename(metadata.PORTS_FILE))
            metadata.write_json(path, metadata.agent_ports(self.scenario, name))

    def _agent_command(self, api_ip):
        py = shlex.quote(sys.executable)
        return ("mkdir -p /var/lib/neutron/external/pids && {py} -m topologies.metadata_agent "
                "--nova http://{ip}:{port} --pidfile /var/lib/neutron/external/pids/metadata-agent.pid "
                "</dev/null >>/var/lib/neutron/metadata-agent.log 2>&1 &").format(py=py, ip=api_ip,
                                                                              port=metadata.NOVA_PORT)

    def start_metadata(self, proxies=None):
        """nova's metadata API on the controller, a metadata agent on each node
        with a proxy, haproxy in each router's namespace and each qdhcp- that
        serves metadata. `proxies`: only these namespaces (after `apply`); the
        API and agents already running are left alone."""
        masters_only = []      # an HA router's: its haproxy on the master alone
        if proxies is None:
            proxies = [h for h in self.routers.values() if h.router.metadata_proxy]
            proxies += [h for h in self.dvr.values() if isinstance(h, DvrRouterNamespace) and h.router.metadata_proxy]
            proxies += [h for h in self.dhcp.values() if h.serves_metadata]
            proxies += list(self.ovnmeta.values())
            masters_only = [h for h in self.ha.values() if h.router.metadata_proxy]
        api_node, api_ip = self._metadata_api()
        if not (proxies or masters_only) or api_node is None:
            return "none"
        self.write_metadata()
        running = {p.what for p in self.state.processes}
        nova_dir = os.path.dirname(self._nova_records())     # in the lab's directory: never the machine's /var/log
        api_pidfile = os.path.join(nova_dir, "api.pid")
        api = ("{py} -m topologies.nova_metadata --listen {ip} --records {rec} --pidfile {pid} "
               "</dev/null >>{log} 2>&1 &").format(py=shlex.quote(sys.executable), ip=api_ip,
                                                   rec=shlex.quote(self._nova_records()),
                                                   pid=shlex.quote(api_pidfile),
                                                   log=shlex.quote(os.path.join(nova_dir, "nova-api-metadata.log")))
        agent = self._agent_command(api_ip)
        agents = [n for n in metadata.agent_nodes(self.scenario) if "%s neutron-metadata-agent" % n not in running]
        for host in proxies + masters_only:
            host.write_proxy_config()
        # all started at once, then each waited for: the Python daemons take a moment to start
        new_api = "%s nova-api-metadata" % api_node not in running
        if new_api:
            script(self.nodes[api_node], api, "starting nova's metadata API")
        run_parallel([(self.nodes[n], agent) for n in agents] + [(h, h.proxy_command()) for h in proxies],
                     "starting the metadata agents and proxies")
        if new_api:
            self.watch("%s nova-api-metadata" % api_node, api_node, api, api_pidfile)
        for name in agents:
            self.watch("%s neutron-metadata-agent" % name, name, agent,
                       os.path.join(self.nodes[name].workdir, "neutron", "external", "pids", "metadata-agent.pid"))
        for host in proxies:
            self.watch("%s haproxy" % host.name, host.name, host.proxy_command(), host.proxy_pidfile(outside=True))
        for host in masters_only:
            self.supervisor.follow("%s haproxy" % host.name, host.name, host.proxy_command(),
                                   host.proxy_pidfile(outside=True), host.proxy_wanted)
        kinds = [("qrouter-", (RouterNamespace, DvrRouterNamespace)), ("qdhcp-", DhcpNamespace),
                 ("ovnmeta-", MetadataNamespace)]
        where = ", ".join("%d in %s" % (n, prefix) for n, prefix in
                          ((sum(isinstance(h, kind) for h in proxies), prefix) for prefix, kind in kinds) if n)
        on_masters = sum(h.proxy_wanted() for h in masters_only)
        if masters_only:
            where += "%s%d on HA masters" % (", " if where else "", on_masters)
        return "%d x haproxy (%s), %d x metadata agent" % (len(proxies) + on_masters, where, len(agents))

    def request_addresses(self, instances=None):
        """Instances in dhcp mode ask for their address, as cirros does at boot."""
        instances = list(self.scenario.instances.values()) if instances is None else instances
        asking = [i for i in instances if i.address_mode == "dhcp"]
        if not asking:
            return "all static"
        client = os.path.join(self.script_dir, "udhcpc-event.sh")
        with open(client, "w") as f:
            f.write(UDHCPC_SCRIPT)
        os.chmod(client, 0o755)
        # as a booting image's DHCP client: tries started over until a deadline that grows
        # with the number of clients (a 100-node lab floods 200 DISCOVERs to every node at
        # once; twenty nodes under software emulation drop some for tens of seconds), each
        # waiting for its answer as long as dhcp_timeout() says
        patience = DHCP_PATIENCE_SECONDS + len(asking)
        jobs = []
        for inst in asking:
            style = self.instances[inst.name].DHCP_STYLE
            asks = [DHCP_ASK.format(style=style, iface=p.interface, script=INSTANCE_UDHCPC_SCRIPT, patience=patience,
                                    timeout=dhcp_timeout(len(asking)))
                    for p in inst.ports if p.netns is None]
            # udhcpc executes its script, and the lab's directory may be on a noexec /run (systemd
            # mounts it so): the copy lives in the instance's own /run, a tmpfs the lab mounted
            copy = "cp %s %s" % (client, INSTANCE_UDHCPC_SCRIPT)
            jobs.append((self.instances[inst.name], "\n".join([copy] + asks)))
        run_parallel(jobs, "asking for addresses by DHCP")
        return "%d by DHCP" % len(asking)

    def reboot_instance(self, name):
        """`reboot` in an instance, or `openstack server reboot`: it boots
        again with its disk as it was (its key stays if it had one), asks for
        its address and reads its data from 169.254.169.254 again."""
        inst = self.scenario.instances.get(name)
        if inst is None or name not in self.instances:
            raise LabError("no instance named %s" % name)
        if any(p.netns for p in inst.ports):
            raise LabError("%s is an amphora: Octavia's worker, not a reboot, sets it up" % name)
        host = self.instances[name]
        script(host, host.deconfigure_script(), "taking %s's addresses down" % name)
        if inst.address_mode == "dhcp":
            done = [self.request_addresses([inst])]
        else:
            script(host, "\n".join(line for p in inst.ports for line in self._static_address_lines(inst, p)),
                   "configuring %s" % name)
            done = ["static address"]
        done.append(self.fetch_instance_data([inst]))
        return "%s rebooted: %s" % (name, "; ".join(done))

    def fetch_instance_data(self, instances=None):
        """Instances without a config drive read their key pair from the
        metadata service as they boot (their addresses are up by now)."""
        instances = list(self.scenario.instances.values()) if instances is None else instances
        fetching = [i for i in instances if scenario_metadata.fetches_key(i)]
        if not fetching:
            return "none fetched (config drives)" if any(i.keypair for i in instances) else "no key pairs"
        deadline = INSTANCE_DATA_PATIENCE_SECONDS + len(fetching) // 10
        for inst in fetching:
            send(self.instances[inst.name], self.instances[inst.name].boot_data_script(deadline))
        missing = []
        for inst in fetching:
            out = wait(self.instances[inst.name], "reading instance data").strip()
            if InstanceHost.BOOT_DATA_OK not in out:
                missing.append(inst.name)
        got = "%d of %d key pairs from 169.254.169.254" % (len(fetching) - len(missing), len(fetching))
        return got + ("; booted without their key: %s" % ", ".join(missing) if missing else "")

    def _start_load_balancers(self):
        """Each amphora's agent, then what Octavia's worker does: send
        haproxy.cfg over the management network and start haproxy."""
        lbs = self.scenario.load_balancers
        if not lbs:
            return "none"
        from stacklab.runtime.running import RunningLab
        running = RunningLab(self.state)
        for lb in lbs.values():
            host = self.instances[lb.amphora]
            host.install_certs(self.pki, self.pki.issue("amphora-" + lb.amphora_id, lb.amphora_id,
                                                        self.scenario.instances[lb.amphora].port.ip))
        run_parallel([(self.instances[lb.amphora], self.instances[lb.amphora].agent_start_script(lb.amphora_id))
                      for lb in lbs.values()], "starting the amphora agents")
        for lb in lbs.values():
            host = self.instances[lb.amphora]
            self.watch("%s amphora-agent" % lb.amphora, lb.amphora, host.agent_start_script(lb.amphora_id),
                        host.agent_pidfile())
            ctl = octavia_controller(running, self.scenario, lb)
            ctl.wait_ready()
            ctl.deploy(lb)
            self.watch("%s haproxy" % lb.amphora, lb.amphora, host.haproxy_start_command(lb.id),
                        host.haproxy_pidfile(lb.id))
        return "%d x amphora (agent, haproxy)" % len(lbs)

    # -- tearing down ---------------------------------------------------------
    def stop(self):
        """Remove everything: processes (namespaces and veths go with them),
        then the lab's directory. Safe to call twice; not cut short by
        Ctrl-C or SIGTERM (they wait until it is done)."""
        with signals_deferred():
            self._stop()

    def _stop(self):
        self.supervisor.enabled = False         # what the teardown ends stays ended
        self.supervisor.stop_thread()
        self.state.mark_removing()
        try:
            sweep(self.state)
        finally:
            for host in list(self.hosts().values()) + ([self.fabric] if self.fabric else []):
                try:
                    host.cleanup()      # close our end of its pty, reap its shell
                except (OSError, ValueError):
                    pass
            self.nodes, self.instances, self.dhcp, self.routers, self.external = {}, {}, {}, {}, {}
            self.ovnmeta, self.dvr, self.ha = {}, {}, {}
            self.fabric = None


def build_lab(scenario, state, progress=None):
    """Build `scenario`; on any failure or interruption remove what was built."""
    lab = Lab(scenario, state, progress)
    try:
        lab.build()
    except BaseException:
        lab.stop()
        raise
    return lab

