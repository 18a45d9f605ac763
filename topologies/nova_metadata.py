"""nova's metadata API (nova-api-metadata), as the controller serves it on
port 8775: a request names its instance by X-Instance-ID, signed with the
shared secret the metadata agents hold; a wrong signature is refused (403).
It answers the EC2 and OpenStack paths cloud-init and cirros read. What it
knows of the instances is in NOVA_FILE (the lab writes it).

Run: python -m topologies.nova_metadata --listen 10.0.0.11 --pidfile FILE"""

import argparse
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from topologies import metadata


def answer(record, path):
    """(status, body) for `path` of the instance `record`."""
    path = "/" + path.strip("/")
    key_names = sorted(record["public_keys"])
    meta = record["meta_data"]
    if path in ("/", ""):
        return 200, "latest"
    user_data = record.get("user_data")
    if path in ("/latest", "/2009-04-04"):
        return 200, "meta-data/" + ("\nuser-data" if user_data is not None else "")
    if path in ("/latest/user-data", "/2009-04-04/user-data", "/openstack/latest/user_data"):
        if user_data is None:
            return 404, "404 Not Found\n\nThe resource could not be found.\n"
        return 200, user_data
    if path in ("/latest/meta-data", "/2009-04-04/meta-data"):
        return 200, "\n".join(sorted(meta) + (["public-keys/"] if key_names else []))
    for prefix in ("/latest/meta-data/", "/2009-04-04/meta-data/"):
        if path.startswith(prefix):
            item = path[len(prefix):]
            if item in meta:
                return 200, meta[item]
            if item == "public-keys" and key_names:
                return 200, "\n".join("%d=%s" % (i, n) for i, n in enumerate(key_names))
            parts = item.split("/")
            if parts[0] == "public-keys" and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(key_names):
                if len(parts) == 2:
                    return 200, "openssh-key"
                if parts[2] == "openssh-key":
                    return 200, record["public_keys"][key_names[int(parts[1])]] + "\n"
    if path in ("/openstack", "/openstack/latest"):
        if not path.endswith("latest"):
            return 200, "latest"
        return 200, "meta_data.json" + ("\nuser_data" if user_data is not None else "")
    if path == "/openstack/latest/meta_data.json":
        return 200, json.dumps({"uuid": record["uuid"], "name": record["name"], "hostname": meta["hostname"],
                                "public_keys": record["public_keys"], "project_id": record["project_id"],
                                "availability_zone": "nova", "launch_index": 0})
    return 404, "404 Not Found\n\nThe resource could not be found.\n"


class Handler(BaseHTTPRequestHandler):
    server_version = "nova-api-metadata"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.headers.get("X-Forwarded-For", "-") if hasattr(self, "headers") else "-",
                                      fmt % args))

    def do_GET(self):
        instance_id = self.headers.get("X-Instance-ID", "")
        signed = self.headers.get("X-Instance-ID-Signature", "")
        if not instance_id or not hmac.compare_digest(signed, metadata.signature(instance_id)):
            return self._send(403, "403 Forbidden\n\nAccess was denied to this resource.\n")
        try:
            with open(self.server.records_file) as f:
                record = json.load(f).get(instance_id)
        except (OSError, ValueError):
            record = None
        if record is None:
            return self._send(404, "404 Not Found\n\nThe resource could not be found.\n")
        self._send(*answer(record, self.path.split("?", 1)[0]))

    def _send(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", required=True, help="the controller's address")
    p.add_argument("--port", type=int, default=metadata.NOVA_PORT)
    p.add_argument("--records", default=metadata.NOVA_FILE)
    p.add_argument("--pidfile", required=True)
    args = p.parse_args(argv)
    server = ThreadingHTTPServer((args.listen, args.port), Handler)
    server.daemon_threads = True
    server.records_file = args.records
    with open(args.pidfile, "w") as f:
        f.write("%d\n" % os.getpid())
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
