"""stacklab: OpenStack-style cloud data planes emulated on one Linux machine."""

__version__ = "0.1.0"
