"""What the two OpenFlow apps (the neutron agent, netvirt) share beyond the
OpenFlow layer: the plan file the lab writes and they follow, the status
file they write (both replaced atomically, so no reader sees half of one),
and how one is started from the command line."""

import argparse
import functools
import importlib
import json
import logging
import os
import threading

LOG = logging.getLogger("stacklab.app")


def serialized(method):
    """Run `method` holding its object's lock (self.lock, an RLock). os-ken's
    hub is native threads here (OSKEN_HUB_TYPE defaults to native): the
    app's events arrive on its event thread while its timers (spawn_after),
    plan follower and handshake checks run on threads of their own, so
    whatever they share is touched under the lock, never bare."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)
    return locked


def new_lock():
    return threading.RLock()


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class JsonFile:
    """A plan dataclass's file form: to_json()/from_json() written and read whole."""

    def write(self, path):
        write_atomically(path, self.to_json())

    @classmethod
    def read(cls, path):
        with open(path) as f:
            return cls.from_json(f.read())


def write_status(path, status):
    write_atomically(path, json.dumps(status))


def file_stamp(path):
    """What tells one version of a file from the next: (mtime ns, size, inode);
    None if there is none. The lab compares it with the plan an agent reports."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class PlanFollower:
    """The plan file, read again whenever it changes (mtime, size, inode)."""

    def __init__(self, path, plan_class):
        self.path = path
        self.plan_class = plan_class
        self.plan = None
        self.stamp = None

    def load(self):
        """True when a new plan was read."""
        stamp = file_stamp(self.path)
        if stamp is None or stamp == self.stamp:
            return False
        self.plan = self.plan_class.read(self.path)
        self.stamp = stamp
        return True

    def follow(self, hub, poll, on_change):
        """Check every `poll` seconds in an os-ken green thread; call on_change() after a new plan."""
        def loop():
            while True:
                hub.sleep(poll)
                try:
                    if self.load():
                        on_change()
                except Exception:       # keep following; the error is in the log
                    LOG.exception("reloading the plan %s", self.path)
        hub.spawn(loop)


def run(module, argv, listen, port, plan_file, status_file, description):
    """Parse the command line and run app `module` (its OPTIONS take the
    plan and status paths) with os-ken listening on LISTEN:PORT."""
    from os_ken import cfg
    from os_ken.base import app_manager
    ap = argparse.ArgumentParser(prog="python -m " + module, description=description)
    ap.add_argument("--plan", default=plan_file)
    ap.add_argument("--status", default=status_file)
    ap.add_argument("--listen", default=listen)
    ap.add_argument("--port", type=int, default=port)
    ap.add_argument("--log", default=None, help="log file (default: stderr)")
    args = ap.parse_args(argv)
    # run as __main__, the app module is imported again by name: its OPTIONS are the ones the app reads
    importlib.import_module(module).OPTIONS.update(plan=args.plan, status=args.status)
    logging.basicConfig(filename=args.log, level=logging.INFO,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")
    cfg.CONF(args=["--ofp-listen-host", args.listen, "--ofp-tcp-listen-port", str(args.port)], project="os_ken")
    app_manager.AppManager.run_apps([module])
