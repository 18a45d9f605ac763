"""neutron-keepalived-state-change, as the L3 agent runs it in an HA
router's qrouter- namespace: it follows `ip -o monitor address` for the
primary VIP (169.254.0.<VRID>/24) on the ha- port, which keepalived puts on
the master only, and writes the router's state, `primary` or `backup`, to
<conf_dir>/state, logging each change. The L3 agent (and here `stacklab
status` and the router_state check) read it there.

Run (in the namespace, detached): python -m topologies.keepalived_state
--router_id=ID --namespace=qrouter-ID --conf_dir=DIR --log-file=FILE
--monitor_interface=ha-... --monitor_cidr=169.254.0.1/24 --pid_file=FILE
--state_path=/var/lib/neutron"""

import argparse
import datetime
import os
import subprocess
import sys


def parse(argv):
    p = argparse.ArgumentParser(prog="neutron-keepalived-state-change")
    for name in ("router_id", "namespace", "conf_dir", "log-file", "monitor_interface", "monitor_cidr", "pid_file",
                 "state_path"):
        p.add_argument("--" + name, required=name not in ("state_path", "log-file"))
    return p.parse_args(argv)


class Monitor:
    def __init__(self, args):
        self.args = args
        self.state = None

    def log(self, text):
        if self.args.log_file:
            stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            with open(self.args.log_file, "a") as f:
                f.write("%s %d INFO neutron.agent.l3.keepalived_state_change [-] %s\n" % (stamp, os.getpid(), text))

    def write(self, state):
        if state == self.state:
            return
        self.state = state
        path = os.path.join(self.args.conf_dir, "state")
        with open(path + ".tmp", "w") as f:
            f.write(state)
        os.replace(path + ".tmp", path)
        self.log("Wrote router %s state %s" % (self.args.router_id, state))

    def has_vip(self):
        out = subprocess.run(["ip", "-o", "addr", "show", "dev", self.args.monitor_interface],
                             capture_output=True, text=True).stdout
        return (" %s " % self.args.monitor_cidr) in out

    def event(self, line):
        """One line of `ip -o monitor address`: the VIP added or deleted on the ha- port."""
        words = line.split()
        if self.args.monitor_cidr not in words or self.args.monitor_interface not in words:
            return
        self.write("backup" if words[0] == "Deleted" else "primary")

    def run(self):
        monitor = subprocess.Popen(["ip", "-o", "monitor", "address"], stdout=subprocess.PIPE, text=True, bufsize=1)
        self.log("Initial status of router %s is %s" % (self.args.router_id,
                                                        "primary" if self.has_vip() else "backup"))
        self.write("primary" if self.has_vip() else "backup")
        for line in monitor.stdout:
            self.event(line)


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    os.makedirs(args.conf_dir, exist_ok=True)
    with open(args.pid_file, "w") as f:
        f.write("%d\n" % os.getpid())
    Monitor(args).run()


if __name__ == "__main__":
    main()
