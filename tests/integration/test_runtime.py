"""The lab runtime for real: one OVS per node, the bridges and ports a real
node has, instances on taps, `stacklab exec`, and nothing left afterwards."""

import json

import pytest

from stacklab.checks import run_checks
from stacklab.observe import ovsdb

from .conftest import built_lab, scenario_path, stacklab


@pytest.fixture(scope="module")
def two_node():
    with built_lab(scenario_path("two-node")) as (lab, built):
        yield lab, built.scenario


def test_each_node_sees_only_its_own_bridges(two_node):
    lab, _ = two_node
    compute = ovsdb.bridges(lab, "compute1")
    controller = ovsdb.bridges(lab, "controller")
    assert sorted(compute) == ["br-int", "br-mgmt", "br-provider", "br-tun"]
    assert sorted(controller) == ["br-int", "br-provider", "br-tun"]
    # The plain command inside a node talks to that node's OVS only.
    show = lab.run("controller", ["ovs-vsctl", "list-br"], check=True).stdout.split()
    assert show == ["br-int", "br-provider", "br-tun"]


def test_bridges_ports_and_options(two_node):
    lab, scenario = two_node
    br = ovsdb.bridges(lab, "compute1")
    tap = scenario.instances["vm1"].port.name
    assert set(br["br-int"]["ports"]) == {"br-int", "int-br-provider", "int-br-mgmt", "patch-tun", tap}
    assert set(br["br-tun"]["ports"]) == {"br-tun", "patch-int", "vxlan-ac10000b"}
    assert set(br["br-provider"]["ports"]) == {"br-provider", "eth0", "phy-br-provider"}
    assert set(br["br-mgmt"]["ports"]) == {"br-mgmt", "eth1", "phy-br-mgmt"}
    for name, b in br.items():
        assert b["fail_mode"] == "secure", name
        assert b["datapath_type"] == "netdev", name
        assert b["controller"] == ["tcp:127.0.0.1:6633"], name
    patch = br["br-int"]["ports"]["int-br-provider"]["interfaces"][0]
    assert patch["type"] == "patch" and patch["options"] == {"peer": "phy-br-provider"}
    manager = lab.run("compute1", ["ovs-vsctl", "get-manager"], check=True).stdout.strip()
    assert manager == "ptcp:6640:127.0.0.1"


def test_vxlan_ports_on_both_sides(two_node):
    lab, _ = two_node
    for node, port, local, remote in (("compute1", "vxlan-ac10000b", "172.16.0.31", "172.16.0.11"),
                                      ("controller", "vxlan-ac10001f", "172.16.0.11", "172.16.0.31")):
        iface = ovsdb.bridges(lab, node)["br-tun"]["ports"][port]["interfaces"][0]
        assert iface["type"] == "vxlan"
        assert iface["options"] == {"df_default": "true", "egress_pkt_mark": "0", "in_key": "flow",
                                    "local_ip": local, "out_key": "flow", "remote_ip": remote}


def test_underlay_ip_on_the_physical_bridge(two_node):
    lab, _ = two_node
    out = json.loads(lab.run("compute1", ["ip", "-j", "addr", "show", "dev", "br-provider"], check=True).stdout)
    assert [a["local"] for a in out[0]["addr_info"] if a["family"] == "inet"] == ["172.16.0.31"]


def test_instance_mac_ip_mtu_and_tap(two_node):
    lab, scenario = two_node
    vm = scenario.instances["vm1"]
    link = json.loads(lab.run("vm1", ["ip", "-j", "addr", "show", "dev", "eth0"], check=True).stdout)[0]
    assert link["address"] == "fa:16:3e:55:18:7a"
    assert link["mtu"] == 1450
    assert "192.168.101.19" in [a["local"] for a in link["addr_info"] if a["family"] == "inet"]
    port = ovsdb.bridges(lab, "compute1")["br-int"]["ports"][vm.port.name]
    iface = port["interfaces"][0]
    assert iface["ofport"] == 7
    assert iface["external_ids"] == {"iface-id": vm.port.id, "attached-mac": "fa:16:3e:55:18:7a",
                                     "iface-status": "active", "vm-uuid": vm.id}
    tap = json.loads(lab.run("compute1", ["ip", "-j", "link", "show", "dev", vm.port.name], check=True).stdout)[0]
    assert tap["address"] == "fe:16:3e:55:18:7a" and tap["mtu"] == 1450


def test_stacklab_exec_and_checks(two_node):
    lab, scenario = two_node
    out = stacklab("exec", "--lab", lab.name, "compute1", "--", "ovs-vsctl", "br-exists", "br-tun")
    assert out.returncode == 0
    out = stacklab("exec", "--lab", lab.name, "compute1", "--", "ovs-vsctl", "br-exists", "br-nope", check=False)
    assert out.returncode == 2
    out = stacklab("exec", "--lab", lab.name, "nosuch", "--", "true", check=False)
    assert out.returncode == 2 and "no node, instance or host named nosuch" in out.stderr
    results = run_checks(lab, scenario)
    assert [r.verdict for r in results] == ["pass"]


def test_a_check_that_must_fail_fails(two_node):
    lab, _ = two_node
    from stacklab.checks import run_check
    from stacklab.scenario.model import Check
    wrong = Check("address", {"instance": "vm1", "interface": "eth0", "ip": None, "mac": None, "mtu": 1500},
                  0, None)
    result = run_check(lab, wrong)
    assert result.verdict == "fail" and "MTU 1450, not 1500" in result.detail
    missing = Check("bridge", {"node": "controller", "name": "br-mgmt", "ports": None, "fail_mode": None,
                               "datapath_type": None, "controller": None}, 1, None)
    assert run_check(lab, missing).verdict == "fail"
