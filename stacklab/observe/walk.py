"""Walk a packet through the pipelines, node by node, as the documents do by
hand: `ovs-appctl ofproto/trace` of the packet an instance (or an external
host) sends, the tables and groups it goes through, where it leaves; when it
leaves by a VXLAN port, the same on the node at the tunnel's other end with
the tun_id it carried (and by a NIC, on the node of its destination). 004
reads: compute1 `0 17 40 17 19 21 -> output:6 tun_id=0x1118f`, then compute2
`0 36 group:150013 220 251 220 -> output:7`.

The walk reads the switches' own answer (no packet is sent): what it shows
is what the flows installed now do. Where a flow says NORMAL, the port the
switch chose comes from the datapath actions.

Into a qrouter- namespace it goes on through the router: the nat table's
rules the packet matches (observe/nat.py: DNAT before routing, SNAT after),
the route it takes, the addresses it leaves with, then on through br-int or
onto the external network. When the source does not know its destination's
MAC yet (no ARP entry), the walk is of the ARP exchange first: a packet
that cannot be addressed goes nowhere, whatever the flows would do with it."""

import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import List, Optional

from stacklab import naming
from stacklab.errors import LabError
from stacklab.observe import ha, nat
from stacklab.scenario import endpoints
from stacklab.scenario.ovn import derived, gateway_chassis

MAX_NODES = 4                 # a packet crosses at most this many nodes' pipelines
_TABLE = re.compile(r"^\s*(\d+)\. ")
_BRIDGE = re.compile(r'^bridge\("([^"]+)"\)')
_TUN_ID = re.compile(r"^\s*(?:set_field:(0x[0-9a-f]+)(?:/0x[0-9a-f]+)?->tun_id|load:(0x[0-9a-f]+)->NXM_NX_TUN_ID\[\]|"
                     r"set_tunnel:(0x[0-9a-f]+))$")
_TUN_META = re.compile(r"^\s*set_field:(0x[0-9a-f]+)->tun_metadata0$")
# OVN moves the logical inport into bits 16..30 of tun_metadata0; the trace says what they became
_TUN_META_BITS = re.compile(r"^\s*-> NXM_NX_TUN_METADATA0\[(\d+)\.\.(\d+)\] is now (0x[0-9a-f]+)$")
_OUTPUT = re.compile(r"^\s*output:(\d+)$")
TUNNEL_PORTS = ("vxlan", "geneve")     # (geneve: ovn-controller's, carrying the logical ports in tun_metadata0)
_GROUP = re.compile(r"^\s*group:(\d+)$")
_DPIF_BRIDGE = re.compile(r"^  (\S+):$")
_DPIF_PORT = re.compile(r"^    (\S+) (\d+)/(\d+|none): \((\w+)(?::\s*(.*))?\)$")


@dataclass
class DpPort:
    """A port as `ovs-appctl dpif/show` lists it."""
    bridge: str
    name: str
    ofport: int
    dp_port: Optional[int]
    type: str
    options: dict


def parse_dpif_show(text):
    ports, bridge = [], None
    for line in text.splitlines():
        m = _DPIF_BRIDGE.match(line)
        if m:
            bridge = m.group(1)
            continue
        m = _DPIF_PORT.match(line)
        if m and bridge:
            opts = dict(kv.split("=", 1) for kv in (m.group(5) or "").split(", ") if "=" in kv)
            ports.append(DpPort(bridge, m.group(1), int(m.group(2)),
                                None if m.group(3) == "none" else int(m.group(3)), m.group(4), opts))
    return ports


@dataclass
class RouterAt:
    """A router as one node has it: the lab host to look into, its namespace's name, its ports there."""
    router: object
    host: str
    namespace: str
    ports: list
    node: str


def router_at(router, node, port_name):
    """The RouterAt whose port `port_name` on `node` is: a legacy router's
    qrouter-, a distributed one's qrouter- on that node or its snat- (an HA
    one's there, with its ha- port); None."""
    if router.distributed or router.ha:
        ha = [router.ha_ports[node]] if node in router.ha_ports else []
        mine = router.hosts.get(node, []) + ([] if router.distributed else ha)
        if any(p.name == port_name for p in mine):
            return RouterAt(router, naming.node_host(router.namespace, node), router.namespace, mine, node)
        snat = router.snat_hosts.get(node, []) + ha
        if any(p.name == port_name for p in snat):
            host = naming.node_host(router.snat_namespace, node) if router.ha else router.snat_namespace
            return RouterAt(router, host, router.snat_namespace, snat, node)
        return None
    if router.node == node and any(p.name == port_name for p in router.ports()):
        return RouterAt(router, router.namespace, router.namespace, router.ports(), node)
    return None


def fip_at(scenario, fg):
    """The fip- namespace of fg- port `fg` as a RouterAt (no router of its own)."""
    name = naming.fip_namespace(scenario.networks[fg.network].id)
    return RouterAt(None, naming.node_host(name, fg.node), name, [fg], fg.node)


@dataclass
class Output:
    ofport: int
    bridge: str
    tun_id: Optional[str] = None
    tun_metadata0: Optional[str] = None     # Geneve's option: OVN's logical in- and out-port
    skipped: bool = False            # to the port it came in by: OpenFlow drops it
    name: str = ""                   # the port's name
    tunnel: Optional[dict] = None    # a VXLAN port's options (remote_ip, ...)
    physical_network: Optional[str] = None     # a NIC's
    what: str = ""                   # an instance, a NIC's network, a tunnel's far end
    router: Optional[RouterAt] = None    # a router's port: the router (as its node has it) it leads into

    def __str__(self):
        text = "output:%d" % self.ofport
        if self.tun_id:
            text += " tun_id=%s" % self.tun_id
        if self.what:
            text += " (%s)" % self.what
        return text


@dataclass
class Hop:
    """One node's part of the walk."""
    node: str
    bridge: str
    flow: str                                   # what was traced
    steps: List[str] = field(default_factory=list)
    outputs: List[Output] = field(default_factory=list)
    final_flow: str = ""
    datapath_actions: str = ""
    trace: str = ""
    matched: list = field(default_factory=list)     # (step, matched flow)

    def __str__(self):
        sent = [o for o in self.outputs if not o.skipped]
        steps = self.steps
        if any(s.endswith(":") for s in steps):     # it crosses bridges: say where it starts
            steps = [self.bridge + ":"] + steps
        return "%s: %s -> %s" % (self.node, " ".join(steps), ", ".join(map(str, sent)) or "drop")


@dataclass
class RouterHop:
    """The part of the walk inside a qrouter- namespace: what its nat table
    and routes did to the packet."""
    node: str                                   # the namespace
    bridge: str                                 # "iptables"
    flow: str                                   # the packet as it came in
    matched: list = field(default_factory=list)  # (hook, rule) in order
    outputs: List[Output] = field(default_factory=list)
    summary: str = ""

    @property
    def trace(self):
        """What ofproto/trace is to a bridge: the rules and routes, in order."""
        return "\n".join("%s %s" % (hook, rule) for hook, rule in self.matched if rule)

    def __str__(self):
        return "%s: %s" % (self.node, self.summary)


@dataclass
class Note:
    """A line of the walk that is no switch's: why it walks what it walks."""
    text: str
    node: str = ""
    bridge: str = ""
    flow: str = ""
    matched: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    trace: str = ""

    def __str__(self):
        return self.text


@dataclass
class Trace:
    steps: list
    outputs: list
    final_flow: str
    datapath_actions: str
    normal: bool                 # a NORMAL action chose ports itself
    matched: list                # (step, the flow it matched) in order


def parse_trace(text, bridge):
    """What an ofproto/trace text that starts in `bridge` says: table
    numbers in the order visited, `group:N` where a group runs, `BRIDGE:`
    where the packet crosses a patch port into another; the explicit
    outputs (with the tun_id set before them); the last final flow and
    datapath actions (after conntrack recirculations)."""
    steps, outputs, final, actions, normal, matched = [], [], "", "", False, []
    current, pending, tun_id, flow, tun_meta = bridge, None, None, "", None
    frozen = []                          # bridges whose ct(table=...) recirculates, in order
    tunneled, underlay = False, None    # the encapsulated packet's bridge (the underlay): not this pipeline
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip())
        m = _BRIDGE.match(line.strip())
        if underlay is not None:
            if line.startswith("Final flow:") or (line.strip() and indent < underlay) or (m and indent == underlay):
                underlay = None
            else:
                continue
        if "-> output to native tunnel" in line:
            tunneled = True
            continue
        if m and tunneled:
            tunneled, underlay = False, indent
            continue
        if m:
            pending = m.group(1)        # taken when a table of it runs (a recirculation's header misleads)
            continue
        if line.startswith("Flow:"):
            flow = line.split(":", 1)[1].strip()
        elif line.startswith("Final flow:"):
            final = line.split(":", 1)[1].strip()
            final = flow if final == "unchanged" else final
        elif "Resuming from table" in line and frozen:
            pending = frozen.pop(0)     # a recirculation resumes in the bridge that froze it
        elif line.strip().startswith("ct(") and "table=" in line:
            frozen.append(current)
        elif line.startswith("Datapath actions:"):
            actions = line.split(":", 1)[1].strip()
        elif _TABLE.match(line):
            if pending is not None and pending != current:
                current = pending
                steps.append(current + ":")
                matched.append((current + ":", ""))
            pending = None
            steps.append(_TABLE.match(line).group(1))
            matched.append((steps[-1], line.strip().split(". ", 1)[1]))
        elif _GROUP.match(line):
            steps.append("group:" + _GROUP.match(line).group(1))
            matched.append((steps[-1], ""))
        elif _TUN_ID.match(line):
            tun_id = next(g for g in _TUN_ID.match(line).groups() if g)
        elif _TUN_META.match(line):
            tun_meta = _TUN_META.match(line).group(1)
        elif _TUN_META_BITS.match(line) and tun_meta is not None:
            low, high, value = _TUN_META_BITS.match(line).groups()
            mask = ((1 << (int(high) - int(low) + 1)) - 1) << int(low)
            tun_meta = hex((int(tun_meta, 16) & ~mask) | (int(value, 16) << int(low)))
        elif _OUTPUT.match(line):
            outputs.append(Output(int(_OUTPUT.match(line).group(1)), current, tun_id, tun_meta))
        elif line.strip() == "NORMAL":
            normal = True
        elif ">> skipping output to input port" in line and outputs:
            outputs[-1].skipped = True
    return Trace(steps, outputs, final, actions, normal, matched)


OVN_CT_NEXT = 12          # conntrack lookups a logical path may make (each switch and router pipeline)
_OVN_PIPELINE = re.compile(r'^\s*(ingress|egress)\(dp="([^"]+)"')
_OVN_STAGE = re.compile(r"^\s*\d+\. (\w+) \([^)]*\): (.*), priority (\d+)")
_OVN_OUT = re.compile(r'^\s*/\* output to "([^"]+)"')


def ovn_trace_summary(text):
    """`ovn-trace` in lines: each pipeline (datapath, ingress or egress) with
    the stages the packet went through, and where it ends (output, or a drop
    with the logical flow that dropped it)."""
    parts, current, last = [], None, ""
    for line in text.splitlines():
        m = _OVN_PIPELINE.match(line)
        if m:
            current = [m.group(2), m.group(1), [], ""]
            parts.append(current)
            continue
        if current is None:
            continue
        m = _OVN_STAGE.match(line)
        if m:
            current[2].append(m.group(1))
            last = "%s, priority %s" % (m.group(2), m.group(3))
        elif _OVN_OUT.match(line):
            current[3] = "-> %s" % _OVN_OUT.match(line).group(1)
        elif line.strip() == "drop;":
            current[3] = "-> drop (%s)" % last
    return ["%s %s: %s %s" % (dp, pipe, " ".join(stages), end) if end else "%s %s: %s" % (dp, pipe, " ".join(stages))
            for dp, pipe, stages, end in parts]


def datapath_outputs(actions):
    """The datapath ports a datapath action list sends to (its plain numbers)."""
    out, depth, token = [], 0, ""
    for ch in actions + ",":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            if token.strip().isdigit():
                out.append(int(token.strip()))
            token = ""
        else:
            token += ch
    return out


_DP_ETH = re.compile(r"set\(eth\(((?:(?:src|dst)=[0-9a-f:]{17},?)+)\)\)")


def sent_frame(hop):
    """The final flow with the Ethernet addresses the frame left with: a
    group's bucket, or a bridge behind a patch port (br-tun's DVR_PROCESS
    giving a routed frame the node's DVR MAC), rewrites them on a copy the
    final flow does not show; the datapath actions do."""
    rewrites = {}
    for inner in _DP_ETH.findall(hop.datapath_actions):
        for field in inner.split(","):
            key, _, value = field.partition("=")
            if key in ("src", "dst"):
                rewrites["dl_" + key] = value
    if not rewrites:
        return hop.final_flow
    fields = [f for f in hop.final_flow.split(",") if f.split("=", 1)[0] not in rewrites]
    return ",".join(fields + ["%s=%s" % (k, rewrites[k]) for k in ("dl_src", "dl_dst") if k in rewrites])


# what of the final flow travels on to the next node (the packet, not the pipeline's registers)
_CARRIED = re.compile(r"^(dl_src|dl_dst|nw_src|nw_dst|nw_ttl|tp_src|tp_dst|icmp_type|icmp_code|arp_\w+)=")
_PROTOCOLS = ("icmp", "tcp", "udp", "arp", "ip")


def carried(final_flow):
    """The packet's own fields of a final flow, to trace it on the next node."""
    fields = final_flow.split(",")
    proto = [f for f in fields if f in _PROTOCOLS][:1]
    kept = [f for f in fields if _CARRIED.match(f) and f != "nw_ttl=0"]    # (0: the trace's default, no TTL given)
    if proto and proto[0] in ("tcp", "udp"):
        kept = [proto[0] + f[2:] if f.startswith("tp_") else f for f in kept]
    return ",".join(proto + kept)


class Walker:
    """Walks packets through a running lab (RunningLab with .scenario)."""

    def __init__(self, lab):
        self.lab = lab
        self.scenario = lab.scenario
        self._ports = {}

    # -- the switches' ports --------------------------------------------------
    def ports(self, node):
        """A node's ports as `ovs-appctl dpif/show` lists them, read once."""
        if node not in self._ports:
            proc = self.lab.run(node, ["ovs-appctl", "dpif/show"])
            if proc.returncode != 0:
                raise LabError("ovs-appctl dpif/show on %s failed: %s" % (node, proc.stderr.strip()))
            self._ports[node] = parse_dpif_show(proc.stdout)
        return self._ports[node]

    def ofport(self, node, name):
        for port in self.ports(node):
            if port.name == name:
                return port.bridge, port.ofport
        raise LabError("%s has no port %s on its bridges" % (node, name))

    def _port(self, node, bridge=None, ofport=None, dp_port=None):
        for port in self.ports(node):
            if (dp_port is not None and port.dp_port == dp_port) or \
                    (dp_port is None and port.bridge == bridge and port.ofport == ofport):
                return port
        return None

    def _describe(self, node, out, port):
        """What an output reaches: an instance, a NIC's physical network, a tunnel's far node."""
        out.name = port.name
        if port.type in TUNNEL_PORTS:
            out.tunnel = port.options
            peer = next((n.name for n in self.scenario.nodes.values()
                         if n.tunnel_ip is not None and str(n.tunnel_ip) == port.options.get("remote_ip")), "?")
            out.what = "%s to %s" % (port.name, peer)
            return
        for inst in self.scenario.instances.values():
            for p in inst.ports:
                if p.name == port.name and p.node == node:
                    out.what = inst.name
                    return
        for net, p in self.scenario.dhcp_ports.items():
            if p.name == port.name and p.node == node:
                out.what = "qdhcp-%s (DHCP of %s)" % (self.scenario.networks[net].id, net)
                return
        for fg in self.scenario.fip_gateways:
            if fg.node == node and fg.name == port.name:
                out.router = fip_at(self.scenario, fg)
                out.what = "%s (floating IPs of %s)" % (out.router.namespace, node)
                return
        for router in self.scenario.routers.values():
            at = router_at(router, node, port.name)
            if at is not None:
                out.router = at
                out.what = "%s (router %s)" % (at.namespace, router.name)
                return
        nic = self.scenario.nodes[node].nics.get(port.name)
        if nic is not None:
            out.physical_network = nic.physical_network
            out.what = "%s, %s" % (port.name, nic.physical_network)

    def _underlay(self, node):
        """The bridge that holds the node's tunnel address."""
        n = self.scenario.nodes[node]
        return next((nic.bridge for nic in n.nics.values()
                     if nic.address is not None and nic.address.ip == n.tunnel_ip), None)

    def _copy_toward_owner(self, node, sent, hop, hops):
        """Of a flooded frame (its MAC not learned yet), the copy that goes by a
        tunnel to the node holding the port with its destination MAC, noted."""
        mac = re.search(r"dl_dst=([0-9a-f:]{17})", hop.final_flow or hop.flow)
        owner = next((p for p in self.scenario.ports() if mac and p.mac == mac.group(1)), None)
        if owner is None or owner.node == node:
            return None
        for out in sent:
            if out.tunnel is not None and (self._peer(out, node) or ("",))[0] == owner.node:
                who = next((name for name, i in self.scenario.instances.items() if owner in i.ports), owner.name)
                hops.append(Note("%s floods the frame (no bridge has learned %s yet); the walk follows its copy "
                                 "toward %s, where %s is" % (node, mac.group(1), owner.node, who)))
                return out
        return None

    def _peer(self, out, sender=None):
        """(node, bridge, ofport) where a tunnel output comes in: the peer's
        port leading back to the sender (its local_ip, or, for OVN's Geneve
        ports that name none, the sending node's tunnel address)."""
        remote, local = out.tunnel.get("remote_ip"), out.tunnel.get("local_ip")
        if local is None and sender is not None and self.scenario.nodes[sender].tunnel_ip is not None:
            local = str(self.scenario.nodes[sender].tunnel_ip)
        for node in self.scenario.nodes.values():
            if node.tunnel_ip is not None and str(node.tunnel_ip) == remote:
                for port in self.ports(node.name):
                    if port.type in TUNNEL_PORTS and port.options.get("remote_ip") == local:
                        return node.name, port.bridge, port.ofport
        return None

    def _routed_back(self, final_flow):
        """((node, bridge, ofport), packet) where the upstream router (a host
        at an external subnet's gateway) sends a packet for a floating IP
        back into the cloud; None if the frame is not for it, or is for it."""
        fields = dict(f.split("=", 1) for f in final_flow.split(",") if "=" in f)
        host = next((h for h in self.scenario.hosts.values() if h.mac == fields.get("dl_dst") and h.routes), None)
        if host is None or fields.get("nw_dst") in (None, str(host.address.ip)):
            return None
        try:
            node, bridge, in_port, mac = self._host_entry(host, fields["nw_dst"])
        except LabError:
            return None
        packet = ",".join(f for f in carried(final_flow).split(",") if not f.startswith(("dl_src=", "dl_dst=")))
        return (node, bridge, in_port), "%s,dl_src=%s,dl_dst=%s" % (packet, host.mac, mac)

    def _across(self, node, out, final_flow):
        """(node, bridge, ofport) where a frame sent out of a NIC comes in:
        the node, on the same physical network, that holds its destination MAC."""
        mac = dict(f.split("=", 1) for f in final_flow.split(",") if "=" in f).get("dl_dst")
        owner = None
        for inst in self.scenario.instances.values():
            for p in inst.ports:
                if p.mac == mac:
                    owner = p.node
        for router in self.scenario.routers.values():
            if router.node is not None and any(p.mac == mac for p in router.ports()):
                owner = router.node
        if owner is None or owner == node:
            return None
        nic = next((n for n in self.scenario.nodes[owner].nics.values()
                    if n.physical_network == out.physical_network), None)
        if nic is None:
            return None
        bridge, ofport = self.ofport(owner, nic.name)
        return owner, bridge, ofport

    # -- walking --------------------------------------------------------------
    def trace(self, node, bridge, flow):
        proc = self.lab.run(node, ["ovs-appctl", "ofproto/trace", bridge, flow])
        if proc.returncode != 0:
            raise LabError("ofproto/trace on %s %s failed: %s" % (node, bridge, proc.stderr.strip()))
        t = parse_trace(proc.stdout, bridge)
        hop = Hop(node, bridge, flow, t.steps, t.outputs, t.final_flow, t.datapath_actions, proc.stdout, t.matched)
        for out in list(hop.outputs):
            port = self._port(node, out.bridge, out.ofport)
            if port is not None and port.type == "patch":
                hop.outputs.remove(out)     # into the next bridge, which the steps show
            elif port is not None:
                self._describe(node, out, port)
        if t.normal:        # the ports NORMAL chose: those of the datapath actions not sent explicitly
            explicit = {(o.bridge, o.ofport) for o in hop.outputs}
            underlay = self._underlay(node) if any(o.tunnel is not None for o in hop.outputs) else None
            for number in datapath_outputs(t.datapath_actions):
                port = self._port(node, dp_port=number)
                if port is not None and port.type not in TUNNEL_PORTS and (port.bridge, port.ofport) not in explicit \
                        and port.bridge != underlay:    # (an ARP the tunnel asked for, not the packet)
                    out = Output(port.ofport, port.bridge)
                    self._describe(node, out, port)
                    hop.outputs.append(out)
        return hop

    def walk(self, src, dst, proto="icmp", port=None):
        """[Hop] of a packet from `src` (an instance, or an external host
        toward a floating IP) to `dst` (an instance or an address); the ARP
        exchange first when `src` has no ARP entry for the next hop. On OVN
        the logical path (ovn-trace) comes first, then the chassis' tables."""
        node, bridge, in_port, flow = self.entry(src, dst, proto, port)
        logical = self.logical(src, flow) if self.scenario.sdn == "ovn" else []
        arp = self._arp_first(src, flow)
        if arp is not None:
            return logical + arp
        return self._follow(node, bridge, in_port, flow, hops=logical)

    def logical(self, src, flow):
        """OVN's logical path of the packet, as `ovn-trace` on the central node
        finds it: each datapath's pipeline with the stages it goes through.
        From an external host it comes in by the external network's localnet port."""
        sport = self._source_port(src)
        if sport is not None:
            inport, network = sport.id, sport.network
        elif src in self.scenario.hosts:
            host = self.scenario.hosts[src]
            net = next((n for n in self.scenario.networks.values() if n.external
                        and n.physical_network == host.physical_network), None)
            if net is None:
                return []
            inport, network = "provnet-" + derived("segment", net.id), net.name
        else:
            return []
        f = dict(x.split("=", 1) for x in flow.split(",") if "=" in x)
        proto = flow.split(",")[0]
        expr = ('inport == "%s" && eth.src == %s && eth.dst == %s && ip4.src == %s && ip4.dst == %s && ip.ttl == 64'
                % (inport, f["dl_src"], f["dl_dst"], f["nw_src"], f["nw_dst"]))
        if proto == "icmp":
            expr += " && icmp4.type == 8 && icmp4.code == 0"
        elif proto in ("tcp", "udp"):
            expr += " && {0}.src == {1} && {0}.dst == {2}".format(proto, f[proto + "_src"], f[proto + "_dst"])
        switch = "neutron-" + self.scenario.networks[network].id
        # the walk is of a connection's first packet: every ct_next finds it new (ovn-trace's default: established)
        proc = self.lab.run(self.scenario.sdn_controller, ["ovn-trace"] + ["--ct=trk,new"] * OVN_CT_NEXT +
                            [switch, expr])
        if proc.returncode != 0:
            return [Note("ovn-trace %s failed: %s" % (switch, proc.stderr.strip()[-200:]))]
        return [Note("ovn-trace: " + part, trace=proc.stdout) for part in ovn_trace_summary(proc.stdout)]

    def _follow(self, node, bridge, in_port, flow, hops=None):
        hops = hops if hops is not None else []
        switches = 0
        while switches < MAX_NODES:
            hop = self.trace(node, bridge, "in_port=%d,%s" % (in_port, flow))
            hops.append(hop)
            switches += 1
            sent = [o for o in hop.outputs if not o.skipped]
            if not sent:
                break               # dropped
            out = sent[0] if len(sent) == 1 else self._copy_toward_owner(node, sent, hop, hops)
            if out is None:
                break               # flooded, and the owner of its MAC is here or nowhere
            if out.router is not None:
                inside, after = self._through_router(node, out, sent_frame(hop))
                hops += inside
                if after is None:
                    break
                node, bridge, in_port, flow = after
                continue
            if out.tunnel is not None:
                nxt = self._peer(out, node)
                meta = ",tun_metadata0=%s" % out.tun_metadata0 if out.tun_metadata0 else ""
                # the frame leaves with what the bridges behind the first rewrote: OVN routes on
                # the sending chassis, a DVR node's br-tun puts its DVR MAC on a routed frame
                frame = sent_frame(hop)
                flow = "tun_id=%s%s,%s" % (out.tun_id or "0", meta, carried(frame))
            elif out.physical_network is not None:
                back = self._routed_back(sent_frame(hop))
                if back is not None:            # the upstream router sends it in again
                    nxt, flow = back
                else:
                    nxt = self._across(node, out, sent_frame(hop))
                    vlan = re.search(r"push_vlan\(vid=(\d+)", hop.datapath_actions)
                    flow = ("dl_vlan=%s," % vlan.group(1) if vlan else "") + carried(hop.final_flow)
            else:
                break               # delivered
            if nxt is None:
                break
            node, bridge, in_port = nxt
        return hops

    # -- through a router ---------------------------------------------------------
    def _through_router(self, node, out, frame):
        """([RouterHop], where the packet goes on: (node, bridge, in_port, packet) or None)
        of a frame that enters router `out.router` by port `out.name`: through
        its namespace, and on through the next one where they are linked
        (a DVR router's qrouter- and the node's fip-, by rfp-/fpr-)."""
        at = out.router
        fields = dict(f.split("=", 1) for f in frame.split(",") if "=" in f)
        proto = next((f for f in frame.split(",") if f in ("icmp", "tcp", "udp")), "ip")
        port_in = next(p for p in at.ports if p.name == out.name)
        packet = {"src": fields.get("nw_src"), "dst": fields.get("nw_dst"), "in": port_in.interface, "proto": proto,
                  "dport": fields.get("tp_dst") or fields.get("%s_dst" % proto)}
        hops = []
        for _ in range(3):
            hop, went = self._in_namespace(at, packet)
            hops.append(hop)
            if went is None:
                return hops, None
            kind, where, via = went
            if kind == "namespace":         # on through a veth into the next namespace
                at, packet["in"] = where
                continue
            port_out = where
            mac = self._mac_of(via, port_out.network)
            if mac is None:
                hop.summary += " (nothing of the scenario has %s: its ARP would go unanswered)" % via
                return hops, None
            out_bridge, out_port = self.ofport(at.node, port_out.name)
            hop.outputs = [Output(out_port, out_bridge, name=port_out.name, what=port_out.name)]
            kept = [f for f in carried(frame).split(",")
                    if not f.startswith(("dl_src=", "dl_dst=", "nw_src=", "nw_dst="))]
            flow = ",".join(kept[:1] + ["dl_src=%s" % port_out.mac, "dl_dst=%s" % mac, "nw_src=%s" % packet["src"],
                                        "nw_dst=%s" % packet["dst"]] + kept[1:])
            return hops, (at.node, out_bridge, out_port, flow)
        return hops, None

    def _in_namespace(self, at, packet):
        """(RouterHop, where it went) of `packet` (changed in place by NAT)
        entering namespace `at` by packet["in"]: ("port", a port of the
        namespace, next hop address), ("namespace", (RouterAt, interface it
        enters by), None), or None (it stops here)."""
        src, dst = packet["src"], packet["dst"]
        hop = RouterHop(at.namespace, "iptables", "in by %s: %s -> %s" % (packet["in"], src, dst))
        proc = self.lab.run(at.host, ["iptables-save"])
        if proc.returncode != 0:
            raise LabError("iptables-save in %s failed: %s" % (at.namespace, proc.stderr.strip()))
        chains = nat.parse(proc.stdout)
        packet["mark"] = nat.mark_of(nat.parse(proc.stdout, "mangle"), packet)
        pre = nat.traverse(chains, "PREROUTING", packet)
        hop.matched += [("PREROUTING", rule) for rule in pre.matched]
        words = []
        if pre.target == "DNAT":
            words.append("DNAT %s -> %s" % (dst, pre.address))
            packet["dst"] = dst = pre.address
        # a DVR namespace routes by source too (SNAT's and floating IPs' rules)
        policy = at.router is None or at.router.distributed
        route = self.lab.run(at.host, ["ip", "-o", "route", "get", dst, "from", src, "iif", packet["in"]]
                             if policy else ["ip", "-o", "route", "get", dst])
        words_route = route.stdout.split()
        if route.returncode != 0 or "dev" not in words_route:
            hop.summary = ", ".join(words + ["no route to %s" % dst])
            return hop, None
        dev = words_route[words_route.index("dev") + 1]
        via = words_route[words_route.index("via") + 1] if "via" in words_route else dst
        hop.matched.append(("route", route.stdout.strip()))
        if words_route[:1] == ["local"]:        # one of its ports' addresses, or a floating IP left without DNAT
            hop.summary = ", ".join(words + ["for the router itself (%s is an address of its own): it answers, "
                                             "nothing goes further" % dst])
            if pre.target is None:
                hop.matched.append(("", "no DNAT rule matched %s" % dst))
            return hop, None
        packet["out"] = dev
        post = nat.traverse(chains, "POSTROUTING", packet, dnatted=pre.target == "DNAT")
        hop.matched += [("POSTROUTING", rule) for rule in post.matched]
        if post.target == "SNAT":
            words.append("SNAT %s -> %s" % (src, post.address))
            packet["src"] = src = post.address
        words.append("out by %s toward %s" % (dev, via))
        hop.summary = ", ".join(words)
        port_out = next((p for p in at.ports if p.interface == dev), None)
        if port_out is not None:
            return hop, ("port", port_out, via)
        linked = self._linked(at, dev, src)
        if linked is None:
            hop.summary = ", ".join(words[:-1] + ["out by %s, which is no port of the router's" % dev])
            return hop, None
        return hop, ("namespace", linked, None)

    def _linked(self, at, dev, src):
        """(RouterAt, interface) across the veth `dev` of namespace `at`: a
        DVR router's rfp- leads into its node's fip- namespace (of the
        floating IP `src` now is), an fpr- into the router's qrouter-."""
        for router in self.scenario.routers.values():
            if not router.distributed or at.node not in router.fip_links:
                continue
            if dev == router.rfp and at.router is router:
                fip = next((f for f in self.scenario.floating_ips if str(f.address) == src and f.node == at.node),
                           None)
                fg = next((p for p in self.scenario.fip_gateways
                           if fip is not None and p.node == at.node and p.network == fip.network), None)
                if fg is not None:
                    return fip_at(self.scenario, fg), router.fpr
            if dev == router.fpr and at.router is None:
                return RouterAt(router, naming.node_host(router.namespace, at.node), router.namespace,
                                router.hosts.get(at.node, []), at.node), router.rfp
        return None

    def _mac_of(self, ip, network):
        """The MAC that answers ARP for `ip` on `network`: an instance's or
        DHCP port's, a router's, a host's (the upstream router)."""
        mac = self._answerer(ip, network)[1]
        if mac is not None:
            return mac
        net = self.scenario.networks.get(network)
        for host in self.scenario.hosts.values():
            if str(host.address.ip) == ip and net is not None and host.physical_network == net.physical_network:
                return host.mac
        return None

    # -- ARP first ------------------------------------------------------------------
    def _arp_first(self, src, flow):
        """When instance `src` has no ARP entry for the frame's destination
        MAC's address: the walk of its ARP request (and of the reply, when
        the request arrives), with a note saying so; None when it has one."""
        if src not in self.scenario.instances:
            return None
        fields = dict(f.split("=", 1) for f in flow.split(",") if "=" in f)
        inst = self.scenario.instances[src]
        port = inst.port
        net = self.scenario.networks[port.network].subnet
        target = fields["nw_dst"]
        if ipaddress.IPv4Address(target) not in net.cidr:
            target = str(net.gateway) if net.gateway else target
        state = self._neighbour(src, port.interface, target)
        if state in ("REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"):
            return None
        hops = [Note("%s has no usable ARP entry for %s (%s): the walk is of its ARP request"
                     % (src, target, state or "none"))]
        request = "arp,dl_src=%s,dl_dst=ff:ff:ff:ff:ff:ff,arp_op=1,arp_spa=%s,arp_tpa=%s,arp_sha=%s" % (
            port.mac, port.ip, target, port.mac)
        bridge, in_port = self.ofport(port.node, port.name)
        self._flood(port.node, bridge, in_port, request, hops)
        owner = self._owner_of(target, port.network, near=port.node)
        reached = owner is not None and self._flood_reaches(hops, owner)
        if not reached and self._flood_reaches(hops, port):
            # the switch answers for the address itself (OVN's ls_in_arp_rsp), back out of the asking port
            hops.append(Note("the switch answers the ARP request for %s itself, back to %s: walk `%s %s` once %s "
                             "has the answer" % (target, src, src, fields["nw_dst"], src)))
            return hops
        if not reached:
            hops.append(Note("the ARP request does not reach %s%s: %s gets no answer, and the packet is never sent"
                             % (target, " (%s)" % owner.name if owner is not None else "", src)))
        else:
            hops.append(Note("the ARP request reaches %s (%s): walk `%s %s` once %s has its answer"
                             % (target, owner.name, src, fields["nw_dst"], src)))
        return hops

    def _flood(self, node, bridge, in_port, flow, hops):
        """A broadcast's walk: every node it is flooded to through a tunnel, once each."""
        queue, seen = [(node, bridge, in_port, flow)], set()
        while queue and len(seen) < MAX_NODES * 4:
            node, bridge, in_port, flow = queue.pop(0)
            if node in seen:
                continue
            seen.add(node)
            hop = self.trace(node, bridge, "in_port=%d,%s" % (in_port, flow))
            hops.append(hop)
            for out in hop.outputs:
                if out.tunnel is not None and not out.skipped:
                    nxt = self._peer(out, node)
                    if nxt is not None:
                        queue.append(nxt + ("tun_id=%s,%s" % (out.tun_id or "0", carried(hop.final_flow)),))

    def _flood_reaches(self, hops, owner):
        """Whether a flooded request's outputs include `owner`'s port (a model.Port) on its node."""
        for hop in hops:
            if getattr(hop, "node", None) != owner.node:
                continue
            for o in getattr(hop, "outputs", []):
                if o.name == owner.name and not o.skipped:
                    return True
        return False

    def _owner_of(self, ip, network, near=None):
        return self._answerer(ip, network, near)[0]

    def _answerer(self, ip, network=None, near=None):
        """(port, MAC) that answers ARP for `ip` (on `network`, or on any):
        the port with that fixed IP (a distributed router's: its copy on node
        `near` when there is one), else one holding it by an allowed address
        pair (a load balancer's VIP); (None, None) if none."""
        routers = [p for r in self.scenario.routers.values() for p in r.ports()]
        found = [p for p in self.scenario.ports() + routers if str(p.ip) == ip and network in (None, p.network)]
        if found:
            p = next((p for p in found if p.node == near), found[0])
            return p, p.mac
        return next(self._pairs(ip, network), (None, None))

    def _neighbour(self, src, interface, ip):
        """`src`'s ARP entry state for `ip` (REACHABLE, STALE, INCOMPLETE, FAILED...), None if none."""
        proc = self.lab.run(src, ["ip", "neigh", "show", ip, "dev", interface])
        words = proc.stdout.split()
        return words[-1] if proc.returncode == 0 and words else None

    def entry(self, src, dst, proto, port):
        """(node, bridge, in_port, packet) of what `src` sends toward `dst`."""
        dst_ip, dst_mac = self._destination(dst)
        sport = self._source_port(src)
        if sport is not None:
            node = sport.node
            bridge, in_port = self.ofport(node, sport.name)
            src_ip, src_mac = str(sport.ip), sport.mac
            net = self.scenario.networks[sport.network].subnet.cidr
            if ipaddress.IPv4Address(dst_ip) not in net:
                dst_mac = self._gateway_mac(sport.network, src)
            elif dst_mac is None:
                raise LabError("nothing of the scenario has %s on %s's network %s: an ARP request for it "
                               "would go unanswered" % (dst_ip, src, sport.network))
        elif src in self.scenario.hosts:
            host = self.scenario.hosts[src]
            node, bridge, in_port, dst_mac = self._host_entry(host, dst_ip)
            src_ip, src_mac = str(host.address.ip), host.mac
        else:
            raise LabError("a walk starts at an instance, a host or a qdhcp- namespace, not %s" % src)
        packet = "%s,dl_src=%s,dl_dst=%s,nw_src=%s,nw_dst=%s" % (proto, src_mac, dst_mac, src_ip, dst_ip)
        if self.scenario.sdn == "ovn":     # OVN's logical routers check and decrement it
            packet += ",nw_ttl=64"
        if proto == "icmp":
            packet += ",icmp_type=8,icmp_code=0"
        elif proto in ("tcp", "udp"):       # (ofproto/trace takes udp ports only by their own names)
            packet += ",{0}_src=40000,{0}_dst={1}".format(proto, port or 22)
        return node, bridge, in_port, packet

    def _source_port(self, src):
        """The br-int port a walk from `src` starts at: an instance's, or a DHCP namespace's."""
        if src in self.scenario.instances:
            return self.scenario.instances[src].port
        if src.startswith("qdhcp-") and self.scenario.sdn == "neutron":
            for net in self.scenario.networks.values():
                if src[len("qdhcp-"):] in (net.name, net.id) and net.name in self.scenario.dhcp_ports:
                    return self.scenario.dhcp_ports[net.name]
        return None

    def _destination(self, dst):
        """(IP, MAC or None) of what `dst` names: an instance, a host, a node, a
        qdhcp-/qrouter- namespace or an address."""
        if dst in self.scenario.instances:
            p = self.scenario.instances[dst].port
            return str(p.ip), p.mac
        ip = endpoints.address(self.scenario, dst)
        if ip is None:
            raise LabError("%s is no instance, host, node, namespace or IP address of the lab" % dst)
        owner = endpoints.endpoint(self.scenario, dst)
        if owner is not None and owner[2] is not None and owner[1] == ip:
            return ip, owner[2]
        return ip, self._answerer(ip)[1]

    def _pairs(self, ip, network=None):
        """(port, MAC) of the ports that may use `ip` by an allowed address pair
        (a load balancer's VIP on its amphora's VRRP port)."""
        for p in self.scenario.ports():
            for pair_ip, pair_mac in getattr(p, "allowed_address_pairs", ()):
                if str(pair_ip) == ip and network in (None, p.network):
                    yield p, pair_mac or p.mac

    def _gateway_mac(self, network, src):
        for router in self.scenario.routers.values():
            for itf in router.interfaces:
                if itf.network == network:
                    return itf.mac
        raise LabError("%s's network %s has no router to reach that address" % (src, network))

    def _ovn_host_entry(self, host, fip):
        """On OVN a floating IP is reached at the gateway chassis' NIC, by the
        router's gateway MAC; distributed, at its instance's chassis, by its own MAC."""
        router = self.scenario.routers.get(fip.router)
        if router is None or router.gateway is None:
            raise LabError("floating IP %s is served by no router with a gateway" % fip.address)
        port = next((p for i in self.scenario.instances.values() for p in i.ports if p.id == fip.port_id), None)
        if self.scenario.distributed_floating_ips and port is not None:
            node, mac = port.node, fip.mac
        else:
            node, mac = _ovn_gateway(self.scenario, router), router.gateway.mac
        nic = next((n for n in self.scenario.nodes[node].nics.values()
                    if n.physical_network == host.physical_network), None) if node else None
        if nic is None:
            raise LabError("no chassis of router %s has a NIC on %s" % (router.name, host.physical_network))
        bridge, in_port = self.ofport(node, nic.name)
        return node, bridge, in_port, mac

    def _host_entry(self, host, dst_ip):
        """An external host reaches the cloud by a floating IP: at its node's
        provider NIC (netvirt: the instance's node) or the router's (neutron)."""
        fip = next((f for f in self.scenario.floating_ips if str(f.address) == dst_ip), None)
        if fip is None:
            raise LabError("a walk from %s goes to a floating IP (%s is none)" % (host.name, dst_ip))
        if self.scenario.sdn == "netvirt":
            inst = next((i for i in self.scenario.instances.values() for p in i.ports if p.id == fip.port_id), None)
            if inst is None:
                raise LabError("floating IP %s is bound to no instance" % dst_ip)
            node = self.scenario.nodes[inst.node]
            nic = node.provider_mappings.get(host.physical_network)
            bridge, in_port = self.ofport(node.name, nic)
            return node.name, bridge, in_port, fip.mac
        if self.scenario.sdn == "ovn":
            return self._ovn_host_entry(host, fip)
        router = self.scenario.routers.get(fip.router)
        if router is not None and router.distributed and fip.node is not None:
            # DVR: the floating IP lives on its instance's compute, behind the fg- port there
            fg = next(p for p in self.scenario.fip_gateways if p.node == fip.node and p.network == fip.network)
            nic = next((n for n in self.scenario.nodes[fip.node].nics.values()
                        if n.physical_network == host.physical_network), None)
            if nic is None:
                raise LabError("%s has no NIC on %s" % (fip.node, host.physical_network))
            bridge, in_port = self.ofport(fip.node, nic.name)
            return fip.node, bridge, in_port, fg.mac
        if router is not None and router.ha:
            # an HA router: in at the master's NIC, where the floating IP is (keepalived put it there)
            master = ha.master(self.lab, router)
            if master is None:
                raise LabError("HA router %s has no master: nothing holds floating IP %s" % (router.name, dst_ip))
            router = replace(router, node=master)
        if router is None or router.node is None:
            raise LabError("floating IP %s is served by no router" % dst_ip)
        node = self.scenario.nodes[router.node]
        nic = next((n for n in node.nics.values() if n.physical_network == host.physical_network), None)
        if nic is None:
            raise LabError("%s has no NIC on %s" % (router.node, host.physical_network))
        bridge, in_port = self.ofport(node.name, nic.name)
        return node.name, bridge, in_port, router.gateway.mac


def _ovn_gateway(scenario, router):
    chassis = gateway_chassis(scenario, router)
    return chassis[0] if chassis else None


def render(hops, tables=True, trace=False):
    """The walk as text: per node, each table with the flow it matched and
    where the packet left (`tables`), or ofproto/trace's whole text
    (`trace`); then one summary line per node."""
    lines = []
    for hop in hops if (tables or trace) else ():
        if isinstance(hop, Note):
            lines += [hop.text, ""]
            continue
        lines.append("%s %s: %s" % (hop.node, hop.bridge, hop.flow))
        if isinstance(hop, RouterHop):
            lines += ["  %11s  %s" % (hook, rule) for hook, rule in hop.matched if rule]
            lines += ["     -> %s" % hop.summary, ""]
            continue
        if trace:
            lines += ["    " + line for line in hop.trace.splitlines()]
        else:
            for step, flow in hop.matched:
                lines.append("  %5s  %s" % (step, flow) if flow else "  %5s" % step)
            sent = [o for o in hop.outputs if not o.skipped]
            lines.append("     -> %s" % (", ".join(map(str, sent)) or "drop"))
        lines.append("")
    return "\n".join(lines + [str(hop) for hop in hops])
