"""The loader never raises anything but a ScenarioError: golden messages for
the files no scenario could be (recursive and exponential aliases, deep
nesting, huge, binary, non-UTF-8, unreadable values), then a seeded fuzz run
that mutates the repository's scenarios and fails on any other exception."""

import os
import random
import time

import pytest

from stacklab.errors import ScenarioError
from stacklab.scenario import yamlsrc
from stacklab.scenario.loader import SCENARIO_DIR, list_scenarios, load_scenario


def problems_of(text=None, path="t.yaml"):
    with pytest.raises(ScenarioError) as e:
        load_scenario(path, text)
    return [str(p) for p in e.value.problems]


def test_recursive_aliases():
    assert problems_of("a: &a [*a]\n") == ["t.yaml:1: a.0: a recursive alias: this value contains itself"]
    assert problems_of("a: &a {b: *a}\n") == ["t.yaml:1: a.b: a recursive alias: this value contains itself"]


def test_exponential_aliases_stop_early():
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += ["%s: &%s [%s]" % (c, c, ", ".join(["*" + p] * 10)) for p, c in zip("abcdefgh", "bcdefghi")]
    t0 = time.monotonic()
    out = problems_of("\n".join(lines) + "\n")
    assert time.monotonic() - t0 < 5
    assert len(out) == 1 and out[0].endswith("more than 100000 values (aliases expand to too much)")


def test_deep_nesting():
    assert problems_of("a: " + "[" * 40 + "]" * 40 + "\n")[0].endswith("nested more than 32 levels deep")
    assert problems_of("a: " + "[" * 20000 + "]" * 20000 + "\n") == ["t.yaml: (top level): nested too deeply to read"]


def test_huge_binary_and_non_utf8_files(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * (yamlsrc.MAX_BYTES + 1))
    assert problems_of(path=str(big)) == ["%s: (top level): more than 1048576 bytes: not a scenario" % big]
    assert problems_of("name: x\n\x00\n") == ["t.yaml:2: (top level): a NUL byte: not a text file"]
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: x\ndescription: caf\xe9\n")
    assert problems_of(path=str(latin)) == ["%s:2: (top level): not UTF-8 text (byte 0xe9 at offset 24)" % latin]


def test_values_yaml_cannot_make():
    assert problems_of("name: x\nwhen: 2024-13-45\n") == ["t.yaml:2: when: cannot read '2024-13-45': "
                                                          "month must be in 1..12"]
    out = problems_of("name: " + "9" * 5000 + "\n")
    assert len(out) == 1 and out[0].startswith("t.yaml:1: name: cannot read '9999")
    assert problems_of("? [a, b]\n: c\n") == ["t.yaml:1: (top level): keys must be plain names"]


# -- fuzzing ----------------------------------------------------------------------
TOKENS = ["&a ", "*a", "&b [*b]", "{", "}", "[", "]", ": ", "- ", "? ", "!!python/object:os.system ", "\t",
          "\x00", "\xff", "'", '"', "\\", "%YAML 1.1\n", "---\n", "...\n", "<<: *a\n", "~", "1e999",
          "0x" + "f" * 40, "2024-02-30", "\u202e", "\n" * 3, "    ", ":::", "#", "|\n", ">-\n", "@", "`"]


def mutate(rng, text):
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        i = rng.randrange(len(lines))
        if op == 0:                 # drop a line
            del lines[i]
        elif op == 1:               # repeat a line elsewhere
            lines.insert(rng.randrange(len(lines)), lines[i])
        elif op == 2 and lines[i]:  # a token inside a line
            j = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:j] + rng.choice(TOKENS) + lines[i][j:]
        elif op == 3 and lines[i]:  # a character flipped
            j = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:j] + chr(rng.randrange(1, 0x250)) + lines[i][j + 1:]
        elif op == 4:               # indentation changed
            lines[i] = " " * rng.randrange(0, 9) + lines[i].lstrip()
        else:                       # a value swapped with another line's
            k = rng.randrange(len(lines))
            if ":" in lines[i] and ":" in lines[k]:
                a, b = lines[i].split(":", 1), lines[k].split(":", 1)
                lines[i], lines[k] = a[0] + ":" + b[1], b[0] + ":" + a[1]
        if not lines:
            lines = [""]
    return "\n".join(lines)


def test_fuzzing_the_scenarios_raises_only_scenario_errors():
    """1,000 mutations of the repository's scenarios (seeded: a failure is
    reproducible, and every machine tries the same ones, however fast it
    is); any exception but ScenarioError fails."""
    seeds = [open(os.path.join(SCENARIO_DIR, name)).read() for name in list_scenarios()]
    rng = random.Random(20261122)
    tried = crashed = 0
    failures = []
    while tried < 1000:
        text = mutate(rng, rng.choice(seeds))
        tried += 1
        try:
            load_scenario("fuzz.yaml", text)
        except ScenarioError as e:
            assert e.problems and all(str(p).startswith("fuzz.yaml") for p in e.problems)
        except Exception as e:      # the bug this test is for
            crashed += 1
            if len(failures) < 3:
                failures.append("%s: %s\n--- input ---\n%s" % (type(e).__name__, e, text))
    assert not crashed, "%d of %d mutated files raised:\n%s" % (crashed, tried, "\n\n".join(failures))
