"""The exercises as files: every one loads, covers what the issue asks,
keeps its solution.md and its machine steps together; a broken
exercise.yaml is reported with file, line and key (golden messages)."""

import os

import pytest

from stacklab.errors import ScenarioError
from stacklab.exercises.model import EXERCISE_DIR, list_exercises, load_exercise
from stacklab.exercises.session import is_right

NAMES = list_exercises()


def test_ten_exercises_over_four_documents_and_three_levels():
    exercises = [load_exercise(os.path.join(EXERCISE_DIR, n)) for n in NAMES]
    assert len(exercises) >= 10
    assert {e.document for e in exercises} == {"000", "002", "003", "004"}
    assert {e.level for e in exercises} == {1, 2, 3}
    assert [e.name[:2] for e in exercises] == ["%02d" % (i + 1) for i in range(len(exercises))]


@pytest.mark.parametrize("name", NAMES)
def test_exercise_is_complete(name):
    ex = load_exercise(os.path.join(EXERCISE_DIR, name))
    readme = ex.readme()
    for section in ("## Task", "## What it teaches", "## Commands that help"):
        assert section in readme, "%s/README.md lacks %s" % (name, section)
    assert len(ex.hints) >= 2 and ex.criteria and ex.solution and ex.wrong_fixes
    own_scenario = os.path.dirname(ex.scenario_file) == ex.dir       # the fault is in the scenario itself
    assert ex.faults or ex.questions or own_scenario, "%s breaks nothing and asks nothing" % name
    solution = ex.solution_text()
    for step in ex.solution:
        if step.run:
            assert step.run in solution, "%s: solution.md does not show `%s`" % (name, step.run)
    for kind, params, says, line in ex.criteria:
        assert says and line


BAD = """title: broken
level: 4
document: "000"
scenario: vxlan-instance
faults:
  - flow_delete: {node: compute1}
  - tunnel_remote_ip: {node: compute9, peer: controller, remote_ip: 10.0.0.1}
criteria:
  - ping: {from: qdhcp-selfservice, to: instance02}
  - answer: vni
    says: no such question
solution:
  - {run: ls}
  - {where: compute1, run: ls, apply: x.yaml}
"""


def test_golden_errors(tmp_path):
    d = tmp_path / "99-broken"
    d.mkdir()
    (d / "exercise.yaml").write_text(BAD)
    with pytest.raises(ScenarioError) as e:
        load_exercise(str(d))
    got = [str(p).replace(str(d) + "/", "") for p in e.value.problems]
    assert got == [
        "exercise.yaml:2: level: 4 is out of range 1..3",
        "exercise.yaml:6: faults.0.flow_delete: unknown kind (did you mean 'flow_deleted'?); kinds: "
        "dhcp_host_missing, flow_altered, flow_deleted, group_deleted, link_down, mtu, nat_rule_missing, "
        "port_tag, tunnel_remote_ip",
        "exercise.yaml:9: criteria.0: a criterion is a check kind with its parameters and `says`, the message "
        "shown while it fails",
    ], got
    (d / "exercise.yaml").write_text(BAD.replace("level: 4", "level: 2").replace("  - flow_delete: {node: compute1}\n", "")
                                     .replace("to: instance02}", "to: instance02}\n    says: unreachable"))
    with pytest.raises(ScenarioError) as e:
        load_exercise(str(d))
    got = [str(p).replace(str(d) + "/", "") for p in e.value.problems]
    assert got == [
        "exercise.yaml: (top level): README.md is missing beside it",
        "exercise.yaml: (top level): solution.md is missing beside it",
        "exercise.yaml:6: faults.0.tunnel_remote_ip.node: no node named compute9",
        "exercise.yaml:10: criteria.1.answer: no question named vni",
        "exercise.yaml:13: solution.0: run needs where: the node, instance or namespace it runs in",
        "exercise.yaml:14: solution.1: a step is one of run (with where), apply or answer (with value)",
    ], got


def test_answers_compare_without_case_blanks_or_base():
    q = {"answers": ["203", "br-tun"]}
    assert is_right(q, " 0xCB ") and is_right(q, "203") and is_right(q, "BR-TUN")
    assert not is_right(q, "3") and not is_right(q, "br-int")
