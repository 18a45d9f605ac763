"""The `stacklab` command. Every error a user can cause is printed as one
clear message (never a traceback), with exit code 2; a failing check gives 1."""

import argparse
import json
import os
import sys

from stacklab import __version__
from stacklab.datapath import DATAPATH_TYPES
from stacklab.errors import ScenarioError, StacklabError
from stacklab.naming import invocation
from stacklab.runner import Interrupted, os_error_text

DATAPATH_HELP = ("Open vSwitch's datapath, whatever the scenario says: netdev (userspace) or system "
                 "(the kernel module, as the documents show it)")
FORCE_HELP = "build it even when the estimate says the machine has not the memory for it"
LAB_AS_HELP = ("the lab's name (default: the scenario's): two labs of one scenario, e.g. a class's, run "
               "side by side under two names")


def _lab_name(args):
    """The lab a verb is about: --lab NAME or NAME (where the verb takes one),
    refused unless it is a lab name; None when neither is given."""
    flag, positional = getattr(args, "lab", None), getattr(args, "name", None)
    if flag is not None and positional is not None and flag != positional:
        raise StacklabError("two labs named: %s and --lab %s" % (positional, flag))
    return flag if flag is not None else positional      # ("" is a name given, and refused)


def _pick(args):
    """The running lab a verb is about: the one named, or the only one up."""
    from stacklab import runner
    return runner.pick_lab(_lab_name(args), "name one (NAME or --lab NAME)")


def _open(args):
    """The running lab a verb works on; one still building is waited for."""
    from stacklab.runtime.running import RunningLab
    name = _pick(args)
    return RunningLab.open(name, waiting=lambda: print("lab %s is building; waiting until it is up" % name,
                                                       file=sys.stderr, flush=True))


def _need_root():
    if os.geteuid() != 0:
        raise StacklabError("this needs root (network namespaces, Open vSwitch): run it with sudo")


def cmd_list(args):
    from stacklab.scenario.loader import list_scenarios, load_scenario
    for path in list_scenarios():
        name = os.path.basename(path)[:-5]
        try:
            sc = load_scenario(path)
            line = "%-22s %s" % (name, sc.description)
            if sc.reference:
                line += " [%s]" % sc.reference
        except ScenarioError as e:
            line = "%-22s INVALID: %d problem(s), see %s" % (name, len(e.problems), invocation("validate " + name))
        print(line)
    return 0


def cmd_validate(args):
    from stacklab.scenario.estimate import estimate
    from stacklab.scenario.loader import find_scenario, load_scenario
    failed = 0
    for item in args.files:
        try:
            sc = load_scenario(find_scenario(item))
            print("%s: ok (%d nodes, %d networks, %d instances, %d checks; %s)"
                  % (sc.file, len(sc.nodes), len(sc.networks), len(sc.instances), len(sc.checks), estimate(sc)))
        except ScenarioError as e:
            failed += 1
            print(e.render(), file=sys.stderr)
    return 2 if failed else 0


def _with_datapath(scenario, args):
    if args.datapath:
        scenario.datapath_type = args.datapath
    return scenario


def cmd_up(args):
    from stacklab import runner
    _need_root()
    scenario = _with_datapath(runner.load(args.scenario), args)
    state = runner.up(scenario, runner.printer(), force=args.force, name=args.lab)
    print("lab %s is up; %s to look around, %s to remove it"
          % (state.name, invocation("cli " + state.name), invocation("down " + state.name)))
    return 0


def cmd_down(args):
    from stacklab import runner
    from stacklab.runtime.state import running_labs
    _need_root()
    if args.all and _lab_name(args) is not None:
        raise StacklabError("give a lab's name or --all, not both")
    names = running_labs() if args.all else [_pick(args)]
    failed = []
    for name in names:
        try:
            seconds, lingering, unreadable = runner.down(name)
        except StacklabError as e:
            if not args.all:
                raise
            print("stacklab: %s" % e, file=sys.stderr)
            failed.append(name)
            continue
        print("lab %s removed in %.2fs" % (name, seconds))
        if unreadable:
            print("  (its record was unreadable, %s; its processes were found by the lab's mark)" % unreadable)
        if lingering:
            print("  (%d ended processes of a killed run wait for init to reap them)" % len(lingering))
    if args.all and not names:
        print("no lab is up")
    if failed:
        raise StacklabError("not removed: %s" % ", ".join(failed))
    return 0


def cmd_status(args):
    """Every lab (or NAME's): exit 1 when NAME has a dead process."""
    from stacklab import runner
    name = _lab_name(args)
    labs = runner.status([runner.pick_lab(name)] if name is not None else None)
    if args.json:
        print(json.dumps(labs, indent=2))
        return 1 if name is not None and labs[0]["dead"] else 0
    if not labs:
        print("no lab is up")
    for lab in labs:
        print("%s: %s, %s, %s, keeper %s (%s)" % (lab["name"], lab["phase"], lab["alive"], lab["processes"],
                                                 "running" if lab["keeper"] else "none", lab["scenario"]))
        if lab["unreadable"]:
            print("  its record is unreadable (%s): %s finds its processes by their mark"
                  % (lab["unreadable"], invocation("down " + lab["name"])))
        for line in lab["dead"]:
            print("  DEAD     " + line)
        for line in lab["restarted"]:
            print("  restarts " + line)
        for node, info in sorted(lab["nodes"].items()):
            extra = ["(%s)" % info["runs"]] if info.get("runs") else []
            print("  node %-12s %-10s %s" % (node, info["role"], " ".join(info["bridges"] + extra)))
        for inst, info in sorted(lab["instances"].items()):
            print("  instance %-12s on %-10s %s %s (%s, %s)" % (inst, info["node"], info["ip"], info["mac"],
                                                               info["network"], info["tap"]))
        for host, info in sorted(lab.get("hosts", {}).items()):
            print("  host     %-12s on %-10s %s" % (host, info["physical_network"], info["ip"]))
        for netns in lab.get("agent_namespaces", []):
            state = lab.get("ha_states", {}).get(netns)
            print("  netns    %s%s" % (netns, "  (HA: %s)" % state if state else ""))
    return 1 if name is not None and labs[0]["dead"] else 0


def cmd_exec(args):
    _need_root()
    lab = _open(args)
    argv = args.command
    if argv and argv[0] == "--":
        argv = argv[1:]
    lab.exec_(args.node, argv or ["bash"])


def _not_an_exercise(name):
    """An exercise's lab is graded by its criteria: the scenario's own checks
    would name what is broken, and how it should be."""
    from stacklab.exercises.session import running_exercise
    record = running_exercise(name)
    if record is not None:
        raise StacklabError("lab %s is exercise %s's: %s grades it (the scenario's own checks would give "
                            "the answer away)" % (name, record["name"], invocation("exercise check " + record["name"][:2])))


def cmd_check(args):
    from stacklab import runner
    from stacklab.checks import run_checks
    from stacklab.runtime.state import LabState
    _need_root()
    lab = _open(args)
    _not_an_exercise(lab.name)
    results = run_checks(lab)
    try:
        now = LabState.load(lab.name)
        gone = now.id != lab.state.id or now.phase == "removing"
    except StacklabError:
        gone = True
    if gone:    # its results would be what a teardown looks like (down marks the record before it kills)
        raise StacklabError("lab %s was removed while its checks ran" % lab.name)
    return runner.emit_report(results, lab.name, args.json, args.junit)


def cmd_flows(args):
    from stacklab.observe import flows
    _need_root()
    lab = _open(args)
    if args.action == "show":
        style = flows.style_of(lab.scenario)
        for flow in flows.dump(lab, args.node, args.bridge, style):
            print(flow)
        if style.cookies:       # netvirt: the groups the flows use
            for group in flows.dump_groups(lab, args.node, args.bridge, style):
                print(group)
        return 0
    ref, d = flows.diff_bridge(lab, args.node, args.bridge, args.against)
    print("%s %s against %s (%s%s)" % (args.node, args.bridge, ref.path, ref.document or "no document named",
                                       ", elided" if ref.elided else ""))
    print(d.render())
    return 0 if d.clean else 1


def cmd_walk(args):
    from stacklab.observe.walk import Walker, render
    _need_root()
    lab = _open(args)
    proto, port = ("tcp", args.tcp) if args.tcp else ("udp", args.udp) if args.udp else ("icmp", None)
    print(render(Walker(lab).walk(args.src, args.dst, proto, port), tables=not args.brief, trace=args.trace))
    return 0


def cmd_ssh(args):
    from stacklab.observe.ssh import ssh_argv
    _need_root()
    lab = _open(args)
    scenario = lab.scenario
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    source = None
    if args.source:
        from stacklab.scenario.endpoints import SOURCES, namespace
        source = namespace(scenario, args.source)
        if source is None:
            raise StacklabError("--from %s: no %s of that name" % (args.source, SOURCES))
    where, argv = ssh_argv(scenario, args.instance, lab.state.dir, command, source=source, address=args.address)
    lab.exec_(where, argv)


def cmd_reboot(args):
    from stacklab import runner
    _need_root()
    lab = _open(args)
    if args.instance not in lab.scenario.instances:
        raise StacklabError("lab %s has no instance named %s (it has: %s)" % (
            lab.state.name, args.instance, ", ".join(sorted(lab.scenario.instances))))
    print(runner.reboot(lab.state.name, args.instance))


def cmd_run(args):
    from stacklab import runner
    _need_root()
    scenario = _with_datapath(runner.load(args.scenario), args)
    interactive = not args.no_cli and sys.stdin.isatty() and not args.json
    interact = (lambda hosts, running: _console(hosts, running, teardown_on_exit=True)) if interactive else None
    return runner.run(scenario, args.json, args.junit, interact, runner.printer(), force=args.force, name=args.lab)


def _console(hosts, running, teardown_on_exit):
    """The lab's CLI (the only place that makes one): handed the command line's
    own main to run stacklab commands, and how to find the lab's exercise."""
    from stacklab.console import LabCLI

    def exercise():
        from stacklab.exercises import session
        from stacklab.exercises.model import find_exercise
        record = session.running_exercise(running.name)
        return find_exercise(record["name"]) if record else None
    LabCLI(hosts, running.name, running, command=main, exercise=exercise, teardown_on_exit=teardown_on_exit)


def cmd_cli(args):
    from stacklab.console import AttachedHost
    _need_root()
    lab = _open(args)
    hosts = {}
    try:
        for where in lab.state.reachable():
            hosts[where] = AttachedHost(where, lab.state.holder(where).pid)
        _console(hosts, lab, teardown_on_exit=False)
    finally:
        for host in hosts.values():
            host.terminate()
    return 0


def cmd_apply(args):
    from stacklab import runner
    from stacklab.scenario.loader import find_scenario, load_scenario
    _need_root()
    scenario = load_scenario(find_scenario(args.file))
    name = runner.pick_lab(args.lab if args.lab is not None else scenario.name)
    answer = runner.apply(name, scenario)
    if answer.get("error"):
        raise StacklabError("lab %s: %s" % (name, answer["error"]))
    if answer.get("refused"):
        print("lab %s: nothing changed; these changes cannot be made to a running lab:" % name, file=sys.stderr)
        for line in answer["refused"]:
            print("  " + line, file=sys.stderr)
        print("(rebuild it: %s, then %s)" % (invocation("down " + name), invocation("up " + args.file)), file=sys.stderr)
        return 1
    if not answer["changes"]:
        print("lab %s: nothing to change (%s describes what runs)" % (name, scenario.file))
        return 0
    print("lab %s changed:" % name)
    for line in answer["changes"]:
        print("  " + line)
    return 0


def cmd_draw(args):
    from stacklab import runner
    from stacklab.draw import check_format, render, render_running
    from stacklab.runtime.state import running_labs
    name = _lab_name(args)
    running = None
    if args.lab is not None or name is None or name in running_labs():
        running = _open(args)
        scenario = running.scenario
    else:
        scenario = runner.load(name)
    out = args.output or "%s.svg" % (running.name if running else scenario.name)
    where = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(where):
        raise StacklabError("draw -o %s: there is no directory %s" % (out, where))
    check_format(out)
    if running is None:
        render(scenario, out)
    elif os.geteuid() != 0:
        render(scenario, out)
        print("(drawn from its scenario: reading what runs in its nodes needs root)", file=sys.stderr)
    else:
        from stacklab.exercises.session import running_exercise
        # a learner's lab: what runs, nothing marked (a mark would point at the fault)
        differences = render_running(running, out, mark_differences=running_exercise(running.name) is None)
        for line in differences:
            print("differs from the scenario: " + line, file=sys.stderr)
    print(out)
    return 0


def cmd_exercise(args):
    from stacklab.exercises import session
    from stacklab.exercises.model import find_exercise
    action = args.action
    if action == "list":
        rows = session.listing()
        line = "%%-%ds %%-30s %%-4s %%-%ds %%s" % (max(len(r[0]) for r in rows), max(len(r[4]) for r in rows))
        print((line % ("EXERCISE", "LEVEL", "DOC", "TITLE", "STATUS")).rstrip())
        for name, level, level_name, doc, title, status in rows:
            print((line % (name, "%d %s" % (level, level_name), doc or "-", title, status)).rstrip())
        return 0
    if action in ("start", "reset", "check", "stop", "report"):
        _need_root()
    if action == "answer":
        return _answer(args.words)
    if action == "reflect":
        return _reflect(args.words)
    if action == "report":
        rows = session.report()
        print(json.dumps(rows, indent=1) if args.json else session.report_text(rows))
        if args.junit:
            session.report_junit(rows, args.junit)
        return 0
    ex = find_exercise(args.name) if action in ("start", "reset") else session.current(args.name)
    if action in ("start", "reset"):
        from stacklab import runner
        text = (session.start if action == "start" else session.reset)(ex, runner.printer(), args.variant)
        print(text)
        if args.cli:
            return cmd_cli(argparse.Namespace(name=session.lab_name(ex), lab=None))
        return 0
    if action == "check":
        passed, _ = session.check(ex, args.junit, emit=lambda line: print(line, flush=True))
        return 0 if passed else 1
    if action == "task":
        print(session.task_text(ex))
        return 0
    if action == "hint":
        print(session.hint(ex))
        return 0
    if action == "solution":
        print(session.solution(ex))
        return 0
    if action == "stop":
        seconds = session.stop(ex)[0]
        print("exercise %s stopped, its lab removed in %.2fs" % (ex.name, seconds))
        return 0
    raise StacklabError("unknown action %s" % action)


def _reflect(words):
    """reflect [NAME] TEXT: NAME may be left out while one exercise runs."""
    from stacklab.exercises import session
    from stacklab.exercises.model import find_exercise, list_exercises
    known = set(list_exercises()) | {n.split("-", 1)[0] for n in list_exercises()}
    if len(words) >= 2 and words[0] in known:
        ex, words = find_exercise(words[0]), words[1:]
    else:
        ex = session.current()
    print(session.reflect(ex, " ".join(words)))
    return 0


def _answer(words):
    """answer [NAME] [QUESTION] VALUE: NAME may be left out while one exercise runs."""
    from stacklab.exercises import session
    from stacklab.exercises.model import find_exercise, list_exercises
    known = set(list_exercises()) | {n.split("-", 1)[0] for n in list_exercises()}
    if len(words) >= 2 and words[0] in known:
        ex, words = find_exercise(words[0]), words[1:]
    else:
        ex = session.current()
    if len(words) not in (1, 2):
        raise StacklabError("usage: stacklab exercise answer [NAME] [QUESTION] VALUE")
    right, message = session.answer(ex, words[-1], words[0] if len(words) == 2 else None)
    print(message)
    return 0 if right else 1


def cmd_schema(args):
    from stacklab.scenario import docgen
    sys.stdout.write(docgen.markdown() if args.markdown else docgen.json_schema())
    return 0


def _lab_args(s):
    s.add_argument("name", nargs="?", metavar="NAME", help="the lab (default: the only one up)")
    s.add_argument("--lab", metavar="NAME", help="the same as NAME")


def parser():
    p = argparse.ArgumentParser(prog="stacklab", description="Emulate OpenStack network data planes on one machine.")
    p.add_argument("--version", action="version", version="stacklab " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("list", help="the scenarios, one line each")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("validate", help="check scenario files without building anything")
    s.add_argument("files", nargs="+", metavar="FILE|NAME")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("up", help="build a lab and leave it running")
    s.add_argument("scenario", metavar="NAME|FILE")
    s.add_argument("--datapath", choices=DATAPATH_TYPES, help=DATAPATH_HELP)
    s.add_argument("--force", action="store_true", help=FORCE_HELP)
    s.add_argument("--lab", metavar="NAME", help=LAB_AS_HELP)
    s.set_defaults(func=cmd_up)

    s = sub.add_parser("down", help="remove a lab (also after a crash)")
    _lab_args(s)
    s.add_argument("--all", action="store_true", help="every lab on this machine")
    s.set_defaults(func=cmd_down)

    s = sub.add_parser("status", help="running labs, their processes (dead ones named), nodes and instances",
                       description="Every lab on this machine, or NAME: its namespaces, every process it "
                                   "started checked by pid and start time (the dead ones named, with the "
                                   "keeper's restarts), its nodes and instances. With NAME, exit 1 when one "
                                   "of its processes is dead.")
    _lab_args(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("exec", help="run a command inside a node or instance",
                       usage="stacklab exec [--lab NAME] NODE -- CMD...")
    s.add_argument("--lab", metavar="NAME", help="the lab (default: the only one up)")
    s.add_argument("node", metavar="NODE")
    s.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD")
    s.set_defaults(func=cmd_exec)

    s = sub.add_parser("check", help="run a running lab's checks and report")
    _lab_args(s)
    s.add_argument("--json", action="store_true", help="the report as JSON")
    s.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("flows", help="a bridge's flows, their diff against a document's, a packet's walk",
                       description="Look at the flows of a running lab: show, diff, walk.")
    fs = s.add_subparsers(dest="action", metavar="ACTION")
    fs.required = True
    f = fs.add_parser("show", help="NODE's BRIDGE flows, normalized",
                      description="Print NODE's BRIDGE flows without durations and counters (and without "
                                  "neutron's random cookies; a netvirt lab's flows keep theirs, with the "
                                  "bridge's groups after them).")
    f.add_argument("node", metavar="NODE")
    f.add_argument("bridge", metavar="BRIDGE")
    f.add_argument("--lab", metavar="NAME", help="the lab (default: the only one up)")
    f.set_defaults(func=cmd_flows)
    f = fs.add_parser("diff", help="NODE's BRIDGE against a reference dump",
                      description="What the reference has that the bridge lacks (missing) and the reverse "
                                  "(extra); exit 1 if they differ.")
    f.add_argument("node", metavar="NODE")
    f.add_argument("bridge", metavar="BRIDGE")
    f.add_argument("--against", metavar="REF", required=True,
                   help="SCENARIO/NAME under scenarios/references/, or a file")
    f.add_argument("--lab", metavar="NAME", help="the lab (default: the only one up)")
    f.set_defaults(func=cmd_flows)
    f = fs.add_parser("walk", help="the tables a packet goes through, node by node (ofproto/trace, across tunnels)",
                      description="Trace the packet FROM (an instance, or an external host toward a floating IP) "
                                  "sends to TO (an instance or an IP address) through its node's bridges with "
                                  "ovs-appctl ofproto/trace, and on through a VXLAN tunnel or a physical network "
                                  "to the next node: each table with the flow it matched, where the packet "
                                  "leaves, then one line per node. Nothing is sent. Example: stacklab flows walk A E")
    f.add_argument("src", metavar="FROM")
    f.add_argument("dst", metavar="TO")
    g = f.add_mutually_exclusive_group()
    g.add_argument("--tcp", type=int, metavar="PORT", help="a TCP SYN to PORT (default: an ICMP echo request)")
    g.add_argument("--udp", type=int, metavar="PORT", help="a UDP datagram to PORT")
    g2 = f.add_mutually_exclusive_group()
    g2.add_argument("--brief", action="store_true", help="only the line per node")
    g2.add_argument("--trace", action="store_true", help="ofproto/trace's whole text for each node")
    f.add_argument("--lab", metavar="NAME", help="the lab (default: the only one up)")
    f.set_defaults(func=cmd_walk)

    s = sub.add_parser("ssh", help="log in to an instance as its user with its key pair (and run CMD)",
                       description="ssh -i KEY cirros@IP [CMD], run from a node on the instance's network "
                                   "(a provider network) or from its DHCP namespace, as in the documents; "
                                   "or --from a host to --address (a floating IP). An amphora's user is "
                                   "cloud-user.")
    s.add_argument("--lab", metavar="NAME", help="the lab (default: the only one up)")
    s.add_argument("--from", dest="source", metavar="WHERE", help="log in from here (e.g. workstation)")
    s.add_argument("--address", metavar="IP", help="to this address (e.g. the instance's floating IP)")
    s.add_argument("instance", metavar="INSTANCE")
    s.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD")
    s.set_defaults(func=cmd_ssh)

    s = sub.add_parser("reboot", help="boot an instance again, as `openstack server reboot`",
                       description="The instance's addresses go, its DHCP client asks again and it reads its "
                                   "key from 169.254.169.254 again, as cirros does at boot; its disk (its "
                                   "authorized_keys) stays. `reboot` typed inside the instance does the same.")
    s.add_argument("--lab", metavar="NAME", help="the lab (default: the only one up)")
    s.add_argument("instance", metavar="INSTANCE")
    s.set_defaults(func=cmd_reboot)

    s = sub.add_parser("run", help="up, check, report, then the CLI (with a terminal) and down")
    s.add_argument("scenario", metavar="NAME|FILE")
    s.add_argument("--json", action="store_true", help="the report as JSON")
    s.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report")
    s.add_argument("--no-cli", action="store_true", help="tear down right after the report")
    s.add_argument("--datapath", choices=DATAPATH_TYPES, help=DATAPATH_HELP)
    s.add_argument("--force", action="store_true", help=FORCE_HELP)
    s.add_argument("--lab", metavar="NAME", help=LAB_AS_HELP)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("apply", help="change a running lab to what an edited scenario file says",
                       description="Compare FILE with what the lab runs and change only what differs: "
                                   "instances added or removed, security groups and their rules, networks "
                                   "and floating IPs added. The agents send only the flows that change; "
                                   "everything else, open connections included, is untouched. A change "
                                   "that cannot be made live is named, and nothing changes (exit 1).")
    s.add_argument("file", metavar="FILE|NAME")
    s.add_argument("--lab", metavar="NAME", help="the lab to change (default: the one the file names)")
    s.set_defaults(func=cmd_apply)

    s = sub.add_parser("draw", help="a picture of a lab (Graphviz): nodes, bridges, tunnels, instances, ...",
                       description="Draw a running lab (NAME, or the only one up) as it runs now, what "
                                   "differs from its scenario in red (an exercise's lab: nothing marked), or a "
                                   "scenario (a name in scenarios/ or a file): nodes with their bridges and patch "
                                   "ports, NICs on physical networks, tunnel ports over the underlay, instances "
                                   "with their addresses, MTUs and security groups, local VLANs, DHCP and router "
                                   "namespaces with floating IPs, load balancers on their amphorae, the networks' "
                                   "VNIs and VLANs.")
    s.add_argument("name", nargs="?", metavar="NAME|FILE")
    s.add_argument("--lab", metavar="NAME", help="a running lab (default: NAME, or the only one up)")
    s.add_argument("-o", "--output", metavar="FILE", help="FILE.svg, .png, .pdf or .dot (default: NAME.svg here)")
    s.set_defaults(func=cmd_draw)

    s = sub.add_parser("exercise", help="hands-on exercises: list, start, check, hint, answer, reflect, solution, "
                                        "reset, report",
                       description="Exercises break a lab on purpose; you find and fix the fault with a real "
                                   "node's commands, and `check` says objectively whether it is fixed. Each "
                                   "learner's exercise is a lab of its own (exNN-USER).")
    es = s.add_subparsers(dest="action", metavar="ACTION")
    es.required = True
    e = es.add_parser("list", help="the exercises: level, document, title, done or not")
    e.set_defaults(func=cmd_exercise)
    for action, text in (("start", "build the exercise's lab, break it, print the task"),
                         ("reset", "remove the exercise's lab and your progress on it, start again")):
        e = es.add_parser(action, help=text)
        e.add_argument("name", metavar="NAME", help="e.g. 03-security-group (or 03)")
        e.add_argument("--cli", action="store_true", help="then open the lab's CLI")
        e.add_argument("--variant", type=int, metavar="N",
                       help="this variant of the fault instead of a random one (instructors, tests)")
        e.set_defaults(func=cmd_exercise)
    e = es.add_parser("check", help="grade: exit 0 once every criterion holds, 1 until then")
    e.add_argument("name", nargs="?", metavar="NAME")
    e.add_argument("--junit", metavar="FILE", help="also write the criteria as JUnit XML (for a class)")
    e.set_defaults(func=cmd_exercise)
    for action, text in (("task", "the task again"), ("hint", "the next hint"),
                         ("solution", "the worked solution"), ("stop", "remove the exercise's lab")):
        e = es.add_parser(action, help=text)
        e.add_argument("name", nargs="?", metavar="NAME")
        e.set_defaults(func=cmd_exercise)
    e = es.add_parser("answer", help="answer the exercise's question: NAME [QUESTION] VALUE",
                      usage="stacklab exercise answer [NAME] [QUESTION] VALUE")
    e.add_argument("words", nargs="+", metavar="[NAME] [QUESTION] VALUE")
    e.set_defaults(func=cmd_exercise)
    e = es.add_parser("reflect", help="answer the question asked once an exercise is solved: [NAME] TEXT",
                      usage="stacklab exercise reflect [NAME] TEXT")
    e.add_argument("words", nargs="+", metavar="[NAME] TEXT")
    e.set_defaults(func=cmd_exercise)
    e = es.add_parser("report", help="every learner of this machine: each exercise, solved or not, checks, "
                                     "hints, time (for an instructor; run with sudo)")
    e.add_argument("--json", action="store_true")
    e.add_argument("--junit", metavar="FILE", help="also write it as JUnit XML: a test case per learner and exercise")
    e.set_defaults(func=cmd_exercise)

    s = sub.add_parser("cli", help="interactive CLI into a running lab")
    _lab_args(s)
    s.set_defaults(func=cmd_cli)

    s = sub.add_parser("schema", help="print the scenario format as JSON Schema (or Markdown)")
    s.add_argument("--markdown", action="store_true", help="the Markdown reference instead")
    s.set_defaults(func=cmd_schema)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ScenarioError as e:
        print(e.render(), file=sys.stderr)
        return 2
    except StacklabError as e:
        print("stacklab: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstacklab: interrupted; everything the lab created was removed", file=sys.stderr)
        return 130
    except Interrupted as e:
        print("stacklab: %s; everything the lab created was removed" % e, file=sys.stderr)
        return 143
    except BrokenPipeError:     # `stacklab list | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:        # a full disk, an unwritable file: one line, not a traceback
        print("stacklab: %s" % os_error_text(e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
