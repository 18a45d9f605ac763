"""DHCP for real: dnsmasq in qdhcp-<network id> on the controller serves
instance02 across VXLAN; neutron's files read as the document prints them."""

import pytest

from stacklab.runtime.procs import read_pidfile

from .conftest import built_lab

NET = "9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1"


@pytest.fixture(scope="module")
def vxlan():
    with built_lab("vxlan-instance", rename="it-vxlan-dhcp") as lab:
        yield lab


def cat(lab, path):
    return lab.run("controller", ["cat", path], check=True).stdout


def test_neutron_files_as_in_the_document(vxlan):
    lab, _ = vxlan
    d = "/var/lib/neutron/dhcp/%s/" % NET
    assert cat(lab, d + "host") == "fa:16:3e:55:18:7a,host-192-168-101-19.openstacklocal,192.168.101.19\n"
    assert cat(lab, d + "addn_hosts") == "192.168.101.19\thost-192-168-101-19.openstacklocal host-192-168-101-19\n"
    lease = cat(lab, d + "leases").split()
    # expiry, MAC, IP, name, client id: the line 000 shows, with this run's expiry
    assert lease[1:] == ["fa:16:3e:55:18:7a", "192.168.101.19", "host-192-168-101-19", "01:fa:16:3e:55:18:7a"]


def test_instance_got_its_address_route_and_mtu_by_dhcp(vxlan):
    lab, _ = vxlan
    addr = lab.run("instance02", ["ip", "-4", "-o", "addr", "show", "eth0"], check=True).stdout
    assert "192.168.101.19/24" in addr
    route = lab.run("instance02", ["ip", "route", "show", "default"], check=True).stdout
    assert route.startswith("default via 192.168.101.1 dev eth0")
    assert "mtu 1450" in lab.run("instance02", ["ip", "link", "show", "eth0"], check=True).stdout


def test_ping_from_the_dhcp_namespace(vxlan):
    lab, _ = vxlan
    proc = lab.run("qdhcp-" + NET, ["ping", "-c", "2", "-i", "0.2", "-W", "1", "192.168.101.19"])
    assert proc.returncode == 0, proc.stdout


def test_dnsmasq_runs_with_neutrons_files(vxlan):
    _, built = vxlan
    host = built.dhcp["qdhcp-" + NET]
    pid = read_pidfile(host.pidfile(), host.pid)       # the pidfile's number is the node's
    cmdline = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
    assert b"--dhcp-hostsfile=/var/lib/neutron/dhcp/%s/host" % NET.encode() in cmdline
    assert b"--dhcp-option-force=option:mtu,1450" in cmdline
