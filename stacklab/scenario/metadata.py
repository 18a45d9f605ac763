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
    if len(parts) == 3 and parts[0] in ("latest", "2009-04-04") and parts[1] == "meta-data":
        return meta_data(scenario, name).get(parts[2])
    return None
