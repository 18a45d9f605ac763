"""Probes: real packets sent from inside a lab namespace and what came back.

The parts of scapy the probes use are imported once per run (scapy.all,
every layer scapy has, takes a second here and ten in a VM under software
emulation; these parts a third of that); each probe then
runs in a child forked from that process which enters the source namespace
(setns), so probes are cheap and never see the root namespace's interfaces.
Every probe returns a ProbeResult: what was sent, what came back, the
verdict and the time taken. A probe passes only on an answer it asked for:
silence is never success unless silence is what was expected."""

import ctypes
import os
import pickle
import random
import select
import time
import types
from dataclasses import dataclass, field

CLONE_NEWNET = 0x40000000


@dataclass
class ProbeResult:
    kind: str
    source: str
    target: str
    ok: bool                    # the expectation held
    outcome: str                # e.g. "2/2 replies", "open", "filtered", "offered 192.168.101.19"
    sent: list = field(default_factory=list)
    received: list = field(default_factory=list)
    seconds: float = 0.0
    data: dict = field(default_factory=dict)


def _enter_netns(pid):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns into the network namespace of %d: %s" % (pid, os.strerror(err)))
    finally:
        os.close(fd)


def load_scapy():
    """The names of scapy the probes below use, as one namespace (what they
    call `scapy`), importing only their layers: Ethernet, IPv4, ICMP, TCP,
    UDP, BOOTP/DHCP."""
    import logging
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.arch import get_if_hwaddr
    from scapy.config import conf
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.sendrecv import sr, sr1, srp1
    from scapy.supersocket import L3RawSocket
    from scapy.utils import mac2str
    return types.SimpleNamespace(
        conf=conf, get_if_hwaddr=get_if_hwaddr, mac2str=mac2str, L3RawSocket=L3RawSocket, sr=sr, sr1=sr1, srp1=srp1,
        Ether=Ether, IP=IP, ICMP=ICMP, TCP=TCP, UDP=UDP, BOOTP=BOOTP, DHCP=DHCP, Raw=Raw)


class Prober:
    """Runs probe functions inside namespaces, scapy loaded once."""

    def __init__(self):
        self._scapy = None

    def scapy(self):
        if self._scapy is None:
            self._scapy = load_scapy()
        return self._scapy

    def run(self, pid, func, *args, timeout=30.0):
        """func(scapy, *args) in a child inside pid's network namespace."""
        return self.finish(self._fork(pid, lambda scapy: func(scapy, *args)))

    def start(self, pid, func, *args, timeout=5.0):
        """func(scapy, ready, *args) in a child inside pid's network namespace,
        returned to once the child called ready() (e.g. its capture socket is
        open); finish() collects its result. For a probe that watches the far
        end while another one sends."""
        r, w = os.pipe()

        def body(scapy):
            os.close(r)
            return func(scapy, lambda: os.write(w, b"."), *args)
        handle = self._fork(pid, body)
        os.close(w)
        ready = select.select([r], [], [], timeout)[0]
        os.close(r)
        if not ready:
            self.finish(handle)
            raise RuntimeError("the watching probe did not get ready within %.0f s" % timeout)
        return handle

    def _fork(self, pid, body):
        scapy = self.scapy()
        r, w = os.pipe()
        child = os.fork()
        if child == 0:          # pragma: no cover - runs in the child
            os.close(r)
            try:
                _enter_netns(pid)
                scapy.conf.ifaces.reload()
                scapy.conf.route.resync()
                result = ("ok", body(scapy))
            except BaseException as e:      # report it to the parent, whatever it is
                result = ("error", "%s: %s" % (type(e).__name__, e))
            with os.fdopen(w, "wb") as f:
                pickle.dump(result, f)
            os._exit(0)
        os.close(w)
        return child, r

    @staticmethod
    def finish(handle):
        child, r = handle
        with os.fdopen(r, "rb") as f:
            data = f.read()
        os.waitpid(child, 0)
        if not data:
            raise RuntimeError("the probe process died without an answer")
        status, value = pickle.loads(data)
        if status == "error":
            raise RuntimeError(value)
        return value


# -- the probes: run in the child, inside the source namespace ---------------------
def ping(scapy, dst, count=3, timeout=1.0, payload=b""):
    """ICMP echo requests (carrying `payload`, so a watcher elsewhere can tell
    them: NAT may change their id, never their data); (replies, rtts in ms,
    sent, received summaries)."""
    scapy.conf.L3socket = scapy.L3RawSocket
    ident = random.randrange(1, 0xFFFF)
    rtts, sent, received = [], [], []
    for seq in range(count):
        pkt = scapy.IP(dst=dst) / scapy.ICMP(id=ident, seq=seq) / scapy.Raw(payload)
        sent.append(pkt.summary())

        def echo_reply(r, seq=seq):
            return r.haslayer(scapy.ICMP) and r[scapy.ICMP].type == 0 and r[scapy.ICMP].id == ident \
                and r[scapy.ICMP].seq == seq
        # as ping(8): an ICMP redirect (a router's, sending us to a next hop on our own
        # subnet) is said and the echo reply still awaited; an error (unreachable) ends it
        ans, _ = scapy.sr(pkt, timeout=timeout, multi=True, verbose=0,
                          stop_filter=lambda r: echo_reply(r) or (r.haslayer(scapy.ICMP)
                                                                  and r[scapy.ICMP].type not in (0, 5, 8)))
        for request, answer in ans:
            received.append(answer.summary())
            if echo_reply(answer):
                rtts.append((answer.time - request.sent_time) * 1000)
                break
    return {"replies": len(rtts), "count": count, "rtt_ms": rtts, "sent": sent, "received": received}


def tcp_syn(scapy, dst, port, timeout=0.6, tries=2):
    """A SYN: open (SYN/ACK), closed (RST) or filtered (silence, or ICMP unreachable)."""
    scapy.conf.L3socket = scapy.L3RawSocket
    sent, received = [], []
    for _ in range(tries):
        pkt = scapy.IP(dst=dst) / scapy.TCP(sport=random.randrange(20000, 60000), dport=port, flags="S",
                                            seq=random.randrange(1 << 31))
        sent.append(pkt.summary())
        ans = scapy.sr1(pkt, timeout=timeout, verbose=0)
        if ans is None:
            continue
        received.append(ans.summary())
        if ans.haslayer(scapy.TCP):
            flags = ans[scapy.TCP].flags
            if flags & 0x12 == 0x12:
                return {"state": "open", "sent": sent, "received": received}
            if flags & 0x04:
                return {"state": "closed", "sent": sent, "received": received}
        if ans.haslayer(scapy.ICMP):
            return {"state": "filtered", "sent": sent, "received": received}
    return {"state": "filtered", "sent": sent, "received": received}


def dhcp(scapy, iface="eth0", mac=None, timeout=2.0):
    """DISCOVER then REQUEST; the offered address and options of the ACK."""
    scapy.conf.checkIPaddr = False      # the reply comes from the server, not from 255.255.255.255
    mac = mac or scapy.get_if_hwaddr(iface)
    xid = random.randrange(1, 1 << 31)
    chaddr = scapy.mac2str(mac)

    def exchange(options):
        pkt = (scapy.Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / scapy.IP(src="0.0.0.0", dst="255.255.255.255")
               / scapy.UDP(sport=68, dport=67) / scapy.BOOTP(chaddr=chaddr, xid=xid, flags=0x8000)
               / scapy.DHCP(options=options + ["end"]))
        return pkt, scapy.srp1(pkt, iface=iface, timeout=timeout, verbose=0)

    def opts(p):
        return {k: v for k, v in (o for o in p[scapy.DHCP].options if isinstance(o, tuple) and len(o) == 2)}

    params = ("param_req_list", [1, 3, 6, 15, 26, 51, 54])
    sent, received = [], []
    discover, offer = exchange([("message-type", "discover"), params])
    sent.append(discover.summary())
    if offer is None or not offer.haslayer(scapy.DHCP):
        return {"answered": False, "sent": sent, "received": received}
    received.append(offer.summary())
    offered = offer[scapy.BOOTP].yiaddr
    request, ack = exchange([("message-type", "request"), ("requested_addr", offered),
                             ("server_id", opts(offer).get("server_id")), params])
    sent.append(request.summary())
    if ack is None or not ack.haslayer(scapy.DHCP):
        return {"answered": False, "offered": offered, "sent": sent, "received": received}
    received.append(ack.summary())
    o = opts(ack)
    kind = {5: "ack", 6: "nak"}.get(o.get("message-type"), str(o.get("message-type")))
    return {"answered": True, "reply": kind, "ip": ack[scapy.BOOTP].yiaddr, "lease_time": o.get("lease_time"),
            "router": o.get("router"), "dns": o.get("name_server"), "mtu": o.get("interface-mtu"),
            "server": o.get("server_id"), "sent": sent, "received": received}


def watch_icmp(scapy, ready, payload, seconds, iface="eth0"):
    """Capture on `iface` the ICMP echo requests carrying `payload` that
    arrive here: who they say they come from (the far end of a NAT)."""
    sock = scapy.conf.L2listen(iface=iface, filter="icmp")
    ready()
    seen = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            got = sock.select([sock], 0.1)
            if not got:
                continue
            pkt = sock.recv()
            if pkt is None or not pkt.haslayer(scapy.ICMP):
                continue
            icmp = pkt[scapy.ICMP]
            if icmp.type == 8 and bytes(icmp.payload) == payload:
                seen.append({"src": pkt[scapy.IP].src, "dst": pkt[scapy.IP].dst, "seq": icmp.seq})
                if len(seen) >= 3:
                    break
    finally:
        sock.close()
    return seen



def connections(scapy, ready, address, port, seconds, banner=b"SSH-"):
    """New TCP connections to address:port, one after another for `seconds`,
    each reading the server's first bytes: how many succeeded, were refused
    (RST), timed out or were cut, and the rate (a client of a load balancer
    being reloaded, or of a benchmark)."""
    import socket
    ready()
    ok = refused = timeout = 0
    t0 = time.monotonic()
    while time.monotonic() < t0 + seconds:
        try:
            with socket.create_connection((address, port), timeout=2) as c:
                if c.recv(len(banner)).startswith(banner):
                    ok += 1
                else:
                    timeout += 1
        except ConnectionRefusedError:
            refused += 1
        except OSError:
            timeout += 1
    return {"ok": ok, "refused": refused, "failed": timeout, "per_second": ok / (time.monotonic() - t0)}
