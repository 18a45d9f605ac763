"""The documents' outputs kept as references, in scenarios/references/
<scenario>/<name>.<kind>: flow dumps (.flows) and command outputs (.txt).
A reference starts with comment lines naming the document and the command;
the rest is the output exactly as the document prints it."""

import os
import re

from stacklab.errors import LabError
from stacklab.shipped import shipped_dir

REFERENCE_DIR = os.path.join(shipped_dir("scenarios"), "references")
_DOCUMENT = re.compile(r"^# .*, from (\S+)", re.M)


def resolve(name, suffix):
    """A path as given, or REFERENCE_DIR/name[suffix]."""
    if os.path.exists(name) or os.path.isabs(name):
        return name
    candidate = os.path.join(REFERENCE_DIR, name)
    return candidate if os.path.exists(candidate) else candidate + suffix


def read(name, suffix):
    """(path, text) of a reference, or LabError saying where it was looked for."""
    path = resolve(name, suffix)
    try:
        with open(path) as f:
            return path, f.read()
    except OSError as e:
        raise LabError("no reference %s (%s; references live in %s as SCENARIO/NAME%s)"
                       % (name, e.strerror, REFERENCE_DIR, suffix)) from None


def document(text):
    """The document a reference names in its header ('' if none)."""
    m = _DOCUMENT.search(text)
    return m.group(1) if m else ""


def label(name, document_name):
    """How reports name a reference: as the scenario gave it (a shipped
    SCENARIO/NAME or a file path), with the document its header names."""
    return "%s of %s" % (name, document_name) if document_name else "%s (a file naming no document)" % name


def body(text):
    """The output lines of a text reference: its leading '# ' comment lines dropped."""
    lines = text.splitlines()
    while lines and lines[0].startswith("# "):
        lines.pop(0)
    return lines
