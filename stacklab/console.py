"""The lab's interactive CLI: Mininet's CLI, where the first word names a node
or instance (`compute1 ovs-ofctl dump-flows br-int`), plus lab commands."""

from mininet.cli import CLI
from mininet.node import Host

from stacklab import report


class AttachedHost(Host):
    """A shell inside an existing node's namespaces (a lab built by another
    process): what `stacklab cli NAME` talks to."""

    def __init__(self, name, target_pid):
        self.target_pid = target_pid
        super().__init__(name, inNamespace=False)

    def startShell(self, mnopts=None):
        super().startShell(mnopts="-cda%d" % self.target_pid)


class LabCLI(CLI):
    """mininet> with the lab's nodes and instances."""

    intro_lines = (
        "Type a node or instance name, then a command, as on the real machine:",
        "  compute1 ovs-vsctl show            compute1 ovs-ofctl dump-flows br-tun",
        "  instance02 ip addr                 controller ovs-appctl ofproto/list-tunnels",
        "Lab commands: nodes, checks, walk FROM TO, help; exit (or Ctrl-D) leaves%s.",
    )

    def __init__(self, nodes, lab_name, scenario=None, running=None, teardown_on_exit=True, **kwargs):
        self.lab_name = lab_name
        self.scenario = scenario
        self.running = running
        self.prompt = "stacklab:%s> " % lab_name
        print("\n".join(self.intro_lines) % (" and tears the lab down" if teardown_on_exit else ""))
        super().__init__(_NodeMap(nodes), **kwargs)

    def do_nodes(self, _line):
        """List the nodes, instances, hosts and agent namespaces."""
        state = self.running.state if self.running else None
        for name, node in sorted(self.mn.items()):
            kind = state.namespaces.get(name, {}).get("kind") if state else None
            role = (state.nodes.get(name, {}).get("role") if state else None) or getattr(node, "role", None)
            print("%-46s %s" % (name, role or kind or "instance"))

    def do_checks(self, _line):
        """Run the scenario's checks again."""
        if not (self.scenario and self.running):
            print("no scenario checks here")
            return
        from stacklab.runner import run_checks
        print(report.table(run_checks(self.running, self.scenario), self.lab_name))

    def do_walk(self, line):
        """walk FROM TO [tcp|udp PORT] [brief]: the tables a packet goes through, node by node."""
        words = line.split()
        brief = "brief" in words
        words = [w for w in words if w != "brief"]
        if not (self.scenario and self.running) or len(words) not in (2, 4) \
                or (len(words) == 4 and (words[2] not in ("tcp", "udp") or not words[3].isdigit())):
            print("usage: walk FROM TO [tcp|udp PORT] [brief]   e.g. walk A E")
            return
        from stacklab.errors import StacklabError
        from stacklab.walk import Walker, render
        self.running.scenario = self.scenario
        proto, port = (words[2], int(words[3])) if len(words) == 4 else ("icmp", None)
        try:
            print(render(Walker(self.running).walk(words[0], words[1], proto, port), tables=not brief))
        except StacklabError as e:
            print(e)

    def _unsupported(self, _line):
        print("not available in stacklab: use `checks`, or run ping/ovs-* inside a node")

    do_pingall = do_pingpair = do_pingallfull = do_pingpairfull = _unsupported
    do_iperf = do_iperfudp = do_link = do_switch = do_dpctl = _unsupported
    do_ports = do_dump = do_links = do_net = do_xterm = do_x = do_gterm = _unsupported


class _NodeMap(dict):
    """What Mininet's CLI expects of a network: name -> node, plus lists."""

    def __init__(self, nodes):
        super().__init__(nodes)
        self.hosts = list(nodes.values())
        self.switches, self.links, self.controllers, self.terms = [], [], [], []
