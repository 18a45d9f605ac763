"""The format reference in docs/ is generated from the validator's schema;
this fails when someone changes one without regenerating the other."""

import json
import os

from stacklab.scenario import docgen

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs")


def test_reference_is_up_to_date():
    with open(os.path.join(DOCS, "scenario-reference.md")) as f:
        assert f.read() == docgen.markdown(), "run: python -m stacklab.scenario.docgen"


def test_json_schema_is_up_to_date_and_has_examples():
    with open(os.path.join(DOCS, "scenario.schema.json")) as f:
        text = f.read()
    assert text == docgen.json_schema(), "run: python -m stacklab.scenario.docgen"
    schema = json.loads(text)
    node = schema["properties"]["nodes"]["additionalProperties"]["properties"]
    assert node["tunnel_ip"]["examples"] == ["172.16.0.31"]
    assert schema["additionalProperties"] is False


def _fields(record, prefix=""):
    """(path, Field) for every key of the scenario format, nested ones too."""
    from stacklab.scenario.schema import ListOf, MapOf, Record
    for name, field in record.fields.items():
        path = prefix + name
        yield path, field
        t = field.type
        inner = t.value if isinstance(t, MapOf) else t.item if isinstance(t, ListOf) else t
        if isinstance(inner, Record):
            yield from _fields(inner, path + (".NAME." if isinstance(t, MapOf) else "[]." if isinstance(t, ListOf)
                                              else "."))


def test_every_example_is_valid_for_its_key():
    from stacklab.scenario.format import SCENARIO
    bad, seen = [], 0
    for path, field in _fields(SCENARIO):
        if field.type.example is None:
            continue
        seen += 1
        problems = []
        field.type.check(field.type.example, (path,), lambda where, what: problems.append(what))
        if problems:
            bad.append("%s: example %r: %s" % (path, field.type.example, problems[0]))
    assert seen > 100 and not bad, bad


def test_each_key_keeps_its_own_text_and_examples():
    """A port record shared by two keys (the amphora's management and VRRP
    ports, a router's gateway and interfaces) documents each key as itself."""
    from stacklab.scenario.format import SCENARIO
    fields = dict(_fields(SCENARIO))
    for path, field in fields.items():
        if field.doc:
            assert field.type.doc == field.doc, path
    amphora = "load_balancers.NAME.amphora."
    assert "management network" in fields[amphora + "management_port"].type.doc
    assert "VIP network" in fields[amphora + "vrrp_port"].type.doc
    assert fields[amphora + "management_port.ip"].type.example != fields[amphora + "vrrp_port.ip"].type.example
    # a gateway's example network is an external one, as in the shipped scenario the example comes from
    import yaml
    with open(os.path.join(os.path.dirname(DOCS), "scenarios", "lb-amphora.yaml")) as f:
        nets = yaml.safe_load(f)["networks"]
    gateway_net = fields["routers.NAME.external_gateway.network"].type.example
    assert nets[gateway_net].get("external") is True
