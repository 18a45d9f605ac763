import pytest

from .fake_switch import quiet_socket


@pytest.fixture
def quiet():
    with quiet_socket() as sock:
        yield sock
