"""Routers and floating IPs as neutron's L3 agent gets them, turned into the
model: a router lives on a network node (qrouter-<id>), with a qg- port on
an external network and a qr- port per internal network; a floating IP is an
address of the external subnet, bound to a port behind one of the routers.

Functions here take the loader's builder (`b`), as in octavia.py."""

from stacklab.scenario import dvr, ha, model
from stacklab.scenario.ids import derived_mac

GATEWAY_OWNER = "network:router_gateway"
INTERFACE_OWNER = "network:router_interface"


def _external_networks(networks):
    return [n for n in networks.values() if n.external]


def reserve(b, networks):
    """Claim the addresses routers and floating IPs are given, before any is allocated."""
    for name, r in b.d["routers"].items():
        gw = r["external_gateway"]
        if gw is not None and gw["ip"] is not None and gw["network"] in networks:
            b.reserve(networks[gw["network"]], gw["ip"], "router %s" % name,
                      ("routers", name, "external_gateway", "ip"))
        for k, itf in enumerate(r["interfaces"]):
            net = networks.get(itf["network"])
            if net is None:
                continue
            ip = itf["ip"] if itf["ip"] is not None else net.subnet.gateway
            b.reserve(net, ip, "router %s" % name, ("routers", name, "interfaces", k), gateway_ok=True)
    externals = _external_networks(networks)
    seen = set()
    for k, f in enumerate(b.d["floating_ips"]):
        net = networks.get(f["network"]) if f["network"] else (externals[0] if len(externals) == 1 else None)
        if net is not None and net.external and f["address"] not in seen:    # a repeat is reported later
            seen.add(f["address"])
            b.reserve(net, f["address"], "floating IP %s" % f["address"], ("floating_ips", k, "address"))


def _check_external(b, networks):
    """An external network must ride a physical network: flat or vlan."""
    for net in networks.values():
        if net.external and net.type in model.TUNNEL_TYPES:
            b.report(("networks", net.name, "external"), "an external network rides a physical network: "
                     "make %s flat or vlan" % net.name)


def routers(b, scenario):
    """The scenario's routers; those with a problem are left out, and
    b.broken_routers remembers the networks they were to join, so floating
    IPs behind them are not reported twice."""
    _check_external(b, scenario.networks)
    b.broken_routers = set()
    for name, r in b.d["routers"].items():
        router = _router(b, scenario, name, r)
        if router is not None and (r["external_gateway"] is None or router.gateway is not None):
            scenario.routers[name] = router
        else:
            b.broken_routers |= {itf["network"] for itf in r["interfaces"]}


def _router(b, scenario, name, r):
    path = ("routers", name)
    router_id = r["id"] or b.derived_id("router", name)
    if r["ha"] and b.sdn in DISTRIBUTED_PLANES:
        b.report(path + ("ha",), "ha is neutron's L3 HA on its L3 agents; %s is distributed already"
                 % DISTRIBUTED_PLANES[b.sdn])
        return None
    if r["ha"]:
        return ha.router(b, scenario, name, r, router_id)
    if r["distributed"] and b.sdn in DISTRIBUTED_PLANES:
        b.report(path + ("distributed",), "distributed is neutron's DVR on its L3 and OVS agents; %s is "
                 "distributed already" % DISTRIBUTED_PLANES[b.sdn])
        return None
    if b.sdn in DISTRIBUTED_PLANES:
        return _distributed_router(b, scenario, name, r, router_id)
    if r["distributed"]:
        return dvr.router(b, scenario, name, r, router_id)
    node_name = r["node"] or _legacy_node(scenario)
    node = scenario.nodes.get(node_name) if node_name else None
    if node is None:
        b.report(path + ("node",), "no node named %s" % r["node"] if r["node"]
                 else "a router needs a controller or network node to run on")
        return None
    if node.l3_agent_mode not in ("legacy", "dvr_snat"):
        b.report(path + ("node",), "%s runs %s: a legacy router needs a node whose L3 agent runs in legacy "
                 "or dvr_snat mode" % (node.name, "no L3 agent" if node.l3_agent_mode is None
                                       else "its L3 agent in %s mode" % node.l3_agent_mode))
        return None
    gateway, interfaces = None, []
    gw = r["external_gateway"]
    if gw is not None:
        gpath = path + ("external_gateway",)
        net = scenario.networks.get(gw["network"])
        if net is None:
            b.report(gpath + ("network",), "no network named %s" % gw["network"])
        elif not net.external:
            b.report(gpath + ("network",), "network %s is not external (give it `external: true`)" % net.name)
        elif _reaches(b, node, net, gpath + ("network",), name):
            if gw["mac"]:
                b.claim_mac(gw["mac"], gpath + ("mac",))
            gateway = b.make_port(gpath, "router %s" % name, node.name, net, gw["ip"], gw["mac"], gw["port_id"],
                                  "qg-", GATEWAY_OWNER, router_id, ofport=gw["ofport"],
                                  seed="router/%s/gateway" % name)
            gateway.interface = gateway.name
    elif r["snat"] and b.given(path + ("snat",)):
        b.report(path + ("snat",), "SNAT needs an external_gateway")
    seen = {}
    for k, itf in enumerate(r["interfaces"]):
        ipath = path + ("interfaces", k)
        net = scenario.networks.get(itf["network"])
        if net is None:
            b.report(ipath + ("network",), "no network named %s" % itf["network"])
            continue
        if net.external:
            b.report(ipath + ("network",), "%s is external: it takes the router's external_gateway, not an "
                     "interface" % net.name)
            continue
        if net.name in seen:
            b.report(ipath + ("network",), "router %s already has an interface on %s" % (name, net.name))
            continue
        seen[net.name] = k
        if not _reaches(b, node, net, ipath + ("network",), name):
            continue
        if itf["mac"]:
            b.claim_mac(itf["mac"], ipath + ("mac",))
        ip = itf["ip"] if itf["ip"] is not None else net.subnet.gateway
        port = b.make_port(ipath, "router %s" % name, node.name, net, ip, itf["mac"], itf["port_id"], "qr-",
                           INTERFACE_OWNER, router_id, ofport=itf["ofport"], seed="router/%s/%s" % (name, net.name))
        port.interface = port.name
        interfaces.append(port)
    return model.Router(name, router_id, node.name, gateway, interfaces, r["snat"],
                        metadata_proxy=b.d["agent"]["metadata_proxy"] and bool(interfaces))


def _legacy_node(scenario):
    """Where a router goes unless told: the network node (as DHCP), or the
    first node that hosts legacy routers when that one does not."""
    node = scenario.nodes.get(scenario.l3_node) if scenario.l3_node else None
    if node is not None and node.l3_agent_mode in ("legacy", "dvr_snat"):
        return node.name
    return next((n.name for n in scenario.nodes.values() if n.l3_agent_mode in ("legacy", "dvr_snat")),
                scenario.l3_node)


# control planes whose routers are no namespace: netvirt's flows on every node, OVN's logical routers
DISTRIBUTED_PLANES = {"netvirt": "a netvirt router", "ovn": "an OVN logical router"}


def _distributed_router(b, scenario, name, r, router_id):
    """netvirt's router is flows on every node, OVN's a logical router: its
    ports hold addresses and MACs (netvirt: the gateway MACs of table 19;
    OVN: its logical router ports) but are bound to no bridge."""
    path = ("routers", name)
    what = DISTRIBUTED_PLANES[b.sdn]
    if r["node"] is not None:
        b.report(path + ("node",), "%s is distributed: it has no node" % what)
    ports = ([(("external_gateway",), r["external_gateway"])] if r["external_gateway"] else []) + \
        [(("interfaces", k), itf) for k, itf in enumerate(r["interfaces"])]
    for where, port in ports:
        if port.get("ofport") is not None:
            b.report(path + where + ("ofport",), "%s's ports are on no bridge: no ofport" % what)
    gateway, interfaces = None, []
    gw = r["external_gateway"]
    if gw is not None:
        net = scenario.networks.get(gw["network"])
        if net is None or not net.external:
            b.report(path + ("external_gateway", "network"), "no external network named %s" % gw["network"])
        else:
            if gw["mac"]:
                b.claim_mac(gw["mac"], path + ("external_gateway", "mac"))
            gateway = b.make_port(path + ("external_gateway",), "router %s" % name, None, net, gw["ip"], gw["mac"],
                                  gw["port_id"], "qg-", GATEWAY_OWNER, router_id, seed="router/%s/gateway" % name)
    for k, itf in enumerate(r["interfaces"]):
        net = scenario.networks.get(itf["network"])
        if net is None or net.external:
            b.report(path + ("interfaces", k, "network"), "no internal network named %s" % itf["network"])
            continue
        if itf["mac"]:
            b.claim_mac(itf["mac"], path + ("interfaces", k, "mac"))
        ip = itf["ip"] if itf["ip"] is not None else net.subnet.gateway
        interfaces.append(b.make_port(path + ("interfaces", k), "router %s" % name, None, net, ip, itf["mac"],
                                      itf["port_id"], "qr-", INTERFACE_OWNER, router_id,
                                      seed="router/%s/%s" % (name, net.name)))
    return model.Router(name, router_id, None, gateway, interfaces, r["snat"])


def _reaches(b, node, net, path, router):
    if b.node_reaches(node, net):
        return True
    b.report(path, "router %s runs on %s, which does not reach physical network %s of network %s "
             "(no bridge_mappings entry)" % (router, node.name, net.physical_network, net.name))
    return False


def floating_ips(b, scenario):
    externals = _external_networks(scenario.networks)
    seen = {}
    for k, f in enumerate(b.d["floating_ips"]):
        path = ("floating_ips", k)
        if f["network"] is not None:
            net = scenario.networks.get(f["network"])
            if net is None:
                b.report(path + ("network",), "no network named %s" % f["network"])
                continue
            if not net.external:
                b.report(path + ("network",), "network %s is not external (give it `external: true`)" % net.name)
                continue
        elif len(externals) == 1:
            net = externals[0]
        else:
            b.report(path, "no external network to take it from (mark one `external: true`)" if not externals
                     else "several external networks (%s): say which with `network:`"
                     % ", ".join(n.name for n in externals))
            continue
        if f["address"] in seen:
            b.report(path + ("address",), "floating IP %s is listed twice" % f["address"])
            continue
        seen[f["address"]] = k
        fixed, port_id, bound, inner_net = _bound_port(b, scenario, f, path)
        router = None
        if inner_net is not None:
            router = _serving_router(scenario, inner_net, net.name)
            if router is None and inner_net not in b.broken_routers:
                b.report(path, "%s is on network %s, which no router joins to %s (a floating IP needs one)"
                         % (bound, inner_net, net.name))
        node = None
        if router is not None and scenario.routers[router].distributed:
            node = dvr.floating_ip_node(b, scenario, scenario.routers[router], net, f, path)
            if node is None:
                continue
        if f["mac"]:
            b.claim_mac(f["mac"], path + ("mac",))
        mac = f["mac"] or derived_fip_mac(b, f["address"])
        fip = model.FloatingIP(f["address"], f["id"] or b.derived_id("fip", str(f["address"])), net.name, fixed,
                               port_id, router, bound, mac, node=node)
        if node is not None:
            dvr.place_floating_ip(b, scenario, scenario.routers[router], fip)
        scenario.floating_ips.append(fip)


def _bound_port(b, scenario, f, path):
    """(fixed IP, port id, what, its network) of what the floating IP is bound to; Nones if unbound."""
    if f["instance"] is not None and f["load_balancer"] is not None:
        b.report(path, "bind a floating IP to an instance or to a load balancer, not both")
        return None, None, None, None
    if f["instance"] is not None:
        inst = scenario.instances.get(f["instance"])
        if inst is None:
            b.report(path + ("instance",), "no instance named %s" % f["instance"])
            return None, None, None, None
        return inst.port.ip, inst.port.id, inst.name, inst.port.network
    if f["load_balancer"] is not None:
        lb = scenario.load_balancers.get(f["load_balancer"])
        if lb is None:
            if f["load_balancer"] not in b.d["load_balancers"]:
                b.report(path + ("load_balancer",), "no load balancer named %s" % f["load_balancer"])
            return None, None, None, None
        return lb.vip_address, lb.vip_port_id, "load balancer %s" % lb.name, lb.vip_network
    return None, None, None, None


def _serving_router(scenario, inner_net, external_net):
    for router in scenario.routers.values():
        if router.gateway is not None and router.gateway.network == external_net \
                and any(p.network == inner_net for p in router.interfaces):
            return router.name
    return None


def derived_fip_mac(b, address):
    return derived_mac("%s/fip/%s" % (b.seed, address), b.macs)
