"""Read YAML into plain Python values plus the line of every key and item, so
that validation can say exactly where a problem is."""

import yaml

from stacklab.errors import Problem, ScenarioError


class Source:
    """A parsed YAML document: `data` (dicts, lists, scalars) and `lines`
    mapping each key path (a tuple) to its 1-based line in `file`."""

    def __init__(self, file, data, lines, text=None):
        self.file = file
        self.data = data
        self.lines = lines
        self.text = text

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


# Limits that keep a hostile or broken file from exhausting the loader: a
# scenario of a hundred nodes is ~20 KB, 8 levels deep, a few thousand values.
MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_VALUES = 100000      # after aliases are expanded (a "billion laughs" stops here)


class _Loader(yaml.SafeLoader):
    """SafeLoader used only to turn scalar nodes into Python values."""


_SCALARS = _Loader("")


class _TooBig(Exception):
    def __init__(self, problem):
        super().__init__(problem.message)
        self.problem = problem


class _Walk:
    """State of one construction: values made so far, nodes being made."""

    def __init__(self, file):
        self.file = file
        self.values = 0
        self.open = set()       # ids of the collection nodes on the current path


def _construct(node, path, lines, problems, walk):
    file = walk.file
    line = node.start_mark.line + 1
    lines.setdefault(path, line)
    walk.values += 1
    if walk.values > MAX_VALUES:
        raise _TooBig(Problem(file, line, path, "more than %d values (aliases expand to too much)" % MAX_VALUES))
    if len(path) > MAX_DEPTH:
        raise _TooBig(Problem(file, line, path, "nested more than %d levels deep" % MAX_DEPTH))
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if id(node) in walk.open:
            raise _TooBig(Problem(file, line, path, "a recursive alias: this value contains itself"))
        walk.open.add(id(node))
        try:
            return _collection(node, path, lines, problems, walk)
        finally:
            walk.open.discard(id(node))
    return _scalar(node, path, problems, file)


def _scalar(node, path, problems, file):
    try:
        return _SCALARS.construct_object(node)
    except (ValueError, OverflowError, yaml.YAMLError) as e:     # 2024-13-45, a 5,000-digit integer
        problems.append(Problem(file, node.start_mark.line + 1, path, "cannot read %r: %s"
                                % (node.value[:40], str(e).split("\n")[0][:80])))
        return None


def _collection(node, path, lines, problems, walk):
    file = walk.file
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(file, line, path, "keys must be plain names"))
                continue
            key = _scalar(key_node, path, problems, file)
            if key is None:
                continue
            if not isinstance(key, (str, int, float)):
                problems.append(Problem(file, line, path, "keys must be plain names"))
                continue
            if isinstance(key, bool):       # YAML 1.1 reads on/off/yes/no as booleans
                problems.append(Problem(file, line, path, "YAML reads the key %r as %s: quote it ('%s')"
                                        % (key_node.value, str(key).lower(), key_node.value)))
                continue
            sub = path + (key,)
            if key in out:
                problems.append(Problem(file, line, sub, "duplicate key"))
                continue
            lines[sub] = line
            out[key] = _construct(value_node, sub, lines, problems, walk)
        return out
    return [_construct(item, path + (i,), lines, problems, walk) for i, item in enumerate(node.value)]


def _decode(file, raw):
    """UTF-8 text, or a problem naming the line of the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ScenarioError([Problem(file, line, (), "not UTF-8 text (byte 0x%02x at offset %d)"
                                     % (raw[e.start], e.start))])


def load_source(file, text=None):
    """Parse `file` (or `text`, reported as `file`). Syntax errors, and
    files no scenario could be (binary, huge, nested or aliased beyond
    reason), become a ScenarioError naming the line."""
    if text is None:
        try:
            with open(file, "rb") as f:
                raw = f.read(MAX_BYTES + 1)
        except OSError as e:
            raise ScenarioError([Problem(file, None, (), "cannot read: %s" % e.strerror)])
        if len(raw) > MAX_BYTES:
            raise ScenarioError([Problem(file, None, (), "more than %d bytes: not a scenario" % MAX_BYTES)])
        text = _decode(file, raw)
    if len(text) > MAX_BYTES:
        raise ScenarioError([Problem(file, None, (), "more than %d bytes: not a scenario" % MAX_BYTES)])
    if "\x00" in text:
        raise ScenarioError([Problem(file, text[:text.index("\x00")].count("\n") + 1, (),
                                     "a NUL byte: not a text file")])
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(e, "problem", None) or str(e)
        raise ScenarioError([Problem(file, line, (), "not valid YAML: %s" % what)])
    except RecursionError:          # [[[[... thousands deep: the parser recurses
        raise ScenarioError([Problem(file, None, (), "nested too deeply to read")])
    if node is None:
        raise ScenarioError([Problem(file, 1, (), "the file is empty")])
    lines, problems = {}, []
    try:
        data = _construct(node, (), lines, problems, _Walk(file))
    except _TooBig as e:
        raise ScenarioError([e.problem])
    if problems:
        raise ScenarioError(problems)
    return Source(file, data, lines, text)
