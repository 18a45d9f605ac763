"""Figures for the agent's targets (printed, never asserted):
  - a node's whole flow set programmed in under 0.5 s: from the bridge
    connecting to the agent to the switch confirming every flow, at `up` and
    after ovs-vswitchd restarts (vxlan-instance and three-networks);
  - the app's flow-mod rate for 10,000 flows within 2x of `ovs-ofctl
    add-flows` for the same flows (both printed, and the ratio).
Run as root: sudo make bench"""

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from stacklab import runner  # noqa: E402
from stacklab.runtime.running import RunningLab  # noqa: E402
from stacklab.scenario.loader import find_scenario, load_scenario  # noqa: E402

N = 10000


def flow_lines(n):
    return "".join("table=82,priority=77,ct_state=+new-est,tcp,reg5=%d,tp_dst=%d "
                   "actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:1,resubmit(,92)\n"
                   % (1 + i // 1000, 1 + i % 1000) for i in range(n))


def wait_status(node, bridges, newer_than=0.0, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = node.agent_status() or {}
        b = st.get("bridges", {})
        if all(x in b and b[x].get("full_sync_seconds") is not None for x in bridges) and st["time"] > newer_than:
            return st
        time.sleep(0.05)
    raise RuntimeError("agent of %s did not report %s" % (node.name, bridges))


def full_sync(name):
    lab = runner.build(load_scenario(find_scenario(name)))
    try:
        run = RunningLab(lab.state)
        for node_name, node in lab.nodes.items():
            bridges = lab.state.nodes[node_name]["bridges"]
            st = wait_status(node, bridges)
            at_up = {b: st["bridges"][b] for b in bridges}
            # restart ovs-vswitchd: every flow is gone, the agent programs the whole set again
            pid = int(open(os.path.join(node.workdir, "run", "ovs-vswitchd.pid")).read())
            t0 = time.time()
            os.kill(pid, 9)
            time.sleep(0.2)
            run.run(node_name, "ovs-vswitchd --pidfile --detach --no-chdir --log-file -vconsole:off", check=True)
            st = wait_status(node, bridges, newer_than=t0)
            back = time.time() - t0
            for b in bridges:
                print("  %-15s %-10s %-12s %5d flows  at up %.3f s   after vswitchd restart %.3f s"
                      % (name, node_name, b, at_up[b]["flows"], at_up[b]["full_sync_seconds"],
                         st["bridges"][b]["full_sync_seconds"]))
            print("  %-15s %-10s all flows back %.2f s after the kill (vswitchd start included)"
                  % (name, node_name, back))
    finally:
        runner.teardown(lab)


def flowmod_rate():
    lab = runner.build(load_scenario(find_scenario("vxlan-instance")))
    try:
        run = RunningLab(lab.state)
        node = "compute1"
        with tempfile.TemporaryDirectory(dir=lab.state.dir) as tmp:
            flows_file = os.path.join(tmp, "flows.txt")
            with open(flows_file, "w") as f:
                f.write(flow_lines(N))
            for br in ("br-bench-a", "br-bench-b"):
                run.run(node, ["ovs-vsctl", "add-br", br, "--", "set", "Bridge", br, "datapath_type=netdev",
                               "fail_mode=secure", "protocols=OpenFlow10,OpenFlow13"], check=True)
            run.run(node, ["ovs-vsctl", "add-port", "br-bench-b", "p1", "--", "set", "Interface", "p1",
                           "type=internal", "ofport_request=1"], check=True)
            run.run(node, ["ovs-vsctl", "add-port", "br-bench-a", "p1a", "--", "set", "Interface", "p1a",
                           "type=internal", "ofport_request=1"], check=True)
            t0 = time.monotonic()
            run.run(node, ["ovs-ofctl", "add-flows", "br-bench-b", flows_file], check=True, timeout=120)
            ofctl = time.monotonic() - t0
            result = os.path.join(tmp, "app.json")
            app = subprocess.Popen(run.argv(node, [sys.executable, os.path.join(HERE, "flowmod_app.py"), str(N),
                                                   "6653", result]))
            time.sleep(0.2)
            run.run(node, ["ovs-vsctl", "set-controller", "br-bench-a", "tcp:127.0.0.1:6653"], check=True)
            app.wait(timeout=120)
            with open(result) as f:
                r = json.load(f)
            count = run.run(node, ["ovs-ofctl", "dump-aggregate", "br-bench-a"], check=True).stdout
            run.run(node, ["ovs-vsctl", "del-br", "br-bench-a", "--", "del-br", "br-bench-b"], check=True)
        print("  ovs-ofctl add-flows   %d flows  %.3f s  (%.0f flows/s)" % (N, ofctl, N / ofctl))
        print("  os-ken app (agent's layer) %d flows  %.3f s  (%.0f flows/s; building the messages %.3f s)"
              % (N, r["total_seconds"], N / r["total_seconds"], r["build_seconds"]))
        print("  ratio app/ovs-ofctl   %.2f   (target: at most 2)" % (r["total_seconds"] / ofctl))
        print("  flows on the app's bridge: %s" % count.strip().split("flow_count=")[-1])
    finally:
        runner.teardown(lab)


def main():
    if os.geteuid() != 0:
        sys.exit("run as root: sudo make bench")
    print("Whole flow set of a node (bridge connects -> switch confirms every flow; target < 0.5 s):")
    for name in ("vxlan-instance", "three-networks"):
        full_sync(name)
    print("Flow-mod rate, %d flows on one bridge (target: app within 2x of ovs-ofctl):" % N)
    flowmod_rate()


if __name__ == "__main__":
    main()
