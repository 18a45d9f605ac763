"""The netvirt controller: one os-ken app, as OpenDaylight is one controller,
listening on the controller node's address (port 6653). Every node's br-int
connects to it; it knows a switch by its datapath id (the plan says which
node that is), learns its ports from OpenFlow, and keeps each br-int's flows
and groups equal to pipeline.node_pipeline():

- when a switch connects (first time, after ovs-vswitchd restarts, after the
  controller restarts) it clears the switch's flows and groups and installs
  the whole set (here cookies carry meaning, so stale flows are not told by
  cookie: a fresh start leaves none);
- when a port appears or goes, or the plan changes, it sends every node
  only the difference (in one pass per burst of changes): groups before
  the flows that use them, flows removed before their groups.

Run: python -m controller.netvirt.app --listen IP [--port 6653] [--plan FILE]"""

import logging
import os
import sys
import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import (CONFIG_DISPATCHER, DEAD_DISPATCHER, HANDSHAKE_DISPATCHER, MAIN_DISPATCHER,
                                      set_ev_cls)
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

from controller import appkit, handshake, openflow
from controller.appkit import PlanFollower, new_lock, serialized, write_status
from controller.netvirt.pipeline import node_pipeline
from controller.netvirt.plan import PLAN_FILE, STATUS_FILE, Plan

LOG = logging.getLogger("stacklab.netvirt")
OPTIONS = {"plan": PLAN_FILE, "status": STATUS_FILE, "poll": 0.2, "batch": 0.05}


class Switch:
    """One connected br-int: its datapath, node, ports and what we installed."""

    def __init__(self, datapath):
        self.datapath = datapath
        self.node = None
        self.ports = {}                     # name -> ofport
        self.flows = openflow.FlowSet()     # installed
        self.groups = openflow.GroupSet()
        self.synced = False
        self.described = False              # its port list came (the handshake is over)
        self.inputs = None                  # what the installed set was computed from
        self.pending = {}                   # barrier xid -> (flows, groups, bound ports)
        self.applied = None
        self.connected_at = time.monotonic()
        self.connected_time = time.time()
        self.full_sync_seconds = None


class NetvirtController(app_manager.OSKenApp):
    """Its events come on os-ken's event thread, its passes, plan changes and
    handshake checks on threads of their own (the hub is native threads):
    what they share is touched under self.lock, and messages are made under
    it and sent after it."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lock = new_lock()
        self.switches = {}          # dpid -> Switch
        self.plans = PlanFollower(OPTIONS["plan"], Plan)
        self.syncs = 0
        self.pending_pass = False
        if self.plans.load():
            self._log_plan()
        self.plans.follow(hub, OPTIONS["poll"], self._new_plan)

    # -- the plan -------------------------------------------------------------
    @property
    def plan(self):
        return self.plans.plan

    def _log_plan(self):
        LOG.info("plan: %d nodes, %d networks, %d ports", len(self.plan.nodes), len(self.plan.networks),
                 len(self.plan.ports))

    def _new_plan(self):
        with self.lock:
            self._log_plan()
        self._program_all()

    # -- OpenFlow events ------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPStateChange, HANDSHAKE_DISPATCHER)
    def _accepted(self, ev):
        """A switch connected: watch its handshake (controller/handshake.py).
        os-ken's own listener made the socket, so it is wrapped here; its
        reader and sender take dp.socket afresh for every call."""
        dp = ev.datapath
        sock = handshake.WatchedSocket(dp.socket)
        dp.socket = sock
        hub.spawn_after(handshake.QUIET_SECONDS, self._check_handshake, dp, sock, time.monotonic())

    @serialized
    def _check_handshake(self, dp, sock, started):
        """Wait, ask again or close, as controller/handshake.py decides."""
        switch = self.switches.get(dp.id) if dp.id is not None else None
        got = handshake.how_far(switch, dp, switch is not None and switch.described)
        if handshake.gone(dp) or got is None:
            return
        step, seconds = handshake.next_step(dp, sock, started)
        if step == handshake.CLOSE:
            LOG.warning("%s", handshake.stalled(dp, sock, started, got))
            dp.close()
            return
        if step == handshake.ASK:
            asked = handshake.ask_again(dp, got)
            if asked:
                LOG.info("a switch connected from %s:%d has been silent for %.0f s (%s): asking again for %s",
                         *dp.address, time.monotonic() - sock.last_received, got, asked)
        hub.spawn_after(seconds, self._check_handshake, dp, sock, started)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    @serialized
    def _switch_features(self, ev):
        dp = ev.msg.datapath
        switch, old = Switch(dp), self.switches.get(dp.id)
        if old is not None and old.datapath is not dp and old.datapath.is_active:
            # ovs-vswitchd restarted and its goodbye never came (the node's address is a port of
            # the process that died): the old connection would linger half open
            LOG.info("%s connected again from %s:%d; closing its previous connection",
                     old.node or "datapath %016x" % dp.id, *dp.address)
            old.datapath.close()
        if old is not None:
            # the same br-int again (ovs-vswitchd restarted, or its connection did): until its port
            # list comes, the other nodes keep their flows toward the ports it had
            switch.node, switch.ports = old.node, dict(old.ports)
        self.switches[dp.id] = switch
        dp.send_msg(openflow.port_desc_request(dp))

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def _port_desc(self, ev):
        with self.lock:
            switch = self.switches.get(ev.msg.datapath.id)
            if switch is None:
                return
            for port in ev.msg.body:
                self._port_seen(switch, port)
            if ev.msg.flags & ofproto_v1_3.OFPMPF_REPLY_MORE:
                return
            switch.described = True
            msgs = self._program(switch)    # at once; the others learn its ports with the next batch
            self._schedule()
        if msgs:
            openflow.send_batch(switch.datapath, msgs)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    @serialized
    def _port_status(self, ev):
        switch = self.switches.get(ev.msg.datapath.id)
        if switch is None:
            return
        if ev.msg.reason == ev.msg.datapath.ofproto.OFPPR_DELETE:
            switch.ports.pop(ev.msg.desc.name.decode(), None)
        else:
            self._port_seen(switch, ev.msg.desc)
        self._schedule()            # this node's flows, and the other nodes' toward this port

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    @serialized
    def _disconnected(self, ev):
        """Its barriers will not be answered; it keeps its ports (see _switch_features) until it is back."""
        switch = self.switches.get(ev.datapath.id)
        if switch is not None and switch.datapath is ev.datapath:
            switch.pending.clear()

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    @serialized
    def _error(self, ev):
        switch = self.switches.get(ev.msg.datapath.id)
        LOG.error("%s refused a message: type=%d code=%d data=%s", switch.node if switch else "?",
                  ev.msg.type, ev.msg.code, bytes(ev.msg.data[:64]).hex())

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    @serialized
    def _barrier(self, ev):
        switch = self.switches.get(ev.msg.datapath.id)
        if switch is not None and ev.msg.xid in switch.pending:
            switch.applied = switch.pending.pop(ev.msg.xid)
            if switch.full_sync_seconds is None:
                switch.full_sync_seconds = time.monotonic() - switch.connected_at
                LOG.info("%s: %d flows, %d groups programmed %.3f s after it connected", switch.node,
                         switch.applied[0], switch.applied[1], switch.full_sync_seconds)
            self._write_status()

    def _port_seen(self, switch, port):
        name = port.name.decode() if isinstance(port.name, bytes) else port.name
        if port.port_no <= ofproto_v1_3.OFPP_MAX:
            switch.ports[name] = port.port_no

    # -- programming ----------------------------------------------------------
    def _bound(self):
        """The ports each node's br-int has (or had, while it reconnects)."""
        return {s.node: set(s.ports) for s in self.switches.values() if s.node}

    def _schedule(self):
        """Program every switch soon: port changes come in bursts (a node's
        VMs plugged together), and each changes the flows of every node that
        shares a network or router with it; one pass for the burst."""
        if not self.pending_pass:
            self.pending_pass = True
            hub.spawn_after(OPTIONS["batch"], self._program_all)

    def _program_all(self):
        """A pass (on a timer or the plan follower's thread): every switch's
        messages made under the lock, sent after it."""
        with self.lock:
            self.pending_pass = False
            batches = [(switch.datapath, self._program(switch)) for switch in list(self.switches.values())
                       if switch.synced]
            if not any(s.pending for s in self.switches.values()):
                self._write_status()        # nothing changed: settled as it is
        for dp, msgs in batches:
            if msgs:
                openflow.send_batch(dp, msgs)

    def _program(self, switch):
        """The messages that bring `switch` to its pipeline (None: nothing to
        send); the switch records them as sent."""
        if self.plan is None:
            return None
        dp = switch.datapath
        if not dp.is_active:
            return None             # gone; it is programmed again when it connects
        node = self.plan.node_by_dpid(dp.id)
        if node is None:
            LOG.warning("datapath %016x is no node of the plan", dp.id)
            return None
        switch.node = node.name
        bound = self._bound()
        bound[node.name] = set(switch.ports)
        # what its flows depend on: the plan, its ports, the other nodes' VM ports that are there
        inputs = (self.plans.stamp, tuple(sorted(switch.ports.items())),
                  frozenset(p.name for p in self.plan.ports.values() if p.name in bound.get(p.node, ())))
        if switch.synced and inputs == switch.inputs:
            return None
        switch.inputs = inputs
        flows, groups = node_pipeline(self.plan, node.name, switch.ports, bound)
        msgs = []
        if not switch.synced:
            # a fresh start: whatever the switch holds goes, then everything is sent
            msgs += [openflow.delete_all_flows(dp), openflow.group_delete(dp)]
            add_groups, modify_groups, delete_groups = list(groups), [], []
            send, delete = list(flows), []
            switch.synced = True
        else:
            add_groups, modify_groups, delete_groups = groups.difference(switch.groups)
            send, delete = flows.difference(switch.flows)
            if not (add_groups or modify_groups or delete_groups or send or delete):
                return None
        msgs += [openflow.group_mod(dp, group, "add") for group in add_groups]
        msgs += [openflow.group_mod(dp, group, "modify") for group in modify_groups]
        msgs += [openflow.flow_delete(dp, flow) for flow in delete]
        msgs += [openflow.flow_add(dp, flow) for flow in send]
        if delete_groups:
            msgs.append(openflow.barrier(dp))     # flows that use them go first
            msgs += [openflow.group_delete(dp, group_id) for group_id in delete_groups]
        fence = openflow.barrier(dp)
        msgs.append(fence)
        dp.set_xid(fence)           # known before the reply can come
        bound = sorted(p.name for p in self.plan.ports.values() if p.node == node.name and p.name in switch.ports)
        switch.pending[fence.xid] = (len(flows), len(groups), bound)
        switch.flows, switch.groups = flows, groups
        self.syncs += 1
        LOG.info("%s: %d flows sent, %d deleted, %d in place; groups %d added, %d modified, %d deleted",
                 node.name, len(send), len(delete), len(flows), len(add_groups), len(modify_groups),
                 len(delete_groups))
        return msgs

    def _write_status(self):
        settled = not self.pending_pass and not any(s.pending for s in self.switches.values())
        status = {"pid": os.getpid(), "syncs": self.syncs, "time": time.time(), "settled": settled,
                  "plan": list(self.plans.stamp) if self.plans.stamp else None,
                  "nodes": {s.node: {"flows": s.applied[0], "groups": s.applied[1], "bound": s.applied[2],
                                     "ports": sorted(s.ports), "full_sync_seconds": s.full_sync_seconds,
                                     "connected": s.connected_time}
                            for s in self.switches.values() if s.node and s.applied}}
        write_status(OPTIONS["status"], status)


def main(argv=None):
    appkit.run("controller.netvirt.app", argv, "0.0.0.0", 6653, PLAN_FILE, STATUS_FILE, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
