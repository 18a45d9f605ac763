"""A learner's progress, one small JSON file per user (whoever ran sudo):
exercises started and passed, hints seen, answers given. Only a record of
what happened: grading always looks at the lab itself."""

import fcntl
import json
import os
import pwd
import time


def learner():
    """(name, uid, gid, home) of the person behind sudo (or the caller)."""
    name = os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name
    try:
        entry = pwd.getpwnam(name)
        return name, entry.pw_uid, entry.pw_gid, entry.pw_dir
    except KeyError:
        return name, os.getuid(), os.getgid(), os.path.expanduser("~")


def workdir():
    """Where the learner's copies go (their scenario file to edit and apply)."""
    return os.environ.get("STACKLAB_WORKDIR") or os.path.join(learner()[3], "stacklab")


def give_to_learner(path):
    """Files made for the learner belong to them, not to root."""
    _, uid, gid, _ = learner()
    try:
        os.chown(path, uid, gid)
    except OSError:
        pass


PROGRESS_FILE = os.path.join(".local", "state", "stacklab", "exercises.json")


def all_progress_files():
    """{user: progress file} of every user of this machine who has one (the instructor's report)."""
    if os.environ.get("STACKLAB_PROGRESS"):
        return {learner()[0]: os.environ["STACKLAB_PROGRESS"]}
    out = {}
    for entry in pwd.getpwall():
        path = os.path.join(entry.pw_dir, PROGRESS_FILE)
        if entry.pw_dir not in ("", "/") and os.path.isfile(path):
            out.setdefault(entry.pw_name, path)
    return out


class Progress:
    """One learner's progress file. Several of their exercises may run at
    once (two terminals): save() writes back only the exercises this object
    touched, over what the file holds now, under a lock."""

    def __init__(self, path=None):
        self.path = path or os.environ.get("STACKLAB_PROGRESS") or os.path.join(learner()[3], PROGRESS_FILE)
        self.data = self._read()
        self.touched = set()

    def _read(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def of(self, exercise):
        self.touched.add(exercise)
        return self.data.setdefault(exercise, {"hints": 0, "answers": {}, "checks": 0})

    def forget(self, exercise):
        self.touched.add(exercise)
        self.data.pop(exercise, None)

    def mark(self, exercise, key, value=None):
        self.of(exercise)[key] = value if value is not None else time.time()

    def save(self):
        directory = os.path.dirname(self.path)
        fresh = not os.path.isdir(directory)
        os.makedirs(directory, exist_ok=True)
        with open(self.path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            now = self._read()
            for name in self.touched:
                if name in self.data:
                    now[name] = self.data[name]
                else:
                    now.pop(name, None)
            self.data = now
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        give_to_learner(self.path + ".lock")
        give_to_learner(self.path)
        if fresh:
            give_to_learner(directory)
