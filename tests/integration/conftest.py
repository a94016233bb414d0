"""pytest fixtures for sluice integration tests.

`server`: a fresh `sluice serve` on a free loopback port with its own data dir.
`make_server(*flags, data_dir=None, start=True)`: a factory for servers with extra flags.
Every server started here is stopped at the end of its test (SIGTERM, then SIGKILL after 5 s).
The harness itself (Server, create_topic, produce, fetch_all, murmur2, ...) is in
sluice_testlib.py so that tests/crash can import it too."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sluice_testlib import (  # noqa: E402,F401  (re-exported for tests and other helpers)
    SLUICE_BIN, Server, ServerError, SSEClient, connect, create_topic, describe_topic, encode_body,
    err_code, expect, fetch, fetch_all, free_port, kafka_partition, latest_offsets, murmur2,
    parse_ndjson, produce, produce_ok, raw_members, read_response, read_until_closed)


@pytest.fixture
def make_server(tmp_path):
    servers = []
    counter = [0]

    def factory(*flags, data_dir=None, start=True, port=None):
        counter[0] += 1
        d = data_dir or (tmp_path / ("data%d" % counter[0]))
        srv = Server(d, flags=list(flags), port=port, log_dir=tmp_path / ("logs%d" % counter[0]))
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield factory
    crashed = []
    for srv in servers:
        if srv.proc is not None and srv.proc.poll() is not None:
            crashed.append("server on port %d died during the test with status %s\n%s"
                           % (srv.port, srv.proc.returncode, srv.logs()))
        if srv.running:
            srv.stop()
        else:
            srv.kill9()
        crashed.extend(srv.sanitizer_reports())
    if crashed:
        pytest.fail("\n".join(crashed))


@pytest.fixture
def server(make_server):
    return make_server()
