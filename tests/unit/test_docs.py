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
