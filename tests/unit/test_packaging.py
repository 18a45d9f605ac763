"""A wheel carries what a source tree has: every package (found, not
listed) and every directory of scenarios and exercises (data-files, listed:
this fails when one is added without its line)."""

import os
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pyproject():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def test_packages_are_found_not_listed():
    packages = _pyproject()["tool"]["setuptools"]["packages"]
    assert isinstance(packages, dict), "list no packages by hand: a new subpackage would be left out of the wheel"
    assert packages["find"]["include"] == ["stacklab*", "topologies*", "controller*"]


def test_every_shipped_directory_is_in_the_data_files():
    data = _pyproject()["tool"]["setuptools"]["data-files"]
    wanted = set()
    for top in ("scenarios", "exercises"):
        for here, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            if files:
                wanted.add(os.path.relpath(here, ROOT))
    listed = {target[len("share/stacklab/"):] for target in data}
    assert wanted == listed, "pyproject.toml's data-files: missing %s, stale %s" % (sorted(wanted - listed),
                                                                                   sorted(listed - wanted))
