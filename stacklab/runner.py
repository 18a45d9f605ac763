"""What the commands do: build a lab (and keep it, or run and remove it), run
its checks, tear it down. The only module that joins the scenario, the
Mininet side and the report."""

import os
import signal
import sys
import time

from stacklab import report
from stacklab.checks import run_check
from stacklab.errors import LabError
from stacklab.procs import Proc, become_subreaper, reap
from stacklab.running import RunningLab
from stacklab.scenario.loader import find_scenario, load_scenario
from stacklab.state import LabState, running_labs
from stacklab.teardown import sweep


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: unwind like Ctrl-C so the lab is removed."""


def _raise_interrupted(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def catch_termination():
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupted)


def printer(stream=sys.stderr):
    def progress(step, detail, seconds):
        stream.write("  %-18s %-40s %5.2fs\n" % (step, detail, seconds))
        stream.flush()
    return progress


def load(name_or_file):
    return load_scenario(find_scenario(name_or_file))


def build(scenario, progress=None):
    """Build `scenario` in this process and return the Lab. Anything that
    goes wrong (Ctrl-C included) removes what was built."""
    from topologies.lab import build_lab   # Mininet is imported only when a lab is built
    become_subreaper()
    state = LabState.create(scenario.name, os.path.abspath(scenario.file))
    t0 = time.monotonic()
    if progress:
        sys.stderr.write("building lab %s (%d nodes, %d instances)\n"
                         % (scenario.name, len(scenario.nodes), len(scenario.instances)))
    lab = build_lab(scenario, state, progress)
    if progress:
        sys.stderr.write("lab %s is up in %.2fs\n" % (scenario.name, time.monotonic() - t0))
    return lab


def up(scenario, progress=None):
    """Build the lab and leave it running, held by a background keeper
    process that tears it down on SIGTERM (what `stacklab down` sends)."""
    catch_termination()
    lab = build(scenario, progress)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        _keep(lab, ready_w)      # never returns
    os.close(ready_w)
    ok = os.read(ready_r, 2)
    if ok != b"ok":
        raise LabError("the keeper of lab %s did not start" % scenario.name)
    return lab.state


def _keep(lab, ready_w):
    code = 0
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        stop = []
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda s, f: stop.append(s))
        become_subreaper()
        lab.state.keeper = Proc(os.getpid(), what="keeper")
        lab.state.save()
        os.write(ready_w, b"ok")
        os.close(ready_w)
        while not stop:
            signal.pause()
            reap()
    except BaseException:
        code = 1
    finally:
        try:
            lab.stop()
        except BaseException:
            code = 1
        os._exit(code)


def down(name, wait=5.0):
    """Remove lab `name`: ask its keeper to tear down, then sweep whatever
    its record still names (all of it if the keeper was killed)."""
    state = LabState.load(name)
    if state.keeper is not None and state.keeper.alive():
        state.keeper.signal(signal.SIGTERM)
        deadline = time.monotonic() + wait
        while state.keeper.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
    sweep(state)


def run_checks(running, scenario):
    running.scenario = scenario         # the probes name things as the scenario does
    return [run_check(running, c) for c in scenario.checks]


def emit_report(results, lab_name, as_json=False, junit=None, stream=sys.stdout):
    if as_json:
        stream.write(report.as_json(results, lab_name) + "\n")
    else:
        stream.write(report.table(results, lab_name) + "\n")
    if junit:
        os.makedirs(os.path.dirname(os.path.abspath(junit)), exist_ok=True)
        report.junit(results, lab_name, junit)
    return 0 if all(r.ok for r in results) else 1


def run(scenario, as_json=False, junit=None, interactive=None, progress=None):
    """Up, check, report, (CLI), down. Returns the exit code: 1 if a check failed."""
    catch_termination()
    lab = build(scenario, progress)
    try:
        running = RunningLab(lab.state)
        results = run_checks(running, scenario)
        code = emit_report(results, scenario.name, as_json, junit)
        if interactive is None:
            interactive = sys.stdin.isatty() and not as_json
        if interactive:
            from stacklab.console import LabCLI
            LabCLI(lab.hosts(), scenario.name, scenario, running)
        return code
    finally:
        t0 = time.monotonic()
        lab.stop()
        if progress:
            sys.stderr.write("lab %s torn down in %.2fs\n" % (scenario.name, time.monotonic() - t0))


def status():
    """[(name, phase, keeper alive, nodes, instances)] of every lab on this machine."""
    out = []
    for name in running_labs():
        state = LabState.load(name)
        holders_alive = sum(Proc(ns["pid"], ns["start"]).alive() for ns in state.namespaces.values())
        out.append({
            "name": name, "phase": state.phase,
            "keeper": bool(state.keeper and state.keeper.alive()),
            "alive": "%d/%d namespaces" % (holders_alive, len(state.namespaces)),
            "scenario": state.scenario_file,
            "nodes": state.nodes, "instances": state.instances, "hosts": state.hosts,
            "agent_namespaces": sorted(n for n, ns in state.namespaces.items() if ns["kind"] in ("dhcp", "router")),
        })
    return out


def pick_lab(name=None, how="give its name"):
    """The lab a command is about: `name`, or the only one up."""
    labs = running_labs()
    if name:
        return name
    if len(labs) == 1:
        return labs[0]
    if not labs:
        raise LabError("no lab is up (start one with `stacklab up NAME`)")
    raise LabError("several labs are up (%s): %s" % (", ".join(labs), how))
