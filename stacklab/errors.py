"""Errors a user can act on. Anything raised as one of these is printed as a
message, never as a traceback."""


class StacklabError(Exception):
    """Base of every error the CLI reports as a plain message."""


class Problem:
    """One thing wrong in a scenario file: where (file, line, key path) and what."""

    def __init__(self, file, line, path, message):
        self.file = file
        self.line = line
        self.path = path
        self.message = message

    def __str__(self):
        where = str(self.file)
        if self.line:
            where += ":%d" % self.line
        key = ".".join(str(p) for p in self.path) if self.path else "(top level)"
        return "%s: %s: %s" % (where, key, self.message)

    def __repr__(self):
        return "Problem(%s)" % self


class ScenarioError(StacklabError):
    """A scenario file has one or more problems; all of them are listed."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self):
        n = len(self.problems)
        head = "%d problem%s:" % (n, "" if n == 1 else "s")
        return "\n".join([head] + ["  " + str(p) for p in self.problems])


class LabError(StacklabError):
    """Building, reaching or tearing down a lab failed."""
