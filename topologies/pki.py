"""The certificates Octavia's controller and amphorae talk TLS with, made per
lab with openssl: a CA, a server certificate per amphora (its id as common
name, its management address as subject alternative name) and the
controller's client certificate. The amphora agent accepts only clients
whose certificate the CA signed, as Octavia's does."""

import os
import subprocess

from stacklab.errors import LabError

CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]    # fast to make, enough for a lab
DAYS = "30"


def _openssl(args, cwd):
    proc = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LabError("openssl %s failed: %s" % (args[0], proc.stderr.strip()))


class CertificateAuthority:
    """Files under `directory`: ca.pem, ca.key, and what it signs."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.cert = os.path.join(directory, "ca.pem")
        if not os.path.exists(self.cert):
            _openssl(["req", "-x509", "-nodes"] + CURVE + ["-keyout", "ca.key", "-out", "ca.pem", "-days", DAYS,
                                                          "-subj", "/CN=stacklab Octavia CA"], directory)

    def issue(self, name, common_name, ip=None):
        """A certificate and its key, concatenated in NAME.pem (what haproxy,
        curl -E and Octavia's agent read). Returns its path."""
        path = os.path.join(self.dir, name + ".pem")
        if os.path.exists(path):
            return path
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s%s\n" % (common_name, ",IP:%s" % ip if ip else ""))
        _openssl(["req", "-nodes"] + CURVE + ["-keyout", name + ".key", "-out", name + ".csr",
                                             "-subj", "/CN=%s" % common_name], self.dir)
        _openssl(["x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                  "-out", name + ".crt", "-days", DAYS, "-extfile", ext], self.dir)
        with open(path, "w") as out:
            for part in (name + ".crt", name + ".key"):
                with open(os.path.join(self.dir, part)) as f:
                    out.write(f.read())
        os.chmod(path, 0o600)
        return path
