"""Load a scenario: parse, check the format, then check what the format alone
cannot (references, addresses, duplicates, reachability), fill defaults, and
return a Scenario. Every problem of a file is reported in one ScenarioError."""

import glob
import os

from stacklab import naming
from stacklab.errors import Problem, ScenarioError
from stacklab.scenario import model
from stacklab.scenario.format import SCENARIO
from stacklab.scenario.ids import DERIVATION_SEED, derived_id, derived_mac
from stacklab.scenario.schema import INVALID
from stacklab.scenario.yamlsrc import load_source
from stacklab.shipped import shipped_dir

SCENARIO_DIR = shipped_dir("scenarios")


def list_scenarios(directory=SCENARIO_DIR):
    return sorted(glob.glob(os.path.join(directory, "*.yaml")))


def find_scenario(name_or_file, directory=SCENARIO_DIR):
    """A path as given, or scenarios/NAME.yaml."""
    if os.path.sep in name_or_file or name_or_file.endswith((".yaml", ".yml")):
        return name_or_file
    path = os.path.join(directory, name_or_file + ".yaml")
    if not os.path.exists(path):
        names = ", ".join(os.path.basename(p)[:-5] for p in list_scenarios(directory))
        raise ScenarioError([_plain(name_or_file, "no such scenario (known: %s)" % (names or "none"))])
    return path


def _plain(file, message):
    return Problem(file, None, (), message)


def load_scenario(path, text=None):
    """Parse and validate the scenario at `path` (or `text`); raise ScenarioError
    with every problem found."""
    src = load_source(path, text)
    problems = []

    def report(p, message):
        problems.append(src.problem(p, message))

    data = SCENARIO.check(src.data, (), report)
    if data is INVALID or problems:
        raise ScenarioError(problems)
    scenario = _Builder(src, data, report).build()
    if problems:
        raise ScenarioError(problems)
    scenario.text = src.text        # what a lab keeps of the file it was built (or changed) from
    return scenario


class _Builder:
    """Turns checked YAML data into the model, reporting semantic problems."""

    def __init__(self, src, data, report):
        self.src = src
        self.d = data
        self.report = report
        self.name = data["name"] or os.path.splitext(os.path.basename(str(src.file)))[0]
        # What derived ids and MACs are derived from: never the lab's name, so a scenario copied
        # under another name (as `apply` users and exercises do) has the same ports, taps and MACs.
        self.seed = DERIVATION_SEED
        if not data["name"] and naming.lab_name_problem(self.name):
            report(("name",), "the lab is named after the file, and %s: give it a name: key"
                   % naming.lab_name_problem(self.name))
        self.sdn = data["sdn"]["type"]
        self.macs = set()               # every MAC taken, given or derived
        self.mac_owners = {}            # given MAC -> the key path of what has it

    def build(self):
        from stacklab.scenario import dvr, ha, l3, netvirt, octavia, ovn
        nodes = self.nodes()
        networks = self.networks(nodes)
        self.ha_network = ha.add_network(self, networks)       # the project's, when a router is HA
        if self.sdn == "netvirt":
            netvirt.no_dhcp(self, networks)
        ovn.network_types(self, networks)
        groups = self.security_groups()
        keypairs = {name: model.Keypair(name, k["public_key"], k["private_key_file"])
                    for name, k in self.d["keypairs"].items()}
        self.used_ips, self.port_ids, self.taps, self.ofports = {}, {}, {}, {}
        # Fixed addresses are reserved before any is handed out.
        self.reserve_instance_ips(networks)
        octavia.reserve(self, networks)
        l3.reserve(self, networks)
        # neutron makes a network's DHCP port with its subnet, before any instance: it takes
        # the first free address, and instances added later never move it
        self.dhcp_ips = {n.name: self.dhcp_ip(n) for n in networks.values() if n.subnet.dhcp and self.sdn != "netvirt"}
        # so does a distributed router's centralized SNAT port, with the router's gateway
        self.snat_ips = dvr.snat_ips(self, networks)
        instances = self.instances(nodes, networks, groups, keypairs)
        self.check_agent_options()
        self.unique_ids()
        scenario = model.Scenario(
            name=self.name, file=str(self.src.file), description=self.d["description"] or "",
            reference=self.d["reference"], agent_release=self.d["agent"]["release"],
            nodes=nodes, networks=networks, security_groups=groups, keypairs=keypairs,
            instances=instances, dhcp_ports={}, checks=[], hosts=self.hosts(nodes), sdn=self.sdn,
            sdn_port=self.d["sdn"]["port"], l2_population=self.d["agent"]["l2_population"],
            arp_responder=self.d["agent"]["arp_responder"], datapath_type=self.d["datapath_type"],
            restart_daemons=self.d["daemons"]["restart"],
            isolated_metadata=self.d["agent"]["enable_isolated_metadata"],
            force_metadata=self.d["agent"]["force_metadata"],
            distributed_floating_ips=self.d["sdn"]["distributed_floating_ips"])
        if self.sdn == "netvirt":
            netvirt.check(self, scenario)
        self.dhcp_ports(scenario)
        if self.sdn == "ovn":
            ovn.check(self, scenario)
        if self.sdn != "netvirt":           # (netvirt.check rejects them)
            octavia.load_balancers(self, scenario)
        l3.routers(self, scenario)
        l3.floating_ips(self, scenario)
        if self.sdn == "ovn":
            ovn.check_routers(self, scenario)
        if self.sdn == "netvirt":
            netvirt.allocate(self, scenario)
        self.unique_lab_names(scenario)
        self.interface_names(scenario)
        self.upstream_routers(scenario)
        self.local_vlans(scenario)
        self.tunnel_paths(scenario)
        scenario.checks = self.checks(scenario)
        return scenario

    # -- nodes -----------------------------------------------------------
    def nodes(self):
        nodes = {}
        addresses = self.node_addresses = {}
        vxlan = any(n["type"] in model.TUNNEL_TYPES for n in self.d["networks"].values())
        for name, n in self.d["nodes"].items():
            path = ("nodes", name)
            bridges = {}
            for physnet, bridge in n["bridge_mappings"].items():
                if bridge in (naming.INTEGRATION_BRIDGE, naming.TUNNEL_BRIDGE):
                    self.report(path + ("bridge_mappings", physnet),
                                "%s is the agent's own bridge; map physical networks to others "
                                "such as br-provider" % bridge)
                elif bridge in bridges:
                    self.report(path + ("bridge_mappings", physnet),
                                "bridge %s is already mapped to physical network %s" % (bridge, bridges[bridge]))
                bridges[bridge] = physnet
            nics, on_physnet = {}, {}
            for nic_name, nic in n["nics"].items():
                npath = path + ("nics", nic_name)
                physnet = nic["physical_network"]
                bridge = n["bridge_mappings"].get(physnet)
                if bridge and physnet in on_physnet:
                    self.report(npath + ("physical_network",),
                                "%s already connects %s to %s; a bridge takes one NIC"
                                % (on_physnet[physnet], bridge, physnet))
                on_physnet.setdefault(physnet, nic_name)
                if nic["address"] is not None:
                    ip = nic["address"].ip
                    if nic["address"].network.prefixlen < 31 and ip in (nic["address"].network.network_address,
                                                                       nic["address"].network.broadcast_address):
                        self.report(npath + ("address",), "%s is not a host address of %s"
                                    % (ip, nic["address"].network))
                    if ip in addresses:
                        self.report(npath + ("address",), "%s is already the address of %s" % (ip, addresses[ip]))
                    addresses[ip] = "%s %s" % (name, nic_name)
                mac = nic["mac"] or derived_mac("%s/%s/%s" % (self.seed, name, nic_name), self.macs, "02:5c:1a")
                if nic["mac"]:
                    self.claim_mac(mac, npath + ("mac",))
                nics[nic_name] = model.Nic(nic_name, physnet, nic["address"], mac, bridge)
            for physnet in n["bridge_mappings"]:
                if physnet not in on_physnet:
                    self.report(path + ("bridge_mappings", physnet),
                                "node %s has no NIC on physical network %s (add one under nics)" % (name, physnet))
            tunnel_ip = n["tunnel_ip"]
            own = [nic.address.ip for nic in nics.values() if nic.address]
            if tunnel_ip is not None and tunnel_ip not in own:
                self.report(path + ("tunnel_ip",), "%s is not one of the node's NIC addresses (%s)"
                            % (tunnel_ip, ", ".join(map(str, own)) or "it has none"))
            if tunnel_ip is None and vxlan and own and not (self.sdn == "netvirt" and n["role"] == "controller"):
                tunnel_ip = own[0]          # (netvirt's controller node is the controller's, not a switch)
            if n["provider_mappings"] and self.sdn != "netvirt":
                self.report(path + ("provider_mappings",), "provider_mappings is OpenDaylight's: use it with "
                            "sdn: {type: netvirt} (neutron's agent uses bridge_mappings)")
            nodes[name] = model.Node(name, n["role"], nics, dict(n["bridge_mappings"]), tunnel_ip,
                                     dict(n["provider_mappings"]), l3_agent_mode=self.l3_agent_mode(name, n))
        if any(node.l3_agent_mode in ("dvr", "dvr_snat") for node in nodes.values()):
            for name, node in nodes.items():        # neutron's server gives every DVR agent's host a DVR MAC
                given = self.d["nodes"][name]["dvr_mac"]
                if given:
                    self.claim_mac(given, ("nodes", name, "dvr_mac"))
                node.dvr_mac = given or derived_mac("%s/dvr/%s" % (self.seed, name), self.macs, "fa:16:3f")
        return nodes

    def l3_agent_mode(self, name, n):
        """The node's L3 agent mode: legacy on controller and network nodes, none on computes, unless given."""
        mode = n["l3_agent_mode"]
        path = ("nodes", name, "l3_agent_mode")
        if mode is not None and self.sdn != "neutron":
            self.report(path, "l3_agent_mode is neutron's L3 agent's; with sdn: {type: %s} routers are %s's"
                        % (self.sdn, "OpenDaylight" if self.sdn == "netvirt" else "OVN"))
            return None
        if mode is None:
            return "legacy" if n["role"] in ("controller", "network") and self.sdn == "neutron" else None
        return mode

    ID_KEYS = ("id", "port_id", "instance_id")

    def unique_ids(self):
        """Every id the file gives (networks, ports, routers, security groups,
        instances, load balancers, ...) names one thing: two networks with
        one id would be one qdhcp- namespace, two ports with one id one tap."""
        seen = {}

        def visit(value, path):
            if isinstance(value, dict):
                for key, item in value.items():
                    if key in self.ID_KEYS and isinstance(item, str):
                        if item in seen:
                            self.report(path + (key,), "id %s is also the id of %s"
                                        % (item, ".".join(map(str, seen[item]))))
                        else:
                            seen[item] = path
                    else:
                        visit(item, path + (key,))
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    visit(item, path + (index,))
        for section in ("networks", "security_groups", "instances", "routers", "floating_ips", "load_balancers"):
            visit(self.d[section], (section,))

    def check_agent_options(self):
        agent = self.d["agent"]
        if agent["arp_responder"] and not agent["l2_population"]:
            self.report(("agent", "arp_responder"), "the ARP responder answers from what l2population tells "
                        "the agent: set l2_population: true as well")
        if self.sdn == "netvirt" and (agent["l2_population"] or agent["arp_responder"]):
            key = "l2_population" if agent["l2_population"] else "arp_responder"
            self.report(("agent", key), "%s is neutron's OVS agent's; with sdn: {type: netvirt} OpenDaylight "
                        "programs the switches" % key)

    def claim_mac(self, mac, path):
        """A MAC the file gives: one port's (derived ones steer clear of it)."""
        if mac in self.macs:
            owner = self.mac_owners.get(mac, ("another port",))
            self.report(path, "MAC %s is also the MAC of %s" % (mac, ".".join(map(str, owner))))
        self.macs.add(mac)
        self.mac_owners.setdefault(mac, path[:-1] if path and path[-1] == "mac" else path)

    def derived_id(self, kind, name):
        return derived_id(self.seed, kind, name)

    # -- networks --------------------------------------------------------
    def networks(self, nodes):
        networks, vnis, vlans, flats, next_vni = {}, {}, {}, {}, 1
        explicit_vnis = {n["segmentation_id"] for n in self.d["networks"].values()
                         if n["type"] in model.TUNNEL_TYPES and n["segmentation_id"]}
        mapped = {p for node in nodes.values() for p in (node.provider_mappings if self.sdn == "netvirt"
                                                         else node.bridge_mappings)}
        for name, n in self.d["networks"].items():
            path = ("networks", name)
            kind, seg, physnet = n["type"], n["segmentation_id"], n["physical_network"]
            if kind in model.TUNNEL_TYPES:
                if physnet is not None:
                    self.report(path + ("physical_network",), "a %s network has no physical network" % kind)
                if seg is None:
                    while next_vni in explicit_vnis or next_vni in vnis:
                        next_vni += 1
                    seg = next_vni
                if seg in vnis:
                    self.report(path + ("segmentation_id",), "VNI %d is also used by network %s" % (seg, vnis[seg]))
                vnis[seg] = name
            else:
                if physnet is None:
                    self.report(path, "a %s network needs a physical_network" % kind)
                elif physnet not in mapped:
                    self.report(path + ("physical_network",),
                                "no node maps physical network %s in its %s" % (physnet, self.mappings_key))
                if kind == "flat":
                    if seg is not None:
                        self.report(path + ("segmentation_id",), "a flat network has no segmentation id")
                    if physnet in flats:
                        self.report(path + ("physical_network",), "physical network %s already carries flat "
                                    "network %s" % (physnet, flats[physnet]))
                    flats[physnet] = name
                else:
                    if seg is None:
                        self.report(path, "a vlan network needs a segmentation_id (the VLAN id)")
                    elif seg > 4094:
                        self.report(path + ("segmentation_id",), "VLAN id %d is out of range 1..4094" % seg)
                    elif (physnet, seg) in vlans:
                        self.report(path + ("segmentation_id",), "VLAN %d on %s is also used by network %s"
                                    % (seg, physnet, vlans[(physnet, seg)]))
                    vlans[(physnet, seg)] = name
            largest = model.TUNNEL_MTU.get(kind, 1500)
            mtu = n["mtu"] or largest
            if kind in model.TUNNEL_MTU and mtu > largest:
                self.report(path + ("mtu",), "%d is too large for %s over the 1500-byte underlay "
                            "(at most %d)" % (mtu, kind.upper() if kind == "vxlan" else "Geneve", largest))
            for node, tag in n["local_vlans"].items():
                if node not in nodes:
                    self.report(path + ("local_vlans", node), "no node named %s" % node)
            subnet = self.subnet(n["subnet"], path + ("subnet",))
            networks[name] = model.Network(name, n["id"] or derived_id(self.seed, "network", name), kind, seg,
                                           physnet, mtu, subnet, n["external"])
        for node in nodes:
            tags = {}
            for name, n in self.d["networks"].items():
                tag = n["local_vlans"].get(node)
                if tag is None:
                    continue
                if tag in tags:
                    self.report(("networks", name, "local_vlans", node),
                                "local VLAN %d on %s is also pinned for network %s" % (tag, node, tags[tag]))
                tags[tag] = name
        return networks

    def subnet(self, s, path):
        cidr = s["cidr"]
        hosts_first = cidr.network_address + 1
        hosts_last = cidr.broadcast_address - 1
        gateway = s["gateway"] or hosts_first
        if s["gateway"] is not None and not (hosts_first <= gateway <= hosts_last):
            self.report(path + ("gateway",), "%s is not a host address of %s" % (gateway, cidr))
        if s["allocation_pool"]:
            start, end = s["allocation_pool"]["start"], s["allocation_pool"]["end"]
            for key, ip in (("start", start), ("end", end)):
                if not (hosts_first <= ip <= hosts_last):
                    self.report(path + ("allocation_pool", key), "%s is not a host address of %s" % (ip, cidr))
            if start > end:
                self.report(path + ("allocation_pool",), "start %s is after end %s" % (start, end))
            if start <= gateway <= end:
                self.report(path + ("allocation_pool",), "the pool %s-%s holds the gateway %s"
                            % (start, end, gateway))
        else:
            start, end = hosts_first, hosts_last
            if gateway == start:
                start = gateway + 1
            elif gateway == end:
                end = gateway - 1
        return model.Subnet(cidr, gateway, start, end, s["dhcp"], s["dns_nameservers"])

    # -- security groups -------------------------------------------------
    def security_groups(self):
        declared = self.d["security_groups"]
        groups = {}
        names = set(declared) | {"default"}
        for name, g in declared.items():
            rules = []
            for i, r in enumerate(g["rules"]):
                rules.append(self.rule(r, ("security_groups", name, "rules", i), names))
            if g["default_egress"]:
                rules += self._default_egress()
            groups[name] = model.SecurityGroup(name, g["id"] or derived_id(self.seed, "sg", name), rules)
        if "default" not in groups:
            groups["default"] = model.SecurityGroup("default", derived_id(self.seed, "sg", "default"),
                                                    self._neutron_default_rules())
        return groups

    @staticmethod
    def _default_egress():
        return [model.Rule("egress", eth, None, None, None, None, None) for eth in ("IPv4", "IPv6")]

    def _neutron_default_rules(self):
        """The rules neutron gives a project's `default` group."""
        return [model.Rule("ingress", eth, None, None, None, None, "default") for eth in ("IPv4", "IPv6")] \
            + self._default_egress()

    def rule(self, r, path, groups):
        proto = None if r["protocol"] == "any" else r["protocol"]
        pmin = pmax = None
        if r["port"] is not None and r["port_range"] is not None:
            self.report(path, "give port or port_range, not both")
        if r["port"] is not None:
            pmin = pmax = r["port"]
        elif r["port_range"] is not None:
            pmin, pmax = (int(x) for x in r["port_range"].split("-"))
            if not (1 <= pmin <= pmax <= 65535):
                self.report(path + ("port_range",), "%r is not a range within 1-65535" % r["port_range"])
        if pmin is not None and proto not in ("tcp", "udp"):
            self.report(path, "ports need protocol tcp or udp")
        if r["remote_ip"] is not None and r["remote_group"] is not None:
            self.report(path, "give remote_ip or remote_group, not both")
        if r["remote_group"] is not None and r["remote_group"] not in groups:
            self.report(path + ("remote_group",), "no security group named %s" % r["remote_group"])
        if proto == "icmp" and r["ethertype"] == "IPv6":
            proto = "ipv6-icmp"
        remote_ip = r["remote_ip"]
        if remote_ip is not None and remote_ip.prefixlen == 0:
            remote_ip = None
        return model.Rule(r["direction"], r["ethertype"], proto, pmin, pmax, remote_ip, r["remote_group"])

    # -- instances -------------------------------------------------------
    def reserve(self, net, ip, owner, path, gateway_ok=False):
        """Claim `ip` on `net` for `owner`, reporting at `path` an address
        outside the subnet, not a host address, the gateway (unless
        `gateway_ok`: a router's interface is the gateway) or taken."""
        if ip not in net.subnet.cidr:
            self.report(path, "%s is outside subnet %s of network %s" % (ip, net.subnet.cidr, net.name))
        elif ip in (net.subnet.cidr.network_address, net.subnet.cidr.broadcast_address):
            self.report(path, "%s is not a host address of %s" % (ip, net.subnet.cidr))
        elif ip == net.subnet.gateway and not gateway_ok:
            self.report(path, "%s is the gateway of %s" % (ip, net.name))
        elif (net.name, ip) in self.used_ips:
            self.report(path, "%s is also the address of %s" % (ip, self.used_ips[(net.name, ip)]))
        else:
            self.used_ips[(net.name, ip)] = owner
            return True
        return False

    def reserve_instance_ips(self, networks):
        for name, i in self.d["instances"].items():
            net = networks.get(i["network"])
            if i["ip"] is not None and net is not None:
                self.reserve(net, i["ip"], name, ("instances", name, "ip"))

    def make_port(self, path, owner, node, net, ip, mac, port_id, prefix, device_owner, device_id,
                  security_groups=(), ofport=None, seed=None):
        """A port on `node`'s br-int: its id, MAC and address (derived or
        allocated when not given; a given MAC the caller has claimed), its
        device name (prefix + id[:11]) checked against the node's other
        devices, and its OpenFlow port number."""
        seed = seed or owner
        port_id = port_id or derived_id(self.seed, "port", seed)
        twice = port_id in self.port_ids         # (a given id twice: unique_ids() said so)
        self.port_ids[port_id] = owner
        device = (prefix + port_id)[:naming.DEVICE_NAME_MAX - 1]
        if (node, device) in self.taps and not twice:
            self.report(path + ("port_id",), "device name %s (from the port id) clashes with %s on %s"
                        % (device, self.taps[(node, device)], node))
        self.taps[(node, device)] = owner
        if ofport is not None:
            if (node, ofport) in self.ofports:
                self.report(path + ("ofport",), "ofport %d on %s is also taken by %s"
                            % (ofport, node, self.ofports[(node, ofport)]))
            self.ofports[(node, ofport)] = owner
        mac = mac or derived_mac("%s/%s" % (self.seed, seed), self.macs)
        ip = ip if ip is not None else self.allocate_ip(net, path, owner)
        return model.Port(port_id, device, net.name, node, mac, ip, device_owner, device_id,
                          list(security_groups), ofport)

    def node_reaches(self, node, net):
        """Whether `node` can bind a port on `net` (flat/vlan need its physical network mapped)."""
        if not net.physical_network:
            return True
        mappings = node.provider_mappings if self.sdn == "netvirt" else node.bridge_mappings
        return net.physical_network in mappings

    @property
    def mappings_key(self):
        return "provider_mappings" if self.sdn == "netvirt" else "bridge_mappings"

    def instances(self, nodes, networks, groups, keypairs):
        instances = {}
        for name, i in self.d["instances"].items():
            path = ("instances", name)
            if i["mac"]:
                self.claim_mac(i["mac"], path + ("mac",))
        for name, i in self.d["instances"].items():
            path = ("instances", name)
            ok = True
            node = nodes.get(i["node"])
            if node is None:
                self.report(path + ("node",), "no node named %s" % i["node"])
                ok = False
            net = networks.get(i["network"])
            if net is None:
                self.report(path + ("network",), "no network named %s" % i["network"])
                ok = False
            for k, g in enumerate(i["security_groups"]):
                if g not in groups:
                    self.report(path + ("security_groups", k), "no security group named %s" % g)
            if i["keypair"] is not None and i["keypair"] not in keypairs:
                self.report(path + ("keypair",), "no key pair named %s" % i["keypair"])
            if i["keypair"] is not None and not i["config_drive"] and self.sdn == "netvirt":
                self.report(path + ("config_drive",), "a netvirt lab has no metadata service to fetch the key "
                            "pair from: set config_drive: true")
            if not ok:
                continue
            if not self.node_reaches(node, net):
                self.report(path + ("node",), "node %s does not reach physical network %s of network %s "
                            "(no %s entry)" % (node.name, net.physical_network, net.name, self.mappings_key))
            if i["address_mode"] == "dhcp" and not net.subnet.dhcp and self.given(path + ("address_mode",)):
                self.report(path + ("address_mode",), "network %s has DHCP disabled" % net.name)
            inst_id = i["id"] or derived_id(self.seed, "instance", name)
            port = self.make_port(path, name, node.name, net, i["ip"], i["mac"], i["port_id"], "tap",
                                  "compute:nova", inst_id, i["security_groups"], i["ofport"])
            port.allowed_address_pairs = [(pair["ip_address"], pair["mac_address"] or port.mac)
                                          for pair in i["allowed_address_pairs"]]
            mode = i["address_mode"] if net.subnet.dhcp else "static"
            if 22 in i["listen"]:
                self.report(path + ("listen",), "port 22 is the instance's SSH server")
            instances[name] = model.Instance(name, inst_id, node.name, [port], i["keypair"], mode, net.mtu,
                                             listen=sorted(set(i["listen"])), config_drive=i["config_drive"],
                                             image=i["image"], user_data=i["user_data"])
        return instances

    def hosts(self, nodes):
        physnets = {nic.physical_network for n in nodes.values() for nic in n.nics.values()}
        hosts = {}
        for name, h in self.d["hosts"].items():
            path = ("hosts", name)
            if h["physical_network"] not in physnets:
                self.report(path + ("physical_network",), "no node has a NIC on physical network %s"
                            % h["physical_network"])
            ip = h["address"].ip
            if ip in self.node_addresses:
                self.report(path + ("address",), "%s is already the address of %s" % (ip, self.node_addresses[ip]))
            self.node_addresses[ip] = name
            if h["gateway"] is not None and h["gateway"] not in h["address"].network:
                self.report(path + ("gateway",), "%s is not on %s's subnet %s" % (h["gateway"], name,
                                                                                 h["address"].network))
            if h["mac"]:
                self.claim_mac(h["mac"], path + ("mac",))
            mac = h["mac"] or derived_mac("%s/host/%s" % (self.seed, name), self.macs, "52:54:00")
            hosts[name] = model.Host(name, h["physical_network"], h["address"], mac, h["gateway"])
        return hosts

    @staticmethod
    def upstream_routers(scenario):
        """A host at an external subnet's gateway address is the cloud's
        upstream router: it forwards (what the floating IPs of one node reach
        each other through, on a distributed router of 004's releases)."""
        gateways = {n.subnet.gateway for n in scenario.networks.values() if n.external}
        for host in scenario.hosts.values():
            host.routes = host.address.ip in gateways

    def unique_lab_names(self, scenario):
        """Nodes, instances and hosts are all namespaces the CLI names: one name each."""
        seen = {n: ("nodes", n) for n in scenario.nodes}
        for section, names in (("instances", scenario.instances), ("hosts", scenario.hosts)):
            for name in names:
                if name in seen:
                    where = seen[name]
                    self.report((section, name) if name in self.d[section] else where,
                                "%s is also the name of %s %s" % (name, where[0][:-1], name))
                seen.setdefault(name, (section, name))

    # Devices every node has whatever the scenario says.
    RESERVED_DEVICES = {"lo": "the loopback", "ovs-netdev": "Open vSwitch's userspace datapath",
                        "ovs-system": "Open vSwitch's kernel datapath"}

    def interface_names(self, scenario):
        """Within one node every device and OVS port name is one thing's: a NIC
        called br-int, or a tunnel port called eth1, would silently become
        something else than the scenario says."""
        for node in scenario.nodes.values():
            taken = dict(self.RESERVED_DEVICES)
            path = ("nodes", node.name)

            def claim(name, what, key):
                if name in taken:
                    self.report(key, "%s on %s is already %s" % (name, node.name, taken[name]))
                else:
                    taken[name] = what
            # the agent's own names first: what a scenario names is reported at its key
            for bridge in [naming.INTEGRATION_BRIDGE] + ([naming.TUNNEL_BRIDGE] if self.sdn == "neutron" else []):
                claim(bridge, "the agent's bridge %s" % bridge, path)
            if self.sdn == "neutron" and node.tunnel_ip is not None:
                for patch in (naming.PATCH_INT_TO_TUN, naming.PATCH_TUN_TO_INT):
                    claim(patch, "the agent's patch port %s" % patch, path)
            for physnet, bridge in node.bridge_mappings.items():
                if bridge in taken and taken[bridge] == "bridge %s" % bridge:
                    continue            # (a bridge mapped twice is reported where it is mapped)
                claim(bridge, "bridge %s" % bridge, path + ("bridge_mappings", physnet))
                if self.sdn == "neutron":
                    for patch in (naming.int_patch_name(bridge), naming.phy_patch_name(bridge)):
                        claim(patch, "the patch port %s of %s" % (patch, bridge), path + ("bridge_mappings", physnet))
            for nic in node.nics:
                claim(nic, "NIC %s" % nic, path + ("nics", nic))
            for peer, tunnel in node.tunnels.items():
                claim(tunnel.name, "the tunnel port to %s" % peer, path + ("netvirt", "tunnels", peer, "name")
                      if peer in (self.d["nodes"][node.name]["netvirt"].get("tunnels") or {}) else path)
            for port in scenario.ports(node.name):
                if not taken.get(port.name, "").startswith("port "):     # (ports among themselves: make_port)
                    claim(port.name, "port %s" % port.name, path)
            ofports = {}
            if node.provider_ofport is not None:
                ofports[node.provider_ofport] = "the provider NIC"
            for peer, tunnel in node.tunnels.items():
                if tunnel.ofport is not None:
                    key = path + ("netvirt", "tunnels", peer, "ofport")
                    if tunnel.ofport in ofports:
                        self.report(key, "ofport %d on %s's br-int is already %s" % (tunnel.ofport, node.name,
                                                                                   ofports[tunnel.ofport]))
                    ofports[tunnel.ofport] = "the tunnel port to %s" % peer
            for port in scenario.ports(node.name):
                if port.ofport is not None and port.ofport in ofports:
                    self.report(path, "ofport %d on %s's br-int is both %s and port %s"
                                % (port.ofport, node.name, ofports[port.ofport], port.name))

    def given(self, path):
        return tuple(path) in self.src.lines

    def allocate_ip(self, net, path, owner):
        if net.subnet.pool_start > net.subnet.pool_end:
            return net.subnet.pool_start        # the inverted pool is reported already
        ip = net.subnet.pool_start
        while ip <= net.subnet.pool_end:
            if (net.name, ip) not in self.used_ips and ip != net.subnet.gateway:
                self.used_ips[(net.name, ip)] = owner
                return ip
            ip += 1
        self.report(path, "no free address left in the pool of network %s" % net.name)
        return net.subnet.pool_start

    # -- DHCP, local VLANs, tunnels --------------------------------------
    def dhcp_ip(self, net):
        """The DHCP port's address: the scenario's, or the first free one."""
        given = self.d["networks"][net.name]["dhcp_port"]
        path = ("networks", net.name, "dhcp_port", "ip")
        if given.get("ip") is not None:
            self.reserve(net, given["ip"], "the DHCP port of %s" % net.name, path)
            return given["ip"]
        return self.allocate_ip(net, ("networks", net.name), "dhcp-%s" % net.name)

    def dhcp_ports(self, scenario):
        node = scenario.dhcp_node
        for net in scenario.networks.values():
            if not net.subnet.dhcp:
                continue
            path = ("networks", net.name)
            if node is None:
                self.report(path + ("subnet", "dhcp"), "DHCP needs a controller or network node to run on")
                continue
            ip = self.dhcp_ips[net.name]
            given = self.d["networks"][net.name]["dhcp_port"]
            gpath = path + ("dhcp_port",)
            if given.get("mac") is not None:
                self.claim_mac(given["mac"], gpath + ("mac",))
            device_id = "dhcp%s-%s" % (derived_id(self.seed, "host", node), net.id)
            port = self.make_port(gpath, "the DHCP port of %s" % net.name, node, net, ip,
                                  given.get("mac") or derived_mac("%s/dhcp/%s" % (self.seed, net.name), self.macs),
                                  given.get("port_id") or derived_id(self.seed, "dhcp-port", net.name), "tap",
                                  "network:dhcp", device_id, (), given.get("ofport"))
            if net.physical_network and net.physical_network not in scenario.nodes[node].bridge_mappings:
                self.report(path + ("physical_network",),
                            "DHCP for %s runs on %s, which does not reach physical network %s"
                            % (net.name, node, net.physical_network))
            scenario.dhcp_ports[net.name] = port

    def local_vlans(self, scenario):
        """Tag each network on each node that has it, as the agent does: pinned
        tags first, then the lowest free tag in the order networks are listed."""
        for node in scenario.nodes:
            def pins(net):          # (the HA network is neutron's, no scenario key pins it)
                return self.d["networks"].get(net.name, {}).get("local_vlans", {})
            wanted = [n for n in scenario.networks.values()
                      if node in pins(n) or any(p.network == n.name for p in scenario.ports(node))]
            taken = {pins(n)[node] for n in wanted if node in pins(n)}
            tag = 1
            for net in wanted:
                pinned = pins(net).get(node)
                if pinned is not None:
                    net.local_vlans[node] = pinned
                    continue
                while tag in taken:
                    tag += 1
                net.local_vlans[node] = tag
                taken.add(tag)

    def tunnel_paths(self, scenario):
        """A vxlan network needs every node it is on to have a tunnel IP, and
        every pair of them to share a physical network holding both IPs."""
        for net in scenario.networks.values():
            if net.type not in model.TUNNEL_TYPES:
                continue
            on = [scenario.nodes[n] for n in net.local_vlans]
            path = ("networks", net.name)
            for node in on:
                if node.tunnel_ip is None:
                    self.report(path, "%s network %s is on node %s, which has no tunnel path: it has no "
                                "address to tunnel from (give it a NIC address or tunnel_ip)"
                                % (net.type, net.name, node.name))
            for a_i, a in enumerate(on):
                for b in on[a_i + 1:]:
                    if a.tunnel_ip is None or b.tunnel_ip is None:
                        continue
                    if not _same_wire(a, b):
                        self.report(path, "%s network %s has no tunnel path between %s (%s) and %s (%s): "
                                    "no physical network joins both tunnel IPs in one subnet"
                                    % (net.type, net.name, a.name, a.tunnel_ip, b.name, b.tunnel_ip))

    # -- checks ----------------------------------------------------------
    def checks(self, scenario):
        from stacklab.checks import registry
        out = []
        for index, (kind, params) in enumerate(self.d["checks"]):
            path = ("checks", index, kind)
            checker = registry()[kind]
            checker.validate(scenario, params, lambda p, m, base=path: self.report(base + tuple(p), m))
            out.append(model.Check(kind, params, index, self.src.line(path)))
        return out


def _tunnel_nic(node):
    for nic in node.nics.values():
        if nic.address and nic.address.ip == node.tunnel_ip:
            return nic
    return None


def _same_wire(a, b):
    na, nb = _tunnel_nic(a), _tunnel_nic(b)
    return (na is not None and nb is not None and na.physical_network == nb.physical_network
            and nb.address.ip in na.address.network)

