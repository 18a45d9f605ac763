"""What the commands do: build a lab (and keep it, or run and remove it), run
its checks, tear it down. The only module that joins the scenario, the
Mininet side and the report.

The scenario loader, the checks and the report are imported where they are
used: `stacklab down` and `status` need none of them, and in a VM under
software emulation their imports cost more than the teardown itself."""

import os
import signal
import sys
import time
import traceback

from stacklab import datapath
from stacklab.errors import LabError, StacklabError
from stacklab.naming import invocation
from stacklab.runtime import health, mailbox
from stacklab.runtime.lock import LabLock
from stacklab.runtime.procs import Proc, become_subreaper, reap, wait_gone
from stacklab.runtime.running import RunningLab
from stacklab.runtime.state import LAB_MARK, LabState, check_lab_name, lab_dir, running_labs
from stacklab.runtime.teardown import sweep


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
    from stacklab.scenario.loader import find_scenario, load_scenario
    return load_scenario(find_scenario(name_or_file))


def build(scenario, progress=None, holder=False, name=None):
    """Build `scenario` as lab `name` (default: the scenario's name) in this process, which then holds the lab (`down`
    signals it) and is the ancestor of every process the lab starts, so it
    reaps them itself. Anything that goes wrong (Ctrl-C included) removes
    what was built. The lab's lock is held while it builds. Everything the
    build starts carries the lab's mark in its environment; `holder`: this
    process keeps it too (a keeper, `stacklab run`), otherwise it is only
    lent for the build."""
    from topologies.lab import build_lab   # Mininet is imported only when a lab is built
    datapath.require(scenario.datapath_type)
    become_subreaper()
    signal.signal(mailbox.SIGNAL, lambda *_: None)      # a request waits in its file until the lab is up
    name = check_lab_name(name or scenario.name)
    lock = LabLock(name).acquire(waiting=lambda: sys.stderr.write("lab %s is being built or removed; waiting\n" % name))
    try:
        state = LabState.create(name, os.path.abspath(scenario.file), keeper=Proc(os.getpid(), what="builder"))
    except BaseException:
        lock.release()
        raise
    state.datapath_type = scenario.datapath_type
    state.save_snapshot(scenario)
    t0 = time.monotonic()
    if progress:
        sys.stderr.write("building lab %s (%d nodes, %d instances, %s datapath)\n"
                         % (name, len(scenario.nodes), len(scenario.instances), scenario.datapath_type))
    previous = os.environ.get(LAB_MARK)
    os.environ[LAB_MARK] = state.mark
    try:
        lab = build_lab(scenario, state, progress)
    except BaseException:
        lock.release(remove=not os.path.isdir(state.dir))
        raise
    finally:
        if not holder:
            _restore_env(LAB_MARK, previous)
    lock.release()
    if progress:
        sys.stderr.write("lab %s is up in %.2fs\n" % (name, time.monotonic() - t0))
    return lab


def _restore_env(name, value):
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def teardown(lab):
    """Remove a lab this process built, holding its lock; returns the seconds it took."""
    t0 = time.monotonic()
    lock = LabLock(lab.state.name).acquire()
    try:
        lab.stop()
    finally:
        lock.release(remove=not os.path.isdir(lab.state.dir))
    return time.monotonic() - t0


def affordable(scenario, force=False, progress=None):
    """Refuse (LabError) a lab this machine cannot hold, unless `force`; say
    what a big one will take."""
    from stacklab.scenario import estimate
    est = estimate.estimate(scenario)
    available, total = estimate.available_mb()
    why = estimate.refusal(est, available, total)
    if why and not force:
        raise LabError("lab %s: %s" % (scenario.name, why))
    if progress and (why or est.seconds > 30):
        sys.stderr.write("lab %s: %s%s\n" % (scenario.name, est, " (more than this machine has: --force)"
                                              if why else ""))


def up(scenario, progress=None, force=False, name=None):
    """Build the lab (named `name`, default the scenario's) in a child process that then keeps it (the keeper:
    it holds the lab until `down` signals it, and tears it down). This
    process shows the progress and returns once the lab is up."""
    name = check_lab_name(name or scenario.name)
    affordable(scenario, force, progress)
    catch_termination()
    r, w = os.pipe2(os.O_CLOEXEC)       # (not inherited by the lab's daemons: EOF when the keeper is done)
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _build_and_keep(scenario, progress, w, name)      # never returns
    os.close(w)
    try:
        with os.fdopen(r, "rb") as f:
            answer = f.read()
    except BaseException:
        # Ctrl-C, SIGTERM or SIGHUP: the builder is told once (it ignores the terminal's Ctrl-C,
        # so that no second signal cuts its cleanup short) and we wait until it has cleaned up
        _wait(pid, signal.SIGTERM)
        raise
    if answer == b"ok":
        return LabState.load(name)
    os.waitpid(pid, 0)
    kind, _, message = answer.decode(errors="replace").partition("\n")
    if kind == "error":
        raise LabError(message)
    if kind == "interrupted":
        raise LabError("the build of lab %s was stopped (%s: %s?); what it had built is removed"
                       % (name, message or "a signal", invocation("down " + name)))
    left = ("%s removes what it left" % invocation("down " + name) if os.path.lexists(lab_dir(name))
            else "nothing of it is left")
    raise LabError("the builder of lab %s died before the lab was up: %s%s"
                   % (name, left, ("\n" + message) if message else ""))


def os_error_text(e):
    """An OSError in one line: what, and on which file."""
    text = e.strerror or str(e)
    if e.filename:
        text += ": %s" % e.filename
    return text


def _wait(pid, sig=None):
    try:
        if sig is not None:
            os.kill(pid, sig)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


KEEPER_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
SUPERVISE_SECONDS = 1.0     # the keeper looks at its daemons at least this often (and at every SIGCHLD)
WAKE_SIGNALS = KEEPER_SIGNALS | {signal.SIGCHLD, mailbox.SIGNAL}


def _build_and_keep(scenario, progress, ready_w, name):
    """The keeper: build, say "ok" (or why not), hold the lab until a
    signal, tear it down. Signals are taken synchronously (sigwaitinfo), so
    none is lost between the lab coming up and the wait starting."""
    code, lab = 1, None
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)        # the CLI passes Ctrl-C on as SIGTERM
        catch_termination()
        lab = build(scenario, progress, holder=True, name=name)
        signal.pthread_sigmask(signal.SIG_BLOCK, WAKE_SIGNALS)
        os.setsid()                         # no longer the terminal's: a later Ctrl-C there is not ours
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        lab.state.keeper = Proc(os.getpid(), what="keeper")
        lab.state.save()
        os.write(ready_w, b"ok")
        os.close(ready_w)
        ready_w = None
        serve = requests_server(lab)
        mailbox.listen(lab.state)
        lab.supervisor.listen()
        serve()                             # any that came while it was building
        reap()                              # what ended while it built (its SIGCHLDs came before the mask)
        while True:
            info = signal.sigtimedwait(WAKE_SIGNALS, SUPERVISE_SECONDS)
            if info is not None and info.si_signo in KEEPER_SIGNALS:
                break
            if info is not None and info.si_signo == mailbox.SIGNAL:
                serve()
            reap()
            lab.supervisor.tick()           # a daemon that died is started again, as systemd would
        code = 0
    except BaseException as e:
        if ready_w is not None:
            if isinstance(e, StacklabError):
                message = "error\n%s" % e
            elif isinstance(e, OSError):            # a full disk, a missing program: said in one line
                message = "error\nthe build failed: %s" % os_error_text(e)
            elif isinstance(e, Interrupted):
                message = "interrupted\n%s" % e
            else:
                message = "died\n" + traceback.format_exc()
            os.write(ready_w, message.encode())
    finally:
        try:
            if lab is not None:
                teardown(lab)
        except BaseException:
            code = 1
        os._exit(code)


def down(name, wait=30.0):
    """Remove lab `name` and return when all of it is gone (processes
    reaped, namespaces, links, mounts and files): ask its keeper (or its
    builder, if it is still building) to tear it down and wait for it, then,
    holding the lab's lock, sweep whatever its record still names (all of it
    if the keeper was killed; whatever carries its mark if the record is
    unreadable). Raises LabError naming what could not be removed. Returns
    (seconds, processes init has yet to reap, why the record was unreadable
    or None)."""
    t0 = time.monotonic()
    state = LabState.load(name)
    keeper = state.keeper
    if keeper is not None and keeper.alive() and keeper.pid != os.getpid():
        keeper.signal(signal.SIGTERM)
        deadline = time.monotonic() + wait
        while keeper.alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if keeper.alive():
            keeper.signal(signal.SIGKILL)
            wait_gone([keeper], 2.0)
    lingering = []
    lock = LabLock(name).acquire(timeout=wait)
    try:
        try:
            current = LabState.load(name)
        except LabError:
            current = None                  # the keeper removed it all
        if current is not None and (current.id is None or state.id is None or current.id == state.id):
            current.mark_removing()
            lingering = sweep(current)
    finally:
        lock.release(remove=not os.path.lexists(lab_dir(name)))
    return time.monotonic() - t0, lingering, state.unreadable


def requests_server(lab):
    """What the holder of `lab` calls on SIGUSR1: answer `stacklab apply`s, a node's
    `systemctl`, an instance's `reboot` and the grader's request to settle the lab."""
    def handle(request):
        kind = request.get("kind")
        try:
            if kind == "apply":
                from stacklab.scenario.loader import load_scenario
                return apply_live(lab, load_scenario(request["file"], text=request["text"]))
            if kind == "service":           # `systemctl` on a node (stacklab/nodectl.py)
                with lab.supervisor.lock:
                    code, output = lab.units.run(request["where"], request["unit"], request["action"])
                return {"code": code, "output": output}
            if kind == "reboot":            # `reboot` in an instance, `stacklab reboot`
                with lab.supervisor.lock:
                    return {"done": lab.reboot_instance(request["instance"])}
            if kind == "settle":            # before grading: the agents' next full pass
                with lab.supervisor.lock:
                    return {"done": lab.plane.settle()}
            return {"error": "unknown request %r" % kind}
        except StacklabError as e:
            return {"error": str(e)}
        except Exception:
            return {"error": "stacklab failed while changing the lab:\n" + traceback.format_exc()}
    return lambda: mailbox.serve(lab.state, handle)


def apply_live(lab, new):
    """Change `lab` (held by this process) into scenario `new`, live, or say
    why not. Nothing changes while a daemon of the lab is dead (the
    supervisor gets its chance first); a change that fails midway is undone,
    and the recorded scenario is the one that runs."""
    from stacklab.scenario.diff import diff
    from topologies.changes import apply_changes, undo_changes
    with lab.supervisor.lock:
        lab.supervisor.tick()
        dead = health.dead(lab.state)
        if dead:
            return {"error": "nothing changed: %s" % "; ".join(health.describe(p, lab.state) for p in dead)}
        d = diff(lab.scenario, new)
        if d.refused:
            return {"refused": d.refused, "planned": d.lines()}
        old = lab.scenario
        try:
            done = apply_changes(lab, new, d) if not d.empty else []
        except Exception as e:
            why = str(e) if isinstance(e, StacklabError) else "%s: %s" % (type(e).__name__, e)
            undone, failed = undo_changes(lab, old, new, d)
            text = "the change failed midway (%s); undone: %s" % (why, "; ".join(undone) or "nothing to undo")
            if failed:
                text += "; not undone: %s (%s lists what runs; %s and `up` rebuild it)" % (
                    "; ".join(failed), invocation("status " + lab.state.name), invocation("down " + lab.state.name))
            return {"error": text}
        lab.scenario = new
        lab.state.save_snapshot(new)
        return {"changes": done, "planned": d.lines()}


def apply(name, scenario, timeout=300.0):
    """Ask the holder of running lab `name` to make it `scenario` (already
    validated here, so errors point at the file). Returns its answer."""
    state = RunningLab.open(name).state
    return mailbox.send(state, {"kind": "apply", "file": os.path.abspath(scenario.file), "text": scenario.text},
                        timeout)


def settle(name, timeout=120.0):
    """Ask the holder of lab `name` to bring it to what its agents' next full pass leaves."""
    answer = mailbox.send(RunningLab.open(name).state, {"kind": "settle"}, timeout)
    if answer.get("error"):
        raise LabError("lab %s: %s" % (name, answer["error"]))
    return answer.get("done", [])


def service(name, where, unit, action, timeout=120.0):
    """`systemctl ACTION UNIT` on `where` of lab `name`, done by its holder: (exit code, output)."""
    answer = mailbox.send(RunningLab.open(name).state, {"kind": "service", "where": where, "unit": unit,
                                                        "action": action}, timeout)
    if answer.get("error"):
        return 1, answer["error"]
    return answer["code"], answer["output"]


def reboot(name, instance, timeout=120.0):
    """Boot `instance` of lab `name` again (its holder does it); what it did."""
    answer = mailbox.send(RunningLab.open(name).state, {"kind": "reboot", "instance": instance}, timeout)
    if answer.get("error"):
        raise LabError("lab %s: %s" % (name, answer["error"]))
    return answer["done"]


def emit_report(results, lab_name, as_json=False, junit=None, stream=sys.stdout):
    from stacklab import report
    if as_json:
        stream.write(report.as_json(results, lab_name) + "\n")
    else:
        stream.write(report.table(results, lab_name) + "\n")
    if junit:
        os.makedirs(os.path.dirname(os.path.abspath(junit)), exist_ok=True)
        report.junit(results, lab_name, junit)
    return 0 if all(r.ok for r in results) else 1


def run(scenario, as_json=False, junit=None, interact=None, progress=None, force=False, name=None):
    """Up, check, report, then `interact(hosts, running)` (the CLI, which the
    caller hands in; None: none), down. Returns the exit code: 1 if a check
    failed."""
    affordable(scenario, force, progress)
    catch_termination()
    lab = build(scenario, progress, holder=True, name=name)
    serve = requests_server(lab)
    signal.signal(mailbox.SIGNAL, lambda *_: serve())        # `stacklab apply` from another terminal
    mailbox.listen(lab.state)
    lab.supervisor.listen()
    lab.supervisor.start_thread()
    try:
        from stacklab.checks import run_checks
        running = RunningLab(lab.state)
        results = run_checks(running, scenario)
        code = emit_report(results, lab.state.name, as_json, junit)
        if interact is not None:
            interact(lab.hosts(), running)
        return code
    finally:
        seconds = teardown(lab)
        if progress:
            sys.stderr.write("lab %s torn down in %.2fs\n" % (lab.state.name, seconds))


def status(names=None):
    """What runs of every lab on this machine (or of `names`): phase, keeper,
    namespaces, every recorded process checked by pid and start time (the
    dead ones named), restarts, nodes and instances."""
    out = []
    for name in (running_labs() if names is None else names):
        state = LabState.load(name)
        holders_alive = sum(Proc(ns["pid"], ns["start"]).alive() for ns in state.namespaces.values())
        dead = health.dead(state)
        out.append({
            "name": name, "phase": state.phase,
            "keeper": bool(state.keeper and state.keeper.alive()),
            "alive": "%d/%d namespaces" % (holders_alive, len(state.namespaces)),
            "processes": "%d/%d processes" % (len(state.processes) - len(dead), len(state.processes)),
            "dead": [health.describe(p, state) for p in dead],
            "restarted": health.restarted(state),
            "unreadable": state.unreadable,
            "scenario": state.scenario_file,
            "nodes": state.nodes, "instances": state.instances, "hosts": state.hosts,
            "agent_namespaces": sorted(n for n, ns in state.namespaces.items() if ns["kind"] in ("dhcp", "router")),
            "ha_states": _ha_states(state),
        })
    return out


def _ha_states(state):
    """{qrouter-<id>@node or, a distributed router's, snat-<id>@node: primary |
    backup | unknown} of the lab's HA routers, as each node's
    neutron-keepalived-state-change wrote it."""
    out = {}
    for name, ns in state.namespaces.items():
        netns, _, node = name.partition("@")
        kind, _, router_id = netns.partition("-")
        if ns["kind"] != "router" or kind not in ("qrouter", "snat") or not node:
            continue
        if kind == "qrouter" and "snat-%s@%s" % (router_id, node) in state.namespaces:
            continue            # DVR's qrouter- beside the snat- keepalived keeps
        conf = os.path.join(state.dir, "nodes", node, "neutron", "ha_confs", router_id)
        if os.path.isdir(conf):
            try:
                with open(os.path.join(conf, "state")) as f:
                    out[name] = f.read().strip() or "unknown"
            except OSError:
                out[name] = "unknown"
    return out


def pick_lab(name=None, how="give its name"):
    """The lab a command is about: `name` (refused unless it is a lab name,
    before anything looks at the file system), or the only one up."""
    if name is not None:
        return check_lab_name(name)
    labs = running_labs()
    if len(labs) == 1:
        return labs[0]
    if not labs:
        raise LabError("no lab is up (start one with `stacklab up NAME`)")
    raise LabError("several labs are up (%s): %s" % (", ".join(labs), how))
