"""The amphora agent: what Octavia's controller talks to inside an amphora,
over HTTPS on the management network (port 9443) with a client certificate.
The part of its API version 1.0 that a single load balancer needs:

  GET  /                                          {"api_version":"1.0"}
  GET  /1.0/info                                  hostname, haproxy version
  PUT  /1.0/loadbalancer/<amphora id>/<lb id>/haproxy   store haproxy.cfg (checked with haproxy -c)
  GET  /1.0/loadbalancer/<lb id>/haproxy          the stored haproxy.cfg
  PUT  /1.0/loadbalancer/<lb id>/<start|stop|reload>
  GET  /1.0/loadbalancer/<lb id>                  whether haproxy runs, and its pid

haproxy runs in the amphora-haproxy namespace, in master-worker mode: a
reload (SIGUSR2 to the master) starts new workers on the same listening
sockets while the old ones finish, so no connection is refused meanwhile.

Run inside the amphora: python -m topologies.amphora_agent --amphora-id ID ..."""

import argparse
import json
import os
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from stacklab.runtime.procs import children

API_VERSION = "1.0"
_LB = r"(?P<lb>[0-9a-f-]{36})"
ROUTES = [
    ("GET", re.compile(r"^/?$"), "version"),
    ("GET", re.compile(r"^/1\.0/info$"), "info"),
    ("PUT", re.compile(r"^/1\.0/loadbalancer/(?P<amp>[0-9a-f-]{36})/%s/haproxy$" % _LB), "upload"),
    ("GET", re.compile(r"^/1\.0/loadbalancer/%s/haproxy$" % _LB), "config"),
    ("PUT", re.compile(r"^/1\.0/loadbalancer/%s/(?P<action>start|stop|reload)$" % _LB), "action"),
    ("GET", re.compile(r"^/1\.0/loadbalancer/%s$" % _LB), "status"),
]


class Amphora:
    """The amphora's state on disk, as Octavia keeps it: /var/lib/octavia/<lb id>/."""

    def __init__(self, amphora_id, base, netns):
        self.id = amphora_id
        self.base = base
        self.netns = netns

    def dir(self, lb):
        return os.path.join(self.base, lb)

    def config(self, lb):
        return os.path.join(self.dir(lb), "haproxy.cfg")

    def pidfile(self, lb):
        return os.path.join(self.dir(lb), lb + ".pid")

    def master(self, lb):
        """The haproxy master's pid, if it runs."""
        try:
            with open(self.pidfile(lb)) as f:
                pid = int(f.read().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def haproxy(self, lb, *args):
        """haproxy inside the amphora-haproxy namespace, with Octavia's files
        (and the open-file limit this machine allows, first)."""
        files = []
        limits = os.path.join(self.dir(lb), "stacklab-limits.cfg")
        if os.path.exists(limits):
            files += ["-f", limits]
        files += ["-f", self.config(lb), "-f", os.path.join(self.base, "haproxy-default-user-group.conf")]
        return ["nsenter", "--net=/run/netns/%s" % self.netns, "haproxy"] + files + list(args)

    def check(self, lb):
        proc = subprocess.run(self.haproxy(lb, "-c"), capture_output=True, text=True)
        return proc.returncode == 0, (proc.stdout + proc.stderr).strip()

    def start(self, lb):
        log = open(os.path.join(self.dir(lb), "haproxy.log"), "a")
        proc = subprocess.run(self.haproxy(lb, "-W", "-D", "-p", self.pidfile(lb)), stdout=log, stderr=log)
        deadline = time.monotonic() + 5
        while proc.returncode == 0 and self.master(lb) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return proc.returncode == 0 and self.master(lb) is not None

    def log_tail(self, lb, lines=5):
        try:
            with open(os.path.join(self.dir(lb), "haproxy.log")) as f:
                return "".join(f.readlines()[-lines:]).strip()
        except OSError:
            return ""

    def reload(self, lb, timeout=10.0):
        """New workers on the same sockets; the old ones finish their connections.
        Returns once the reload has taken effect, as `systemctl reload` of the
        amphora's haproxy unit does: a new worker listens and no old one still
        does (until then the kernel hands new connections to either, and an old
        worker serves them with the old configuration)."""
        pid = self.master(lb)
        if pid is None:
            return self.start(lb)
        old = children(pid)
        os.kill(pid, signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = children(pid) - old
            if any(listens(w) for w in new) and not any(listens(w) for w in old):
                return True
            time.sleep(0.01)
        return False

    def stop(self, lb):
        pid = self.master(lb)
        if pid is None:
            return True
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while self.master(lb) is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.master(lb) is None


def listens(pid):
    """Whether process `pid` holds a listening TCP socket (in its own network namespace)."""
    listening = set()
    for table in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, table)) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A":           # TCP_LISTEN
                        listening.add("socket:[%s]" % fields[9])
        except (OSError, StopIteration):
            pass
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in listening:
                return True
        except OSError:
            continue
    return False


def write_limits(path, maxconn):
    """haproxy wants about two files per connection; where this process may
    not raise its limit, cap maxconn in a file haproxy reads first."""
    from topologies.haproxy_cfg import fd_limits
    text = fd_limits(resource.getrlimit(resource.RLIMIT_NOFILE)[1], maxconn)
    if text is None:
        if os.path.exists(path):
            os.unlink(path)
    else:
        with open(path, "w") as f:
            f.write(text)


_DOING = {"start": "starting", "stop": "stopping", "reload": "reloading"}
_DONE = {"start": "started", "stop": "stopped", "reload": "reloaded"}


class Handler(BaseHTTPRequestHandler):
    amphora = None
    server_version = "stacklab-amphora-agent"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def _reply(self, code, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body, separators=(",", ":")) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method):
        for m, pattern, name in ROUTES:
            match = pattern.match(self.path)
            if m == method and match:
                return getattr(self, "do_" + name)(**match.groupdict())
        return self._reply(404, {"message": "Not Found", "details": "no route %s %s" % (method, self.path)})

    def do_GET(self):
        self._dispatch("GET")

    def do_PUT(self):
        self._dispatch("PUT")

    # -- routes ----------------------------------------------------------------
    def do_version(self):
        self._reply(200, {"api_version": API_VERSION})

    def do_info(self):
        version = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split()
        self._reply(200, {"hostname": socket.gethostname(), "haproxy_version": version[2] if len(version) > 2 else "",
                          "api_version": API_VERSION})

    def do_upload(self, amp, lb):
        amphora = self.amphora
        if amp != amphora.id:
            return self._reply(404, {"message": "Not Found", "details": "this is amphora %s" % amphora.id})
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        os.makedirs(amphora.dir(lb), exist_ok=True)
        tmp = amphora.config(lb) + ".new"
        with open(tmp, "wb") as f:
            f.write(body)
        maxconn = max([int(x) for x in re.findall(rb"^\s*maxconn (\d+)", body, re.M)] or [2000])
        write_limits(os.path.join(amphora.dir(lb), "stacklab-limits.cfg"), maxconn)
        old = amphora.config(lb) + ".old"
        if os.path.exists(amphora.config(lb)):
            os.replace(amphora.config(lb), old)
        os.replace(tmp, amphora.config(lb))
        ok, out = amphora.check(lb)
        if not ok:
            if os.path.exists(old):
                os.replace(old, amphora.config(lb))
            return self._reply(400, {"message": "Invalid request", "details": out})
        self._reply(202, {"message": "OK"})

    def do_config(self, lb):
        try:
            with open(self.amphora.config(lb), "rb") as f:
                self._reply(200, f.read(), "text/plain; charset=utf-8")
        except FileNotFoundError:
            self._reply(404, {"message": "Loadbalancer Not Found", "details": "No loadbalancer with UUID: " + lb})

    def do_action(self, lb, action):
        amphora = self.amphora
        if not os.path.exists(amphora.config(lb)):
            return self._reply(404, {"message": "Loadbalancer Not Found", "details": "No loadbalancer with UUID: " + lb})
        done = {"start": lambda: amphora.master(lb) is not None or amphora.start(lb),
                "stop": lambda: amphora.stop(lb), "reload": lambda: amphora.reload(lb)}[action]()
        if not done:
            return self._reply(500, {"message": "Error %s haproxy" % _DOING[action],
                                     "details": amphora.log_tail(lb)})
        self._reply(202, {"message": "OK", "details": "haproxy daemon for %s %s" % (lb, _DONE[action])})

    def do_status(self, lb):
        pid = self.amphora.master(lb)
        self._reply(200, {"id": lb, "status": "ACTIVE" if pid else "OFFLINE", "haproxy_pid": pid})


def start_haproxy(argv):
    """`start-haproxy LB_ID`: haproxy of load balancer LB_ID started as the
    amphora's haproxy-<lb id> unit starts it (what restarts it when it died)."""
    ap = argparse.ArgumentParser(prog="python -m topologies.amphora_agent start-haproxy")
    ap.add_argument("lb")
    ap.add_argument("--base", default="/var/lib/octavia")
    ap.add_argument("--netns", default="amphora-haproxy")
    args = ap.parse_args(argv)
    amphora = Amphora(None, args.base, args.netns)
    if not amphora.start(args.lb):
        sys.exit("haproxy of %s did not start: %s" % (args.lb, amphora.log_tail(args.lb)))
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["start-haproxy"]:
        return start_haproxy(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m topologies.amphora_agent", description=__doc__.split("\n\n")[0])
    ap.add_argument("--amphora-id", required=True)
    ap.add_argument("--listen", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=9443)
    ap.add_argument("--cert", required=True, help="server certificate and key (PEM)")
    ap.add_argument("--client-ca", required=True, help="CA that signs the controller's client certificate")
    ap.add_argument("--base", default="/var/lib/octavia")
    ap.add_argument("--netns", default="amphora-haproxy")
    ap.add_argument("--pidfile")
    args = ap.parse_args(argv)
    Handler.amphora = Amphora(args.amphora_id, args.base, args.netns)
    with open(os.path.join(args.base, "haproxy-default-user-group.conf"), "w") as f:
        from topologies.haproxy_cfg import USER_GROUP
        f.write(USER_GROUP)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert)
    context.load_verify_locations(args.client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server = ThreadingHTTPServer((args.listen, args.port), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
