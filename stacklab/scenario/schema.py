"""A small declarative schema: checks YAML values, reports every problem with
its key path, fills defaults, and exports itself as JSON Schema for docs/.

Each type's `check(value, path, report)` returns the normalized value, or
INVALID after calling `report(path, message)`."""

import copy
import difflib
import ipaddress
import re
import uuid

from stacklab.naming import NAME_PATTERN     # one pattern for names and lab names

INVALID = object()


def _kind(value):
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class Type:
    name = "value"

    def __init__(self, doc="", example=None):
        self.doc = doc
        self.example = example

    def check(self, value, path, report):
        raise NotImplementedError

    def json_schema(self):
        out = {}
        if self.doc:
            out["description"] = self.doc
        if self.example is not None:
            out["examples"] = [self.example]
        return out


class Str(Type):
    name = "text"

    def __init__(self, doc="", example=None, pattern=None, choices=None, hint=None):
        super().__init__(doc, example)
        self.pattern = re.compile(pattern) if pattern else None
        self.choices = choices
        self.hint = hint

    def check(self, value, path, report):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            report(path, "expected %s, got %s" % (self.name, _kind(value)))
            return INVALID
        value = str(value)
        if self.choices and value not in self.choices:
            report(path, "%r is not one of: %s" % (value, ", ".join(self.choices)))
            return INVALID
        if self.pattern and not self.pattern.fullmatch(value):
            report(path, "%r is not %s" % (value, self.hint or "valid"))
            return INVALID
        return value

    def json_schema(self):
        out = dict(super().json_schema(), type="string")
        if self.choices:
            out["enum"] = list(self.choices)
        if self.pattern:
            out["pattern"] = "^(?:%s)$" % self.pattern.pattern
        return out


class Name(Str):
    """An identifier used as a reference elsewhere in the file."""

    def __init__(self, doc="", example=None, max_len=None):
        super().__init__(doc, example, pattern=NAME_PATTERN,
                         hint="a name (a letter, then letters, digits, '_', '.', '-')")
        self.max_len = max_len

    def check(self, value, path, report):
        value = super().check(value, path, report)
        if value is not INVALID and self.max_len and len(value) > self.max_len:
            report(path, "%r is longer than %d characters" % (value, self.max_len))
            return INVALID
        return value


class Int(Type):
    name = "a whole number"

    def __init__(self, doc="", example=None, min=None, max=None):
        super().__init__(doc, example)
        self.min, self.max = min, max

    def check(self, value, path, report):
        if isinstance(value, bool) or not isinstance(value, int):
            report(path, "expected a whole number, got %s" % _kind(value))
            return INVALID
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            report(path, "%d is out of range %s..%s" % (value, self.min, self.max))
            return INVALID
        return value

    def json_schema(self):
        out = dict(super().json_schema(), type="integer")
        if self.min is not None:
            out["minimum"] = self.min
        if self.max is not None:
            out["maximum"] = self.max
        return out


class Bool(Type):
    name = "true or false"

    def check(self, value, path, report):
        if not isinstance(value, bool):
            report(path, "expected true or false, got %s" % _kind(value))
            return INVALID
        return value

    def json_schema(self):
        return dict(super().json_schema(), type="boolean")


class _Parsed(Str):
    """Text parsed by a function; the parsed object is returned."""

    parse = None
    what = ""

    def check(self, value, path, report):
        text = super().check(value, path, report)
        if text is INVALID:
            return INVALID
        try:
            return type(self).parse(text)
        except ValueError:
            report(path, "%r is not %s" % (text, self.what))
            return INVALID


class IPv4Address(_Parsed):
    what = "an IPv4 address"
    parse = staticmethod(ipaddress.IPv4Address)


class IPv4Network(_Parsed):
    what = "an IPv4 network in CIDR form (e.g. 192.168.101.0/24)"
    parse = staticmethod(lambda t: ipaddress.IPv4Network(t, strict=True))


class IPv4Interface(_Parsed):
    what = "an IPv4 address with its prefix length (e.g. 172.16.0.31/24)"

    @staticmethod
    def parse(text):
        if "/" not in text:
            raise ValueError(text)
        return ipaddress.IPv4Interface(text)


_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")


class MAC(Str):
    def __init__(self, doc="", example=None):
        super().__init__(doc, example, pattern=_MAC.pattern, hint="a MAC address like fa:16:3e:55:18:7a")

    def check(self, value, path, report):
        value = super().check(value, path, report)
        if value is INVALID:
            return value
        if int(value[:2], 16) & 1:
            report(path, "%r is a multicast MAC address; a port needs a unicast one" % value)
            return INVALID
        return value.lower()


class UUID(_Parsed):
    what = "a UUID like 9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1"
    parse = staticmethod(lambda t: str(uuid.UUID(t)))


class Any(Type):
    name = "anything"

    def check(self, value, path, report):
        return value


class ListOf(Type):
    name = "a list"

    def __init__(self, item, doc="", example=None, min_items=0):
        super().__init__(doc, example)
        self.item = item
        self.min_items = min_items

    def check(self, value, path, report):
        if not isinstance(value, list):
            report(path, "expected a list, got %s" % _kind(value))
            return INVALID
        if len(value) < self.min_items:
            report(path, "needs at least %d item%s" % (self.min_items, "" if self.min_items == 1 else "s"))
            return INVALID
        out = [self.item.check(v, path + (i,), report) for i, v in enumerate(value)]
        return INVALID if any(v is INVALID for v in out) else out

    def json_schema(self):
        out = dict(super().json_schema(), type="array", items=self.item.json_schema())
        if self.min_items:
            out["minItems"] = self.min_items
        return out


class MapOf(Type):
    """A mapping from names (chosen by the user) to values of one type."""

    name = "a mapping"

    def __init__(self, value, doc="", example=None, key=None, min_items=0):
        super().__init__(doc, example)
        self.value = value
        self.key = key or Name()
        self.min_items = min_items

    def check(self, value, path, report):
        if value is None and self.min_items == 0:
            return {}
        if not isinstance(value, dict):
            report(path, "expected a mapping, got %s" % _kind(value))
            return INVALID
        if len(value) < self.min_items:
            report(path, "needs at least %d entr%s" % (self.min_items, "y" if self.min_items == 1 else "ies"))
            return INVALID
        out, bad = {}, False
        for k, v in value.items():
            key = self.key.check(k, path + (k,), report)
            val = self.value.check(v, path + (k,), report)
            bad = bad or key is INVALID or val is INVALID
            if key is not INVALID:
                out[key] = val
        return INVALID if bad else out

    def json_schema(self):
        out = dict(super().json_schema(), type="object", additionalProperties=self.value.json_schema())
        key = self.key.json_schema()
        if "pattern" in key:
            out["propertyNames"] = {"pattern": key["pattern"]}
        return out


class Field:
    def __init__(self, type_, required=False, default=None, doc=""):
        if doc:     # its own copy: a type shared by two keys (two ports of one kind) keeps each key's text
            type_ = copy.copy(type_)
            type_.doc = doc
        self.type = type_
        self.doc = doc
        self.required = required
        self.default = default


def with_examples(record, **examples):
    """`record` with other example values for some of its keys (each key its
    own: the examples of a vrrp port are not a management port's)."""
    fields = dict(record.fields)
    for key, example in examples.items():
        field = copy.copy(fields[key])
        field.type = copy.copy(field.type)
        field.type.example = example
        fields[key] = field
    out = copy.copy(record)
    out.fields = fields
    return out


class Record(Type):
    """A mapping with fixed keys. Unknown keys are errors (with a suggestion)."""

    name = "a mapping"

    def __init__(self, fields, doc="", example=None, shorthand=None):
        super().__init__(doc, example)
        self.fields = fields
        self.shorthand = shorthand  # field that a bare scalar fills in

    def check(self, value, path, report):
        if value is None:
            value = {}
        if self.shorthand and not isinstance(value, (dict, list)):
            value = {self.shorthand: value}
        if not isinstance(value, dict):
            report(path, "expected a mapping, got %s" % _kind(value))
            return INVALID
        out, bad = {}, False
        for key in value:
            if key not in self.fields:
                close = difflib.get_close_matches(str(key), list(self.fields), n=1)
                hint = " (did you mean %r?)" % close[0] if close else " (known keys: %s)" % ", ".join(self.fields)
                report(path + (key,), "unknown key%s" % hint)
                bad = True
        for name, field in self.fields.items():
            if name in value:
                v = field.type.check(value[name], path + (name,), report)
                bad = bad or v is INVALID
                out[name] = v
            elif field.required:
                report(path, "missing required key %r" % name)
                bad = True
            else:
                out[name] = field.default() if callable(field.default) else field.default
        return INVALID if bad else out

    def json_schema(self):
        props = {name: f.type.json_schema() for name, f in self.fields.items()}
        for name, f in self.fields.items():
            if f.default is not None and not callable(f.default):
                props[name]["default"] = f.default
        out = dict(super().json_schema(), type="object", properties=props, additionalProperties=False)
        required = [n for n, f in self.fields.items() if f.required]
        if required:
            out["required"] = required
        return out


class OneOfKinds(Type):
    """A single-key mapping `{kind: params}`, the kind choosing the params' type
    (used for checks: `- bridge: {node: compute1, name: br-int}`)."""

    name = "a single-key mapping"

    def __init__(self, kinds, doc="", example=None):
        super().__init__(doc, example)
        self.kinds = kinds  # callable returning {kind: Type}, so plug-ins can register late

    def check(self, value, path, report):
        kinds = self.kinds()
        if not isinstance(value, dict) or len(value) != 1:
            report(path, "expected one kind with its parameters, e.g. {ping: {...}}; kinds: %s"
                   % ", ".join(sorted(kinds)))
            return INVALID
        (kind, params), = value.items()
        if kind not in kinds:
            close = difflib.get_close_matches(str(kind), list(kinds), n=1)
            hint = " (did you mean %r?)" % close[0] if close else ""
            report(path + (kind,), "unknown kind%s; kinds: %s" % (hint, ", ".join(sorted(kinds))))
            return INVALID
        params = kinds[kind].check(params, path + (kind,), report)
        return INVALID if params is INVALID else (kind, params)

    def json_schema(self):
        return dict(super().json_schema(), oneOf=[
            {"type": "object", "properties": {k: t.json_schema()}, "required": [k], "additionalProperties": False}
            for k, t in sorted(self.kinds().items())])
