"""observe/nat.py: a packet through the nat table the L3 agent renders
(topologies/routers.py), rule by rule: what walk shows inside a router."""

from stacklab.observe import nat
from stacklab.scenario.loader import find_scenario, load_scenario
from topologies.routers import iptables_rules


def _router():
    scenario = load_scenario(find_scenario("lb-amphora"))
    router = scenario.routers["router"]
    return scenario, router, nat.parse(iptables_rules(router, scenario.floating_ips))


def test_a_floating_ip_from_outside_is_dnatted_by_the_agents_prerouting_rule():
    scenario, router, chains = _router()
    packet = {"src": "172.17.0.10", "dst": "172.17.0.95", "in": router.gateway.interface, "proto": "tcp",
              "dport": "22"}
    v = nat.traverse(chains, "PREROUTING", packet)
    assert (v.target, v.address) == ("DNAT", "192.168.101.19")
    assert v.matched == ["-A PREROUTING -j neutron-l3-agent-PREROUTING",
                         "-A neutron-l3-agent-PREROUTING -d 172.17.0.95/32 -j DNAT --to-destination 192.168.101.19"]


def test_without_its_rule_the_floating_ip_is_the_routers_own():
    scenario, router, chains = _router()
    chains["neutron-l3-agent-PREROUTING"] = [r for r in chains["neutron-l3-agent-PREROUTING"]
                                             if "172.17.0.95" not in r.text]
    v = nat.traverse(chains, "PREROUTING", {"src": "172.17.0.10", "dst": "172.17.0.95",
                                             "in": router.gateway.interface, "proto": "icmp"})
    assert v.target is None and v.matched == ["-A PREROUTING -j neutron-l3-agent-PREROUTING"]


def test_an_instance_going_out_is_snatted_to_its_floating_ip_and_others_to_the_gateway():
    scenario, router, chains = _router()
    out = router.gateway.interface
    v = nat.traverse(chains, "POSTROUTING", {"src": "192.168.101.19", "dst": "172.17.0.10", "in": "qr-x",
                                              "out": out, "proto": "icmp"})
    assert (v.target, v.address) == ("SNAT", "172.17.0.95")
    v = nat.traverse(chains, "POSTROUTING", {"src": "192.168.101.30", "dst": "172.17.0.10", "in": "qr-x",
                                              "out": out, "proto": "icmp"})
    assert (v.target, v.address) == ("SNAT", str(router.gateway.ip))
    inside = nat.traverse(chains, "POSTROUTING", {"src": "192.168.101.19", "dst": "192.168.101.211",
                                                   "in": "qr-x", "out": "qr-x", "proto": "icmp"})
    assert inside.target is None      # no SNAT inside the cloud (POSTROUTING's ACCEPT)


def test_what_comes_in_by_the_gateway_is_marked_and_not_snatted_after_dnat():
    scenario, router, _ = _router()
    text = iptables_rules(router, scenario.floating_ips)
    chains, mangle = nat.parse(text), nat.parse(text, "mangle")
    outside = {"src": "172.17.0.10", "dst": "172.17.0.95", "in": router.gateway.interface, "proto": "tcp",
               "dport": "22"}
    outside["mark"] = nat.mark_of(mangle, outside)
    assert outside["mark"] & 0xffff == 0x2
    pre = nat.traverse(chains, "PREROUTING", outside)
    post = nat.traverse(chains, "POSTROUTING", dict(outside, dst=pre.address, out="qr-x"), dnatted=True)
    assert post.target is None          # the instance sees the workstation's own address
    # the same floating IP reached from inside the cloud (hairpin): no mark, so SNAT to the gateway
    inside = {"src": "192.168.101.30", "dst": "172.17.0.95", "in": "qr-x", "proto": "tcp", "dport": "22"}
    inside["mark"] = nat.mark_of(mangle, inside)
    assert inside["mark"] == 0
    post = nat.traverse(chains, "POSTROUTING", dict(inside, dst=pre.address, out="qr-x"), dnatted=True)
    assert (post.target, post.address) == ("SNAT", str(router.gateway.ip))
