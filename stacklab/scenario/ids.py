"""Ids and MACs a scenario leaves out, derived as stable functions of the
names of what they identify (never of the lab's name: a copy of a scenario
under another name is the same cloud). Used by the loader and by the parts
it hands the work to (l3.py, octavia.py)."""

import hashlib
import uuid

_ID_NAMESPACE = uuid.UUID("5c7a1ab0-0000-4000-8000-00000057ac1a")
DERIVATION_SEED = "stacklab"


def derived_id(seed, kind, name):
    """A UUID for the `kind` thing called `name` (uuid5: the same every time)."""
    return str(uuid.uuid5(_ID_NAMESPACE, "%s/%s/%s" % (seed, kind, name)))


def derived_mac(seed, taken, prefix="fa:16:3e"):
    """A MAC of `prefix` from a hash of `seed`, the next free one if `taken`
    (a set it adds to) already has it."""
    digest = hashlib.sha256(seed.encode()).digest()
    n = int.from_bytes(digest[:3], "big")
    while True:
        mac = "%s:%02x:%02x:%02x" % (prefix, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
        if mac not in taken:
            taken.add(mac)
            return mac
        n = (n + 1) & 0xffffff
