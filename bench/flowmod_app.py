"""A one-shot os-ken app for bench_agent.py: when a bridge connects, build
N firewall-like flows through the agent's own layer (controller.openflow),
send them, wait for the barrier reply, write the figures and exit.
Run inside a lab node: python bench/flowmod_app.py N PORT RESULT_FILE"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from os_ken import cfg  # noqa: E402
from os_ken.base import app_manager  # noqa: E402
from os_ken.controller import ofp_event  # noqa: E402
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls  # noqa: E402
from os_ken.ofproto import ofproto_v1_3  # noqa: E402

from controller import openflow  # noqa: E402
from controller.openflow import ct, match, output, resubmit  # noqa: E402

ARGS = {}


def bench_flows(n):
    """The same flows as bench_agent.flow_lines(n), as Flow objects."""
    flows = openflow.FlowSet()
    for i in range(n):
        flows.add(82, 77, match("tcp", ct_state="+new-est", reg5=1 + i // 1000, tcp_dst=1 + i % 1000),
                  [ct(commit=True), output(1), resubmit(92)])
    return flows


class FlowModBench(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _features(self, ev):
        dp = ev.msg.datapath
        t0 = time.monotonic()
        flows = bench_flows(ARGS["n"])
        t1 = time.monotonic()
        for flow in flows:
            dp.send_msg(openflow.flow_add(dp, flow, 0x1))
        self.fence = openflow.barrier(dp)
        dp.send_msg(self.fence)
        self.times = (t0, t1)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier(self, ev):
        t2 = time.monotonic()
        t0, t1 = self.times
        with open(ARGS["result"], "w") as f:
            json.dump({"flows": ARGS["n"], "build_seconds": t1 - t0, "total_seconds": t2 - t0}, f)
        os._exit(0)


if __name__ == "__main__":
    ARGS.update(n=int(sys.argv[1]), result=sys.argv[3])
    import flowmod_app  # noqa: E402  (the app module os-ken loads is this file by name)
    flowmod_app.ARGS.update(ARGS)
    cfg.CONF(args=["--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", sys.argv[2]], project="os_ken")
    app_manager.AppManager.run_apps(["flowmod_app"])
