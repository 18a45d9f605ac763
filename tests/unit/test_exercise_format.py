"""The exercises as files: every one loads (every variant), covers what the
issue asks, keeps its solution.md and its machine steps together, hides
what it teaches until it is solved and tells no answer in its task; a
broken exercise.yaml is reported with file, line and key (golden messages)."""

import os
import re

import pytest

from stacklab.errors import ScenarioError
from stacklab.exercises.faults import FAULTS
from stacklab.exercises.model import EXERCISE_DIR, list_exercises, load_exercise, substitute
from stacklab.exercises.session import is_right, misconception
from stacklab.scenario.loader import load_scenario

NAMES = list_exercises()


def test_twenty_exercises_over_four_documents_three_levels_two_control_planes_two_captures():
    exercises = [load_exercise(os.path.join(EXERCISE_DIR, n)) for n in NAMES]
    assert len(exercises) >= 20
    assert {e.document for e in exercises} - {None} == {"000", "002", "003", "004"}
    assert {e.level for e in exercises} == {1, 2, 3}
    planes = {load_scenario(e.scenario_file).sdn for e in exercises}
    assert len(planes) >= 2, planes
    captures = [e.name for e in exercises if any("tcpdump -nn" in (c.params.get("run") or "") and "-r " in
                                                  (c.params.get("run") or "") for c in e.criteria)]
    assert len(captures) >= 2, captures
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
    if not ex.variants:         # (with variants, solution.md explains the method; `solution` adds the steps)
        for step in ex.solution:
            if step.run:
                assert step.run in solution, "%s: solution.md does not show `%s`" % (name, step.run)
    for c in ex.criteria:
        assert c.says and c.holds and c.line
    assert ex.reflection and ex.reflection["ask"] and ex.reflection["answer"], "%s asks nothing after solving" % name
    story = " ".join(ex.story().split())
    for kind, params, expect, text in ex.symptoms:
        assert " ".join(text.split()) in story, "%s: the story does not say %r" % (name, text)
    assert ex.symptoms or not ex.faults, "%s breaks something and states no symptom to test" % name


def tokens(text):
    """Words as a learner would copy them: addresses and dotted names whole."""
    return set(re.findall(r"[\w.:/-]+", text))


@pytest.mark.parametrize("name", NAMES)
def test_the_task_gives_nothing_away(name):
    """What a learner reads before solving (the task, every criterion's
    symptom) names neither the broken thing nor its values, in any variant;
    what the exercise teaches is kept for after."""
    ex = load_exercise(os.path.join(EXERCISE_DIR, name))
    from stacklab.scenario.loader import load_scenario
    scenario = load_scenario(ex.scenario_file)
    task = ex.task()
    assert "## What it teaches" not in task and "## What it teaches" in ex.readme()
    for variant in ex.variants or [ex]:
        shown = tokens(task) | tokens(" ".join(c.says for c in variant.criteria))
        secrets = {g for kind, params in variant.faults for g in FAULTS[kind].giveaways(scenario, params)}
        secrets |= {a for q in variant.questions.values() for a in q["answers"]}
        leaked = sorted(s for s in secrets if s in shown)
        assert not leaked, "%s (variant %d) gives away %s before it is solved" % (name, variant.variant, leaked)


def test_variants_draw_different_faults():
    ex = load_exercise(os.path.join(EXERCISE_DIR, "04-unreachable-after-maintenance"))
    assert len(ex.variants) >= 2
    faults = {str(v.faults) for v in ex.variants}
    assert len(faults) == len(ex.variants)
    assert ex.of_variant(2).solution[1].run == "ovs-vsctl set interface vxlan-ac10001f options:remote_ip=172.16.0.31"
    with pytest.raises(ScenarioError, match="no variant 9"):
        ex.of_variant(9)


def test_placeholders_keep_their_types_and_leave_shell_braces():
    v = {"mtu": 1500, "port": "vxlan-ac10000b"}
    assert substitute({"mtu": "{mtu}", "run": "ovs-vsctl show | grep {port}"}, v) == \
        {"mtu": 1500, "run": "ovs-vsctl show | grep vxlan-ac10000b"}
    assert substitute("awk '{print $1}' ${HOME} {other}", v) == "awk '{print $1}' ${HOME} {other}"


def test_a_likely_misconception_is_named():
    ex = load_exercise(os.path.join(EXERCISE_DIR, "01-reading-the-topology"))
    assert "local VLAN" in misconception(ex.questions["vni"], "3")
    assert misconception(ex.questions["vni"], "7") is None


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
        "chassis_bridge_mappings, dhcp_host_missing, dvr_arp_entry_missing, flow_altered, flow_deleted, group_deleted, ha_port_dead_vlan, instance_address, "
        "instance_launched, link_down, mtu, "
        "nat_rule_deleted, nat_rule_missing, neighbours_forgotten, ovn_acl_deleted, port_tag, requested_chassis, "
        "service_stopped, tunnel_remote_ip",
        "exercise.yaml:9: criteria.0: a criterion is a check kind with its parameters, `says` (shown while it "
        "fails) and `holds` (shown once it passes)",
        "exercise.yaml:10: criteria.1: a criterion is a check kind with its parameters, `says` (shown while it "
        "fails) and `holds` (shown once it passes)",
    ], got
    (d / "exercise.yaml").write_text(BAD.replace("level: 4", "level: 2").replace("  - flow_delete: {node: compute1}\n", "")
                                     .replace("to: instance02}", "to: instance02}\n    says: unreachable\n"
                                              "    holds: reachable")
                                     .replace("    says: no such question", "    says: no such question\n"
                                              "    holds: answered"))
    with pytest.raises(ScenarioError) as e:
        load_exercise(str(d))
    got = [str(p).replace(str(d) + "/", "") for p in e.value.problems]
    assert got == [
        "exercise.yaml: (top level): README.md is missing beside it",
        "exercise.yaml: (top level): solution.md is missing beside it",
        "exercise.yaml:6: faults.0.tunnel_remote_ip.node: no node named compute9",
        "exercise.yaml:11: criteria.1.answer: no question named vni",
        "exercise.yaml:15: solution.0: run needs where: the node, instance or namespace it runs in",
        "exercise.yaml:16: solution.1: a step is one of run (with where), apply or answer (with value)",
    ], got


VARIANTS = """title: variants
level: 2
document: "000"
scenario: vxlan-instance
variants:
  - {node: compute1, wrong: 172.16.0.12}
  - {node: compute9, wrong: 172.16.0.13}
  - {node: compute1}
faults:
  - tunnel_remote_ip: {node: "{node}", peer: controller, remote_ip: "{wrong}"}
criteria:
  - ping: {from: qdhcp-selfservice, to: "{target}"}
    says: unreachable
    holds: reachable
solution:
  - {where: "{node}", run: ls}
"""


def test_golden_errors_of_variants(tmp_path):
    d = tmp_path / "98-variants"
    d.mkdir()
    for doc in ("README.md", "solution.md"):
        (d / doc).write_text("# x\n")
    (d / "exercise.yaml").write_text(VARIANTS)
    with pytest.raises(ScenarioError) as e:
        load_exercise(str(d))
    got = [str(p).replace(str(d) + "/", "") for p in e.value.problems]
    assert got == [
        "exercise.yaml:8: variants.2: this variant lacks wrong (each variant gives every name)",
        "exercise.yaml:12: criteria.0.ping.to: {target} is used but no variant gives it a value",
    ], got
    (d / "exercise.yaml").write_text(VARIANTS.replace('"{target}"', "instance02"))
    with pytest.raises(ScenarioError) as e:
        load_exercise(str(d))
    got = [str(p).replace(str(d) + "/", "") for p in e.value.problems]
    assert got == ["exercise.yaml:8: variants.2: this variant lacks wrong (each variant gives every name)"], got
    (d / "exercise.yaml").write_text(VARIANTS.replace('"{target}"', "instance02").replace(
        "  - {node: compute1}\n", "  - {node: compute1, wrong: 172.16.0.14}\n"))
    with pytest.raises(ScenarioError) as e:
        load_exercise(str(d))
    got = [str(p).replace(str(d) + "/", "") for p in e.value.problems]
    assert got == ["exercise.yaml:10: faults.0.tunnel_remote_ip.node: no node named compute9 (variant 1)"], got


def test_answers_compare_without_case_blanks_or_base():
    q = {"answers": ["203", "br-tun"]}
    assert is_right(q, " 0xCB ") and is_right(q, "203") and is_right(q, "BR-TUN")
    assert not is_right(q, "3") and not is_right(q, "br-int")
