"""Which Open vSwitch datapath a lab can have here. `netdev` (userspace)
works everywhere; `system`, what real nodes and the documents run, needs the
kernel's openvswitch module: asked for before anything is built, so a
machine without it gets one clear sentence and no half-built lab."""

import os
import subprocess

from stacklab.errors import LabError

DATAPATH_TYPES = ("netdev", "system")     # a scenario's datapath_type, `--datapath`
MODULE_DIR = "/sys/module/openvswitch"


def kernel_module_error():
    """None if the openvswitch module is loaded (or loads now), else why not."""
    if os.path.isdir(MODULE_DIR):
        return None
    try:
        proc = subprocess.run(["modprobe", "openvswitch"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "modprobe openvswitch: %s" % e
    if proc.returncode == 0 and os.path.isdir(MODULE_DIR):
        return None
    return "modprobe openvswitch: %s" % (proc.stderr.strip().splitlines()[-1] if proc.stderr.strip()
                                         else "exit status %d" % proc.returncode)


def require(datapath_type):
    if datapath_type != "system":
        return
    why = kernel_module_error()
    if why:
        raise LabError("datapath_type system needs the kernel's openvswitch module, which this machine "
                       "cannot load (%s); datapath_type netdev, the default, needs none" % why)
