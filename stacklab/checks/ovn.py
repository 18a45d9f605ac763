"""The ovn check: what `ovn-nbctl`/`ovn-sbctl` print on the central node,
compared with a reference (a deployment's output, or the lab's own as
written down), row UUIDs and neutron's revision numbers normalized and the
order of rows taken away (stacklab/observe/ovn_output.py), nothing else."""

import shlex
import time

from stacklab.checks import FAIL, PASS, Checker, Outcome, register
from stacklab.errors import LabError
from stacklab.observe import ovn_output, references
from stacklab.scenario.schema import Field, ListOf, Name, Record, Str

SHOWN = 8       # differing lines shown in the detail


@register
class OvnCheck(Checker):
    """OVN's databases as `ovn-nbctl show`, `ovn-sbctl show` or `list TABLE` print them."""

    kind = "ovn"
    params = Record({
        "db": Field(Str(choices=("nb", "sb"), example="nb"), default="nb",
                    doc="The northbound (ovn-nbctl) or southbound (ovn-sbctl) database."),
        "command": Field(Str(choices=("show", "list"), example="list"), default="show"),
        "table": Field(Name(example="Logical_Switch_Port"), doc="The table `list` prints (required with list)."),
        "record": Field(Str(example="8811e933-5c4e-4bd2-a6a1-0c87c2f1a3b5"),
                        doc="Only this row (its name or UUID), as `list TABLE RECORD`."),
        "columns": Field(ListOf(Name(), example=["name", "type", "addresses", "options", "external_ids"]),
                         default=list, doc="Only these columns (`--columns`); default: every column."),
        "reference": Field(Str(example="ovn-instance/nb-show"), required=True,
                           doc="The expected output: SCENARIO/NAME under scenarios/references/ (.txt), or a "
                               "file's path; leading `# ` comment lines left out."),
    }, doc="OVN's databases on the central node compared with a reference: row UUIDs and revision numbers "
           "normalized, the order of rows and of a row's children ignored, nothing else.")

    def validate(self, scenario, params, report):
        if scenario.sdn != "ovn":
            report((), "an ovn check needs an OVN lab (sdn: {type: ovn})")
        if params["command"] == "list" and params["table"] is None:
            report(("table",), "list needs the table to print")
        if params["command"] == "show" and (params["table"] or params["record"] or params["columns"]):
            report(("command",), "show prints everything: table, record and columns are for list")
        try:
            references.read(params["reference"], ".txt")
        except LabError:
            report(("reference",), "no reference %s (looked in %s)" % (params["reference"], references.REFERENCE_DIR))

    @staticmethod
    def argv(p):
        tool = "ovn-nbctl" if p["db"] == "nb" else "ovn-sbctl"
        if p["command"] == "show":
            return [tool, "show"]
        argv = [tool] + (["--columns=" + ",".join(p["columns"])] if p["columns"] else [])
        return argv + ["list", p["table"]] + ([p["record"]] if p["record"] else [])

    def run(self, lab, p):
        where = lab.scenario.sdn_controller
        argv = self.argv(p)
        t0 = time.monotonic()
        proc = lab.run(where, argv, timeout=30)
        head = "%s: %s" % (where, " ".join(shlex.quote(a) for a in argv))
        data = {"command": argv, "exit": proc.returncode, "output": proc.stdout[-4000:],
                "seconds": time.monotonic() - t0}
        if proc.returncode != 0:
            return Outcome(FAIL, "%s exited %d: %s" % (head, proc.returncode, proc.stderr.strip()[-200:]), data)
        path, text = references.read(p["reference"], ".txt")
        want = ovn_output.canonical(references.body(text), p["command"])
        got = ovn_output.canonical(proc.stdout.splitlines(), p["command"])
        missing, extra = ovn_output.differences(want, got)
        about = references.label(p["reference"], references.document(text))
        if not missing and not extra:
            return Outcome(PASS, "%s prints %s (%d lines; UUIDs, revision numbers and order normalized)"
                           % (head, about, len(want)), data)
        data.update(missing=missing, extra=extra)
        lines = ["- " + m.strip() for m in missing[:SHOWN]] + ["+ " + e.strip() for e in extra[:SHOWN]]
        return Outcome(FAIL, "%s differs from %s: %d lines missing, %d not in it: %s"
                       % (head, about, len(missing), len(extra), "; ".join(lines)), data)
