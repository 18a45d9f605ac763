"""Read YAML into plain Python values plus the line of every key and item, so
that validation can say exactly where a problem is."""

import yaml

from stacklab.errors import Problem, ScenarioError


class Source:
    """A parsed YAML document: `data` (dicts, lists, scalars) and `lines`
    mapping each key path (a tuple) to its 1-based line in `file`."""

    def __init__(self, file, data, lines):
        self.file = file
        self.data = data
        self.lines = lines

    def line(self, path):
        """Line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, path, message):
        return Problem(self.file, self.line(path), tuple(path), message)


class _Loader(yaml.SafeLoader):
    """SafeLoader used only to turn scalar nodes into Python values."""


_SCALARS = _Loader("")


def _construct(node, path, lines, problems, file):
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(file, line, path, "keys must be plain names"))
                continue
            key = _SCALARS.construct_object(key_node)
            if isinstance(key, bool):       # YAML 1.1 reads on/off/yes/no as booleans
                problems.append(Problem(file, line, path, "YAML reads the key %r as %s: quote it ('%s')"
                                        % (key_node.value, str(key).lower(), key_node.value)))
                continue
            sub = path + (key,)
            if key in out:
                problems.append(Problem(file, line, sub, "duplicate key"))
                continue
            lines[sub] = line
            out[key] = _construct(value_node, sub, lines, problems, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (i,), lines, problems, file)
                for i, item in enumerate(node.value)]
    return _SCALARS.construct_object(node)


def load_source(file, text=None):
    """Parse `file` (or `text`, reported as `file`). Syntax errors become a
    ScenarioError naming the line."""
    if text is None:
        try:
            with open(file, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ScenarioError([Problem(file, None, (), "cannot read: %s" % e.strerror)])
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(e, "problem", None) or str(e)
        raise ScenarioError([Problem(file, line, (), "not valid YAML: %s" % what)])
    if node is None:
        raise ScenarioError([Problem(file, 1, (), "the file is empty")])
    lines, problems = {}, []
    data = _construct(node, (), lines, problems, file)
    if problems:
        raise ScenarioError(problems)
    return Source(file, data, lines)
