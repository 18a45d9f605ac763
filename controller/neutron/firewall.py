"""The OVS firewall on br-int (neutron's `openvswitch` firewall driver): a
port's traffic is tracked by conntrack in the zone of its network's local
VLAN and accepted only as its security groups say.

  60  TRANSIENT        which port: reg5 = ofport, reg6 = local VLAN (= zone)
  71  BASE_EGRESS      anti-spoofing (ARP, IP, ND, DHCP), then ct() to 72
  72  RULES_EGRESS     connection states and the egress rules
  73  ACCEPT_OR_INGRESS  commit, or hand local traffic to ingress (81)
  81  BASE_INGRESS     ARP, ND and DHCP replies pass; ct() to 82
  82  RULES_INGRESS    connection states and the ingress rules
  91-94               accepted egress, accepted ingress, dropped, NORMAL

Registers as neutron uses them: reg5 the port, reg6 the network, reg7 the
conjunction id that accepted a packet."""

import ipaddress

from controller.neutron import br_int
from controller.openflow import (NO_VLAN, conjunction, ct, ct_clear, match, normal, output, resubmit, set_field,
                                 strip_vlan, vlan)

TRANSIENT = br_int.TRANSIENT
BASE_EGRESS = 71
RULES_EGRESS = 72
ACCEPT_OR_INGRESS = 73
BASE_INGRESS = 81
RULES_INGRESS = 82
ACCEPTED_EGRESS_TRAFFIC = 91
ACCEPTED_INGRESS_TRAFFIC = 92
DROPPED_TRAFFIC = 93
ACCEPTED_EGRESS_TRAFFIC_NORMAL = 94

FIREWALL_TABLES = (BASE_EGRESS, RULES_EGRESS, ACCEPT_OR_INGRESS, BASE_INGRESS, RULES_INGRESS)

EST_NOT_REPLY = "+est-rel-rpl"
NEW_NOT_EST = "+new-est"
CT_MARK_INVALID = 1

# ICMPv6 the firewall lets through before conntrack
EGRESS_ND_TYPES = (130, 133, 135)            # MLD query, router and neighbour solicitation
INGRESS_ND_TYPES = (130, 135, 136, 134)      # ... and neighbour and router advertisement
NEIGHBOUR_ADVERTISEMENT = 136
ROUTER_ADVERTISEMENT = 134

_IP_PROTO = {"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58}
_PROTO = {"IPv4": "ip", "IPv6": "ipv6"}


def link_local(mac):
    """The IPv6 link-local address of a MAC (EUI-64), as the port's ND uses."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    eui = b[:3] + [0xFF, 0xFE] + b[3:]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui)))


def port_masks(low, high):
    """A port range as the fewest value/mask matches (one exact port: the int)."""
    out = []
    while low <= high:
        size = (low & -low) or 0x10000
        while size > high - low + 1:
            size >>= 1
        out.append(low if size == 1 else (low, 0xFFFF & ~(size - 1)))
        low += size
    return out


def priority_offset(rule, conjunction):
    """neutron's ordering of rules: conjunction rules 0-3, plain ones 4-7;
    within, any protocol < ICMP without type < ... < protocols with ports."""
    base = 0 if conjunction else 4
    if rule.protocol is None:
        return base
    if rule.protocol in ("icmp", "ipv6-icmp") and rule.port_min is None:
        return base + 1
    return base + 3


class ConjunctionIds:
    """Conjunction ids per (group, remote group, direction, ethertype), in
    blocks of 8 (two ids for each of the 4 priority offsets). As in neutron
    the first block handed out is 16. Kept by the agent for its whole run so
    the ids of a group do not move when ports come and go."""

    BLOCK = 8

    def __init__(self):
        self._last = self.BLOCK
        self._ids = {}

    def get(self, group, remote_group, direction, ethertype):
        key = (group, remote_group, direction, ethertype)
        if key not in self._ids:
            self._last += self.BLOCK
            self._ids[key] = self._last
        return self._ids[key]


class FirewallPort:
    """A port as the firewall sees it: where it is and what it may send as.
    Allowed address pairs widen that: each of their MACs also identifies the
    port, each (MAC, IP) pair passes anti-spoofing like a fixed IP."""

    def __init__(self, binding, ofport, network):
        self.name = binding.name
        self.ofport = ofport
        self.mac = binding.mac
        self.ipv4 = [ip for ip in binding.ips if ipaddress.ip_address(ip).version == 4]
        self.ipv6 = [ip for ip in binding.ips if ipaddress.ip_address(ip).version == 6]
        pairs = [(mac, ip) for ip, mac in binding.allowed_address_pairs]
        self.pairs_v4 = [(self.mac, ip) for ip in self.ipv4] + [p for p in pairs
                                                                if ipaddress.ip_address(p[1]).version == 4]
        self.pairs_v6 = [(self.mac, ip) for ip in self.ipv6] + [p for p in pairs
                                                                if ipaddress.ip_address(p[1]).version == 6]
        self.macs = list(dict.fromkeys([self.mac] + [mac for mac, _ in pairs]))
        self.lla = link_local(binding.mac)
        self.vlan = network.local_vlan
        self.network_type = network.type
        self.segmentation_id = network.segmentation_id
        self.security_groups = list(binding.security_groups)


class Firewall:
    """Writes the firewall's flows into an IntegrationBridge."""

    def __init__(self, bridge, conj_ids=None):
        self.br = bridge
        self.conj_ids = conj_ids or ConjunctionIds()
        self._conj_flows = {}      # (table, priority, match items) -> conjunction actions, merged

    # -- tables every port shares --------------------------------------------
    def setup_base_flows(self):
        for table in FIREWALL_TABLES:
            self.br.add(table, 0)
        self.br.add(BASE_EGRESS, 110, match(ct_state="+trk"), [ct_clear(), resubmit(BASE_EGRESS)])
        self.br.add(ACCEPTED_EGRESS_TRAFFIC, 1, actions=[resubmit(ACCEPTED_EGRESS_TRAFFIC_NORMAL)])
        self.br.add(ACCEPTED_INGRESS_TRAFFIC, 0)
        self.br.add(DROPPED_TRAFFIC, 0)
        self.br.add(ACCEPTED_EGRESS_TRAFFIC_NORMAL, 1, actions=[normal()])

    # -- one port ---------------------------------------------------------------
    def setup_trusted_port(self, port):
        """neutron's own ports (DHCP, router) and ports without port security:
        identified, then accepted without conntrack."""
        self.br.add(TRANSIENT, 100, match(in_port=port.ofport),
                    [set_field(reg5=port.ofport), set_field(reg6=port.vlan), resubmit(ACCEPT_OR_INGRESS)])
        self.br.add(ACCEPT_OR_INGRESS, 80, match(reg5=port.ofport), [resubmit(ACCEPTED_EGRESS_TRAFFIC_NORMAL)])

    def setup_port_firewall(self, port, groups):
        """Every flow of a filtered port: identification, egress and ingress
        base flows, then its security groups' rules (`groups`: id -> group)."""
        self._identify(port)
        self._egress_base(port)
        self._egress_states(port)
        self._accept_or_ingress(port)
        self._ingress_base(port)
        self._ingress_states(port)
        for group_id in port.security_groups:
            group = groups.get(group_id)
            if group is not None:
                self._group_rules(port, group, groups)

    def _identify(self, port):
        regs = [set_field(reg5=port.ofport), set_field(reg6=port.vlan)]
        self.br.add(TRANSIENT, 100, match(in_port=port.ofport), regs + [resubmit(BASE_EGRESS)])
        for mac in port.macs:
            self.br.add(TRANSIENT, 90, match(vlan_vid=vlan(port.vlan), eth_dst=mac),
                        regs + [strip_vlan(), resubmit(BASE_INGRESS)])
            # straight from the physical network, before table 0 tagged it
            if port.network_type == "flat":
                self.br.add(TRANSIENT, 90, match(vlan_vid=NO_VLAN, eth_dst=mac), regs + [resubmit(BASE_INGRESS)])
            elif port.network_type == "vlan":
                self.br.add(TRANSIENT, 90, match(vlan_vid=vlan(port.segmentation_id), eth_dst=mac),
                            regs + [strip_vlan(), resubmit(BASE_INGRESS)])

    def _egress_base(self, port):
        add, me = self.br.add, dict(reg5=port.ofport, in_port=port.ofport)
        accept = [resubmit(ACCEPTED_EGRESS_TRAFFIC_NORMAL)]
        to_rules = [ct(table=RULES_EGRESS)]
        for mac, ip in port.pairs_v4:
            add(BASE_EGRESS, 95, match("arp", eth_src=mac, arp_spa=ip, **me), accept)
            add(BASE_EGRESS, 65, match("ip", eth_src=mac, ipv4_src=ip, **me), to_rules)
        if self.br.release != "2023.2":
            for mac in port.macs:
                add(BASE_EGRESS, 95, match("rarp", eth_src=mac, **me), accept)
        for ip in [port.lla] + port.ipv6:
            for icmp_type in EGRESS_ND_TYPES:
                add(BASE_EGRESS, 95, match("icmp6", eth_src=port.mac, ipv6_src=ip, icmpv6_type=icmp_type, **me),
                    accept)
            add(BASE_EGRESS, 95, match("icmp6", icmpv6_type=NEIGHBOUR_ADVERTISEMENT, ipv6_nd_target=ip, **me),
                accept)
            add(BASE_EGRESS, 65, match("ipv6", eth_src=port.mac, ipv6_src=ip, **me), to_rules)
        # DHCP: the port may ask (from its addresses or from 0.0.0.0), never answer
        for mac, ip in port.pairs_v4 + [(mac, "0.0.0.0") for mac in port.macs]:
            add(BASE_EGRESS, 80, match("udp", eth_src=mac, ipv4_src=ip, udp_src=68, udp_dst=67, **me),
                [resubmit(ACCEPT_OR_INGRESS)])
        for ip in [port.lla] + port.ipv6:
            add(BASE_EGRESS, 80, match("udp6", eth_src=port.mac, ipv6_src=ip, udp_src=546, udp_dst=547, **me),
                [resubmit(ACCEPT_OR_INGRESS)])
        drop = [resubmit(DROPPED_TRAFFIC)]
        add(BASE_EGRESS, 70, match("udp", udp_src=67, udp_dst=68, **me), drop)
        add(BASE_EGRESS, 70, match("udp6", udp_src=547, udp_dst=546, **me), drop)
        add(BASE_EGRESS, 70, match("icmp6", icmpv6_type=ROUTER_ADVERTISEMENT, **me), drop)
        add(BASE_EGRESS, 10, match(**me), [ct_clear(), resubmit(DROPPED_TRAFFIC)])

    def _connection_states(self, port, table, accept):
        """Shared by 72 and 82: invalid and unmarked-but-removed connections
        drop, replies of accepted ones pass, and an established connection no
        rule accepts any more gets ct_mark 1 so it stays dropped."""
        add, reg = self.br.add, dict(reg5=port.ofport)
        add(table, 50, match(ct_state="+inv+trk"), [resubmit(DROPPED_TRAFFIC)])
        add(table, 50, match(ct_mark=CT_MARK_INVALID, **reg), [resubmit(DROPPED_TRAFFIC)])
        for state in ("+est-rel+rpl", "-new-est+rel-inv"):
            add(table, 50, match(ct_state=state, ct_zone=port.vlan, ct_mark=0, **reg), accept)
        add(table, 40, match(ct_state="-est", **reg), [resubmit(DROPPED_TRAFFIC)])
        for proto in ("ip", "ipv6"):
            add(table, 40, match(proto, ct_state="+est", **reg), [ct(commit=True, mark=CT_MARK_INVALID)])

    def _egress_states(self, port):
        self._connection_states(port, RULES_EGRESS, [resubmit(ACCEPTED_EGRESS_TRAFFIC_NORMAL)])

    def _accept_or_ingress(self, port):
        add = self.br.add
        for mac in port.macs:
            add(ACCEPT_OR_INGRESS, 100, match(reg6=port.vlan, eth_dst=mac),
                [set_field(reg5=port.ofport), resubmit(BASE_INGRESS)])
        for proto in ("ip", "ipv6"):
            add(ACCEPT_OR_INGRESS, 90, match(proto, ct_state=NEW_NOT_EST, reg5=port.ofport),
                [ct(commit=True), resubmit(ACCEPTED_EGRESS_TRAFFIC)])
        add(ACCEPT_OR_INGRESS, 80, match(reg5=port.ofport), [resubmit(ACCEPTED_EGRESS_TRAFFIC_NORMAL)])

    def _ingress_base(self, port):
        add, reg, out = self.br.add, dict(reg5=port.ofport), [output(port.ofport)]
        add(BASE_INGRESS, 100, match("arp", **reg), out)
        for icmp_type in INGRESS_ND_TYPES:
            add(BASE_INGRESS, 100, match("icmp6", icmpv6_type=icmp_type, **reg), out)
        add(BASE_INGRESS, 95, match("udp", udp_src=67, udp_dst=68, **reg), out)
        add(BASE_INGRESS, 95, match("udp6", udp_src=547, udp_dst=546, **reg), out)
        for proto in ("ip", "ipv6"):
            add(BASE_INGRESS, 90, match(proto, ct_state="-trk", **reg), [ct(table=RULES_INGRESS)])
        add(BASE_INGRESS, 80, match(ct_state="+trk", **reg), [resubmit(RULES_INGRESS)])

    def _ingress_states(self, port):
        self._connection_states(port, RULES_INGRESS, [output(port.ofport)])

    # -- security group rules -------------------------------------------------------
    def _accept_actions(self, port, direction, state, conj_id=None):
        mark = [set_field(reg7=conj_id)] if conj_id is not None else []
        if direction == "egress":
            return mark + [resubmit(ACCEPT_OR_INGRESS)]
        if state == EST_NOT_REPLY:
            return mark + [output(port.ofport)]
        return mark + [ct(commit=True), output(port.ofport), resubmit(ACCEPTED_INGRESS_TRAFFIC)]

    @staticmethod
    def _rule_matches(port, rule):
        """The matches of one rule for one port (several for a port range)."""
        fields = dict(reg5=port.ofport)
        if rule.protocol is not None:
            fields["ip_proto"] = _IP_PROTO[rule.protocol]
        if rule.remote_ip is not None:
            net = ipaddress.ip_network(rule.remote_ip)
            side = "src" if rule.direction == "ingress" else "dst"
            value = str(net.network_address) if net.prefixlen == net.max_prefixlen \
                else (str(net.network_address), str(net.netmask))
            fields[("ipv4_" if net.version == 4 else "ipv6_") + side] = value
        if rule.protocol in ("tcp", "udp") and rule.port_min is not None:
            return [dict(fields, **{rule.protocol + "_dst": m}) for m in port_masks(rule.port_min, rule.port_max)]
        if rule.protocol in ("icmp", "ipv6-icmp") and rule.port_min is not None:
            fields["icmpv4_type" if rule.protocol == "icmp" else "icmpv6_type"] = rule.port_min
            if rule.port_max is not None:
                fields["icmpv4_code" if rule.protocol == "icmp" else "icmpv6_code"] = rule.port_max
        return [fields]

    def _group_rules(self, port, group, groups):
        for rule in group.rules:
            table = RULES_INGRESS if rule.direction == "ingress" else RULES_EGRESS
            proto = _PROTO[rule.ethertype]
            if rule.remote_group is None:
                priority = 70 + priority_offset(rule, conjunction=False)
                for fields in self._rule_matches(port, rule):
                    for state in (EST_NOT_REPLY, NEW_NOT_EST):
                        self.br.add(table, priority, match(proto, ct_state=state, **fields),
                                    self._accept_actions(port, rule.direction, state))
                continue
            offset = priority_offset(rule, conjunction=True)
            conj_id = self.conj_ids.get(group.id, rule.remote_group, rule.direction, rule.ethertype) + 2 * offset
            priority = 70 + offset
            # dimension 2/2: this port and the rule's protocol and ports
            for fields in self._rule_matches(port, rule):
                for i, state in enumerate((EST_NOT_REPLY, NEW_NOT_EST)):
                    self._conj(table, priority, match(proto, ct_state=state, **fields), conj_id + i, 2)
            # dimension 1/2: the remote group's members on this network
            remote = groups.get(rule.remote_group)
            side = ("ipv4_" if rule.ethertype == "IPv4" else "ipv6_") + ("src" if rule.direction == "ingress"
                                                                          else "dst")
            for ip, _mac in (remote.members.get(rule.ethertype, []) if remote else []):
                for i, state in enumerate((EST_NOT_REPLY, NEW_NOT_EST)):
                    self._conj(table, priority, match(proto, ct_state=state, reg6=port.vlan, **{side: ip}),
                               conj_id + i, 1)
            # what a packet matching both dimensions gets
            for i, state in enumerate((EST_NOT_REPLY, NEW_NOT_EST)):
                self.br.add(table, priority, match(proto, conj_id=conj_id + i, ct_state=state, reg5=port.ofport),
                            self._accept_actions(port, rule.direction, state, conj_id + i))

    def _conj(self, table, priority, fields, conj_id, clause):
        key = (table, priority, tuple(sorted((k, str(v)) for k, v in fields.items())))
        entry = self._conj_flows.setdefault(key, (fields, []))
        if (conj_id, clause) not in entry[1]:
            entry[1].append((conj_id, clause))

    def flush_conjunctions(self):
        """The conjunction flows every port's rules asked for, each once, with
        all its conjunctions merged (after the bridge's last port)."""
        for (table, priority, _), (fields, conjs) in self._conj_flows.items():
            self.br.add(table, priority, fields, [conjunction(c, clause, 2) for c, clause in sorted(conjs)])
