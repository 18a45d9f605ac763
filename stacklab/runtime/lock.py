"""One lock per lab name, so that building and removing a lab never overlap:
`up` holds it while it creates and builds, the keeper while it tears down,
`down` while it sweeps what a killed run left. A file lock (flock), so a
holder that dies releases it. The file (/run/stacklab/.NAME.lock) is removed
with the lab; whoever then waits on the removed file tries again."""

import fcntl
import os
import time

from stacklab.errors import LabError
from stacklab.runtime.state import RUN_ROOT, check_lab_name


class LabLock:

    def __init__(self, name):
        self.name = name
        self.path = os.path.join(RUN_ROOT, ".%s.lock" % check_lab_name(name))
        self.fd = None

    def acquire(self, timeout=60.0, waiting=None):
        """Block until held (at most `timeout` s); `waiting()` is called once
        if someone else holds it. Raises LabError on timeout."""
        os.makedirs(RUN_ROOT, exist_ok=True)
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:        # (a symbolic link planted in its place is not followed)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            except OSError as e:
                raise LabError("cannot take the lock of lab %s (%s): %s" % (self.name, self.path, e.strerror))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() > deadline:
                    raise LabError("lab %s is busy (being built or removed) for more than %.0f s" % (self.name,
                                                                                                 timeout))
                if waiting and not told:
                    waiting()
                    told = True
                time.sleep(0.05)
                continue
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return self
            os.close(fd)            # the lab went and took this file with it: lock the new one

    def release(self, remove=False):
        """Let go; `remove` when the lab is gone (the file goes with it)."""
        if self.fd is None:
            return
        if remove:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        os.close(self.fd)
        self.fd = None

    def inherit_only(self):
        """After fork, in the process that does not keep it: forget it without unlocking (the lock
        belongs to the open file, which the other process still has)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
