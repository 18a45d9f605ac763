"""What the lab renders for the services, against expected text: 003's load
balancer's haproxy.cfg (its backend as the document prints it), the router's
iptables rules as neutron's L3 agent lays them out; and the pure logic of
the checks that read them (who served, what to ignore)."""

import os

from stacklab.checks.commands import find_block, first_difference, normalize
from stacklab.checks.services import LoadBalancerCheck
from stacklab.observe import references
from stacklab.scenario.loader import SCENARIO_DIR, load_scenario
from topologies import haproxy_cfg
from topologies.routers import iptables_rules, nat_table

LB_AMPHORA = load_scenario(os.path.join(SCENARIO_DIR, "lb-amphora.yaml"))


def test_haproxy_cfg_as_octavia_renders_it():
    lb = LB_AMPHORA.load_balancers["lb"]
    assert haproxy_cfg.render(lb) == """\
# Configuration for loadbalancer 3e7ed706-1dd4-4bd7-a7d5-9ea3f3485f4c
global
    daemon
    user nobody
    log /run/rsyslog/octavia/log local0
    log /run/rsyslog/octavia/log local1 notice
    stats socket /var/lib/octavia/3e7ed706-1dd4-4bd7-a7d5-9ea3f3485f4c.sock mode 0666 level user
    maxconn 50000

defaults
    log global
    retries 3
    option redispatch
    option splice-request
    option splice-response
    option http-keep-alive

frontend 644fb30a-9d13-4ad5-90cd-77a399bbeb5d
    maxconn 50000
    bind 192.168.101.228:22
    mode tcp
    default_backend 755b9fa0-c0af-43b9-86bf-48371eef7b7e:644fb30a-9d13-4ad5-90cd-77a399bbeb5d
    timeout client 50000

backend 755b9fa0-c0af-43b9-86bf-48371eef7b7e:644fb30a-9d13-4ad5-90cd-77a399bbeb5d
    mode tcp
    balance roundrobin
    fullconn 50000
    option allbackups
    timeout connect 5000
    timeout server 50000
    server 0a4d9a4d-8141-4896-8cda-06c7caddb365 192.168.101.19:22 weight 1
    server 995b8845-2434-4673-8af8-3583b0d259a3 192.168.101.211:22 weight 1

"""


def test_backend_block_is_the_documents():
    _, text = references.read("lb-amphora/haproxy-backend", ".txt")
    rendered = haproxy_cfg.render(LB_AMPHORA.load_balancers["lb"]).splitlines()
    assert find_block(references.body(text), rendered) > 0


def test_algorithms_limits_and_disabled_members():
    import copy
    lb = copy.deepcopy(LB_AMPHORA.load_balancers["lb"])
    pool = lb.pools["lb-ssh-pool"]
    pool.algorithm = "SOURCE_IP"
    pool.members[1].enabled = False
    lb.listeners["lb-ssh"].connection_limit = 100
    text = haproxy_cfg.render(lb)
    assert "    balance source\n" in text and "    maxconn 100\n" in text and "    fullconn 100\n" in text
    assert text.endswith("192.168.101.211:22 weight 1 disabled\n\n")
    pool.algorithm = "LEAST_CONNECTIONS"
    assert "    balance leastconn\n" in haproxy_cfg.render(lb)


def test_fd_limits_only_where_needed():
    assert haproxy_cfg.fd_limits(1048576, 50000) is None
    assert haproxy_cfg.fd_limits(20000, 50000) == "global\n    maxconn 7800\n"


def test_nat_rules_as_the_l3_agent_writes_them():
    router = LB_AMPHORA.routers["router"]
    qg = router.gateway.interface
    assert nat_table(router, LB_AMPHORA.floating_ips) == [
        "*nat",
        ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
        ":neutron-l3-agent-OUTPUT - [0:0]", ":neutron-l3-agent-POSTROUTING - [0:0]",
        ":neutron-l3-agent-PREROUTING - [0:0]", ":neutron-l3-agent-float-snat - [0:0]",
        ":neutron-l3-agent-snat - [0:0]", ":neutron-postrouting-bottom - [0:0]",
        "-A PREROUTING -j neutron-l3-agent-PREROUTING",
        "-A OUTPUT -j neutron-l3-agent-OUTPUT",
        "-A POSTROUTING -j neutron-l3-agent-POSTROUTING",
        "-A POSTROUTING -j neutron-postrouting-bottom",
        "-A neutron-l3-agent-OUTPUT -d 172.17.0.95/32 -j DNAT --to-destination 192.168.101.19",
        "-A neutron-l3-agent-OUTPUT -d 172.17.0.146/32 -j DNAT --to-destination 192.168.101.228",
        "-A neutron-l3-agent-POSTROUTING ! -o %s -m conntrack ! --ctstate DNAT -j ACCEPT" % qg,
        # the metadata proxy (neutron's enable_metadata_proxy, on by default)
        "-A neutron-l3-agent-PREROUTING -d 169.254.169.254/32 -i qr-+ -p tcp -m tcp --dport 80 -j REDIRECT "
        "--to-ports 9697",
        "-A neutron-l3-agent-PREROUTING -d 172.17.0.95/32 -j DNAT --to-destination 192.168.101.19",
        "-A neutron-l3-agent-PREROUTING -d 172.17.0.146/32 -j DNAT --to-destination 192.168.101.228",
        "-A neutron-l3-agent-float-snat -s 192.168.101.19/32 -j SNAT --to-source 172.17.0.95 --random-fully",
        "-A neutron-l3-agent-float-snat -s 192.168.101.228/32 -j SNAT --to-source 172.17.0.146 --random-fully",
        "-A neutron-l3-agent-snat -j neutron-l3-agent-float-snat",
        "-A neutron-l3-agent-snat -o %s -j SNAT --to-source 172.17.0.101 --random-fully" % qg,
        "-A neutron-l3-agent-snat -m mark ! --mark 0x2/0xffff -m conntrack --ctstate DNAT -j SNAT --to-source "
        "172.17.0.101 --random-fully",
        '-A neutron-postrouting-bottom -m comment --comment "Perform source NAT on outgoing traffic." '
        "-j neutron-l3-agent-snat",
        "COMMIT",
    ]


def test_mangle_marks_what_enters_by_the_gateway_and_unbound_ips_get_no_rules():
    import copy
    router = LB_AMPHORA.routers["router"]
    text = iptables_rules(router, LB_AMPHORA.floating_ips)
    assert "-A neutron-l3-agent-mark -i %s -j MARK --set-xmark 0x2/0xffff" % router.gateway.interface in text
    unbound = copy.deepcopy(LB_AMPHORA.floating_ips)
    for f in unbound:
        f.fixed_ip = None
    assert "DNAT" not in "\n".join(r for r in iptables_rules(router, unbound).splitlines() if "--to-destination" in r)


# -- the checks' own logic -------------------------------------------------------------
POOL = LB_AMPHORA.load_balancers["lb"].pools["lb-ssh-pool"]
A, B = POOL.members


def judge(served, expect="round_robin", first=None):
    return LoadBalancerCheck._judge(POOL, served, {"expect": expect, "first": first})


def test_round_robin_passes_only_when_members_take_turns():
    assert judge([A, B, A, B, A, B]) is None
    assert judge([B, A, B, A]) is None                         # any starting point...
    assert judge([B, A], first="instance02") == "the first connection should reach instance02"
    assert "never served: instance03" in judge([A, A, A, A])   # a member down
    assert "did not take turns" in judge([A, B, B, A])
    assert judge([A, None]) == "connection 2 reached no member"


def test_sticky_and_spread():
    assert judge([B, B, B], "sticky") is None
    assert judge([A, B], "sticky") == "the connections reached several members"
    assert judge([A, A, B], "spread") is None
    assert judge([A, A], "spread") == "never served: instance03"


def test_command_comparison_ignores_only_what_it_is_told():
    doc = ["3: eth1: <BROADCAST> mtu 1450 qdisc fq_codel state UP"]
    lab = ["3: eth1: <BROADCAST> mtu 1450 qdisc pfifo_fast state UP"]
    assert first_difference(doc, lab) == "line 1: expected %r, got %r" % (doc[0], lab[0])
    assert first_difference(normalize(doc, ["qdisc"]), normalize(lab, ["qdisc"])) is None
    assert first_difference(normalize(doc, ["qdisc"]), normalize(["3: eth1: mtu 1500 qdisc x state UP"],
                                                                   ["qdisc"])) is not None
    assert find_block(["b", "c"], ["a", "b", "c"]) == 1 and find_block(["c", "b"], ["a", "b", "c"]) == -1


def test_members_in_octavias_order_whatever_the_scenarios_order():
    """Octavia writes a pool's members by id (its database's order): listed
    the other way round, 003's members still come out 0a4d... then 995b...,
    so round robin's first connection lands where the deployment's does."""
    with open(os.path.join(SCENARIO_DIR, "lb-amphora.yaml")) as f:
        text = f.read()
    first = "          - {id: 0a4d9a4d-8141-4896-8cda-06c7caddb365, address: 192.168.101.19, port: 22}\n"
    second = "          - {id: 995b8845-2434-4673-8af8-3583b0d259a3, address: 192.168.101.211, port: 22}\n"
    assert first + second in text
    swapped = load_scenario(os.path.join(SCENARIO_DIR, "lb-amphora.yaml"), text.replace(first + second,
                                                                                        second + first))
    pool = swapped.load_balancers["lb"].pools["lb-ssh-pool"]
    assert [m.id[:4] for m in pool.members] == ["0a4d", "995b"]
    servers = [line.split()[1][:4] for line in haproxy_cfg.render(swapped.load_balancers["lb"]).splitlines()
               if line.strip().startswith("server ")]
    assert servers == ["0a4d", "995b"]
    assert haproxy_cfg.render(swapped.load_balancers["lb"]) == haproxy_cfg.render(LB_AMPHORA.load_balancers["lb"])


def test_the_metadata_proxy_as_neutron_renders_it():
    """haproxy in the router's namespace: port 9697, the agent's socket, the
    router's id in X-Neutron-Router-ID; the filter and mangle rules that let
    the redirected requests in; none of it with the proxy turned off."""
    from topologies import metadata
    from topologies.routers import filter_table, mangle_table
    router = LB_AMPHORA.routers["router"]
    cfg = metadata.proxy_config("/var/lib/neutron/external/pids/%s.pid.haproxy" % router.id, router_id=router.id)
    # IPv6 is on in the namespace: neutron binds '::' (IPv4 too)
    assert "    bind :::9697\n    \n    server metadata /var/lib/neutron/metadata_proxy\n" in cfg
    assert ("    http-request del-header X-Neutron-Network-ID\n"
            "    http-request set-header X-Neutron-Router-ID %s\n" % router.id) in cfg
    assert "/dev/log" not in cfg                  # never the machine's journal
    assert "-A neutron-l3-agent-INPUT -m mark --mark 0x1/0xffff -j ACCEPT" in filter_table(router)
    assert "-A neutron-l3-agent-INPUT -p tcp -m tcp --dport 9697 -j DROP" in filter_table(router)
    assert ("-A neutron-l3-agent-PREROUTING -d 169.254.169.254/32 -i qr-+ -p tcp -m tcp --dport 80 -j MARK "
            "--set-xmark 0x1/0xffff") in mangle_table(router)
    with open(os.path.join(SCENARIO_DIR, "lb-amphora.yaml")) as f:
        off = load_scenario(os.path.join(SCENARIO_DIR, "lb-amphora.yaml"),
                            f.read().replace("agent:\n", "agent:\n  metadata_proxy: false\n", 1))
    quiet = off.routers["router"]
    assert not quiet.metadata_proxy
    assert not any("169.254.169.254" in line or "9697" in line
                   for line in filter_table(quiet) + mangle_table(quiet) + nat_table(quiet, off.floating_ips))


def test_nova_signs_and_answers_as_nova_does():
    from topologies import metadata, nova_metadata
    records = metadata.nova_records(LB_AMPHORA, lambda name: "ssh-ed25519 AAAA test")
    inst = LB_AMPHORA.instances["instance02"]
    record = records[inst.id]
    assert nova_metadata.answer(record, "/latest/meta-data/instance-id") == (200, "i-00000001")
    assert nova_metadata.answer(record, "/latest/meta-data/hostname") == (200, "instance02.novalocal")
    assert nova_metadata.answer(record, "/latest/meta-data/local-ipv4") == (200, "192.168.101.19")
    assert nova_metadata.answer(record, "/latest/meta-data/public-keys") == (200, "0=demo")
    assert nova_metadata.answer(record, "/latest/meta-data/public-keys/0/openssh-key") == (
        200, "ssh-ed25519 AAAA test\n")
    assert nova_metadata.answer(record, "/latest/meta-data/nothing")[0] == 404
    # user data: only for an instance that has some
    assert nova_metadata.answer(record, "/latest/user-data")[0] == 404
    assert nova_metadata.answer(record, "/latest") == (200, "meta-data/")
    given = dict(record, user_data="#cloud-config\n")
    assert nova_metadata.answer(given, "/latest/user-data") == (200, "#cloud-config\n")
    assert nova_metadata.answer(given, "/openstack/latest/user_data") == (200, "#cloud-config\n")
    assert nova_metadata.answer(given, "/latest") == (200, "meta-data/\nuser-data")
    assert metadata.signature(inst.id) != metadata.signature(inst.id, "another secret")


def _variant(name, old, new):
    path = os.path.join(SCENARIO_DIR, name + ".yaml")
    with open(path) as f:
        text = f.read()
    assert old in text
    return load_scenario(path, text.replace(old, new, 1))


def test_where_169_254_169_254_answers_as_the_dhcp_agent_decides():
    """An isolated subnet (no router port holds its gateway) is served from
    its DHCP namespace, the route pointing at the DHCP port; a routed one
    gets the route through its gateway; force_metadata serves every network;
    with neither option an isolated network has no route at all."""
    from stacklab.scenario import metadata
    vxlan = load_scenario(os.path.join(SCENARIO_DIR, "vxlan-instance.yaml"))
    dhcp_ip = str(vxlan.dhcp_ports["selfservice"].ip)
    assert metadata.isolated(vxlan, "selfservice") and metadata.served_by_dhcp(vxlan, "selfservice")
    assert metadata.host_routes(vxlan, "selfservice") == [("169.254.169.254/32", dhcp_ip),
                                                          ("0.0.0.0/0", "192.168.101.1")]
    assert not metadata.isolated(LB_AMPHORA, "selfservice")
    assert not metadata.served_by_dhcp(LB_AMPHORA, "selfservice")
    assert metadata.host_routes(LB_AMPHORA, "selfservice") == [("169.254.169.254/32", "192.168.101.1"),
                                                               ("0.0.0.0/0", "192.168.101.1")]
    forced = _variant("lb-amphora", "agent:\n", "agent:\n  force_metadata: true\n")
    assert metadata.served_by_dhcp(forced, "selfservice")
    assert metadata.host_routes(forced, "selfservice")[0] == ("169.254.169.254/32",
                                                              str(forced.dhcp_ports["selfservice"].ip))
    off = _variant("vxlan-instance", "agent:\n", "agent:\n  enable_isolated_metadata: false\n")
    assert not metadata.served_by_dhcp(off, "selfservice")
    assert metadata.host_routes(off, "selfservice") == []


def test_dhcp_opts_and_proxy_as_neutron_renders_them():
    from stacklab.scenario import metadata as scenario_metadata
    from topologies import metadata, services
    vxlan = load_scenario(os.path.join(SCENARIO_DIR, "vxlan-instance.yaml"))
    net = vxlan.networks["selfservice"]
    tag = services.subnet_tag(net)
    opts = services.opts_file(net, tag, scenario_metadata.host_routes(vxlan, "selfservice")).splitlines()
    routes = "169.254.169.254/32,%s,0.0.0.0/0,192.168.101.1" % vxlan.dhcp_ports["selfservice"].ip
    assert opts == ["tag:%s,option:classless-static-route,%s" % (tag, routes), "tag:%s,249,%s" % (tag, routes),
                    "tag:%s,option:router,192.168.101.1" % tag]
    assert services.opts_file(net, tag).splitlines() == ["tag:%s,option:router,192.168.101.1" % tag]
    cfg = metadata.proxy_config("/var/lib/neutron/external/pids/%s.pid.haproxy" % net.id, network_id=net.id,
                                interface="tap0d5b8f2c-11")
    assert ("    bind 169.254.169.254:80\n    bind fe80::a9fe:a9fe:80 interface tap0d5b8f2c-11\n"
            "    server metadata /var/lib/neutron/metadata_proxy\n"
            "    http-request del-header X-Neutron-Router-ID\n"
            "    http-request set-header X-Neutron-Network-ID %s\n" % net.id) in cfg
    # the agent on the DHCP node knows the network's instances by address
    node = vxlan.dhcp_ports["selfservice"].node
    known = metadata.agent_ports(vxlan, node)
    assert known["routers"] == {}
    assert known["networks"][net.id]["192.168.101.19"]["instance_id"] == vxlan.instances["instance02"].id
    assert metadata.agent_nodes(vxlan) == [node]


def test_the_metadata_agent_reads_an_ipv4_mapped_forwarded_for():
    from topologies.metadata_agent import client_address
    assert client_address("::ffff:192.168.101.19") == "192.168.101.19"
    assert client_address("192.168.101.19, 10.0.0.1") == "192.168.101.19"
    assert client_address("fe80::f816:3eff:fe55:187a") == "fe80::f816:3eff:fe55:187a"
    assert client_address(None) == ""


def test_who_reads_the_key_from_metadata():
    """Instances without a config drive fetch their key; an amphora has a
    config drive (Octavia boots it with one); a netvirt lab, which has no
    metadata service, refuses an instance that would have to fetch."""
    from stacklab.errors import ScenarioError
    from stacklab.scenario import metadata
    assert metadata.fetches_key(LB_AMPHORA.instances["instance02"])
    assert not metadata.fetches_key(LB_AMPHORA.instances["amphora-lb"])
    path = os.path.join(SCENARIO_DIR, "netvirt-dvr.yaml")
    with open(path) as f:
        text = f.read()
    import re
    first = re.search(r"^instances:\n  (\S+):\n", text, re.M)
    assert first
    changed = text.replace(first.group(0), first.group(0) + "    keypair: k\n", 1).replace(
        "\ninstances:\n", "\nkeypairs:\n  k: {}\ninstances:\n", 1)
    try:
        load_scenario(path, changed)
    except ScenarioError as e:
        assert "config_drive" in str(e) and "no metadata service" in str(e), str(e)
    else:
        raise AssertionError("a netvirt instance fetching its key was accepted")
