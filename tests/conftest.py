import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def root_namespace_untouched():
    """A whole test run must leave the root namespace as it found it:
    every lab lives in namespaces of its own (and never touches the host's
    addresses, routes, firewall or sysctls). Checked at the end of the run,
    when root (the integration tests run only then)."""
    if os.geteuid() != 0:
        yield
        return
    from tests import rootns
    before = rootns.snapshot()
    yield
    diffs = rootns.differences(before, rootns.snapshot())
    assert not diffs, "the test run changed the root namespace:\n" + rootns.render(diffs)
