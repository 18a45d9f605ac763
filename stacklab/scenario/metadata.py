"""What nova's metadata API says about an instance (the parts a check and
the lab's API both need): its EC2 id, its host name, its address."""

METADATA_IP = "169.254.169.254"
DOMAIN = "novalocal"            # nova's dhcp_domain


def ec2_id(scenario, name):
    """nova's EC2 instance id (i-0000000N): N is the instance's place in the scenario."""
    return "i-%08x" % (list(scenario.instances).index(name) + 1)


def meta_data(scenario, name):
    """{EC2 meta-data key: value} of instance `name`."""
    inst = scenario.instances[name]
    host = "%s.%s" % (inst.name, DOMAIN)
    return {"instance-id": ec2_id(scenario, name), "hostname": host, "local-hostname": host,
            "local-ipv4": str(inst.port.ip)}


def expected(scenario, name, path):
    """What `path` (latest/meta-data/KEY) returns for instance `name`, or None when not derivable here."""
    parts = path.strip("/").split("/")
    if parts in (["latest", "user-data"], ["2009-04-04", "user-data"], ["openstack", "latest", "user_data"]):
        return scenario.instances[name].user_data
    if len(parts) == 3 and parts[0] in ("latest", "2009-04-04") and parts[1] == "meta-data":
        return meta_data(scenario, name).get(parts[2])
    return None


# -- where 169.254.169.254 answers (neutron's DHCP agent decides the same way) --
def isolated(scenario, network):
    """No router port holds the subnet's gateway: the DHCP agent calls the subnet isolated."""
    gateway = scenario.networks[network].subnet.gateway
    return not any(p.network == network and p.ip == gateway
                   for r in scenario.routers.values() for p in r.interfaces)


def served_by_dhcp(scenario, network):
    """The network's qdhcp- namespace serves metadata (force_metadata, or
    enable_isolated_metadata on an isolated subnet)."""
    if network not in scenario.dhcp_ports:
        return False
    return scenario.force_metadata or (scenario.isolated_metadata and isolated(scenario, network))


def host_routes(scenario, network):
    """The classless static routes (option 121, and 249) dnsmasq hands out:
    [(destination, next hop)], empty when there are none. The metadata route
    goes to the DHCP port where it serves metadata, else to the gateway;
    the default route comes last, as neutron writes it."""
    net = scenario.networks[network]
    gateway = net.subnet.gateway
    routes = []
    if served_by_dhcp(scenario, network):
        routes.append((METADATA_IP + "/32", str(scenario.dhcp_ports[network].ip)))
    elif not isolated(scenario, network) and gateway:
        routes.append((METADATA_IP + "/32", str(gateway)))
    if routes and gateway:
        routes.append(("0.0.0.0/0", str(gateway)))
    return routes


def fetches_key(inst):
    """The instance fetches its key pair from 169.254.169.254 at boot."""
    return inst.keypair is not None and not inst.config_drive
