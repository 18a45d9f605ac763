"""Live changes to a running lab (`stacklab apply`), made by the process that
holds it: only what the scenario diff names changes, each part by its owner
(instances by the Lab's instance steps, DHCP entries by their dnsmasq,
floating IPs by their router), and the control plane gets new plans, from which they
send only the flows that differ, as neutron's agent does after an RPC from
its server. Connections through the rest of the lab are not touched."""

import shutil
import signal

from stacklab import naming
from stacklab.errors import LabError
from stacklab.runtime.procs import Proc, from_pidfile, in_namespaces, terminate, wait_gone
from stacklab.scenario.metadata import served_by_dhcp
from stacklab.scenario.ovn import metadata_chassis as ovn_metadata_chassis
from topologies import metadata
from topologies.ovn_metadata import veth_names as ovn_veth_names
from topologies.shell import script


def apply_changes(lab, new, d):
    """Carry out diff `d` (stacklab.scenario.diff) that leads from the lab's
    scenario to `new`. Returns the lines saying what changed."""
    old = lab.scenario
    done = []
    for name in d.removed_instances:
        remove_instance(lab, name)
        done.append("instance %s removed (its namespace, tap and processes)" % name)
    lab.scenario = new
    if d.added_networks:
        with_dhcp = [n for n in d.added_networks if n in new.dhcp_ports]
        lab.start_dhcp(networks=with_dhcp)
        done += ["network %s added%s" % (n, " (qdhcp-%s, dnsmasq)" % new.networks[n].id if n in with_dhcp else "")
                 for n in d.added_networks]
    done += lab.plane.update_tunnels(old, new)
    added = [new.instances[n] for n in d.added_instances]
    if added:
        lab.create_instances(added)
    plans = lab.plane.update_plans()
    if d.groups or d.regrouped_instances:
        done += ["security group %s" % g for g in d.groups]
        done += ["instance %s: security groups %s" % (n, ", ".join(new.instances[n].port.security_groups))
                 for n in d.regrouped_instances]
    done += _update_dhcp_hosts(lab, old, new)
    if d.added_networks:
        serving = [lab.dhcp[naming.qdhcp_namespace(new.networks[n].id)] for n in d.added_networks
                   if n in new.dhcp_ports and served_by_dhcp(new, n)]
        if serving:
            done.append("metadata: %s" % lab.start_metadata(serving))
    if (added or d.removed_instances) and metadata.agent_nodes(new):
        lab.write_metadata()            # nova and the metadata agents learn of them, as from neutron's server
    for node, net in [p for p in ovn_metadata_chassis(old) if p not in ovn_metadata_chassis(new)]:
        remove_ovn_metadata(lab, node, old.networks[net])     # the network's last port left the chassis
        done.append("metadata: ovnmeta-%s removed from %s" % (old.networks[net].id, node))
    places = [p for p in ovn_metadata_chassis(new) if p not in ovn_metadata_chassis(old)]
    if places:                          # ML2/OVN: a network's first port on a chassis brings its ovnmeta-
        lab.start_ovn_metadata_namespaces(places)
        started = [lab.ovnmeta[naming.ovnmeta_host(node, new.networks[net].id)] for node, net in places]
        done.append("metadata: %s" % lab.start_metadata(started))
    lab.state.save()
    if added or plans:
        lab.wait_for_flows()
        done.append(lab.plane.plans_line(plans))
    if added:
        lab.start_ssh(added)
        lab.start_web_servers(added)
        lab.request_addresses(added)
        lab.fetch_instance_data(added)
        done += ["instance %s added on %s (%s, %s)" % (i.name, i.node, i.port.ip, i.port.name) for i in added]
    if d.added_floating_ips:
        done += _update_routers(lab, old, new)
    done += ["floating IP %s removed (its NAT row)" % a for a in d.removed_floating_ips]
    lab.state.save()
    return done


def undo_changes(lab, old, new, d):
    """Bring a lab whose change to `new` failed midway back to `old`: the
    instances and DHCP namespaces it added removed, the tunnels, plans, host
    entries and NAT rules of `old` again. Every part is tried, whatever the
    others do. Returns (what was undone, what could not be: [why])."""
    done, failed = [], []

    def attempt(what, step):
        try:
            result = step()
        except Exception as e:      # each part on its own: one failing leaves the others to do
            failed.append("%s: %s" % (what, e))
            return
        if result:
            done.append(result)

    for name in d.added_instances:
        if name in lab.instances:
            attempt("removing instance %s" % name, lambda n=name: remove_instance(lab, n) or
                    "instance %s removed again" % n)
    for net in d.added_networks:
        name = naming.qdhcp_namespace(new.networks[net].id)
        if name in lab.dhcp:
            attempt("removing %s" % name, lambda n=name: remove_namespace(lab, n, lab.dhcp.pop(n)) or
                    "%s removed again" % n)
    lab.scenario = old
    attempt("the tunnels", lambda: lab.plane.update_tunnels(new, old) and "the tunnels of before")
    attempt("the agents' plans", lambda: lab.plane.update_plans() and "the agents' plans of before")
    attempt("the DHCP host entries", lambda: _update_dhcp_hosts(lab, new, old) and "the DHCP entries of before")
    if d.added_floating_ips:
        attempt("the floating IPs", lambda: _unadd_floating_ips(lab, old, d.added_floating_ips))
    attempt("the flows", lambda: lab.wait_for_flows() and None)
    lab.state.save()
    return done, failed


def _unadd_floating_ips(lab, old, addresses):
    for host in lab.routers.values():
        router = old.routers.get(host.router.name)
        if router is not None and router.gateway is not None:
            script(host, host.nat_reload_script(old.floating_ips) + "\n" + "\n".join(
                "ip addr del %s/32 dev %s 2>/dev/null || true" % (a, router.gateway.interface)
                for a in addresses), "removing floating IPs from %s" % host.name)
    return "floating IPs %s removed again" % ", ".join(addresses)


def remove_namespace(lab, name, host):
    """End an agent namespace the lab made (a qdhcp-): its processes, its port, its record."""
    port = host.port
    _end_namespace(lab, name, host, port.node,
                   "ovs-vsctl --if-exists del-port %s %s\nip link del %s 2>/dev/null || true\n"
                   "umount /run/netns/%s 2>/dev/null; rm -f /run/netns/%s || true"
                   % (naming.INTEGRATION_BRIDGE, port.name, port.name, name, name))


def remove_ovn_metadata(lab, node, network):
    """End ovnmeta-<network id> on `node`, as the OVN metadata agent does when
    the network's last port leaves the chassis: haproxy, the veth, the namespace."""
    name = naming.ovnmeta_host(node, network.id)
    host = lab.ovnmeta.pop(name)
    outer, _ = ovn_veth_names(network.id)
    _end_namespace(lab, name, host, node, "ovs-vsctl --if-exists del-port %s %s\nip link del %s 2>/dev/null || true\n"
                   "umount /run/netns/{ns} 2>/dev/null; rm -f /run/netns/{ns} || true".format(ns=host.namespace)
                   % (naming.INTEGRATION_BRIDGE, outer, outer))


def remove_instance(lab, name):
    """End an instance: its processes, its tap on br-int, its namespace, its files."""
    host = lab.instances.pop(name)
    info = lab.state.instances.pop(name)
    lab.links = [link for link in lab.links if host not in (link.intf1.node, link.intf2.node)]
    _end_namespace(lab, name, host, info["node"], "ovs-vsctl --if-exists del-port %s %s\nip link del %s "
                   "2>/dev/null || true" % (naming.INTEGRATION_BRIDGE, info["tap"], info["tap"]))
    shutil.rmtree(host.workdir, ignore_errors=True)
    lab.state.save()


def _end_namespace(lab, name, host, node, unplug):
    """End namespace `name` (held by `host`) and everything in it, after
    `unplug` (shell text) ran on `node`; forget its record. Its daemons
    are no longer watched first: what ends now is not restarted."""
    ns = lab.state.namespaces.pop(name)
    lab.supervisor.forget(name)
    procs = [p for p in lab.state.processes if p.what.split(" ", 1)[0] == name]
    procs += in_namespaces({(ns["netns"], ns["mntns"])})
    script(lab.nodes[node], unplug, "unplugging %s from %s" % (name, node))
    holder = Proc(ns["pid"], ns["start"], "namespace holder")
    stubborn = terminate(procs + [holder], kill_now={ns["pid"]})
    if stubborn:
        raise LabError("%s: could not end %s" % (name, ", ".join(map(repr, stubborn))))
    wait_gone(procs)
    try:
        host.cleanup()
    except (OSError, ValueError):
        pass
    lab.state.forget_processes(name)
    lab.state.save()


def _update_dhcp_hosts(lab, old, new):
    """dnsmasq learns of ports that came or went as neutron's DHCP agent
    tells it: new host files, then SIGHUP (it reads them again)."""
    done = []
    for host in lab.dhcp.values():
        net = host.network.name
        before = sorted((p.mac, str(p.ip)) for p in host.ports_of(old))
        now = host.ports_of(new)
        if before == sorted((p.mac, str(p.ip)) for p in now) or net not in old.networks:
            continue
        host.write_files(new)
        dnsmasq = from_pidfile(host.pidfile(), lab.state.processes, host.pid)
        if dnsmasq is None:         # the pidfile names no dnsmasq of this lab: signal nobody
            raise LabError("dnsmasq of %s is not running (its pidfile %s names no process the lab started)"
                           % (net, host.pidfile()))
        dnsmasq.signal(signal.SIGHUP)
        done.append("dnsmasq of %s: host entries reloaded (%d port%s)" % (net, len(now), "" if len(now) == 1 else "s"))
    return done


def _update_routers(lab, old, new):
    """Each router that serves a new floating IP: the /32 on its qg- port and
    its NAT rules loaded again (iptables-restore: conntrack keeps the
    translations of open connections)."""
    done = []
    added = {str(f.address) for f in new.floating_ips} - {str(f.address) for f in old.floating_ips}
    for host in lab.routers.values():
        router = new.routers[host.router.name]
        fips = [f for f in new.floating_ips if str(f.address) in added and f.router == router.name]
        if not fips or router.gateway is None:
            continue
        lines = ["ip addr add %s/32 brd %s dev %s" % (f.address, f.address, router.gateway.interface)
                 for f in fips if f.fixed_ip is not None]
        lines.append(host.nat_reload_script(new.floating_ips))
        script(host, "\n".join(lines), "adding floating IPs to %s" % host.name)
        done += ["floating IP %s -> %s on %s" % (f.address, f.fixed_ip, host.name) for f in fips]
    done += ["floating IP %s -> %s (router %s, %s)" % (f.address, f.fixed_ip, f.router, lab.plane.NAME)
             for f in new.floating_ips if str(f.address) in added and f.router is not None
             and new.routers[f.router].node is None]
    return done
