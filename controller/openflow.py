"""The one layer that builds OpenFlow messages (OpenFlow 1.3 with Nicira
extensions, through os-ken's parser). Bridge classes describe flows with the
match and action helpers here and never touch os-ken themselves.

A bridge's flows are kept as a FlowSet, a desired state keyed like OVS keys
its flow table (table, priority, match): the agent programs a bridge by
sending only the difference between the set it wants and the set it sent."""

from os_ken.ofproto import nicira_ext
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

ETH_IP, ETH_ARP, ETH_RARP, ETH_IPV6 = 0x0800, 0x0806, 0x8035, 0x86DD
PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6 = 1, 6, 17, 58

# Short names for the matches OVS prints as `ip`, `arp`, `tcp6`, ...
PROTOCOLS = {
    "ip": dict(eth_type=ETH_IP), "arp": dict(eth_type=ETH_ARP), "rarp": dict(eth_type=ETH_RARP),
    "ipv6": dict(eth_type=ETH_IPV6),
    "icmp": dict(eth_type=ETH_IP, ip_proto=PROTO_ICMP), "tcp": dict(eth_type=ETH_IP, ip_proto=PROTO_TCP),
    "udp": dict(eth_type=ETH_IP, ip_proto=PROTO_UDP),
    "icmp6": dict(eth_type=ETH_IPV6, ip_proto=PROTO_ICMPV6), "tcp6": dict(eth_type=ETH_IPV6, ip_proto=PROTO_TCP),
    "udp6": dict(eth_type=ETH_IPV6, ip_proto=PROTO_UDP),
}

_CT_BITS = {"new": 0x01, "est": 0x02, "rel": 0x04, "rpl": 0x08, "inv": 0x10, "trk": 0x20}
UNICAST = ("00:00:00:00:00:00", "01:00:00:00:00:00")
MULTICAST = ("01:00:00:00:00:00", "01:00:00:00:00:00")
BROADCAST = "ff:ff:ff:ff:ff:ff"
NO_VLAN = 0x0000        # vlan_vid 0 exact is OVS's vlan_tci=0x0000/0x1fff: untagged


def ct_state(flags):
    """'+est-rel-rpl' -> (value, mask) for the ct_state match."""
    value = mask = 0
    for sign, name in _split_flags(flags):
        mask |= _CT_BITS[name]
        if sign == "+":
            value |= _CT_BITS[name]
    return value, mask


def _split_flags(flags):
    out, i = [], 0
    while i < len(flags):
        j = i + 1
        while j < len(flags) and flags[j] not in "+-":
            j += 1
        out.append((flags[i], flags[i + 1:j]))
        i = j
    return out


def vlan(vid):
    """Match a frame tagged with VLAN `vid` (OVS prints dl_vlan=vid)."""
    return vid | ofp.OFPVID_PRESENT


# -- actions ------------------------------------------------------------------
def output(port):
    return parser.OFPActionOutput(port, 0)


def normal():
    return parser.OFPActionOutput(ofp.OFPP_NORMAL, 0)


def resubmit(table):
    return parser.NXActionResubmitTable(table_id=table)


def set_field(**field):
    """load:VALUE->FIELD, e.g. set_field(reg5=3), set_field(tunnel_id=0xcb)."""
    return parser.OFPActionSetField(**field)


def set_vlan(vid):
    """mod_vlan_vid:VID on a frame that already has a tag."""
    return parser.OFPActionSetField(vlan_vid=vid | ofp.OFPVID_PRESENT)


def push_vlan():
    """Add a tag (OVS prints the push and the following set_field together
    as mod_vlan_vid in OpenFlow 1.0 dumps)."""
    return parser.OFPActionPushVlan()


def strip_vlan():
    return parser.OFPActionPopVlan()


def ct(table=None, commit=False, zone_reg="reg6", mark=None):
    """ct(commit?,table=T?,zone=NXM_NX_REG6[0..15],exec(load:MARK->NXM_NX_CT_MARK[])?)."""
    inner = [parser.OFPActionSetField(ct_mark=mark)] if mark is not None else []
    return parser.NXActionCT(flags=nicira_ext.NX_CT_F_COMMIT if commit else 0, zone_src=zone_reg,
                             zone_ofs_nbits=nicira_ext.ofs_nbits(0, 15),
                             recirc_table=nicira_ext.NX_CT_RECIRC_NONE if table is None else table,
                             alg=0, actions=inner)


def ct_clear():
    return parser.NXActionCTClear()


def nx_load(field, value, bits):
    """load:VALUE->FIELD[] as a Nicira register load (OVS prints it so), e.g.
    nx_load("reg6", 0x4200, 32), nx_load("in_port_nxm", 0, 16)."""
    return parser.NXActionRegLoad(ofs_nbits=nicira_ext.ofs_nbits(0, bits - 1), dst=field, value=value)


def nx_move(src, dst, bits):
    """move:SRC[]->DST[], e.g. nx_move("eth_src_nxm", "eth_dst_nxm", 48)."""
    return parser.NXActionRegMove(src_field=src, dst_field=dst, n_bits=bits)


def group(group_id):
    return parser.OFPActionGroup(group_id)


def conjunction(conj_id, clause, n_clauses):
    """conjunction(ID,CLAUSE/N) with CLAUSE counted from 1 as OVS prints it."""
    return parser.NXActionConjunction(clause=clause - 1, n_clauses=n_clauses, id_=conj_id)


def learn_reverse_path(table, cookie, hard_timeout=300, priority=1):
    """The learn() of br-tun's table 10: a flow in `table` sending frames for
    this source MAC on this local VLAN back out of the tunnel port it came
    in on, with the tunnel id it carried."""
    specs = [
        parser.NXFlowSpecMatch(src=("vlan_tci", 0), dst=("vlan_tci", 0), n_bits=12),
        parser.NXFlowSpecMatch(src=("eth_src", 0), dst=("eth_dst", 0), n_bits=48),
        parser.NXFlowSpecLoad(src=0, dst=("vlan_tci", 0), n_bits=16),
        parser.NXFlowSpecLoad(src=("tunnel_id", 0), dst=("tunnel_id", 0), n_bits=64),
        parser.NXFlowSpecOutput(src=("in_port", 0), dst="", n_bits=32),
    ]
    return parser.NXActionLearn(table_id=table, specs=specs, hard_timeout=hard_timeout, priority=priority,
                                cookie=cookie)


# -- instructions (OpenFlow 1.3), for pipelines that use more than apply-actions ----
def apply(*actions):
    return parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(actions))


def write_actions(*actions):
    """Actions kept in the packet's action set, run when its pipeline ends."""
    return parser.OFPInstructionActions(ofp.OFPIT_WRITE_ACTIONS, list(actions))


def write_metadata(value, mask):
    return parser.OFPInstructionWriteMetadata(value, mask)


def goto(table):
    return parser.OFPInstructionGotoTable(table)


# -- flows --------------------------------------------------------------------
_MATCHES = {}           # frozen match fields -> OFPMatch
_MATCHES_KEPT = 200000


def _frozen(value):
    return tuple(value) if isinstance(value, list) else value


class Flow:
    """One flow: where it sits (table, priority, match) and what it does:
    apply-actions, or OpenFlow 1.3 instructions; and, where cookies carry
    meaning (netvirt), its own cookie.

    Its key is made of the match's fields as the flow builders give them
    (they spell a field the same way every time), and os-ken's OFPMatch is
    only made when a message needs it: a node's flow set is computed again
    whenever its ports change, and at a hundred nodes building every match
    object (most of them then replaced by an identical one) was most of the
    agent's time."""

    __slots__ = ("table", "priority", "fields", "_match", "actions", "key", "body", "cookie", "_instructions")

    def __init__(self, table, priority, match, actions=(), instructions=None, cookie=None):
        self.table = table
        self.priority = priority
        self.fields = match
        self._match = None
        self.actions = list(actions)
        self.cookie = cookie
        if instructions is not None:
            self._instructions = list(instructions)
        else:
            self._instructions = [apply(*self.actions)] if self.actions else []    # none: OVS prints drop
        self.key = (table, priority, tuple(sorted((k, _frozen(v)) for k, v in match.items())))
        body = bytearray()
        for inst in self._instructions:
            inst.serialize(body, len(body))
        self.body = bytes(body) + (cookie or 0).to_bytes(8, "big")

    @property
    def match(self):
        """os-ken's OFPMatch of the flow, made when first needed and shared
        by every flow with the same fields (a hundred nodes' br-int hold the
        same remote-group matches; they are read, never changed)."""
        if self._match is None:
            fields = self.key[2]
            self._match = _MATCHES.get(fields)
            if self._match is None:
                if len(_MATCHES) > _MATCHES_KEPT:
                    _MATCHES.clear()
                self._match = _MATCHES[fields] = parser.OFPMatch(**self.fields)
        return self._match

    def instructions(self):
        return list(self._instructions)

    def __eq__(self, other):
        return isinstance(other, Flow) and (self.key, self.body) == (other.key, other.body)

    def __hash__(self):
        return hash((self.key, self.body))

    def __repr__(self):
        return "Flow(table=%d, priority=%d, %s, %s)" % (self.table, self.priority, self.match, self.actions)


def match(proto=None, **fields):
    """A match dict: `proto` is a short name (ip, arp, tcp, icmp6, ...), the
    rest are os-ken OXM field names (in_port, reg5, ct_state, eth_dst, ...)."""
    out = dict(PROTOCOLS[proto]) if proto else {}
    if isinstance(fields.get("ct_state"), str):
        fields["ct_state"] = ct_state(fields["ct_state"])
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


class FlowSet:
    """The flows a bridge should have. Adding a flow with the key of one
    already there replaces it, as an OpenFlow add does."""

    def __init__(self):
        self._flows = {}

    def add(self, table, priority, match=None, actions=(), instructions=None, cookie=None):
        flow = Flow(table, priority, match or {}, actions, instructions, cookie)
        self._flows[flow.key] = flow
        return flow

    def __iter__(self):
        return iter(self._flows.values())

    def __len__(self):
        return len(self._flows)

    def keys(self):
        return self._flows.keys()

    def get(self, key):
        return self._flows.get(key)

    def difference(self, installed):
        """(flows to send, flows to delete) to turn `installed` into this set."""
        send = [f for f in self if installed.get(f.key) != f]
        delete = [f for f in installed if f.key not in self._flows]
        return send, delete


# -- messages -----------------------------------------------------------------
def flow_add(datapath, flow, cookie=0):
    """An add (which replaces a flow of the same table, priority and match);
    the flow's own cookie wins over the app's."""
    return parser.OFPFlowMod(datapath, cookie=cookie if flow.cookie is None else flow.cookie, table_id=flow.table,
                             command=ofp.OFPFC_ADD, priority=flow.priority, match=flow.match,
                             instructions=flow.instructions())


def flow_delete(datapath, flow):
    """Delete exactly this flow (table, priority and match), whatever its cookie."""
    return parser.OFPFlowMod(datapath, table_id=flow.table, command=ofp.OFPFC_DELETE_STRICT,
                             priority=flow.priority, match=flow.match, out_port=ofp.OFPP_ANY,
                             out_group=ofp.OFPG_ANY)


def delete_cookie(datapath, cookie):
    """Delete every flow of a cookie, in every table (after a resync: the
    flows a previous agent run left)."""
    return parser.OFPFlowMod(datapath, cookie=cookie, cookie_mask=0xFFFFFFFFFFFFFFFF, table_id=ofp.OFPTT_ALL,
                             command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY)


def delete_all_flows(datapath):
    """Every flow of every table (a controller that starts afresh)."""
    return parser.OFPFlowMod(datapath, table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY,
                             out_group=ofp.OFPG_ANY)


def flow_count_request(datapath):
    """How many flows the switch holds, all tables, whatever their cookie
    (an aggregate stats request: a count, not every flow)."""
    return parser.OFPAggregateStatsRequest(datapath, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY, 0, 0,
                                           parser.OFPMatch())


def flow_stats_request(datapath):
    return parser.OFPFlowStatsRequest(datapath, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY, 0, 0,
                                      parser.OFPMatch())


def port_desc_request(datapath):
    return parser.OFPPortDescStatsRequest(datapath, 0)


def send_batch(datapath, msgs):
    """Send `msgs` in one write: one slot of the datapath's send queue (os-ken
    makes a sender wait once 16 are queued, and a switch busy with our flows
    would hold every other message of this thread) and one syscall, not
    hundreds. The app that needs a message's xid (a barrier's) sets it first."""
    bufs = []
    for msg in msgs:
        if msg.xid is None:
            datapath.set_xid(msg)
        msg.serialize()
        bufs.append(bytes(msg.buf))
    if bufs:
        datapath.send(b"".join(bufs))


# -- groups --------------------------------------------------------------------
class Group:
    """A group: its id, type (all, select, indirect, ff) and buckets, each a
    list of actions."""

    __slots__ = ("group_id", "type", "buckets", "body")

    TYPES = {"all": ofp.OFPGT_ALL, "select": ofp.OFPGT_SELECT, "indirect": ofp.OFPGT_INDIRECT,
             "ff": ofp.OFPGT_FF}

    def __init__(self, group_id, buckets, type_="all"):
        self.group_id = group_id
        self.type = type_
        self.buckets = [list(b) for b in buckets]
        body = bytearray()
        for bucket in self.ofp_buckets():
            bucket.serialize(body, len(body))
        self.body = bytes([self.TYPES[type_]]) + bytes(body)

    def ofp_buckets(self):
        return [parser.OFPBucket(actions=actions) for actions in self.buckets]

    def __eq__(self, other):
        return isinstance(other, Group) and (self.group_id, self.body) == (other.group_id, other.body)

    def __hash__(self):
        return hash((self.group_id, self.body))

    def __repr__(self):
        return "Group(%d, %s, %s)" % (self.group_id, self.type, self.buckets)


class GroupSet:
    """The groups a bridge should have, by id."""

    def __init__(self):
        self._groups = {}

    def add(self, group_id, buckets, type_="all"):
        group = Group(group_id, buckets, type_)
        self._groups[group_id] = group
        return group

    def __iter__(self):
        return iter(self._groups.values())

    def __len__(self):
        return len(self._groups)

    def get(self, group_id):
        return self._groups.get(group_id)

    def difference(self, installed):
        """(groups to add, to modify, ids to delete) to turn `installed` into this set."""
        add = [g for g in self if installed.get(g.group_id) is None]
        modify = [g for g in self if installed.get(g.group_id) not in (None, g)]
        delete = [gid for gid in (g.group_id for g in installed) if gid not in self._groups]
        return add, modify, delete


def group_mod(datapath, group, command):
    commands = {"add": ofp.OFPGC_ADD, "modify": ofp.OFPGC_MODIFY}
    return parser.OFPGroupMod(datapath, commands[command], Group.TYPES[group.type], group.group_id,
                              group.ofp_buckets())


def group_delete(datapath, group_id=ofp.OFPG_ALL):
    return parser.OFPGroupMod(datapath, ofp.OFPGC_DELETE, ofp.OFPGT_ALL, group_id, [])


def group_desc_request(datapath):
    return parser.OFPGroupDescStatsRequest(datapath, 0)


def barrier(datapath):
    return parser.OFPBarrierRequest(datapath)


class MissingPort(LookupError):
    """A flow needs a port the bridge does not have (yet)."""


class BridgeFlows(FlowSet):
    """Base of the bridge classes: the flows of one named bridge, which knows
    its ports' OpenFlow numbers (from the switch's port description)."""

    def __init__(self, name, ofports):
        super().__init__()
        self.name = name
        self.ofports = dict(ofports)

    def ofport(self, port_name):
        try:
            return self.ofports[port_name]
        except KeyError:
            raise MissingPort("%s has no port %s" % (self.name, port_name)) from None

    def has_port(self, port_name):
        return port_name in self.ofports
