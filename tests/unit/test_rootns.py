"""The root-namespace comparison (tests/rootns.py) finds what changed and
ignores what changes by itself."""

from tests import rootns


def test_a_new_route_and_a_sysctl_are_found():
    before = {"routes": "default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0", "sysctls": "net.ipv4.ip_forward = 0"}
    after = {"routes": "default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0\n192.168.9.0/24 dev veth0",
             "sysctls": "net.ipv4.ip_forward = 1"}
    diffs = rootns.differences(before, after)
    assert diffs == {"routes": ([], ["192.168.9.0/24 dev veth0"]),
                     "sysctls": (["net.ipv4.ip_forward = 0"], ["net.ipv4.ip_forward = 1"])}
    assert "+ 192.168.9.0/24 dev veth0" in rootns.render(diffs)


def test_counters_and_lifetimes_are_not_changes():
    a = rootns._without_counters(":INPUT ACCEPT [10:600]\n-A INPUT -j ACCEPT\n"
                                 "2: eth0 inet 10.0.0.5/24 valid_lft 3000sec preferred_lft 3000sec")
    b = rootns._without_counters(":INPUT ACCEPT [99:9000]\n-A INPUT -j ACCEPT\n"
                                 "2: eth0 inet 10.0.0.5/24 valid_lft 2000sec preferred_lft 2000sec")
    assert a == b
    assert rootns.differences({"iptables": a}, {"iptables": b}) == {}
    assert rootns.VOLATILE_SYSCTLS.match("net.netfilter.nf_conntrack_count = 3")
