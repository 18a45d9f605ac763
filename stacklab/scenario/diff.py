"""What differs between the scenario a lab runs and an edited one, sorted
into what `stacklab apply` can change live (as neutron's server tells its
agents of a port or a rule) and what it cannot (a lab has to be rebuilt).

Pure logic over two loaded scenarios: the lab side (topologies/changes.py)
carries the changes out."""

import dataclasses
from dataclasses import dataclass, field
from typing import List


# the control planes `apply` changes live (neutron's agents by their plans, OVN by northbound writes)
LIVE_PLANES = ("neutron", "ovn")


@dataclass
class ScenarioDiff:
    added_instances: List[str] = field(default_factory=list)
    removed_instances: List[str] = field(default_factory=list)
    regrouped_instances: List[str] = field(default_factory=list)     # their security groups changed
    added_networks: List[str] = field(default_factory=list)
    added_floating_ips: List[str] = field(default_factory=list)      # addresses
    removed_floating_ips: List[str] = field(default_factory=list)    # addresses (OVN: a NAT row goes)
    groups: List[str] = field(default_factory=list)                  # "web: + ingress tcp 80"
    refused: List[str] = field(default_factory=list)                 # why it cannot be live

    @property
    def empty(self):
        return not (self.added_instances or self.removed_instances or self.regrouped_instances
                    or self.added_networks or self.added_floating_ips or self.removed_floating_ips
                    or self.groups)

    def lines(self):
        """What changes, one line each, as `apply` prints it."""
        out = ["network %s added" % n for n in self.added_networks]
        out += ["security group %s" % g for g in self.groups]
        out += ["instance %s removed" % n for n in self.removed_instances]
        out += ["instance %s added" % n for n in self.added_instances]
        out += ["instance %s: security groups changed" % n for n in self.regrouped_instances]
        out += ["floating IP %s added" % a for a in self.added_floating_ips]
        out += ["floating IP %s removed" % a for a in self.removed_floating_ips]
        return out


def rule_text(rule):
    """A rule as one line: `ingress tcp 80`, `ingress icmp from 10.0.0.0/8`."""
    words = [rule.direction, rule.ethertype if rule.ethertype != "IPv4" else "", rule.protocol or "any"]
    if rule.port_min is not None:
        words.append(str(rule.port_min) if rule.port_min == rule.port_max
                     else "%s-%s" % (rule.port_min, rule.port_max))
    if rule.remote_ip is not None:
        words.append("from %s" % rule.remote_ip)
    if rule.remote_group is not None:
        words.append("from group %s" % rule.remote_group)
    return " ".join(w for w in words if w)


def _paths(old, new, prefix=""):
    """Where two model values differ, as key paths (`nics.eth0.mac`)."""
    if dataclasses.is_dataclass(old) and type(old) is type(new):
        return [p for f in dataclasses.fields(old) if getattr(old, f.name) != getattr(new, f.name)
                for p in _paths(getattr(old, f.name), getattr(new, f.name), prefix + f.name + ".")]
    if isinstance(old, dict) and isinstance(new, dict):
        return [p for k in sorted(set(old) | set(new), key=str) if old.get(k) != new.get(k)
                for p in (_paths(old[k], new[k], "%s%s." % (prefix, k)) if k in old and k in new
                          else ["%s%s" % (prefix, k) + (" added" if k in new else " removed")])]
    return [prefix.rstrip(".")]


def changed_fields(old, new):
    """What differs between two model objects: `segmentation_id changed, nics.eth0.mac changed`."""
    return ", ".join(p if p.endswith((" added", " removed")) else p + " changed" for p in _paths(old, new) if p)


def _unchanged(kind, old, new, refused):
    """Things that cannot change live: refuse any difference, naming the field."""
    for name in sorted(set(old) | set(new)):
        if name not in new:
            refused.append("%s %s removed" % (kind, name))
        elif name not in old:
            refused.append("%s %s added" % (kind, name))
        elif old[name] != new[name]:
            refused.append("%s %s: %s" % (kind, name, changed_fields(old[name], new[name]) or "changed"))


def _without_groups(instance):
    return dataclasses.replace(instance, ports=[dataclasses.replace(p, security_groups=[]) for p in instance.ports])


def diff(old, new):
    d = ScenarioDiff()
    if new.name != old.name:
        d.refused.append("the file describes scenario %s, the lab is %s" % (new.name, old.name))
        return d
    if old.sdn not in LIVE_PLANES:
        d.refused.append("live changes are made to %s labs only (this one is %s): rebuild it"
                         % (" and ".join(LIVE_PLANES), old.sdn))
        return d
    for attr, what in (("agent_release", "the agent release"), ("l2_population", "agent.l2_population"),
                       ("arp_responder", "agent.arp_responder"), ("sdn", "sdn"),
                       ("distributed_floating_ips", "sdn.distributed_floating_ips")):
        if getattr(old, attr) != getattr(new, attr):
            d.refused.append("%s changed" % what)
    _unchanged("node", old.nodes, new.nodes, d.refused)
    _unchanged("host", old.hosts, new.hosts, d.refused)
    _unchanged("router", old.routers, new.routers, d.refused)
    _unchanged("load balancer", old.load_balancers, new.load_balancers, d.refused)
    _unchanged("key pair", old.keypairs, new.keypairs, d.refused)

    for name in sorted(set(old.networks) | set(new.networks)):
        if name not in new.networks:
            d.refused.append("network %s removed" % name)
        elif name not in old.networks:
            if new.networks[name].external:
                d.refused.append("external network %s added (a router's gateway would change)" % name)
            else:
                d.added_networks.append(name)
        else:
            o, n = old.networks[name], new.networks[name]
            kept = {k: v for k, v in n.local_vlans.items() if k in o.local_vlans}
            if old.sdn == "ovn":        # no local VLANs on OVN: a network comes and goes with its ports
                kept = o.local_vlans
            if dataclasses.replace(o, local_vlans={}) != dataclasses.replace(n, local_vlans={}) \
                    or kept != o.local_vlans:
                what = changed_fields(dataclasses.replace(o, local_vlans={}), dataclasses.replace(n, local_vlans={}))
                d.refused.append("network %s: %s" % (name, what or "its local VLANs changed"))
    for net, port in old.dhcp_ports.items():
        if net in new.dhcp_ports and new.dhcp_ports[net] != port:
            d.refused.append("the DHCP port of network %s would change" % net)
    for net, port in old.metadata_ports.items():
        if net in new.metadata_ports and new.metadata_ports[net] != port:
            d.refused.append("the metadata port of network %s would change" % net)

    for name in sorted(set(old.security_groups) | set(new.security_groups)):
        o, n = old.security_groups.get(name), new.security_groups.get(name)
        if n is None:
            d.groups.append("%s removed" % name)
            continue
        if o is None:
            d.groups.append("%s added (%d rules)" % (name, len(n.rules)))
            continue
        if o.id != n.id:
            d.refused.append("security group %s: its id changed" % name)
        before, after = [rule_text(r) for r in o.rules], [rule_text(r) for r in n.rules]
        d.groups += ["%s: + %s" % (name, r) for r in after if r not in before]
        d.groups += ["%s: - %s" % (name, r) for r in before if r not in after]

    for name in old.instances:
        if name not in new.instances:
            d.removed_instances.append(name)
    for name, inst in new.instances.items():
        if name not in old.instances:
            d.added_instances.append(name)
            continue
        before = old.instances[name]
        if inst == before:
            continue
        if _without_groups(inst) == _without_groups(before):
            d.regrouped_instances.append(name)
        else:
            fields = [f.name for f in dataclasses.fields(inst) if getattr(inst, f.name) != getattr(before, f.name)]
            if fields == ["ports"]:
                fields = [f.name for f in dataclasses.fields(inst.port)
                          if getattr(inst.port, f.name) != getattr(before.port, f.name)]
            d.refused.append("instance %s changed (%s): remove it in one apply, add it back in the next"
                             % (name, ", ".join(fields)))

    dvr_networks = {p.network: r.name for r in old.routers.values() if r.distributed for p in r.interfaces}
    for name in d.added_instances + d.removed_instances:
        inst = (new.instances.get(name) or old.instances[name])
        for port in inst.ports:
            if port.network in dvr_networks:
                d.refused.append("instance %s %s network %s of distributed router %s: the L3 agents' ARP entries "
                                 "do not follow live changes yet (rebuild the lab)" % (
                                     name, "added on" if name in d.added_instances else "removed from",
                                     port.network, dvr_networks[port.network]))

    old_fips = {str(f.address): f for f in old.floating_ips}
    for f in new.floating_ips:
        known = old_fips.pop(str(f.address), None)
        if known is None:
            if f.fixed_ip is not None and f.router is None:
                d.refused.append("floating IP %s: no router of this lab serves it" % f.address)
            else:
                d.added_floating_ips.append(str(f.address))
        elif known != f:
            d.refused.append("floating IP %s changed" % f.address)
    if old.sdn == "ovn":                # its NAT row deleted, as neutron's driver does
        d.removed_floating_ips += list(old_fips)
    else:
        d.refused += ["floating IP %s removed" % a for a in old_fips]
    return d
