"""The command check against a reference given as a file path (documented in
the format reference): the report names the file as the scenario gave it,
and the document only when the file's header names one."""

import subprocess
import types

from stacklab.checks import FAIL, PASS
from stacklab.checks.commands import CommandCheck
from stacklab.scenario.loader import find_scenario, load_scenario


def _run(tmp_path, header, printed, **params):
    ref = tmp_path / "mine.txt"
    ref.write_text(header + "1: lo: <LOOPBACK,UP,LOWER_UP>\n    inet 127.0.0.1/8 scope host lo\n")
    scenario = load_scenario(find_scenario("vxlan-instance"))
    lab = types.SimpleNamespace(scenario=scenario, run=lambda where, argv, timeout: subprocess.CompletedProcess(
        argv, 0, stdout=printed, stderr=""))
    p = {"where": "instance02", "run": "ip addr show lo", "expect": str(ref), "expect_block": None,
         "contains": None, "ignore": []}
    p.update(params)
    return str(ref), CommandCheck().run(lab, p)


def test_a_file_path_is_named_as_given(tmp_path):
    same = "1: lo: <LOOPBACK,UP,LOWER_UP>\n    inet 127.0.0.1/8 scope host lo\n"
    path, out = _run(tmp_path, "# ip addr show lo, from my-cloud.md\n", same)
    assert out.verdict == PASS and "%s of my-cloud.md" % path in out.detail and ".." not in out.detail, out.detail
    path, out = _run(tmp_path, "", same)
    assert out.verdict == PASS and "%s (a file naming no document)" % path in out.detail, out.detail


def test_a_file_path_reference_still_fails_on_a_difference(tmp_path):
    path, out = _run(tmp_path, "", "1: lo: <LOOPBACK,UP,LOWER_UP>\n    inet 127.0.0.2/8 scope host lo\n")
    assert out.verdict == FAIL and "line 2" in out.detail and path in out.detail, out.detail
