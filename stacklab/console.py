"""The lab's interactive CLI: Mininet's CLI, where the first word names a node
or instance (`compute1 ovs-ofctl dump-flows br-int`), plus lab commands."""

from stacklab import report
from stacklab.checks import run_checks
from stacklab.errors import StacklabError
from stacklab.naming import host_path, invocation
from stacklab.observe.walk import Walker, render
from topologies.mn import CLI, Host


class AttachedHost(Host):
    """A shell inside an existing node's namespaces (a lab built by another
    process): what `stacklab cli NAME` talks to."""

    def __init__(self, name, target_pid):
        self.target_pid = target_pid
        super().__init__(name, inNamespace=False)

    def _popen(self, cmd, **params):
        """Its shell in the host's network, mount, UTS and PID namespaces (its
        hostname), the host's own commands first on PATH."""
        if self.shell is None and cmd[:1] == ["mnexec"] and "env" in cmd:
            at = cmd.index("env")
            cmd = (cmd[:at] + ["nsenter", "-t", str(self.target_pid), "-p", "-n", "-m", "-u", "--", "env",
                               "PATH=" + host_path()] + cmd[at + 1:])
        return super()._popen(cmd, **params)


class LabCLI(CLI):
    """stacklab:LAB> with the lab's nodes and instances, and the lab's own
    commands. It is handed what it needs, as Mininet's CLI is handed the
    network: the running lab, `command(argv)` that runs a stacklab command
    (the command line's own main), and `exercise()`, the exercise that runs
    in this lab or None."""

    def __init__(self, nodes, lab_name, running, command, exercise=lambda: None, teardown_on_exit=True,
                 **kwargs):
        self.lab_name = lab_name
        self.running = running
        self.scenario = running.scenario
        self.command = command
        self.exercise = exercise
        self.teardown_on_exit = teardown_on_exit
        self.prompt = "stacklab:%s> " % lab_name
        print(self.examples() + "\nType help for the commands; exit (or Ctrl-D) leaves %s."
              % self._on_exit())
        super().__init__(_NodeMap(nodes), **kwargs)

    def _on_exit(self):
        return ("and tears lab %s down" % self.lab_name if self.teardown_on_exit else
                "and keeps lab %s running (%s removes it)" % (self.lab_name, invocation("down " + self.lab_name)))

    def do_exit(self, _line):
        """exit: leave the CLI (what happens to the lab, it says)."""
        print("leaving; %s" % ("lab %s is torn down now" % self.lab_name if self.teardown_on_exit else
                               "lab %s keeps running: %s removes it" % (self.lab_name, invocation("down " + self.lab_name))))
        return "exited by user command"

    def do_EOF(self, line):
        """Ctrl-D: as exit."""
        print()
        return self.do_exit(line)

    # -- what the lab holds, for examples with its own names --------------------
    def _names(self):
        sc = self._scenario() or self.scenario
        nodes = list(sc.nodes) if sc else []
        instances = list(sc.instances) if sc else []
        compute = next((n for n in nodes if sc.nodes[n].role == "compute"), nodes[0] if nodes else "compute1")
        return sc, compute, (instances[0] if instances else None), (instances[1] if len(instances) > 1 else None)

    def examples(self):
        sc, node, inst, other = self._names()
        tunnel = sc is not None and sc.sdn != "netvirt" and sc.nodes[node].tunnel_ip is not None
        lines = ["Type a node or instance name, then a command, as on the real machine:",
                 "  %-36s %s" % ("%s ovs-vsctl show" % node,
                                 "%s ovs-ofctl dump-flows %s" % (node, "br-tun" if tunnel else "br-int"))]
        if inst:
            lines.append("  %-36s %s" % ("%s ip addr" % inst, "%s ovs-appctl ofproto/list-tunnels" % node))
        return "\n".join(lines)

    def _scenario(self):
        """What the lab runs now (`stacklab apply` may have changed it since)."""
        try:
            self.scenario = self.running.reload_scenario()
        except Exception:       # a lab of an older stacklab: keep what we had
            self.running.scenario = self.scenario
        return self.scenario

    def _exercise(self):
        return self.exercise()

    def do_help(self, line):
        """help [COMMAND]: what you can type here."""
        if line.strip():
            return super().do_help(line)
        sc, node, inst, other = self._names()
        ex = self._exercise()
        rows = [
            ("NODE COMMAND", "run COMMAND in a node, instance, host or namespace (see nodes), e.g.",),
            ("", "%s ovs-vsctl show / %s ovs-ofctl dump-flows br-int" % (node, node)),
        ]
        if inst:
            rows.append(("", "%s ip addr / %s ping -c1 %s" % (inst, inst, sc.instances[other].port.ip if other
                                                                  else sc.instances[inst].port.ip)))
        rows += [
            ("nodes", "the nodes, instances, hosts and qdhcp-/qrouter- namespaces"),
            ("checks", "run the scenario's checks again (the report table)"),
            ("flows NODE BRIDGE", "a bridge's flows without counters; flows diff NODE BRIDGE REF: against a dump"),
            ("walk FROM TO [tcp|udp PORT]", "the tables a packet goes through, node by node%s"
             % (" (e.g. walk %s %s)" % (inst, other) if other else "")),
            ("ssh INSTANCE [CMD]", "log in to an instance as its user, with its key pair"),
            ("apply FILE", "change the running lab to an edited scenario file (stacklab apply)"),
            ("draw [FILE.svg]", "a picture of the lab (Graphviz)"),
        ]
        if ex is not None:
            rows += [("task", "exercise %s: the task again" % ex.name),
                     ("hint", "the next hint"),
                     ("check", "grade the exercise: which criteria hold"),
                     ("answer [QUESTION] VALUE", "answer the exercise's question")]
        rows.append(("exit", "leave, " + self._on_exit().replace("tears", "tear").replace("keeps", "keep")))
        print("stacklab lab %s%s" % (self.lab_name, " - exercise %s: %s" % (ex.name, ex.title) if ex else ""))
        for name, text in rows:
            print("  %-30s %s" % (name, text))

    def do_nodes(self, _line):
        """List the nodes, instances, hosts and agent namespaces."""
        state = self.running.state
        for name, node in sorted(self.mn.items()):
            kind = state.namespaces.get(name, {}).get("kind") if state else None
            role = (state.nodes.get(name, {}).get("role") if state else None) or getattr(node, "role", None)
            print("%-46s %s" % (name, role or kind or "instance"))

    def do_checks(self, _line):
        """Run the scenario's checks again."""
        ex = self._exercise()
        if ex is not None:
            print("this lab is exercise %s's: `check` grades it (the scenario's own checks would give the "
                  "answer away)" % ex.name)
            return
        print(report.table(run_checks(self.running, self._scenario()), self.lab_name))

    def _stacklab(self, argv):
        """A stacklab command, its errors printed as the command line prints them."""
        try:
            self.command(argv)
        except SystemExit:      # argparse's usage errors
            pass

    def do_flows(self, line):
        """flows NODE BRIDGE | flows diff NODE BRIDGE REF"""
        words = line.split()
        if words[:1] == ["diff"] and len(words) == 4:
            self._stacklab(["flows", "diff", words[1], words[2], "--against", words[3], "--lab", self.lab_name])
        elif len(words) == 2:
            self._stacklab(["flows", "show", words[0], words[1], "--lab", self.lab_name])
        else:
            print("usage: flows NODE BRIDGE   or   flows diff NODE BRIDGE REF")

    def do_ssh(self, line):
        """ssh INSTANCE [CMD]: log in as the instance's user (exit to come back)."""
        import subprocess
        import sys
        words = line.split()
        if not words:
            print("usage: ssh INSTANCE [CMD]")
            return
        subprocess.call([sys.executable, "-m", "stacklab.cli", "ssh", "--lab", self.lab_name] + words)

    def do_apply(self, line):
        """apply FILE: change the running lab to what FILE says (only what differs)."""
        if not line.strip():
            print("usage: apply FILE")
            return
        self._stacklab(["apply", line.strip(), "--lab", self.lab_name])

    def do_draw(self, line):
        """draw [FILE.svg|.png]: a picture of the lab."""
        self._stacklab(["draw", self.lab_name] + (["-o", line.strip()] if line.strip() else []))

    def _exercise_command(self, argv):
        ex = self._exercise()
        if ex is None:
            print("no exercise runs in this lab (stacklab exercise list)")
            return
        self._stacklab(["exercise", argv[0], ex.name] + argv[1:])

    def do_task(self, _line):
        """task: the exercise's task again."""
        self._exercise_command(["task"])

    def do_hint(self, _line):
        """hint: the exercise's next hint."""
        self._exercise_command(["hint"])

    def do_check(self, _line):
        """check: grade the exercise."""
        self._exercise_command(["check"])

    def do_answer(self, line):
        """answer [QUESTION] VALUE: answer the exercise's question."""
        self._exercise_command(["answer"] + line.split())

    def do_walk(self, line):
        """walk FROM TO [tcp|udp PORT] [brief]: the tables a packet goes through, node by node."""
        words = line.split()
        brief = "brief" in words
        words = [w for w in words if w != "brief"]
        if len(words) not in (2, 4) \
                or (len(words) == 4 and (words[2] not in ("tcp", "udp") or not words[3].isdigit())):
            print("usage: walk FROM TO [tcp|udp PORT] [brief]   e.g. walk A E")
            return
        proto, port = (words[2], int(words[3])) if len(words) == 4 else ("icmp", None)
        try:
            self._scenario()
            print(render(Walker(self.running).walk(words[0], words[1], proto, port), tables=not brief))
        except StacklabError as e:
            print(e)

    def _unsupported(self, _line):
        print("not available in stacklab: use `checks`, or run ping/ovs-* inside a node (help lists what works)")

    do_pingall = do_pingpair = do_pingallfull = do_pingpairfull = _unsupported
    do_iperf = do_iperfudp = do_link = do_switch = do_dpctl = _unsupported
    do_ports = do_dump = do_links = do_net = do_xterm = do_x = do_gterm = _unsupported
    do_intfs = do_sh = do_py = do_px = do_time = do_wait = do_noecho = do_dpctl = _unsupported

    def get_names(self):
        """Only stacklab's commands in `help COMMAND` and completion, not Mininet's stock ones."""
        hidden = {"do_" + n for n in ("pingall", "pingpair", "pingallfull", "pingpairfull", "iperf", "iperfudp",
                                       "link", "switch", "dpctl", "ports", "dump", "links", "net", "xterm", "x",
                                       "gterm", "intfs", "sh", "py", "px", "time", "wait", "noecho", "source",
                                       "EOF", "quit")}
        return [n for n in super().get_names() if n not in hidden]


class _NodeMap(dict):
    """What Mininet's CLI expects of a network: name -> node, plus lists."""

    def __init__(self, nodes):
        super().__init__(nodes)
        self.hosts = list(nodes.values())
        self.switches, self.links, self.controllers, self.terms = [], [], [], []
