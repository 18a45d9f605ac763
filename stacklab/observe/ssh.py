"""`stacklab ssh`: log in to an instance as the documents do, e.g.
`ssh -i demo_rsa cirros@172.16.0.112 /sbin/ip addr`, from a place on the
instance's network: a node with an address on its subnet (a provider
network), else the network's DHCP namespace (`ip netns exec qdhcp-...`; on
ML2/OVN the metadata namespace on the instance's chassis, ovnmeta-...);
or from anywhere to an address of the caller's choosing (a floating IP from
the workstation, as 003 logs in)."""

import os

from stacklab import naming
from stacklab.errors import LabError


def login_point(scenario, instance):
    """Where to run ssh from, for `instance` (a model.Instance)."""
    net = scenario.networks[instance.port.network]
    for node in scenario.nodes.values():
        if any(a.ip in net.subnet.cidr for a in node.addresses()):
            return node.name
    if net.name in scenario.dhcp_ports:
        return naming.qdhcp_namespace(net.id)
    if net.name in scenario.metadata_ports:         # ML2/OVN: the metadata namespace on its chassis
        return naming.ovnmeta_host(instance.port.node, net.id)
    raise LabError("no place to log in to %s from: network %s has neither a node address nor DHCP"
                   % (instance.name, net.name))


def private_key(scenario, instance, lab_dir):
    if instance.keypair is None:
        raise LabError("%s has no key pair (give it `keypair:` in the scenario)" % instance.name)
    return key_file(scenario, instance.keypair, lab_dir)


def key_file(scenario, keypair, lab_dir):
    """A key pair's private key: the scenario's file (relative to the
    scenario), or the one the lab made for it in <lab>/keys/."""
    given = scenario.keypairs[keypair].private_key_file
    if given:
        return given if os.path.isabs(given) else os.path.join(os.path.dirname(scenario.file), given)
    return os.path.join(lab_dir, "keys", keypair)


def ssh_argv(scenario, instance_name, lab_dir, command=(), timeout=5, source=None, address=None):
    """(where, argv) of an ssh login running `command` (a shell when empty):
    from `source` (default: the instance's network) to `address` (default:
    the instance's own), as the instance's user (cirros; cloud-user on an
    amphora) with its key pair."""
    if instance_name not in scenario.instances:
        raise LabError("no instance %s (instances: %s)" % (instance_name, ", ".join(scenario.instances)))
    inst = scenario.instances[instance_name]
    return source or login_point(scenario, inst), login_argv(private_key(scenario, inst, lab_dir), inst.user,
                                                             address or inst.port.ip, command, timeout)


def login_argv(key, user, address, command=(), timeout=5):
    """Exactly this key (no ssh_config, no other identity), host keys not pinned."""
    return ["ssh", "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=%d" % timeout, "-o", "BatchMode=yes",
            "%s@%s" % (user, address)] + list(command)
