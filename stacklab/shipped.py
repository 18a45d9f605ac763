"""Where what ships with stacklab lives: the scenarios, their reference
dumps and the exercises. In a source tree (the repository, an editable
install) they sit beside the packages; an installed wheel carries them in
<prefix>/share/stacklab/ (pyproject.toml's data-files)."""

import os
import sys

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shipped_dir(name):
    """The directory `name` (scenarios, exercises) of this installation."""
    source = os.path.join(SOURCE_ROOT, name)
    if os.path.isdir(source):
        return source
    installed = os.path.join(sys.prefix, "share", "stacklab", name)
    return installed if os.path.isdir(installed) else source
