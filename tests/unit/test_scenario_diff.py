"""What `stacklab apply` may change live, and what it refuses (pure logic)."""

from stacklab.scenario.diff import diff
from stacklab.scenario.loader import find_scenario, load_scenario

BASE = open(find_scenario("vxlan-instance")).read()
SSH = "      - {direction: ingress, protocol: tcp, port: 22}\n"
NEW = "  instance03: {node: compute1, network: selfservice, listen: [80]}\n"


def load(text):
    return load_scenario("edited.yaml", text=text)


def with_instance(text):
    return text.replace("\nchecks:", "\n" + NEW + "\nchecks:", 1)


def test_nothing_changed():
    d = diff(load(BASE), load(BASE))
    assert d.empty and not d.refused and d.lines() == []


def test_instance_and_rule_added_then_removed():
    old, new = load(BASE), load(with_instance(BASE.replace(SSH, SSH + SSH.replace("22", "80"))))
    d = diff(old, new)
    assert not d.refused
    assert d.lines() == ["security group default: + ingress tcp 80", "instance instance03 added"]
    back = diff(new, old)
    assert back.lines() == ["security group default: - ingress tcp 80", "instance instance03 removed"]


def test_adding_an_instance_moves_nothing_else():
    """Its address comes after the DHCP port's, whatever the order of instances."""
    old = load(BASE)
    new = load(with_instance(BASE))
    assert new.dhcp_ports == old.dhcp_ports
    assert new.instances["instance02"] == old.instances["instance02"]


def test_changes_that_cannot_be_live_are_named():
    moved = BASE.replace("ip: 192.168.101.19", "ip: 192.168.101.29")
    d = diff(load(BASE), load(moved))
    assert d.refused == ["instance instance02 changed (ip): remove it in one apply, add it back in the next"]
    d = diff(load(BASE), load(BASE.replace('mac: "00:15:5d:bf:ba:42"', 'mac: "00:15:5d:bf:ba:43"')))
    assert d.refused == ["node compute1: nics.eth0.mac changed"]
    vni = BASE.replace("segmentation_id: 203", "segmentation_id: 204")
    assert diff(load(BASE), load(vni)).refused == ["network selfservice: segmentation_id changed"]
    d = diff(load(BASE), load(BASE.replace("name: vxlan-instance", "name: other")))
    assert d.refused == ["the file describes scenario other, the lab is vxlan-instance"]


def test_security_groups_of_an_instance():
    web = BASE.replace("security_groups:\n", "security_groups:\n  web:\n    rules:\n"
                                             "      - {direction: ingress, protocol: tcp, port: 80}\n", 1)
    regrouped = web.replace("    security_groups: [default]", "    security_groups: [default, web]")
    d = diff(load(BASE), load(regrouped))
    assert not d.refused        # (3 rules: its own and neutron's two default egress rules)
    assert d.lines() == ["security group web added (3 rules)", "instance instance02: security groups changed"]


def test_netvirt_labs_are_refused():
    text = open(find_scenario("netvirt-dvr")).read()
    d = diff(load(text), load(text))
    assert d.refused and "neutron and ovn labs only" in d.refused[0]


OVN = open(find_scenario("ovn-router")).read()
VM3 = "  vm3: {node: compute2, network: selfservice1, keypair: mykey}\n"
FIP = "  - {address: 172.16.0.150, instance: vm1}\n"


def test_ovn_instances_and_floating_ips_come_and_go():
    """On OVN a network has no local VLAN to keep, and a floating IP is a
    NAT row that can go as it came."""
    grown = OVN.replace("\nfloating_ips:", "\n" + VM3 + "\nfloating_ips:", 1) \
        .replace(FIP, FIP + "  - {address: 172.16.0.151, instance: vm2}\n")
    d = diff(load(OVN), load(grown))
    assert not d.refused, d.refused
    assert d.lines() == ["instance vm3 added", "floating IP 172.16.0.151 added"]
    back = diff(load(grown), load(OVN))
    assert not back.refused, back.refused
    assert back.lines() == ["instance vm3 removed", "floating IP 172.16.0.151 removed"]
    # neutron's qrouter- keeps refusing a floating IP's removal
    lb = open(find_scenario("lb-amphora")).read()
    fewer = lb.replace("  - {address: 172.17.0.95, instance: instance02}\n", "")
    assert diff(load(lb), load(fewer)).refused == ["floating IP 172.17.0.95 removed"]


def test_instances_on_a_distributed_routers_networks_are_refused_live():
    from stacklab.scenario.loader import find_scenario
    old = load_scenario(find_scenario("dvr"))
    text = old.text.replace("  green-2: {node: compute2", "  blue-2: {node: compute2, network: blue, keypair: mykey}\n"
                                                         "  green-2: {node: compute2")
    d = diff(old, load_scenario(old.file, text))
    # only the ARP entries' reason: the sg- ports keep their addresses when an instance comes
    assert d.refused == ["instance blue-2 added on network blue of distributed router router: the L3 agents' ARP "
                         "entries do not follow live changes yet (rebuild the lab)"]
