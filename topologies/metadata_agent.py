"""neutron-metadata-agent, as a network node runs it (and, on an ML2/OVN
chassis, neutron-ovn-metadata-agent): listens on the unix socket the
proxies' haproxy forward to, finds the instance a request comes from (the
router's id from X-Neutron-Router-ID or the network's from
X-Neutron-Network-ID or X-OVN-Network-ID, the address from
X-Forwarded-For), and asks nova's
metadata API on its behalf, with the instance's id signed by the shared
secret. What it knows of the ports is
in PORTS_FILE (the lab writes it; neutron's agent asks its server).

Run: python -m topologies.metadata_agent --nova http://10.0.0.11:8775 --log FILE --pidfile FILE"""

import argparse
import http.client
import ipaddress
import json
import os
import socketserver
import sys
from http.server import BaseHTTPRequestHandler

from topologies import metadata


def client_address(forwarded_for):
    """The instance's address from X-Forwarded-For. A router's haproxy listens
    on '::', so an IPv4 client arrives IPv4-mapped (::ffff:192.168.101.19):
    the port has the IPv4 address."""
    address = (forwarded_for or "").split(",")[0].strip()
    try:
        mapped = ipaddress.ip_address(address)
    except ValueError:
        return address
    return str(mapped.ipv4_mapped) if getattr(mapped, "ipv4_mapped", None) else address


class Handler(BaseHTTPRequestHandler):
    server_version = "neutron-metadata-agent"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.headers.get("X-Forwarded-For", "-") if hasattr(self, "headers") else "-",
                                       fmt % args))

    def address_string(self):
        return self.headers.get("X-Forwarded-For", "-") if hasattr(self, "headers") else "-"

    def do_GET(self):
        router_id = self.headers.get("X-Neutron-Router-ID")
        # the DHCP agent's proxy names the network as neutron's agent reads it; the OVN agent's proxy as its own
        network_id = self.headers.get("X-Neutron-Network-ID") or self.headers.get("X-OVN-Network-ID")
        address = client_address(self.headers.get("X-Forwarded-For"))
        try:
            with open(self.server.ports_file) as f:
                ports = json.load(f)
        except (OSError, ValueError):
            ports = {}
        # the proxy says which router or network the request came through; the address is looked up there
        found = (ports.get("routers", {}).get(router_id, {}) if router_id else
                 ports.get("networks", {}).get(network_id or "", {})).get(address)
        if found is None:
            return self._answer(404, b"404 Not Found\n\nThe resource could not be found.\n")
        headers = {"X-Forwarded-For": address, "X-Instance-ID": found["instance_id"],
                   "X-Tenant-ID": found["project_id"],
                   "X-Instance-ID-Signature": metadata.signature(found["instance_id"])}
        try:
            conn = http.client.HTTPConnection(self.server.nova_host, self.server.nova_port, timeout=10)
            conn.request("GET", self.path, headers=headers)
            reply = conn.getresponse()
            body = reply.read()
            status = reply.status
        except OSError as e:
            sys.stderr.write("nova's metadata API at %s:%d: %s\n" % (self.server.nova_host, self.server.nova_port, e))
            return self._answer(500, b"500 Internal Server Error\n\nAn unknown error has occurred.\n")
        return self._answer(status, body)

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("metadata_proxy", 0)     # BaseHTTPRequestHandler wants a (host, port)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nova", required=True, help="nova's metadata API, http://HOST:PORT")
    p.add_argument("--socket", default=metadata.SOCKET)
    p.add_argument("--ports-file", default=metadata.PORTS_FILE)
    p.add_argument("--pidfile", required=True)
    args = p.parse_args(argv)
    host, port = args.nova.split("//", 1)[-1].rsplit(":", 1)
    try:
        os.unlink(args.socket)
    except FileNotFoundError:
        pass
    server = Server(args.socket, Handler)
    server.ports_file, server.nova_host, server.nova_port = args.ports_file, host, int(port)
    with open(args.pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
