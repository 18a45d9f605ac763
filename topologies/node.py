"""Emulated machines. A CloudNode is an OpenStack node (controller, network or
compute) with its own network and mount namespaces and its own Open vSwitch;
an InstanceHost is a VM's network stack; the FabricHost holds the switches of
the physical networks. Each class owns the processes it starts."""

import json
import os
import shlex
import sys

from mininet.node import Host

from controller import plan as agent_plan


OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"

# Directories a node keeps private (bind-mounted from the lab's directory), so
# that inside the node `ovs-vsctl show` sees only this node's switch, and the
# lab can find every pidfile from outside even after a crash.
PRIVATE_DIRS = (
    ("/etc/openvswitch", "etc"),
    ("/var/run/openvswitch", "run"),
    ("/var/log/openvswitch", "log"),
    ("/var/lib/neutron", "neutron"),
)


class LabHost(Host):
    """A Mininet host whose namespaces the lab records as soon as it exists.
    `script_dir` is where the lab writes the scripts it runs inside it."""

    def __init__(self, name, script_dir, **params):
        self.script_dir = script_dir
        super().__init__(name, **params)

    def namespace_ids(self):
        return (os.stat("/proc/%d/ns/net" % self.pid).st_ino, os.stat("/proc/%d/ns/mnt" % self.pid).st_ino)


class CloudNode(LabHost):
    """An OpenStack node with its own ovsdb-server and ovs-vswitchd."""

    def __init__(self, name, script_dir, workdir, role, **params):
        self.workdir = workdir
        self.role = role
        dirs = []
        for target, sub in PRIVATE_DIRS:
            path = os.path.join(workdir, sub)
            os.makedirs(path, exist_ok=True)
            dirs.append((target, path))
        super().__init__(name, script_dir, privateDirs=dirs, **params)

    def ovs_start_script(self):
        """Start this node's Open vSwitch, as ovs-ctl would but faster: the
        daemons detach only once ready, so the next command can use them."""
        return """
ip link set lo up
ovsdb-tool create /etc/openvswitch/conf.db {schema}
ovsdb-server /etc/openvswitch/conf.db --remote=punix:/var/run/openvswitch/db.sock \\
    --remote=db:Open_vSwitch,Open_vSwitch,manager_options \\
    --pidfile --detach --no-chdir --log-file -vconsole:off
ovs-vsctl --no-wait -- init -- set Open_vSwitch . external_ids:system-id={name} \\
    external_ids:hostname={name} ovs_version="$(ovs-vswitchd --version | sed -n '1s/.* //p')"
ovs-vswitchd --pidfile --detach --no-chdir --log-file -vconsole:off
""".format(schema=OVS_SCHEMA, name=self.name)

    def pidfiles(self):
        run = os.path.join(self.workdir, "run")
        return [os.path.join(run, f) for f in ("ovsdb-server.pid", "ovs-vswitchd.pid")]

    # -- the node's OVS agent (controller/agent.py) ----------------------------
    AGENT_LOG = "/var/lib/neutron/openvswitch-agent.log"
    AGENT_PIDFILE = "/var/lib/neutron/openvswitch-agent.pid"

    def _outside(self, inside):
        """Where a file of the node's /var/lib/neutron is seen from outside."""
        return os.path.join(self.workdir, "neutron", os.path.relpath(inside, "/var/lib/neutron"))

    def write_agent_plan(self, plan):
        plan.write(self._outside(agent_plan.PLAN_FILE))

    def agent_start_script(self):
        """Start the agent in the background; it listens on 127.0.0.1:6633
        inside the node, where the bridges' controller points."""
        return ("{py} -m controller.agent --log {log} </dev/null >>{log} 2>&1 &\n"
                "echo $! > {pid}").format(py=shlex.quote(sys.executable), log=self.AGENT_LOG, pid=self.AGENT_PIDFILE)

    def agent_pid(self):
        with open(self._outside(self.AGENT_PIDFILE)) as f:
            return int(f.read().split()[0])

    def agent_status(self):
        """The agent's last word on what the switch holds (None before any)."""
        try:
            with open(self._outside(agent_plan.STATUS_FILE)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def agent_log_tail(self, lines=5):
        try:
            with open(self._outside(self.AGENT_LOG)) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


class InstanceHost(LabHost):
    """An instance's network stack: its eth0 sits on a tap port of br-int.
    Like cirros it runs an SSH server (dropbear) for the user `cirros`; the
    user exists only inside the instance (its own /etc/passwd and /home,
    bind-mounted in the instance's private mount namespace)."""

    USER = "cirros"
    UID = 1000

    def __init__(self, name, script_dir, model, workdir, **params):
        self.model = model
        self.workdir = workdir
        super().__init__(name, script_dir, **params)

    def prepare_ssh(self, authorized_key):
        """The cirros user's files, written from outside before the server starts."""
        home = os.path.join(self.workdir, "home", self.USER)
        os.makedirs(os.path.join(home, ".ssh"), exist_ok=True)
        with open(os.path.join(home, ".ssh", "authorized_keys"), "w") as f:
            f.write(authorized_key.strip() + "\n")
        with open("/etc/passwd") as f:
            # the instance's own user table: cirros is uid 1000 there, whoever it is outside
            passwd = [line for line in f if line.split(":")[0] != self.USER
                      and line.split(":")[2:3] != [str(self.UID)]]
        passwd.append("%s:x:%d:%d:cirros:/home/%s:/bin/sh\n" % (self.USER, self.UID, self.UID, self.USER))
        with open(os.path.join(self.workdir, "passwd"), "w") as f:
            f.writelines(passwd)
        for path in (home, os.path.join(home, ".ssh"), os.path.join(home, ".ssh", "authorized_keys")):
            os.chown(path, self.UID, self.UID)
        os.chmod(os.path.join(home, ".ssh"), 0o700)
        os.chmod(os.path.join(home, ".ssh", "authorized_keys"), 0o600)

    def ssh_server_script(self):
        w = self.workdir
        return "\n".join([
            "mount --bind %s/passwd /etc/passwd" % w,
            "mount --bind %s/home /home" % w,
            "dropbearkey -t ed25519 -f %s/dropbear_ed25519_host_key >/dev/null 2>&1" % w,
            "dropbear -r %s/dropbear_ed25519_host_key -p 22 -P %s/dropbear.pid -s 2>>%s/dropbear.log" % (w, w, w),
        ])

    def ssh_pidfile(self):
        return os.path.join(self.workdir, "dropbear.pid")


class FabricHost(LabHost):
    """The physical networks between nodes: one Linux bridge per network,
    in a namespace of its own so the root namespace is never touched."""

    @staticmethod
    def switch_script(switch):
        return ("ip link add name {0} type bridge stp_state 0 forward_delay 0\n"
                "ip link set {0} up".format(switch))
