"""One command line: every verb that works on a running lab takes it as
`--lab NAME` (and as NAME where that is unambiguous); two different names
are an error; what cannot be written says so in one line."""

import pytest

from stacklab import cli


def parse(*argv):
    return cli.parser().parse_args(list(argv))


@pytest.mark.parametrize("argv", [
    ["down", "--lab", "x"], ["status", "--lab", "x"], ["check", "--lab", "x"], ["cli", "--lab", "x"],
    ["exec", "--lab", "x", "compute1", "--", "true"], ["flows", "show", "compute1", "br-int", "--lab", "x"],
    ["flows", "diff", "compute1", "br-int", "--against", "r", "--lab", "x"], ["flows", "walk", "A", "B", "--lab", "x"],
    ["ssh", "--lab", "x", "vm1"], ["apply", "f.yaml", "--lab", "x"], ["draw", "--lab", "x"],
])
def test_every_verb_on_a_running_lab_takes_lab(argv):
    assert cli._lab_name(parse(*argv)) == "x"


@pytest.mark.parametrize("verb", ["down", "status", "check", "cli"])
def test_the_name_may_also_come_first(verb):
    assert cli._lab_name(parse(verb, "x")) == "x"
    assert cli._lab_name(parse(verb, "x", "--lab", "x")) == "x"
    with pytest.raises(cli.StacklabError, match="two labs named: x and --lab y"):
        cli._lab_name(parse(verb, "x", "--lab", "y"))


def test_an_empty_name_is_a_name_given_not_none():
    assert cli._lab_name(parse("down", "")) == ""


def test_draw_into_a_missing_directory_says_so_in_one_line(capsys):
    assert cli.main(["draw", "vxlan-instance", "-o", "/nonexistent/dir/x.svg"]) == 2
    err = capsys.readouterr().err
    assert err == "stacklab: draw -o /nonexistent/dir/x.svg: there is no directory /nonexistent/dir\n"


def test_an_os_error_is_one_line(capsys, monkeypatch):
    def full(args):
        raise OSError(28, "No space left on device", "/run/stacklab/x/state.json.tmp")
    monkeypatch.setattr(cli, "cmd_list", full)
    assert cli.main(["list"]) == 2
    assert capsys.readouterr().err == "stacklab: No space left on device: /run/stacklab/x/state.json.tmp\n"
