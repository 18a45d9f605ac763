"""A lab's record and processes on this machine: its state file (state.py),
the lock that keeps builds and teardowns apart (lock.py), requests to its
keeper (mailbox.py), processes by pid and start time (procs.py), which of
them still run (health.py), its removal from the record alone (teardown.py),
and the running lab seen from any process (running.py)."""
