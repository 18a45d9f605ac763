"""Pure logic of names and of the ovs-vsctl transaction a node gets."""

import ipaddress

from stacklab import naming
from stacklab.scenario.loader import load_scenario, find_scenario
from topologies import fabric, plumbing


def test_neutron_names():
    assert naming.tap_name("8811e933-5c4e-4bd2-a6a1-0c87c2f1a3b5") == "tap8811e933-5c"
    assert naming.vxlan_port_name(ipaddress.IPv4Address("172.16.0.11")) == "vxlan-ac10000b"
    assert naming.vxlan_port_name("172.16.0.31") == "vxlan-ac10001f"
    assert naming.int_patch_name("br-provider") == "int-br-provider"
    assert naming.phy_patch_name("br-mgmt") == "phy-br-mgmt"
    assert naming.tap_mac("fa:16:3e:55:18:7a") == "fe:16:3e:55:18:7a"


def test_fabric_names_fit_in_15_characters():
    assert fabric.port_name(0, "compute1", "eth0") == "compute1-eth0"
    assert len(fabric.port_name(3, "controller", "eth10")) <= 15
    names = fabric.switch_names(["provider", "a-very-long-physical-net"])
    assert names["provider"] == "provider" and len(names["a-very-long-physical-net"]) <= 15


def test_bridges_script_for_the_document_compute_node():
    sc = load_scenario(find_scenario("vxlan-instance"))
    text = plumbing.bridges_script(sc.nodes["compute1"], sc.tunnel_peers("compute1"))
    vsctl = text.splitlines()[0]
    # br-int patches come before patch-tun, so OpenFlow ports are numbered as in 000
    assert vsctl.index("int-br-provider") < vsctl.index("patch-tun")
    assert "options:remote_ip=172.16.0.11" in vsctl and "options:local_ip=172.16.0.31" in vsctl
    assert "add-port br-provider eth0" in vsctl
    assert "ip addr add 172.16.0.31/24 dev br-provider" in text
    assert "datapath_type=netdev" in vsctl and "fail_mode=secure" in vsctl
    assert vsctl.count("set-controller") == 3


def test_bridges_script_with_the_kernel_datapath():
    sc = load_scenario(find_scenario("vxlan-instance"))
    vsctl = plumbing.bridges_script(sc.nodes["compute1"], sc.tunnel_peers("compute1"), "system").splitlines()[0]
    # every bridge of the node on the kernel's datapath, as 000 prints it
    assert vsctl.count("datapath_type=system") == 3 and "netdev" not in vsctl


def test_agent_ports_on_the_kernel_datapath_as_neutrons_interface_driver_plugs_them():
    s = load_scenario(find_scenario("lb-amphora"))
    router = next(iter(s.routers.values()))
    qr = router.interfaces[0]
    dhcp = next(iter(s.dhcp_ports.values()))
    text = plumbing.internal_ports_script([(qr, router.namespace, 1450), (dhcp, "qdhcp-x", 1500)])
    lines = text.splitlines()
    # one ovs-vsctl transaction: each an internal port of br-int with the agent's external_ids
    assert lines[0].startswith("ovs-vsctl --may-exist add-port br-int %s -- set Interface %s type=internal "
                               "external_ids:iface-id=%s external_ids:iface-status=active "
                               "external_ids:attached-mac=%s" % (qr.name, qr.name, qr.id, qr.mac))
    assert " -- --may-exist add-port br-int %s -- set Interface %s type=internal" % (dhcp.name, dhcp.name) in lines[0]
    # then the MAC, the move into the namespace, MTU and up there
    assert lines[1:4] == ["ip link set %s address %s" % (qr.name, qr.mac),
                          "ip link set %s netns %s" % (qr.name, router.namespace),
                          "ip -n %s link set %s mtu 1450 up" % (router.namespace, qr.name)]
    assert lines[4:] == ["ip link set %s address %s" % (dhcp.name, dhcp.mac),
                         "ip link set %s netns qdhcp-x" % dhcp.name,
                         "ip -n qdhcp-x link set %s mtu 1500 up" % dhcp.name]
    assert plumbing.internal_ports_script([]) == ""
