"""The metadata path of an isolated network, for real (issue 25): the DHCP
namespace holds 169.254.169.254, dnsmasq hands out the host route to it,
haproxy there names the network, and instances without a config drive read
their key from it at boot. Without isolated metadata they boot without their
key, and the checks say so."""

import os
import re
import tempfile

from stacklab import naming
from stacklab.checks import FAIL, PASS, run_checks
from stacklab.checks.services import MetadataCheck
from stacklab.observe.ssh import key_file
from topologies import metadata

from .conftest import Snapshot, built_lab, scenario_path, stacklab, wait_clean


def _results(lab, scenario):
    return {r.check.title: r for r in run_checks(lab, scenario)}


def test_an_isolated_network_serves_metadata_from_its_dhcp_namespace():
    with built_lab(scenario_path("isolated")) as (lab, built):
        scenario = built.scenario
        results = run_checks(lab, scenario)
        failed = ["%s: %s" % (r.check.title, r.detail) for r in results if not r.ok]
        assert not failed, "\n".join(failed)
        net = scenario.networks["private"]
        dhcp_ip = str(scenario.dhcp_ports["private"].ip)
        # the route each instance has to it: from option 121 (DHCP), or as DHCP would give it (static)
        for name in ("booted", "fixed"):
            routes = lab.run(name, ["ip", "route"], check=True).stdout
            assert re.search(r"^169\.254\.169\.254 via %s dev eth0" % re.escape(dhcp_ip), routes, re.M), routes
            assert re.search(r"^default via 192\.168\.60\.1 dev eth0", routes, re.M), routes
        # as each image's DHCP client leaves the address: cirros 0.6's dhcpcd (dynamic, the lease's
        # lifetimes, routes at 1000 + ifindex), cirros 0.5's udhcpc (for good)
        addr = lab.run("booted", ["ip", "addr", "show", "eth0"], check=True).stdout
        assert re.search(r"scope global dynamic noprefixroute eth0\n\s+valid_lft 86\d{3}sec preferred_lft 75\d{3}sec",
                         addr), addr
        assert re.search(r"^default via 192\.168\.60\.1 dev eth0 proto dhcp src \S+ metric 10\d\d",
                         lab.run("booted", ["ip", "route"], check=True).stdout, re.M)
        addr = lab.run("drive", ["ip", "addr", "show", "eth0"], check=True).stdout
        assert re.search(r"scope global eth0\n\s+valid_lft forever preferred_lft forever", addr), addr
        ns = naming.qdhcp_namespace(net.id)
        node = scenario.dhcp_ports["private"].node
        addrs = lab.run(node, ["ip", "netns", "exec", ns, "ip", "-o", "addr", "show"], check=True).stdout
        assert "169.254.169.254/32" in addrs and "fe80::a9fe:a9fe/128" in addrs, addrs
        conf = lab.run(node, ["cat", "/var/lib/neutron/ns-metadata-proxy/%s.conf" % net.id], check=True).stdout
        assert "    bind 169.254.169.254:80\n" in conf
        assert "    http-request set-header X-Neutron-Network-ID %s\n" % net.id in conf
        opts = lab.run(node, ["cat", "/var/lib/neutron/dhcp/%s/opts" % net.id], check=True).stdout
        assert ("option:classless-static-route,169.254.169.254/32,%s,0.0.0.0/0,192.168.60.1" % dhcp_ip) in opts
        # the key came over the network: the same public key, in the user's authorized_keys
        with open(key_file(scenario, "key", lab.state.dir) + ".pub") as f:
            public = f.read().strip()
        got = lab.run("booted", ["cat", "/home/cirros/.ssh/authorized_keys"], check=True).stdout.strip()
        assert got == public
        # the proxy's address taken away: the instance's request goes nowhere, and the check says so
        lab.run(node, ["ip", "netns", "exec", ns, "ip", "addr", "del", "169.254.169.254/32", "dev",
                       scenario.dhcp_ports["private"].name], check=True)
        try:
            r = MetadataCheck().run(lab, MetadataCheck.params.check({"instance": "booted"}, (), None))
            assert r.verdict == FAIL, r.detail
        finally:
            lab.run(node, ["ip", "netns", "exec", ns, "ip", "addr", "add", "169.254.169.254/32", "dev",
                           scenario.dhcp_ports["private"].name], check=True)
        r = MetadataCheck().run(lab, MetadataCheck.params.check({"instance": "booted"}, (), None))
        assert r.verdict == PASS, r.detail
        # a reboot asks DHCP (or configures the static address) and reads the key again
        lab.run("booted", ["sh", "-c", ": > /home/cirros/.ssh/authorized_keys"], check=True)
        out = built.reboot_instance("booted")
        assert "booted rebooted" in out and "1 by DHCP" in out and "1 of 1 key pairs" in out, out
        out = built.reboot_instance("fixed")
        assert "fixed rebooted" in out and "static address" in out, out
        routes = lab.run("fixed", ["ip", "route"], check=True).stdout
        assert "169.254.169.254 via %s" % dhcp_ip in routes, routes
        assert all(r.ok for r in run_checks(lab, scenario))


def test_reboot_from_the_command_line_and_inside_the_instance(tmp_path):
    """`stacklab reboot` and `reboot` typed in the instance go to the lab's
    keeper, which boots the instance again; an unknown instance is refused."""
    with open(scenario_path("isolated")) as f:
        text = f.read().replace("name: it-isolated", "name: it-reboot")
    path = tmp_path / "it-reboot.yaml"
    path.write_text(text)
    before = Snapshot()
    stacklab("up", str(path))
    try:
        out = stacklab("reboot", "--lab", "it-reboot", "booted").stdout
        assert "booted rebooted" in out and "1 of 1 key pairs" in out, out
        out = stacklab("exec", "--lab", "it-reboot", "booted", "--", "reboot").stdout
        assert "booted rebooted" in out, out
        refused = stacklab("reboot", "--lab", "it-reboot", "nobody", check=False)
        assert refused.returncode == 2 and "no instance named nobody" in refused.stderr, refused.stderr
        assert stacklab("check", "it-reboot", check=False).returncode == 0
    finally:
        stacklab("down", "it-reboot", check=False)
    assert not wait_clean(before)


def test_without_isolated_metadata_an_instance_boots_without_its_key():
    """enable_isolated_metadata off: no proxy, no host route; the instance
    that reads its key from 169.254.169.254 cannot log in, the one with a
    config drive can."""
    with open(scenario_path("isolated")) as f:
        text = f.read()
    text = text.replace("name: it-isolated", "name: it-isolated-off\nagent: {enable_isolated_metadata: false}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "it-isolated-off.yaml")
        with open(path, "w") as f:
            f.write(text)
        with built_lab(path) as (lab, built):
            scenario = built.scenario
            results = _results(lab, scenario)
            assert results["metadata booted"].verdict == FAIL
            assert results["ssh booted"].verdict == FAIL
            assert results["ssh drive"].verdict == PASS, results["ssh drive"].detail
            assert lab.run("booted", ["cat", "/home/cirros/.ssh/authorized_keys"], check=True).stdout == ""
            net = scenario.networks["private"]
            node = scenario.dhcp_ports["private"].node
            opts = lab.run(node, ["cat", "/var/lib/neutron/dhcp/%s/opts" % net.id], check=True).stdout
            assert "classless-static-route" not in opts
            assert not metadata.agent_nodes(scenario)
