"""Load balancers as Octavia's amphora driver builds them, turned into the
model: the amphora becomes an instance with two ports (management, and the
VRRP port on the VIP network holding the VIP as an allowed address pair),
the VIP gets its own unbound port, and the VRRP port gets the security group
Octavia makes per load balancer (lb-<id>: the listeners' ports).

Functions here take the loader's builder (`b`): its report(), reserve(),
make_port() and id/MAC helpers, so messages and defaults are the same as
everywhere else in a scenario."""

from stacklab.scenario import model

MGMT_GROUP = "lb-mgmt-sec-grp"
# What Octavia's install guide gives lb-mgmt-sec-grp: ICMP, SSH and the amphora agent's API.
MGMT_RULES = (("icmp", None), ("tcp", 22), ("tcp", 9443))
AGENT_PORT = 9443
MGMT_INTERFACE = "ens3"
VIP_INTERFACE = "eth1"
VIP_NAMESPACE = "amphora-haproxy"
USER = "cloud-user"
_LISTENER_PROTOCOL = {"TCP": "tcp", "HTTP": "tcp"}


def _lb_path(name, *rest):
    return ("load_balancers", name) + rest


def reserve(b, networks):
    """Claim the addresses a scenario gives its load balancers before any is allocated."""
    for name, lb in b.d["load_balancers"].items():
        vip_net = networks.get(lb["vip"]["network"])
        if vip_net is not None and lb["vip"]["address"] is not None:
            b.reserve(vip_net, lb["vip"]["address"], "the VIP of %s" % name, _lb_path(name, "vip", "address"))
        amp = lb["amphora"]
        for key, net_name in (("management_port", amp["management_network"]),
                              ("vrrp_port", lb["vip"]["network"])):
            net = networks.get(net_name)
            port = amp[key] or {}
            if net is not None and port.get("ip") is not None:
                b.reserve(net, port["ip"], _amphora_name(name, amp), _lb_path(name, "amphora", key, "ip"))


def _amphora_name(lb_name, amp):
    return amp["name"] or ("amphora-" + lb_name)[:15]


def load_balancers(b, scenario):
    for name, lb in b.d["load_balancers"].items():
        built = _load_balancer(b, scenario, name, lb)
        if built is not None:
            scenario.load_balancers[name] = built


def _load_balancer(b, scenario, name, lb):
    path = _lb_path(name)
    lb_id = lb["id"] or b.derived_id("loadbalancer", name)
    amp = lb["amphora"]
    amp_name = _amphora_name(name, amp)
    vip_net = scenario.networks.get(lb["vip"]["network"])
    mgmt_net = scenario.networks.get(amp["management_network"])
    node = scenario.nodes.get(amp["node"])
    ok = True
    if vip_net is None:
        b.report(path + ("vip", "network"), "no network named %s" % lb["vip"]["network"])
        ok = False
    if mgmt_net is None:
        b.report(path + ("amphora", "management_network"), "no network named %s" % amp["management_network"])
        ok = False
    elif vip_net is not None and mgmt_net.name == vip_net.name:
        b.report(path + ("amphora", "management_network"),
                 "the management network must not be the VIP network %s" % vip_net.name)
        ok = False
    if node is None:
        b.report(path + ("amphora", "node"), "no node named %s" % amp["node"])
        ok = False
    if amp_name in scenario.instances:
        b.report(path + ("amphora", "name"), "%s is also the name of an instance (give the amphora a name)"
                 % amp_name)
        ok = False
    if amp["keypair"] is not None and amp["keypair"] not in scenario.keypairs:
        b.report(path + ("amphora", "keypair"), "no key pair named %s" % amp["keypair"])
    groups = _management_groups(b, scenario, name, amp)
    listeners, pools = _listeners_and_pools(b, scenario, name, lb, vip_net)
    if not ok:
        return None
    for net in (mgmt_net, vip_net):
        if not b.node_reaches(node, net):
            b.report(path + ("amphora", "node"), "node %s does not reach physical network %s of network %s "
                     "(no bridge_mappings entry)" % (node.name, net.physical_network, net.name))
    vip_address = lb["vip"]["address"]
    if vip_address is None:
        vip_address = b.allocate_ip(vip_net, path + ("vip",), "the VIP of %s" % name)
    vip_port_id = lb["vip"]["port_id"] or b.derived_id("vip-port", name)
    # the VIP port is neutron's, unbound: it only holds the address (and the floating IP points at it)
    if vip_port_id in b.port_ids:
        b.report(path + ("vip", "port_id"), "port id %s is also the port of %s" % (vip_port_id,
                                                                                 b.port_ids[vip_port_id]))
    b.port_ids[vip_port_id] = "the VIP of %s" % name
    vrrp_groups = _vrrp_groups(b, scenario, name, amp, lb_id, listeners)
    instance_id = amp["instance_id"] or b.derived_id("instance", amp_name)
    mgmt = amp["management_port"] or {}
    vrrp = amp["vrrp_port"] or {}
    for key, spec in (("management_port", mgmt), ("vrrp_port", vrrp)):
        if spec.get("mac"):
            b.claim_mac(spec["mac"], path + ("amphora", key, "mac"))
    mgmt_port = b.make_port(path + ("amphora", "management_port"), amp_name, node.name, mgmt_net, mgmt.get("ip"),
                            mgmt.get("mac"), mgmt.get("port_id"), "tap", "compute:nova", instance_id, groups,
                            mgmt.get("ofport"), seed="%s/management" % amp_name)
    mgmt_port.interface = MGMT_INTERFACE
    vrrp_port = b.make_port(path + ("amphora", "vrrp_port"), amp_name, node.name, vip_net, vrrp.get("ip"),
                            vrrp.get("mac"), vrrp.get("port_id"), "tap", "compute:nova", instance_id,
                            vrrp_groups, vrrp.get("ofport"), seed="%s/vrrp" % amp_name)
    vrrp_port.interface = VIP_INTERFACE
    vrrp_port.netns = VIP_NAMESPACE
    vrrp_port.allowed_address_pairs = [(vip_address, vrrp_port.mac)]
    mode = "dhcp" if mgmt_net.subnet.dhcp else "static"
    scenario.instances[amp_name] = model.Instance(amp_name, instance_id, node.name, [mgmt_port, vrrp_port],
                                                  amp["keypair"], mode, mgmt_net.mtu, user=USER,
                                                  config_drive=True)   # Octavia boots amphorae with one
    _resolve_members(b, scenario, name, pools)
    for pool in pools.values():
        # Octavia renders a pool's members as its database returns them: by id (the primary
        # key), not in the order they were added; round robin starts with the first of these
        pool.members.sort(key=lambda m: m.id)
    controller = _controller_node(scenario, mgmt_net)
    if controller is None:
        b.report(path + ("amphora", "management_network"),
                 "Octavia's controller reaches the amphora over %s: no node has an address on %s (give the "
                 "controller a NIC there)" % (mgmt_net.name, mgmt_net.subnet.cidr))
    return model.LoadBalancer(name, lb_id, vip_net.name, vip_address, vip_port_id, amp_name,
                              amp["id"] or b.derived_id("amphora", amp_name), listeners, pools,
                              vrrp_groups[0] if vrrp_groups else None,
                              controller)


def _controller_node(scenario, mgmt_net):
    """The node Octavia's controller runs on: one with an address on the management subnet."""
    on_subnet = [n for n in scenario.nodes.values() if any(a.ip in mgmt_net.subnet.cidr for a in n.addresses())]
    on_subnet.sort(key=lambda n: ("controller", "network", "compute").index(n.role))
    return on_subnet[0].name if on_subnet else None


def _management_groups(b, scenario, lb_name, amp):
    """The management port's groups; lb-mgmt-sec-grp is made as Octavia's guide makes it when not declared."""
    for k, g in enumerate(amp["security_groups"]):
        if g in scenario.security_groups:
            continue
        if g == MGMT_GROUP:
            rules = [model.Rule("ingress", "IPv4", proto, port, port, None, None) for proto, port in MGMT_RULES]
            rules += [model.Rule("egress", eth, None, None, None, None, None) for eth in ("IPv4", "IPv6")]
            scenario.security_groups[g] = model.SecurityGroup(g, b.derived_id("sg", g), rules)
        else:
            b.report(_lb_path(lb_name, "amphora", "security_groups", k), "no security group named %s" % g)
    return [g for g in amp["security_groups"] if g in scenario.security_groups]


def _vrrp_groups(b, scenario, lb_name, amp, lb_id, listeners):
    """The VRRP port's groups: the scenario's, or Octavia's own."""
    given = amp["vrrp_security_groups"]
    if given is None:
        return [_vip_group(b, scenario, lb_id, listeners).name]
    for k, g in enumerate(given):
        if g not in scenario.security_groups:
            b.report(_lb_path(lb_name, "amphora", "vrrp_security_groups", k), "no security group named %s" % g)
    return [g for g in given if g in scenario.security_groups]


def _vip_group(b, scenario, lb_id, listeners):
    """lb-<id>: what Octavia opens on the VRRP port, one rule per listener port, plus neutron's egress."""
    name = "lb-" + lb_id
    rules = [model.Rule("ingress", "IPv4", _LISTENER_PROTOCOL[l.protocol], l.port, l.port, None, None)
             for l in listeners.values()]
    rules += [model.Rule("egress", eth, None, None, None, None, None) for eth in ("IPv4", "IPv6")]
    group = model.SecurityGroup(name, b.derived_id("sg", name), rules)
    scenario.security_groups[name] = group
    return group


def _listeners_and_pools(b, scenario, lb_name, lb, vip_net):
    pools = {}
    for name, p in lb["pools"].items():
        members = []
        for k, m in enumerate(p["members"]):
            mpath = _lb_path(lb_name, "pools", name, "members", k)
            if m["address"] is None and m["instance"] is None:
                b.report(mpath, "give the member's address or its instance")
            members.append(model.Member(m["id"] or b.derived_id("member", "%s/%s/%d" % (lb_name, name, k)),
                                        m["address"], m["port"], m["weight"], m["enabled"], m["instance"]))
        pools[name] = model.Pool(name, p["id"] or b.derived_id("pool", "%s/%s" % (lb_name, name)), p["protocol"],
                                 p["algorithm"], members)
    listeners, ports = {}, {}
    for name, l in lb["listeners"].items():
        lpath = _lb_path(lb_name, "listeners", name)
        if l["port"] in ports:
            b.report(lpath + ("port",), "port %d is also the port of listener %s" % (l["port"], ports[l["port"]]))
        ports[l["port"]] = name
        if l["pool"] is not None:
            pool = pools.get(l["pool"])
            if pool is None:
                b.report(lpath + ("pool",), "no pool named %s in load balancer %s" % (l["pool"], lb_name))
            elif pool.protocol != l["protocol"]:
                b.report(lpath + ("pool",), "listener %s is %s, so its pool must be too; pool %s is %s"
                         % (name, l["protocol"], pool.name, pool.protocol))
        listeners[name] = model.Listener(
            name, l["id"] or b.derived_id("listener", "%s/%s" % (lb_name, name)), l["protocol"], l["port"],
            l["pool"], l["connection_limit"], l["timeout_client_data"], l["timeout_member_connect"],
            l["timeout_member_data"])
    return listeners, pools


def _resolve_members(b, scenario, lb_name, pools):
    """A member named by instance takes the instance's address; one given by
    address learns which instance answers there (for the lb check)."""
    by_address = {}
    for inst in scenario.instances.values():
        for port in inst.ports:
            by_address.setdefault(port.ip, inst.name)
    for pool in pools.values():
        for k, m in enumerate(pool.members):
            mpath = _lb_path(lb_name, "pools", pool.name, "members", k)
            if m.instance is not None:
                inst = scenario.instances.get(m.instance)
                if inst is None:
                    b.report(mpath + ("instance",), "no instance named %s" % m.instance)
                elif m.address is not None and m.address != inst.port.ip:
                    b.report(mpath + ("address",), "%s is not the address of %s (%s)" % (m.address, m.instance,
                                                                                        inst.port.ip))
                else:
                    m.address = inst.port.ip
            elif m.address is not None:
                m.instance = by_address.get(m.address)
