"""Where a check's `from` and `to` are: the names a scenario gives things
(an instance, a node, an external host, `qdhcp-<network>`, `qrouter-<router>`)
resolved to the lab namespace, its address and MAC."""

import ipaddress

from stacklab import naming


def endpoint(scenario, name):
    """(namespace, IP, MAC) of what `name` names (IP and MAC None where it
    has no address of its own); None if the scenario has no such thing."""
    if name in scenario.instances:
        port = scenario.instances[name].port
        return name, str(port.ip), port.mac
    if name in scenario.nodes:
        nic = next((n for n in scenario.nodes[name].nics.values() if n.address), None)
        return (name, str(nic.address.ip), nic.mac) if nic else (name, None, None)
    if name in scenario.hosts:
        host = scenario.hosts[name]
        return name, str(host.address.ip), host.mac
    if name.startswith("qdhcp-"):
        for net in scenario.networks.values():
            if name[len("qdhcp-"):] in (net.name, net.id) and net.name in scenario.dhcp_ports:
                port = scenario.dhcp_ports[net.name]
                return naming.qdhcp_namespace(net.id), str(port.ip), port.mac
    if name.startswith("qrouter-"):
        for router in scenario.routers.values():
            if name[len("qrouter-"):] in (router.name, router.id):
                port = router.gateway or (router.interfaces[0] if router.interfaces else None)
                return router.namespace, str(port.ip) if port else None, port.mac if port else None
    return None


def namespace(scenario, name):
    """The lab namespace a source name stands for."""
    end = endpoint(scenario, name)
    return end[0] if end else None


def address(scenario, name):
    """The IP a target name stands for (or the name itself, an IP address)."""
    end = endpoint(scenario, name)
    if end and end[1]:
        return end[1]
    try:
        return str(ipaddress.IPv4Address(name))
    except ValueError:
        return None


SOURCES = "an instance, node, host, qdhcp-<network> or qrouter-<router>"
