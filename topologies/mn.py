"""Mininet, the one place stacklab imports it from.

mininet.node imports distutils.version (for a version check of Mininet's
own OVSSwitch, which stacklab does not use). Where setuptools is installed
its shim answers that import with setuptools' copy of distutils, and so
imports setuptools and pkg_resources: 0.14 s on a host, over a second in
an emulated VM, in every process that builds or opens a lab. Python 3.11
still has distutils of its own, which is enough."""

import sys
import warnings

if sys.version_info < (3, 12) and "distutils" not in sys.modules:
    try:
        import _distutils_hack
    except ImportError:
        pass
    else:
        _distutils_hack.remove_shim()

with warnings.catch_warnings():    # its deprecation notice is for Mininet's authors
    warnings.filterwarnings("ignore", "The distutils package is deprecated", DeprecationWarning)
    from mininet.cli import CLI
    from mininet.link import Intf, Link
    from mininet.node import Host

__all__ = ["CLI", "Host", "Intf", "Link"]
