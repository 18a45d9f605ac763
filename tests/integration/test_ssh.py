"""SSH for real on flat-instance: dropbear in instance00 for the user cirros,
the lab's key pair, and the document's login from the provider network."""

import os
import subprocess

import pytest

from stacklab.observe.ssh import ssh_argv

from .conftest import built_lab, stacklab


@pytest.fixture(scope="module")
def flat():
    with built_lab("flat-instance", rename="it-flat") as (lab, built):
        yield lab, built.scenario


def test_document_login_prints_the_instances_interfaces(flat):
    # 002: ssh -i demo_rsa cirros@172.16.0.112 /sbin/ip addr
    out = stacklab("ssh", "--lab", "it-flat", "instance00", "/sbin/ip", "addr").stdout
    eth0 = out[out.index("eth0"):]
    assert "link/ether fa:16:3e:55:2a:5d" in eth0 and "inet 172.16.0.112/24" in eth0, out


def test_login_is_as_cirros_from_the_provider_network(flat):
    lab, scenario = flat
    where, argv = ssh_argv(scenario, "instance00", lab.state.dir, ["id", "-un"])
    assert where == "controller"          # 172.16.0.11 is on the provider subnet
    proc = lab.run(where, argv, timeout=20)
    assert proc.returncode == 0 and proc.stdout.strip() == "cirros", proc.stdout + proc.stderr


def test_another_key_is_refused(flat, tmp_path):
    lab, scenario = flat
    key = os.path.join(lab.state.dir, "other-key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    where, argv = ssh_argv(scenario, "instance00", lab.state.dir, ["true"])
    argv[argv.index("-i") + 1] = key
    proc = lab.run(where, argv, timeout=20)
    assert proc.returncode != 0 and "Permission denied" in proc.stderr, proc.stderr
