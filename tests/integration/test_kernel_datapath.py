"""The kernel datapath (datapath_type: system), what the documents run. Where
the openvswitch module loads (the Debian VM of `make vm-test`, a laptop),
000's and 003's labs are built on it and must look and work as the
documents show; where it does not (these CI hosts), asking for it must fail
with one clear sentence and leave nothing. Exactly one of the two runs on
a given machine, and the skip reason says which and why."""

import os
import tempfile

import pytest

from stacklab import naming
from stacklab.datapath import kernel_module_error
from stacklab.observe import ovsdb
from stacklab.scenario.loader import find_scenario

from .conftest import Snapshot, built_lab, stacklab, wait_clean

WHY_NOT = kernel_module_error()


def _on_kernel_datapath(name):
    """scenarios/NAME.yaml with `datapath_type: system` added, as a user would write it."""
    with open(find_scenario(name)) as f:
        text = f.read()
    fd, path = tempfile.mkstemp(prefix=name + "-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write("datapath_type: system\n" + text)
    return path


@pytest.mark.skipif(WHY_NOT is not None, reason="no openvswitch kernel module here (%s); "
                                                "`make vm-test` runs this in the VM" % WHY_NOT)
@pytest.mark.parametrize("name", ["vxlan-instance", "flat-instance", "lb-amphora"])
def test_lab_on_the_kernel_datapath(name):
    path = _on_kernel_datapath(name)
    try:
        with built_lab(path) as (lab, _):
            for node in lab.scenario.nodes:
                for bridge, b in ovsdb.bridges(lab, node).items():
                    assert b["datapath_type"] == "system", (node, bridge)
            show = lab.run("compute1", ["ovs-vsctl", "show"], check=True).stdout
            assert show.count("datapath_type: system") == len(ovsdb.bridges(lab, "compute1"))
            dp = lab.run("compute1", ["ovs-dpctl", "show"], check=True).stdout
            assert dp.startswith("system@ovs-system:"), dp
            tap = next(i.port.name for i in lab.scenario.instances.values() if i.node == "compute1")
            assert ": %s\n" % tap in dp, dp          # the instance's tap is a port of the kernel datapath
            if name == "vxlan-instance":
                assert "vxlan_sys_4789 (vxlan" in dp, dp
            _agent_ports_are_internal(lab)
            # every check of the scenario, DHCP, ping, TCP and SSH through the kernel's datapath included
            result = stacklab("check", lab.state.name, check=False, timeout=300)
            assert result.returncode == 0, result.stdout + result.stderr
    finally:
        os.unlink(path)


def _agent_ports_are_internal(lab):
    """qr-, qg- and DHCP taps as neutron's interface driver plugs them: an
    internal port of br-int, the device in its namespace an `openvswitch` one."""
    ports = [(p, naming.qdhcp_namespace(lab.scenario.networks[p.network].id)) for p in lab.scenario.dhcp_ports.values()]
    ports += [(p, r.namespace) for r in lab.scenario.routers.values() if r.node for p in r.ports()]
    assert ports
    for port, namespace in ports:
        kind = lab.run(port.node, ["ovs-vsctl", "get", "Interface", port.name, "type"], check=True).stdout.strip()
        assert kind == "internal", (port.name, kind)
        link = lab.run(port.node, ["ip", "-n", namespace, "-d", "link", "show", port.name], check=True).stdout
        assert "\n    openvswitch " in link, link
        assert "@if" not in link, link              # no veth peer


@pytest.mark.skipif(WHY_NOT is None, reason="the openvswitch kernel module is here: "
                                            "test_lab_on_the_kernel_datapath builds on it instead")
def test_kernel_datapath_refused_without_the_module():
    before = Snapshot()
    proc = stacklab("up", "--datapath", "system", "vxlan-instance", check=False)
    assert proc.returncode != 0
    assert "datapath_type system needs the kernel's openvswitch module" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert wait_clean(before) == {}
