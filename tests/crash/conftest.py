"""Fixtures for the crash tests; the harness is shared with tests/integration."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from sluice_testlib import Server  # noqa: E402


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def factory(*flags):
        n = len(servers) + 1
        srv = Server(tmp_path / ("data%d" % n), flags=list(flags), log_dir=tmp_path / ("logs%d" % n))
        servers.append(srv)
        srv.start()
        return srv

    yield factory
    reports = []
    for srv in servers:
        if srv.running:
            srv.stop()
        else:
            srv.kill9()
        reports.extend(srv.sanitizer_reports())
    if reports:
        pytest.fail("\n".join(reports))
