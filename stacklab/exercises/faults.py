"""Faults an exercise injects into a built lab, each a reusable kind with
declared parameters. Each breaks the lab the way an operator's slip or a
failing agent would, with the commands an operator would have used, so
that the learner's tools (ovs-vsctl, ovs-ofctl, ip, iptables) show it."""

import shlex
import time

from stacklab import naming
from stacklab.errors import LabError
from stacklab.observe.ha import states
from stacklab.scenario.ovn import port_group_name, rule_id
from stacklab.scenario.schema import Field, Int, IPv4Address, Name, Record, Str


class Fault:
    kind = None
    params = None

    def validate(self, scenario, p, report):
        """Report what the scenario lacks (report(path, message))."""

    def inject(self, lab, scenario, p):
        """Break `lab` (a RunningLab); returns what was done, for the instructor's log."""
        raise NotImplementedError

    def giveaways(self, scenario, p):
        """What would tell the learner the answer if stacklab printed it before
        the exercise is solved: the broken thing's name, the wrong value, the right one."""
        return []


def _run(lab, where, command):
    lab.run(where, ["sh", "-c", command], check=True)
    return "%s: %s" % (where, command)


def _need(names, name, what, path, report):
    if name not in names:
        report(path, "no %s named %s" % (what, name))


def _need_ovn(scenario, report):
    """Whether the scenario is an OVN lab's (an OVN fault's own check)."""
    if scenario.sdn != "ovn":
        report((), "an OVN fault: the scenario needs sdn: {type: ovn}")
        return False
    return True


class InstanceFault(Fault):
    """A fault inside one instance, named by its `instance` parameter."""

    def validate(self, scenario, p, report):
        _need(scenario.instances, p["instance"], "instance", ("instance",), report)


class FlowDeleted(Fault):
    kind = "flow_deleted"
    params = Record({
        "node": Field(Name(example="compute1"), required=True),
        "bridge": Field(Name(example="br-provider"), required=True),
        "match": Field(Str(example="table=0,priority=4,in_port=phy-br-provider,dl_vlan=1"), required=True,
                       doc="The flow's table, priority and match, exactly (ovs-ofctl --strict)."),
    }, doc="A flow deleted (as by `ovs-ofctl --strict del-flows`).")

    def validate(self, scenario, p, report):
        _need(scenario.nodes, p["node"], "node", ("node",), report)

    def inject(self, lab, scenario, p):
        return _run(lab, p["node"], "ovs-ofctl --strict del-flows %s %s" % (p["bridge"], shlex.quote(p["match"])))

    def giveaways(self, scenario, p):
        return [p["match"]]


class FlowAltered(FlowDeleted):
    kind = "flow_altered"
    params = Record(dict(FlowDeleted.params.fields, actions=Field(Str(example="drop"), required=True)),
                    doc="A flow's actions replaced (as by `ovs-ofctl --strict mod-flows`).")

    def inject(self, lab, scenario, p):
        return _run(lab, p["node"], "ovs-ofctl --strict mod-flows %s %s"
                    % (p["bridge"], shlex.quote("%s,actions=%s" % (p["match"], p["actions"]))))

    def giveaways(self, scenario, p):
        return [p["match"], p["actions"]]


class PortTag(InstanceFault):
    kind = "port_tag"
    params = Record({
        "instance": Field(Name(example="instance03"), required=True, doc="Whose tap port."),
        "tag": Field(Int(min=1, max=4095, example=4095), required=True),
    }, doc="The VLAN tag of an instance's tap port on br-int changed (4095: the agent's dead VLAN).")

    def inject(self, lab, scenario, p):
        inst = scenario.instances[p["instance"]]
        return _run(lab, inst.node, "ovs-vsctl set port %s tag=%d" % (inst.port.name, p["tag"]))

    def giveaways(self, scenario, p):
        return [str(p["tag"]), scenario.instances[p["instance"]].port.name]


class TunnelRemoteIP(Fault):
    kind = "tunnel_remote_ip"
    params = Record({
        "node": Field(Name(example="compute1"), required=True),
        "peer": Field(Name(example="controller"), required=True, doc="The node the tunnel leads to."),
        "remote_ip": Field(IPv4Address(example="172.16.0.12"), required=True, doc="The wrong address."),
    }, doc="A VXLAN tunnel port's remote_ip set to a wrong address.")

    def validate(self, scenario, p, report):
        for key in ("node", "peer"):
            _need(scenario.nodes, p[key], "node", (key,), report)
        if p["node"] in scenario.nodes and p["peer"] in scenario.nodes and \
                scenario.nodes[p["peer"]].tunnel_ip not in scenario.tunnel_peers(p["node"]):
            report(("peer",), "%s has no tunnel to %s" % (p["node"], p["peer"]))

    def inject(self, lab, scenario, p):
        port = naming.vxlan_port_name(scenario.nodes[p["peer"]].tunnel_ip)
        return _run(lab, p["node"], "ovs-vsctl set interface %s options:remote_ip=%s" % (port, p["remote_ip"]))

    def giveaways(self, scenario, p):
        return [str(p["remote_ip"]), naming.vxlan_port_name(scenario.nodes[p["peer"]].tunnel_ip), "remote_ip"]


class DhcpHostMissing(Fault):
    kind = "dhcp_host_missing"
    params = Record({
        "instance": Field(Name(example="instance02"), required=True),
    }, doc="The instance's line gone from dnsmasq's host file, dnsmasq told to read it again (SIGHUP).")

    def validate(self, scenario, p, report):
        _need(scenario.instances, p["instance"], "instance", ("instance",), report)
        if p["instance"] in scenario.instances and \
                scenario.instances[p["instance"]].port.network not in scenario.dhcp_ports:
            report(("instance",), "the network of %s has no DHCP" % p["instance"])

    def inject(self, lab, scenario, p):
        port = scenario.instances[p["instance"]].port
        dhcp = scenario.dhcp_ports[port.network]
        conf = "/var/lib/neutron/dhcp/%s" % scenario.networks[port.network].id
        return _run(lab, dhcp.node, "sed -i '/^%s,/d' %s/host && kill -HUP $(cat %s/pid)" % (port.mac, conf, conf))

    def giveaways(self, scenario, p):
        return ["host-%s" % str(scenario.instances[p["instance"]].port.ip).replace(".", "-"), "dhcp-hostsfile"]


class InstanceMTU(InstanceFault):
    kind = "mtu"
    params = Record({
        "instance": Field(Name(example="instance02"), required=True),
        "mtu": Field(Int(min=68, max=9000, example=1500), required=True),
    }, doc="An instance's eth0 MTU set by hand (as an image that ignores DHCP's MTU option).")

    def inject(self, lab, scenario, p):
        return _run(lab, p["instance"], "ip link set eth0 mtu %d" % p["mtu"])

    def giveaways(self, scenario, p):
        return ["MTU", "mtu", str(p["mtu"]), str(scenario.instances[p["instance"]].mtu)]


class NatRuleMissing(Fault):
    kind = "nat_rule_missing"
    params = Record({
        "floating_ip": Field(IPv4Address(example="172.17.0.95"), required=True),
    }, doc="The router's DNAT rule for a floating IP deleted (neutron-l3-agent-PREROUTING).")

    def _fip(self, scenario, address):
        return next((f for f in scenario.floating_ips if f.address == address and f.fixed_ip is not None), None)

    def validate(self, scenario, p, report):
        f = self._fip(scenario, p["floating_ip"])
        if f is None or f.router is None or scenario.routers[f.router].node is None:
            report(("floating_ip",), "no bound floating IP %s behind a router namespace" % p["floating_ip"])

    def inject(self, lab, scenario, p):
        f = self._fip(scenario, p["floating_ip"])
        router = scenario.routers[f.router]
        return _run(lab, router.namespace, "iptables -t nat -D neutron-l3-agent-PREROUTING -d %s/32 -j DNAT "
                                           "--to-destination %s" % (f.address, f.fixed_ip))

    def giveaways(self, scenario, p):
        return ["DNAT", "neutron-l3-agent-PREROUTING", "--to-destination"]


class LinkDown(InstanceFault):
    kind = "link_down"
    params = Record({
        "instance": Field(Name(example="instance03"), required=True),
    }, doc="An instance's eth0 down (an instance that lost its network).")

    def inject(self, lab, scenario, p):
        return _run(lab, p["instance"], "ip link set eth0 down")

    def giveaways(self, scenario, p):
        return ["DOWN", "down"]


class GroupDeleted(Fault):
    kind = "group_deleted"
    params = Record({
        "node": Field(Name(example="compute1"), required=True),
        "group": Field(Int(min=1, example=150004), required=True, doc="The OpenFlow group id."),
    }, doc="An OpenFlow group deleted from br-int (OVS deletes the flows that use it with it).")

    def validate(self, scenario, p, report):
        _need(scenario.nodes, p["node"], "node", ("node",), report)

    def inject(self, lab, scenario, p):
        out = lab.run(p["node"], ["ovs-ofctl", "-O", "OpenFlow13", "dump-groups", naming.INTEGRATION_BRIDGE])
        if "group_id=%d," % p["group"] not in out.stdout:
            raise LabError("%s br-int has no group %d to delete" % (p["node"], p["group"]))
        return _run(lab, p["node"], "ovs-ofctl -O OpenFlow13 del-groups br-int group_id=%d" % p["group"])

    def giveaways(self, scenario, p):
        return [str(p["group"]), "group_id"]


class InstanceAddress(InstanceFault):
    kind = "instance_address"
    params = Record({
        "instance": Field(Name(example="instance02"), required=True),
        "address": Field(IPv4Address(example="192.168.101.50"), required=True,
                         doc="The address it is given instead of its port's (same subnet)."),
    }, doc="An instance's address changed by hand inside it (its port in neutron keeps the old one).")

    def validate(self, scenario, p, report):
        super().validate(scenario, p, report)
        inst = scenario.instances.get(p["instance"])
        if inst is not None and p["address"] not in scenario.networks[inst.port.network].subnet.cidr:
            report(("address",), "%s is not in %s's subnet" % (p["address"], p["instance"]))

    def inject(self, lab, scenario, p):
        inst = scenario.instances[p["instance"]]
        prefix = scenario.networks[inst.port.network].subnet.cidr.prefixlen
        return _run(lab, p["instance"], "ip addr flush dev eth0 && ip addr add %s/%d dev eth0"
                    % (p["address"], prefix))

    def giveaways(self, scenario, p):
        return [str(p["address"])]


class NeighboursForgotten(InstanceFault):
    kind = "neighbours_forgotten"
    params = Record({
        "instance": Field(Name(example="vm1"), required=True),
    }, doc="An instance's ARP cache emptied (as after a reboot): its next packets start with ARP.")

    def inject(self, lab, scenario, p):
        return _run(lab, p["instance"], "ip neigh flush dev eth0")


class ServiceStopped(Fault):
    kind = "service_stopped"
    params = Record({
        "where": Field(Name(example="compute1"), required=True, doc="A node, or an amphora."),
        "unit": Field(Str(example="openvswitch-switch"), required=True,
                      doc="The unit, as `systemctl list-units` in `where` names it."),
    }, doc="A service stopped (as by `systemctl stop UNIT` on the node): the lab does not start it again.")

    def validate(self, scenario, p, report):
        if p["where"] not in scenario.nodes and p["where"] not in scenario.instances:
            report(("where",), "no node or instance named %s" % p["where"])

    def inject(self, lab, scenario, p):
        from stacklab import runner
        code, output = runner.service(lab.name, p["where"], p["unit"], "stop")
        if code != 0:
            raise LabError("%s: systemctl stop %s: %s" % (p["where"], p["unit"], output))
        return "%s: systemctl stop %s" % (p["where"], p["unit"])

    def giveaways(self, scenario, p):
        return [p["unit"], p["unit"] + ".service"]


class NatRuleDeleted(Fault):
    kind = "nat_rule_deleted"
    params = Record({
        "router": Field(Name(example="router"), required=True),
        "chain": Field(Str(example="neutron-l3-agent-snat"), required=True),
        "rule": Field(Str(example="-o qg-8897f45f-d0 -j SNAT --to-source 172.17.0.101 --random-fully"), required=True,
                      doc="The rule as `iptables-save -t nat` prints it after `-A CHAIN`."),
    }, doc="A rule of the router's nat table deleted (as by `iptables -t nat -D CHAIN RULE`).")

    def validate(self, scenario, p, report):
        router = scenario.routers.get(p["router"])
        if router is None or router.node is None:
            report(("router",), "no router named %s with a namespace" % p["router"])

    def inject(self, lab, scenario, p):
        router = scenario.routers[p["router"]]
        return _run(lab, router.namespace, "iptables -t nat -D %s %s" % (shlex.quote(p["chain"]), p["rule"]))

    def giveaways(self, scenario, p):
        return [p["rule"], "--to-source"]


class InstanceLaunched(InstanceFault):
    kind = "instance_launched"
    params = Record({
        "instance": Field(Name(example="instance00"), required=True),
    }, doc="The instance launched now, after the faults before it: a fresh disk (no key in authorized_keys "
           "yet), then its boot (DHCP, its data read from 169.254.169.254), as `openstack server create`.")

    def inject(self, lab, scenario, p):
        from stacklab import runner
        user = scenario.instances[p["instance"]].user
        _run(lab, p["instance"], ": > /home/%s/.ssh/authorized_keys" % user)
        return "%s: launched (%s)" % (p["instance"], runner.reboot(lab.name, p["instance"]))


class OvnAclDeleted(Fault):
    kind = "ovn_acl_deleted"
    params = Record({
        "group": Field(Name(example="web"), required=True, doc="The security group."),
        "rule": Field(Int(min=0, example=1), required=True, doc="The rule's place in the group's rules (from 0)."),
    }, doc="The ACL of one security group rule gone from the group's port group in OVN's northbound database "
           "(as by `ovn-nbctl remove Port_Group ... acls`): neutron still has the rule.")

    def validate(self, scenario, p, report):
        if not _need_ovn(scenario, report):
            return
        group = scenario.security_groups.get(p["group"])
        if group is None:
            report(("group",), "no security group named %s" % p["group"])
        elif p["rule"] >= len(group.rules):
            report(("rule",), "%s has %d rules" % (p["group"], len(group.rules)))

    def inject(self, lab, scenario, p):
        group = scenario.security_groups[p["group"]]
        acl = "$(ovn-nbctl --bare --columns=_uuid find ACL 'external_ids:\"neutron:security_group_rule_id\"=\"%s\"')" \
            % rule_id(group, p["rule"])
        return _run(lab, scenario.sdn_controller, "ovn-nbctl remove Port_Group %s acls %s"
                    % (port_group_name(group), acl))

    def giveaways(self, scenario, p):
        return ["acl-add"]


class ChassisBridgeMappings(Fault):
    kind = "chassis_bridge_mappings"
    params = Record({
        "node": Field(Name(example="compute1"), required=True),
        "mappings": Field(Str(example="physnet1:br-provider"), required=True,
                          doc="What its ovn-bridge-mappings say instead."),
    }, doc="A chassis as a wrong install leaves it: its ovn-bridge-mappings (Open_vSwitch external_ids) set to "
           "`mappings`, without the patch ports ovn-controller made for the right ones (a node installed that "
           "way never had them), ovn-controller started again.")

    def validate(self, scenario, p, report):
        _need(scenario.nodes, p["node"], "node", ("node",), report)
        _need_ovn(scenario, report)

    def inject(self, lab, scenario, p):
        from stacklab import runner
        done = [_run(lab, p["node"], "ovs-vsctl set Open_vSwitch . external_ids:ovn-bridge-mappings=%s"
                     % shlex.quote(p["mappings"]))]
        done.append(_run(lab, p["node"], "for port in $(ovs-vsctl --bare --columns=name find Interface type=patch); "
                                         "do ovs-vsctl del-port $port; done"))
        code, output = runner.service(lab.name, p["node"], "ovn-controller", "restart")
        if code != 0:
            raise LabError("%s: systemctl restart ovn-controller: %s" % (p["node"], output))
        return "; ".join(done + ["%s: systemctl restart ovn-controller" % p["node"]])

    def giveaways(self, scenario, p):
        node = scenario.nodes.get(p["node"])
        right = ",".join("%s:%s" % kv for kv in node.bridge_mappings.items()) if node else ""
        return [m for m in (right, p["mappings"]) if m]


class RequestedChassis(InstanceFault):
    kind = "requested_chassis"
    params = Record({
        "instance": Field(Name(example="instance02"), required=True),
        "chassis": Field(Name(example="compute2"), required=True, doc="Where its port is now asked to be bound."),
    }, doc="The instance's logical switch port asks for another chassis (options:requested-chassis in the "
           "northbound database): the chassis that has its tap no longer binds it.")

    def validate(self, scenario, p, report):
        super().validate(scenario, p, report)
        _need_ovn(scenario, report)

    def inject(self, lab, scenario, p):
        port = scenario.instances[p["instance"]].port
        return _run(lab, scenario.sdn_controller, "ovn-nbctl set Logical_Switch_Port %s options:requested-chassis=%s"
                    % (port.id, shlex.quote(p["chassis"])))

    def giveaways(self, scenario, p):
        return ["requested-chassis"]


class DvrArpEntryMissing(InstanceFault):
    kind = "dvr_arp_entry_missing"
    params = Record({
        "instance": Field(Name(example="green-2"), required=True, doc="Whose entry goes."),
        "node": Field(Name(example="compute1"), required=True, doc="The node whose qrouter- loses it."),
    }, doc="The permanent ARP entry the DVR L3 agent put in a node's qrouter- for an instance is gone "
           "(`ip neigh del` there): that node's router asks by ARP, and no other node answers it.")

    def _router(self, scenario, p):
        inst = scenario.instances.get(p["instance"])
        return next((r for r in scenario.routers.values() if r.distributed and inst is not None
                     and any(i.network == inst.port.network for i in r.interfaces)), None)

    def validate(self, scenario, p, report):
        super().validate(scenario, p, report)
        if p["instance"] not in scenario.instances:
            return
        router = self._router(scenario, p)
        if router is None:
            report(("instance",), "%s is on no distributed router's network" % p["instance"])
        elif p["node"] not in router.hosts:
            report(("node",), "%s hosts no qrouter- of router %s (it has: %s)"
                   % (p["node"], router.name, ", ".join(router.hosts)))

    def inject(self, lab, scenario, p):
        port = scenario.instances[p["instance"]].port
        router = self._router(scenario, p)
        device = next(i.name for i in router.hosts[p["node"]] if i.network == port.network)
        return _run(lab, p["node"], "ip -n %s neigh del %s dev %s" % (router.namespace, port.ip, device))

    def giveaways(self, scenario, p):
        return ["ip neigh", "PERMANENT", "neigh replace", "neigh add"]


class HaPortDeadVlan(Fault):
    kind = "ha_port_dead_vlan"
    params = Record({
        "router": Field(Name(example="router"), required=True, doc="An HA router."),
        "node": Field(Name(example="network2"), required=True, doc="Whose ha- port of it."),
    }, doc="An HA router's ha- port on a node put in br-int's dead VLAN 4095 (as the agent does with a port it "
           "cannot bind): its VRRP adverts reach no other node, nor theirs it.")

    def validate(self, scenario, p, report):
        router = scenario.routers.get(p["router"])
        if router is None or not router.ha:
            report(("router",), "no HA router named %s" % p["router"])
        elif p["node"] not in router.ha_ports:
            report(("node",), "%s hosts no copy of router %s" % (p["node"], p["router"]))

    def inject(self, lab, scenario, p):
        router = scenario.routers[p["router"]]
        done = _run(lab, p["node"], "ovs-vsctl set Port %s tag=4095" % router.ha_ports[p["node"]].name)
        # what the learner meets is after: the cut node's backup has taken over (three adverts)
        deadline = time.monotonic() + 30
        while set(states(lab, router).values()) != {"primary"}:
            if time.monotonic() > deadline:
                raise LabError("router %s's copies did not both become master within 30 s" % router.name)
            time.sleep(0.5)
        return done

    def giveaways(self, scenario, p):
        return ["4095", "dead VLAN", "tag="]


FAULTS = {cls.kind: cls() for cls in (FlowDeleted, FlowAltered, PortTag, TunnelRemoteIP, DhcpHostMissing,
                                      InstanceMTU, NatRuleMissing, LinkDown, GroupDeleted, ServiceStopped,
                                      NatRuleDeleted, InstanceAddress, NeighboursForgotten, InstanceLaunched,
                                      OvnAclDeleted, RequestedChassis, ChassisBridgeMappings, DvrArpEntryMissing,
                                      HaPortDeadVlan)}
