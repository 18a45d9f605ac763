"""The node's OVS agent: an os-ken app listening on 127.0.0.1:6633 inside the
node, which every bridge of the node connects to (fail_mode secure, as in the
documents). It keeps each bridge's flows equal to what pipeline.node_flows()
says for the current plan and ports:

- when a bridge connects (at start, after ovs-vswitchd restarts, after the
  agent restarts) it sends the whole set with this run's cookie, then deletes
  every flow carrying another cookie (what an earlier run left);
- when a port appears or goes, or the plan file changes, it sends only the
  difference.

Run: python -m controller.neutron.agent [--plan FILE] [--status FILE]"""

import json
import logging
import os
import random
import subprocess
import sys
import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

from controller import appkit, openflow
from controller.appkit import PlanFollower, write_status
from controller.neutron.firewall import ConjunctionIds
from controller.neutron.pipeline import node_flows
from controller.neutron.plan import PLAN_FILE, STATUS_FILE, NodePlan
from stacklab import naming

LOG = logging.getLogger("stacklab.agent")
OPTIONS = {"plan": PLAN_FILE, "status": STATUS_FILE, "poll": 0.2}


class BridgeSession:
    """One connected bridge: its datapath, ports, and the flows we installed."""

    def __init__(self, datapath):
        self.datapath = datapath
        self.name = None
        self.ports = {}             # name -> ofport
        self.installed = openflow.FlowSet()
        self.synced = False         # False until the first full sync of this connection
        self.pending = {}           # barrier xid -> what the switch holds once it answers
        self.applied = None         # (flow count, bound ports) the switch confirmed
        self.connected_at = time.monotonic()
        self.full_sync_seconds = None   # connect -> every flow confirmed (first sync of this connection)


class NeutronOVSAgent(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cookie = random.getrandbits(64)
        self.conj_ids = ConjunctionIds()
        self.sessions = {}          # datapath id -> BridgeSession
        self.plans = PlanFollower(OPTIONS["plan"], NodePlan)
        self.tagged = {}            # port name -> local VLAN set in OVSDB
        self.syncs = 0
        if self.plans.load():
            self._log_plan()
        self.plans.follow(hub, OPTIONS["poll"], self._new_plan)

    # -- the plan -------------------------------------------------------------
    @property
    def plan(self):
        return self.plans.plan

    def _log_plan(self):
        LOG.info("plan for %s: %d networks, %d ports", self.plan.node, len(self.plan.networks),
                 len(self.plan.ports))

    def _new_plan(self):
        self._log_plan()
        self._program_all()

    # -- OpenFlow events ------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _switch_features(self, ev):
        dp = ev.msg.datapath
        self.sessions[dp.id] = BridgeSession(dp)
        dp.send_msg(openflow.port_desc_request(dp))

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def _port_desc(self, ev):
        session = self.sessions.get(ev.msg.datapath.id)
        if session is None:
            return
        for port in ev.msg.body:
            self._port_seen(session, port)
        if not (ev.msg.flags & ofproto_v1_3.OFPMPF_REPLY_MORE):
            self._program(session)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _port_status(self, ev):
        session = self.sessions.get(ev.msg.datapath.id)
        if session is None or session.name is None:
            return
        ofp = ev.msg.datapath.ofproto
        if ev.msg.reason == ofp.OFPPR_DELETE:
            name = ev.msg.desc.name.decode()
            session.ports.pop(name, None)
            self.tagged.pop(name, None)
        else:
            self._port_seen(session, ev.msg.desc)
        self._program(session)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats(self, ev):
        """After a full sync: remove what other cookies left."""
        dp = ev.msg.datapath
        stale = {stat.cookie for stat in ev.msg.body if stat.cookie != self.cookie}
        for cookie in sorted(stale):
            dp.send_msg(openflow.delete_cookie(dp, cookie))
        if stale:
            session = self.sessions.get(dp.id)
            LOG.info("%s: removed flows of %d stale cookies", session.name if session else dp.id, len(stale))
            dp.send_msg(openflow.barrier(dp))

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def _error(self, ev):
        """A flow the switch refused: a bug in a flow builder, say it loudly."""
        session = self.sessions.get(ev.msg.datapath.id)
        LOG.error("%s refused a message: type=%d code=%d data=%s", session.name if session else "?",
                  ev.msg.type, ev.msg.code, bytes(ev.msg.data[:64]).hex())

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier(self, ev):
        """The switch has applied what we sent: now the status may say so."""
        session = self.sessions.get(ev.msg.datapath.id)
        if session is not None and ev.msg.xid in session.pending:
            session.applied = session.pending.pop(ev.msg.xid)
            if session.full_sync_seconds is None:
                session.full_sync_seconds = time.monotonic() - session.connected_at
                LOG.info("%s: %d flows programmed %.3f s after it connected", session.name, session.applied[0],
                         session.full_sync_seconds)
            self._write_status()

    def _port_seen(self, session, port):
        name = port.name.decode() if isinstance(port.name, bytes) else port.name
        if port.port_no == ofproto_v1_3.OFPP_LOCAL:
            session.name = name         # the bridge's own port carries its name
        elif port.port_no <= ofproto_v1_3.OFPP_MAX:
            session.ports[name] = port.port_no

    # -- programming ----------------------------------------------------------
    def _program_all(self):
        for session in list(self.sessions.values()):
            if session.name is not None:
                self._program(session)

    def _program(self, session):
        if self.plan is None or session.name is None:
            return
        if not session.datapath.is_active:
            self.sessions.pop(session.datapath.id, None)
            return
        if session.name == naming.INTEGRATION_BRIDGE:
            self._tag_ports(session)
        wanted = node_flows(self.plan, {session.name: session.ports}, self.cookie, self.conj_ids).get(session.name)
        if wanted is None:
            return
        dp = session.datapath
        if not session.synced:
            send, delete = list(wanted), []
        else:
            send, delete = wanted.difference(session.installed)
        for flow in delete:
            dp.send_msg(openflow.flow_delete(dp, flow))
        for flow in send:
            dp.send_msg(openflow.flow_add(dp, flow, self.cookie))
        fence = openflow.barrier(dp)
        dp.send_msg(fence)
        session.pending[fence.xid] = (len(wanted), sorted(n for n in self.plan.ports if n in session.ports))
        if not session.synced:
            session.synced = True
            dp.send_msg(openflow.flow_stats_request(dp))
        session.installed = wanted
        self.syncs += 1
        LOG.info("%s: %d flows sent, %d deleted, %d in place", session.name, len(send), len(delete), len(wanted))

    def _tag_ports(self, session):
        """Give each bound port its network's local VLAN in OVSDB (the Port's
        tag and other_config), as the agent does; NORMAL switching needs it."""
        args = []
        for name, binding in self.plan.ports.items():
            net = self.plan.networks.get(binding.network)
            if name not in session.ports or net is None or self.tagged.get(name) == net.local_vlan:
                continue
            other = {"net_uuid": net.id, "network_type": net.type, "physical_network": net.physical_network or "",
                     "segmentation_id": net.segmentation_id or "", "tag": net.local_vlan}
            args += ["--", "set", "Port", name, "tag=%d" % net.local_vlan]
            args += ["other_config:%s=%s" % (k, json.dumps(str(v))) for k, v in other.items()]
            self.tagged[name] = net.local_vlan
        if args:
            subprocess.run(["ovs-vsctl", "--timeout=5"] + args[1:], check=False)

    def _write_status(self):
        status = {"pid": os.getpid(), "cookie": "0x%x" % self.cookie, "syncs": self.syncs, "time": time.time(),
                  "plan": list(self.plans.stamp) if self.plans.stamp else None,
                  "bridges": {s.name: {"flows": s.applied[0], "bound": s.applied[1], "ports": sorted(s.ports),
                                       "full_sync_seconds": s.full_sync_seconds}
                              for s in self.sessions.values() if s.name and s.applied}}
        write_status(OPTIONS["status"], status)


def main(argv=None):
    appkit.run("controller.neutron.agent", argv, "127.0.0.1", 6633, PLAN_FILE, STATUS_FILE, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
