"""A wheel, not the editable install: built from the tree, installed into a
fresh virtual environment (no system site packages, nothing of the source
tree importable), it validates the shipped scenarios with their reference
dumps and runs both control planes' processes."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(argv, cwd, timeout=300):
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, "%s exited %d:\n%s%s" % (" ".join(argv), proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def test_a_wheel_installed_alone_validates_and_runs_the_agents(tmp_path):
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), ROOT], cwd=tmp_path)
    [wheel] = list(wheels.iterdir())
    venv = tmp_path / "venv"
    _run(["/usr/bin/python3", "-m", "venv", str(venv)], cwd=tmp_path)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], cwd=tmp_path)
    where = _run([python, "-c", "import stacklab, controller.neutron.agent, controller.netvirt.app; "
                  "print(stacklab.__file__)"], cwd=tmp_path)
    assert where.startswith(str(venv)), where
    out = _run([str(venv / "bin" / "stacklab"), "validate", "vxlan-instance", "netvirt-dvr", "lb-amphora"],
               cwd=tmp_path)
    assert out.count(": ok (") == 3 and str(venv / "share" / "stacklab" / "scenarios") in out, out
    assert "01-reading-the-topology" in _run([str(venv / "bin" / "stacklab"), "exercise", "list"], cwd=tmp_path)
    assert "--nodes" in _run([python, "-m", "controller.neutron.agent", "--help"], cwd=tmp_path)
    assert "--listen" in _run([python, "-m", "controller.netvirt.app", "--help"], cwd=tmp_path)
