"""Where a packet went: `ovs-appctl ofproto/trace` of a packet arriving at an
instance's br-int, the way it really arrives (from patch-tun on its local
VLAN for vxlan, from int-br-X untagged or with its VLAN id for flat and vlan),
following conntrack as a new connection. A failing probe attaches it, so its
report says which table dropped the packet."""

import re

from stacklab import naming


def _entry(scenario, inst):
    """(in_port, vlan match) of a frame for `inst` entering its node's br-int."""
    net = scenario.networks[inst.port.network]
    node = scenario.nodes[inst.node]
    if net.type == "vxlan":
        return naming.PATCH_INT_TO_TUN, "dl_vlan=%d" % net.local_vlans[inst.node]
    bridge = node.bridge_mappings.get(net.physical_network)
    if bridge is None:
        return None, None
    vlan = "vlan_tci=0" if net.type == "flat" else "dl_vlan=%d" % net.segmentation_id
    return naming.int_patch_name(bridge), vlan


def packet_to_instance(scenario, inst, src_ip, src_mac, proto, port=None):
    in_port, vlan = _entry(scenario, inst)
    if in_port is None:
        return None, None
    flow = "in_port=%s,%s,%s,dl_src=%s,dl_dst=%s,nw_src=%s,nw_dst=%s" % (
        in_port, vlan, proto, src_mac, inst.port.mac, src_ip, inst.port.ip)
    if proto == "tcp":
        flow += ",tp_src=40000,tp_dst=%d" % port
    elif proto == "icmp":
        flow += ",icmp_type=8,icmp_code=0"
    return inst.node, flow


def trace(lab, node, flow, bridge=naming.INTEGRATION_BRIDGE):
    """The trace's text and a one-line summary: the last flow matched and
    the datapath actions."""
    proc = lab.run(node, ["ovs-appctl", "ofproto/trace", bridge, flow, "--ct-next", "trk,new"])
    text = proc.stdout if proc.returncode == 0 else proc.stderr
    return text, summarize(text)


_STEP = re.compile(r"^\s*(\d+)\. (.*)$")


def summarize(text):
    steps = [m.group(1) + ". " + m.group(2).strip() for m in map(_STEP.match, text.splitlines()) if m]
    final = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Datapath actions:")]
    last = steps[-1] if steps else "no flow matched"
    return "last: table %s; datapath actions: %s" % (last, final[-1] if final else "?")
