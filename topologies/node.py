"""Emulated machines. A CloudNode is an OpenStack node (controller, network or
compute) with its own network and mount namespaces and its own Open vSwitch;
an InstanceHost is a VM's network stack; an ExternalHost a machine outside
the cloud; the FabricHost holds the switches of the physical networks. Each
class owns the processes it starts. Every host has its own /run, /var/lib, /tmp and
/etc (an overlay on the machine's), so nothing it does lands on the machine."""

import json
import os
import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait

from topologies.mn import Host

from controller.appkit import file_stamp
from controller.neutron.plan import PLAN_FILE as AGENT_PLAN_FILE
from controller.neutron.plan import REQUEST_FILE as AGENT_REQUEST_FILE
from controller.neutron.plan import STATUS_FILE as AGENT_STATUS_FILE
from stacklab.errors import LabError
from stacklab.naming import LAB_BIN, host_path
from stacklab.runtime.procs import HOST_PROC
from stacklab.runtime.procs import direct_children as children_of
from stacklab.runtime.state import RUN_ROOT


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
# Where `ip netns` looks: inside every lab host, on the host's own /run.
NETNS_DIR = "/run/netns"
OWN_PIDS = "own"


def systemctl_script():
    """A node's `systemctl`: stacklab/nodectl.py, run by this Python."""
    return "#!/bin/sh\nexec %s -m stacklab.nodectl \"$@\"\n" % shlex.quote(sys.executable)


def reboot_script():
    """An instance's `reboot`: asks the lab to boot it again (stacklab/nodectl.py)."""
    return "#!/bin/sh\nexec %s -m stacklab.nodectl --reboot \"$@\"\n" % shlex.quote(sys.executable)


def tmpfs(target):
    return ("tmpfs", target, None)


def bind(target, source):
    return ("bind", target, source)


def etc_overlay(workdir):
    """/etc as an overlay: the host's /etc shows through, what the host
    writes stays in the lab (workdir/etc-upper)."""
    return ("overlay", "/etc", workdir)


def kept_paths():
    """What must stay visible in every host over its private tmpfs mounts:
    the labs' run directory, and this stacklab's own code and Python (a
    checkout or venv under /tmp or /var/lib would otherwise vanish inside)."""
    code = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return (RUN_ROOT, code, sys.prefix)


def mount_script(mounts, keep=None):
    """Shell text that makes `mounts` inside a host's own mount namespace.
    Mount points are made only inside a tmpfs or the /etc overlay, never on
    the machine's own filesystem. What `keep` names (default: kept_paths())
    stays visible where a tmpfs covers it: the covered tree is parked on
    /mnt while the tmpfs is mounted, and the kept paths bound back from it."""
    keep = [keep] if isinstance(keep, str) else list(keep or kept_paths())
    lines, bound = [], []
    for kind, target, source in mounts:
        if kind == "tmpfs":
            covered = [k for k in keep if os.path.commonpath([k, target]) == target]
            covered = sorted(k for k in covered if not any(o != k and os.path.commonpath([o, k]) == o
                                                           for o in covered))
            if covered:
                lines.append("mount -n --rbind %s /mnt" % target)
            lines.append("mount -n -t tmpfs -o mode=755 tmpfs %s" % target)
            for k in covered:
                lines.append("mkdir -p %s && mount -n --rbind %s %s"
                             % (k, os.path.join("/mnt", os.path.relpath(k, target)), k))
            if covered:
                lines.append("umount -n -l /mnt")
        elif kind == "overlay":
            upper, work = etc_upper(source), os.path.join(source, "etc-work")
            os.makedirs(upper, exist_ok=True)
            os.makedirs(work, exist_ok=True)
            lines.append("mount -n -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s"
                         % (target, upper, work, target))
        else:
            os.makedirs(source, exist_ok=True)
            bound.append((source, target))
    if bound:   # one mkdir for every mount point: the binds come after the tmpfs they land on
        lines.append("mkdir -p " + " ".join(target for _, target in bound))
        lines += ["mount -n --bind %s %s" % pair for pair in bound]
    return " && ".join(lines)


def etc_upper(workdir):
    return os.path.join(workdir, "etc-upper")


def write_etc(workdir, path, text, mode=0o644):
    """Put a file into a host's own /etc (its overlay's upper layer) before
    the host starts: e.g. /etc/ssh/ssh_config.d/stacklab.conf."""
    outside = os.path.join(etc_upper(workdir), os.path.relpath(path, "/etc"))
    os.makedirs(os.path.dirname(outside), exist_ok=True)
    with open(outside, "w") as f:
        f.write(text)
    os.chmod(outside, mode)


def ssh_client_setup(workdir, keys):
    """What a lab host's ssh client uses: the scenario's private keys
    (`keys`: {name: path}) as identities, host keys not pinned (a load
    balancer's members each have their own), so `ssh cirros@IP` works as in
    the documents."""
    conf = ["Host *", "    StrictHostKeyChecking no", "    UserKnownHostsFile /dev/null", "    LogLevel ERROR"]
    for name, path in sorted(keys.items()):
        with open(path) as f:
            write_etc(workdir, "/etc/ssh/stacklab/%s" % name, f.read(), 0o600)
        conf.append("    IdentityFile /etc/ssh/stacklab/%s" % name)
    write_etc(workdir, "/etc/ssh/ssh_config.d/stacklab.conf", "\n".join(conf) + "\n")


def read_json(path):
    """A daemon's status file, or None before it has written one."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def log_lines(path):
    """A log's lines ([] if there is none yet)."""
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return []


def tail(path, lines=5):
    """The last lines of a log ('' if there is none yet)."""
    try:
        with open(path) as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class LabHost(Host):
    """A Mininet host whose namespaces the lab records as soon as it exists.
    `script_dir` is where the lab writes the scripts it runs inside it;
    `mounts` its private file systems (made before anything runs in it, and
    gone with its mount namespace)."""

    # Mininet checks with `which` that mnexec and ifconfig exist, once per
    # host class; scripts/setup.sh already made sure of both.
    isSetup = True

    def __init__(self, name, script_dir, mounts=(), hostname=None, commands=None, pid_ns=None, **params):
        """`hostname`: what `hostname` says inside (default: its name; each
        host has a UTS namespace of its own); `commands`: {name: text} of its
        own commands (LAB_BIN, on its /run); `pid_ns`: OWN_PIDS for a PID
        namespace of its own (a machine: its `ps` lists its processes only),
        another host's shell pid to share that host's (a node's qdhcp- and
        qrouter- namespaces: on a real node `ip netns exec` changes the
        network, not the processes seen), None for the machine's."""
        self.script_dir = script_dir
        self.mounts = list(mounts)
        self.hostname = hostname or name
        self.commands = dict(commands or {})
        self.pid_ns = pid_ns
        if pid_ns is not None and not any(kind == "tmpfs" and target == "/run" for kind, target, _ in self.mounts):
            raise ValueError("a host with its own /proc needs its own /run (for %s)" % HOST_PROC)
        super().__init__(name, **params)

    def _popen(self, cmd, **params):
        """The host's shell in a UTS namespace of its own and in its PID
        namespace. `unshare --pid --fork` (or nsenter, to join another host's)
        stays the parent Mininet knows; the shell, pid 1 of a namespace of its
        own, is what the lab records (startShell)."""
        if self.shell is None and cmd[:1] == ["mnexec"] and "bash" in cmd:
            if self.pid_ns == OWN_PIDS:
                # --kill-child: the namespace, and all in it, ends when Mininet ends the parent
                prefix = ["unshare", "--uts", "--pid", "--fork", "--kill-child"]
            elif self.pid_ns is not None:
                prefix = ["nsenter", "--pid=/proc/%d/ns/pid" % self.pid_ns, "--", "unshare", "--uts"]
            else:
                prefix = ["unshare", "--uts"]
            cmd = cmd[:2] + prefix + cmd[2:]
        return super()._popen(cmd, **params)

    def startShell(self, mnopts=None):
        super().startShell(mnopts)
        if self.pid_ns is not None:
            self.pid = self._forked_shell()

    def _forked_shell(self):
        """The shell's pid: the one child of the parent that made its PID namespace."""
        deadline = time.monotonic() + 5.0
        while True:
            kids = children_of(self.shell.pid)
            if len(kids) == 1:
                return kids[0]
            if time.monotonic() > deadline:
                self.terminate()
                raise LabError("%s: its shell did not start in its PID namespace" % self.name)
            time.sleep(0.005)

    def proc_path(self, pid):
        """/proc/PID as scripts inside this host reach a process of the lab
        (another host's shell): its own /proc shows only its PID namespace."""
        return "%s/%d" % (HOST_PROC if self.pid_ns is not None else "/proc", pid)

    def netns_path(self, pid):
        """The network namespace of lab process `pid`, as `ip ... netns` or
        nsenter inside this host take it."""
        return self.proc_path(pid) + "/ns/net"

    def mountPrivateDirs(self):
        lines = [mount_script(self.mounts)] if self.mounts else []
        if self.pid_ns is not None:
            # the machine's /proc kept for the lab's own scripts, then the namespace's own
            lines.append("mkdir -p {h} && mount -n --rbind /proc {h} && mount -n -t proc proc /proc"
                         .format(h=HOST_PROC))
        lines.append("hostname %s" % shlex.quote(self.hostname))
        if any(kind == "overlay" and target == "/etc" for kind, target, _ in self.mounts):
            # as Debian's installer writes it: without it, resolving the host's own
            # name (Python's HTTPServer does) waits on DNS timeouts
            lines.append("printf '127.0.1.1\\t%%s\\n' %s >> /etc/hosts" % shlex.quote(self.hostname))
        if self.commands and any(kind == "tmpfs" and target == "/run" for kind, target, _ in self.mounts):
            lines.append("mkdir -p %s" % LAB_BIN)
            for name, text in sorted(self.commands.items()):
                path = os.path.join(LAB_BIN, name)
                lines.append("printf %%s %s > %s && chmod 755 %s" % (shlex.quote(text), path, path))
            lines.append("export PATH=%s" % shlex.quote(host_path()))
        out = self.cmd(" && ".join(lines) + " && echo __mounted")
        if "__mounted" not in out:
            self.terminate()        # nobody will know this host: its shell must not outlive the error
            raise LabError("%s: could not make its private mounts: %s" % (self.name, out.strip()))

    def unmountPrivateDirs(self):
        """Nothing to undo: the mounts live in the host's own mount namespace."""

    def namespace_ids(self):
        return (os.stat("/proc/%d/ns/net" % self.pid).st_ino, os.stat("/proc/%d/ns/mnt" % self.pid).st_ino)


# hosts started at once by start_hosts(); more only queue for the same two CPUs
HOSTS_AT_ONCE = 8


def start_hosts(jobs):
    """Start several hosts at once. `jobs`: [(make, made)]; make() returns a
    new host and runs in a thread of its own, made(host) records it and runs
    here, in the jobs' order. Starting a host is mostly waiting for its
    processes (mnexec, bash, the mounts), half a second each in a VM under
    software emulation, so they overlap instead of queueing. An interrupted
    build (Ctrl-C, SIGTERM) still waits for the hosts under way and records
    them, so its cleanup removes them all; the first error is raised once
    every host is recorded."""
    if not jobs:
        return
    pool = ThreadPoolExecutor(max_workers=min(HOSTS_AT_ONCE, len(jobs)))
    futures = [pool.submit(make) for make, _ in jobs]
    try:
        wait(futures)
    finally:
        pool.shutdown(wait=True)
        for (_, made), future in zip(jobs, futures):
            if future.exception() is None:
                made(future.result())
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]


class CloudNode(LabHost):
    """An OpenStack node with its own ovsdb-server and ovs-vswitchd."""

    def __init__(self, name, script_dir, workdir, role, binds=(), **params):
        """`binds`: more private directories, [(inside, outside)] (e.g. /etc/octavia)."""
        self.workdir = workdir
        self.role = role
        mounts = [tmpfs("/run"), tmpfs("/var/lib"), tmpfs("/tmp"), etc_overlay(workdir)]
        mounts += [bind(target, os.path.join(workdir, sub)) for target, sub in PRIVATE_DIRS]
        mounts += [bind(target, source) for target, source in binds]
        super().__init__(name, script_dir, mounts=mounts, commands={"systemctl": systemctl_script()},
                         pid_ns=OWN_PIDS, **params)

    def expose_namespace_script(self, name, pid):
        """Make lab namespace `name` (held by `pid`) one of this node's
        `ip netns`, as the agents' qdhcp-/qrouter- namespaces are on a real node."""
        path = os.path.join(NETNS_DIR, name)
        return "mkdir -p {d} && touch {p} && mount --bind {ns} {p}".format(d=NETNS_DIR, p=path,
                                                                          ns=self.netns_path(pid))

    # The daemons' own command lines (the build's and the supervisor's, when one died).
    OVSDB_SERVER = ("ovsdb-server /etc/openvswitch/conf.db --remote=punix:/var/run/openvswitch/db.sock "
                    "--remote=db:Open_vSwitch,Open_vSwitch,manager_options "
                    "--pidfile --detach --no-chdir --log-file -vconsole:off")
    OVS_VSWITCHD = "ovs-vswitchd --pidfile --detach --no-chdir --log-file -vconsole:off"
    OVS_DAEMONS = (("ovsdb-server", OVSDB_SERVER), ("ovs-vswitchd", OVS_VSWITCHD))

    def ovs_start_script(self):
        """Start this node's Open vSwitch, as ovs-ctl would but faster: the
        daemons detach only once ready, so the next command can use them."""
        return """
ip link set lo up
ovsdb-tool create /etc/openvswitch/conf.db {schema}
{ovsdb_server}
ovs-vsctl --no-wait -- init -- set Open_vSwitch . external_ids:system-id={name} \\
    external_ids:hostname={name} ovs_version="$(ovs-vswitchd --version | sed -n '1s/.* //p')"
{ovs_vswitchd}
""".format(schema=OVS_SCHEMA, name=self.name, ovsdb_server=self.OVSDB_SERVER, ovs_vswitchd=self.OVS_VSWITCHD)

    def controller_log(self, bridge, lines=4):
        """What this node's ovs-vswitchd last logged about `bridge`'s
        connection to its controller (connecting, refused, connected...)."""
        said = log_lines(os.path.join(self.workdir, "log", "ovs-vswitchd.log"))
        return [line for line in said if "|%s<->" % bridge in line][-lines:]

    def pidfile(self, daemon):
        """ovsdb-server's or ovs-vswitchd's pidfile, seen from outside."""
        return os.path.join(self.workdir, "run", daemon + ".pid")

    # -- the node's OVS agent (controller/neutron/agent.py, run for all nodes by topologies/controlplanes/neutron.py) --
    def _outside(self, inside):
        """Where a file of the node's /var/lib/neutron is seen from outside."""
        return os.path.join(self.workdir, "neutron", os.path.relpath(inside, "/var/lib/neutron"))

    def write_agent_plan(self, plan):
        """Write the plan the node's agent follows; True if it changed (an
        unchanged plan is not rewritten: the agent would look at it again)."""
        path = self._outside(AGENT_PLAN_FILE)
        text = plan.to_json()
        try:
            with open(path) as f:
                if f.read() == text:
                    return False
        except OSError:
            pass
        plan.write(path)
        return True

    def agent_plan_stamp(self):
        """The plan file as the agent tells it apart ([mtime ns, size, inode],
        what its status says its flows were computed from); None if none."""
        stamp = file_stamp(self._outside(AGENT_PLAN_FILE))
        return list(stamp) if stamp else None

    def agent_spec(self):
        """What the agents' process needs to be this node's agent: where its
        bridges look for it (the node's network namespace), its plan and status
        files, the file the node's requests (systemctl) come in, its OVSDB socket."""
        return {"node": self.name, "netns": "/proc/%d/ns/net" % self.pid,
                "plan": self._outside(AGENT_PLAN_FILE), "status": self._outside(AGENT_STATUS_FILE),
                "requests": self._outside(AGENT_REQUEST_FILE), "ovsdb": os.path.join(self.workdir, "run", "db.sock")}

    def write_agent_request(self, request):
        """Ask the node's agent something (controller/neutron/plan.py REQUEST_ACTIONS)."""
        path = self._outside(AGENT_REQUEST_FILE)
        with open(path + ".tmp", "w") as f:
            json.dump(request, f)
        os.replace(path + ".tmp", path)

    def agent_status(self):
        """The agent's last word on what the switch holds (None before any)."""
        return read_json(self._outside(AGENT_STATUS_FILE))


class InstanceHost(LabHost):
    """An instance's network stack: its interfaces sit on tap ports of br-int.
    Like cirros it runs an SSH server (dropbear) for its user (`cirros`); the
    user exists only inside the instance (its own /etc/passwd and /home,
    bind-mounted in the instance's private mount namespace)."""

    UID = 1000
    DHCP_STYLES = {"cirros-0.6": "dhcpcd", "cirros-0.5": "cirros"}

    @property
    def DHCP_STYLE(self):
        """How its image's DHCP client sets an address up (the udhcpc event script's STYLE)."""
        return self.DHCP_STYLES[self.model.image]

    def __init__(self, name, script_dir, model, workdir, mounts=(), commands=None, **params):
        self.model = model
        self.workdir = workdir
        self.user = model.user
        mounts = [tmpfs("/run"), tmpfs("/var/lib"), tmpfs("/tmp"), etc_overlay(workdir)] + list(mounts)
        # cirros has udhcpc as a busybox applet (0.6's own client is dhcpcd): here it configures the
        # interface as the image's client would
        udhcpc = ('#!/bin/sh\n[ -x /run/udhcpc-event.sh ] && set -- -s /run/udhcpc-event.sh "$@"\n'
                  'STYLE=%s exec busybox udhcpc "$@"\n' % self.DHCP_STYLE)
        commands = dict({"udhcpc": udhcpc, "reboot": reboot_script()}, **(commands or {}))
        super().__init__(name, script_dir, mounts=mounts, commands=commands, pid_ns=OWN_PIDS, **params)

    def prepare_ssh(self, authorized_key):
        """The user's files, written from outside before the server starts."""
        home = os.path.join(self.workdir, "home", self.user)
        os.makedirs(os.path.join(home, ".ssh"), exist_ok=True)
        with open(os.path.join(home, ".ssh", "authorized_keys"), "w") as f:
            f.write(authorized_key.strip() + "\n" if authorized_key.strip() else "")
        with open("/etc/passwd") as f:
            # the instance's own user table: its user is uid 1000 there, whoever it is outside
            passwd = [line for line in f if line.split(":")[0] != self.user
                      and line.split(":")[2:3] != [str(self.UID)]]
        passwd.append("%s:x:%d:%d:%s:/home/%s:/bin/sh\n" % (self.user, self.UID, self.UID, self.user, self.user))
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
            # the host key is made at the first login (-R), in the instance's own /etc:
            # 200 instances do not pay 200 key generations while they boot
            "mkdir -p /etc/dropbear",
            "dropbear -R -p 22 -P %s/dropbear.pid -s 2>>%s/dropbear.log" % (w, w),
        ])

    def ssh_pidfile(self):
        return os.path.join(self.workdir, "dropbear.pid")

    def deconfigure_script(self):
        """What goes as an instance reboots: the addresses and routes its DHCP
        client or its boot gave it (its processes stay: a namespace has no
        kernel to restart)."""
        return "\n".join("ip -4 addr flush dev %s\nip -4 route flush dev %s" % (p.interface, p.interface)
                         for p in self.model.ports if p.netns is None)

    BOOT_DATA_OK = "instance data: key pair from 169.254.169.254"

    def boot_data_script(self, deadline):
        """What cirros's EC2 data source does once the instance has its
        address: read its instance-id, then its public key, from the metadata
        service, trying again until `deadline` seconds have passed; the key
        goes to the user's authorized_keys (the file prepare_ssh made). With
        no answer, the instance boots on without its key, as cirros does."""
        return """url=http://169.254.169.254/2009-04-04/meta-data
end=$(( $(date +%s) + {deadline} ))
tries=0
while :; do
  tries=$((tries + 1))
  if iid=$(curl -sf --max-time 3 $url/instance-id) && key=$(curl -sf --max-time 3 $url/public-keys/0/openssh-key)
  then
    printf '%s\n' "$key" > /home/{user}/.ssh/authorized_keys
    echo "{ok} ($iid)"
    exit 0
  fi
  if [ $(date +%s) -ge $end ]; then
    echo "no instance data: $tries requests to $url failed; booted without its key"
    exit 0
  fi
  sleep 1
done""".format(deadline=int(deadline), user=self.user, ok=self.BOOT_DATA_OK)

    def web_server_script(self):
        """busybox httpd on each of the instance's `listen` ports, serving a
        page that names the instance (what a probe or curl can tell apart)."""
        www = os.path.join(self.workdir, "www")
        os.makedirs(www, exist_ok=True)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("%s\n" % self.name)
        return "\n".join("busybox httpd -f -p %d -h %s </dev/null >/dev/null 2>&1 & echo $! > %s"
                         % (port, www, self.web_pidfile(port)) for port in self.model.listen)

    def web_pidfile(self, port):
        return os.path.join(self.workdir, "httpd-%d.pid" % port)


class ExternalHost(LabHost):
    """A machine outside the cloud (the documents' workstation): eth0 on a
    physical network's switch, no Open vSwitch."""

    def __init__(self, name, script_dir, model, workdir, **params):
        self.model = model
        self.workdir = workdir
        super().__init__(name, script_dir,
                         mounts=[tmpfs("/run"), tmpfs("/var/lib"), tmpfs("/tmp"), etc_overlay(workdir)],
                         pid_ns=OWN_PIDS, **params)

    def network_script(self):
        m = self.model
        lines = ["ip link set lo up", "ethtool -K eth0 tx off >/dev/null", "ip link set eth0 up",
                 "ip addr add %s dev eth0" % m.address.with_prefixlen]
        if m.routes:        # the upstream router: it forwards, also back out of the port it came in by
            lines.append("sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 "
                         "net.ipv4.conf.eth0.send_redirects=0")
        if m.gateway:
            lines.append("ip route add default via %s dev eth0" % m.gateway)
        return "\n".join(lines)


class FabricHost(LabHost):
    """The physical networks between nodes: one Linux bridge per network,
    in a namespace of its own so the root namespace is never touched."""

    @staticmethod
    def switch_script(switch):
        return ("ip link add name {0} type bridge stp_state 0 forward_delay 0\n"
                "ip link set {0} up".format(switch))
