"""The scenario format as a Markdown reference (docs/scenario-reference.md),
made from the same schema the validator uses."""

import json

from stacklab.scenario.format import SCENARIO
from stacklab.scenario.schema import ListOf, MapOf, OneOfKinds, Record


def _type_name(t):
    if isinstance(t, Record):
        return "mapping"
    if isinstance(t, MapOf):
        return "mapping of name to %s" % _type_name(t.value)
    if isinstance(t, ListOf):
        return "list of %s" % _type_name(t.item)
    if isinstance(t, OneOfKinds):
        return "list item `{kind: parameters}`"
    choices = getattr(t, "choices", None)
    if choices:
        return " \\| ".join("`%s`" % c for c in choices)
    return t.name


def _rows(record, prefix):
    for name, field in record.fields.items():
        t = field.type
        path = prefix + name
        default = "" if field.default is None or callable(field.default) else "`%s`" % json.dumps(field.default)
        if field.required:
            default = "required"
        example = "" if t.example is None else "`%s`" % json.dumps(t.example)
        yield path, _type_name(t), default, (t.doc or "").replace("|", "\\|"), example
        inner = t.value if isinstance(t, MapOf) else t.item if isinstance(t, ListOf) else t
        sub = prefix + name + (".NAME." if isinstance(t, MapOf) else "[]." if isinstance(t, ListOf) else ".")
        if isinstance(inner, Record):
            yield from _rows(inner, sub)


def markdown():
    from stacklab.checks import registry
    out = ["# Scenario format reference", "",
           "Generated from the schema the validator uses (`stacklab schema` prints it as JSON Schema;",
           "`python -m stacklab.scenario.docgen` rewrites this page). NAME stands for a name you choose.", "",
           "| key | type | default | meaning | example |", "| --- | --- | --- | --- | --- |"]
    out += ["| `%s` | %s | %s | %s | %s |" % row for row in _rows(SCENARIO, "")]
    out += ["", "## Check kinds", ""]
    for kind, checker in sorted(registry().items()):
        out += ["### `%s`" % kind, "", (checker.params.doc or checker.__doc__ or "").strip(), "",
                "| parameter | type | default | meaning | example |", "| --- | --- | --- | --- | --- |"]
        out += ["| `%s` | %s | %s | %s | %s |" % row for row in _rows(checker.params, "")]
        out.append("")
    return "\n".join(out) + "\n"


def json_schema():
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "stacklab scenario"}
    schema.update(SCENARIO.json_schema())
    return json.dumps(schema, indent=2) + "\n"


if __name__ == "__main__":
    import os
    docs = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs")
    with open(os.path.join(docs, "scenario-reference.md"), "w") as f:
        f.write(markdown())
    with open(os.path.join(docs, "scenario.schema.json"), "w") as f:
        f.write(json_schema())
