"""Fixtures of the fault suite (docs/FAULTS.md).

`make_net(node_ids, mode=None)`: namespaces + bridge for these nodes (fault_net.Net), torn down
   after the test, whatever happens.
`make_cluster(n, cluster=True, mode=None, extra_flags=())`: a Net plus n sluice nodes in it,
   started and ready (for a cluster: the metadata group has a leader); killed after the test.

The whole suite is skipped, with the reason, if this machine cannot create namespaces (not
root, no `ip netns`). Scenarios that need cluster mode skip themselves while SLUICE_BIN has none.
"""

import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fault_net  # noqa: E402
from fault_cluster import Cluster  # noqa: E402
from fault_scenario import SUMMARIES  # noqa: E402


def _sigterm(signum, frame):
    # turn SIGTERM into an exception so that finalizers and atexit tear the namespaces down
    raise SystemExit(128 + signum)


if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
    signal.signal(signal.SIGTERM, _sigterm)


def pytest_collection_modifyitems(config, items):
    reason = fault_net.netns_supported()
    if reason:
        for item in items:
            if "tests/fault" in str(item.fspath) and "test_fault_checker" not in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter):
    if SUMMARIES:
        terminalreporter.section("fault scenarios")
        for _name, text in SUMMARIES:
            terminalreporter.write_line(text)


@pytest.fixture
def make_net():
    nets = []

    def factory(node_ids, mode=None):
        net = fault_net.Net(node_ids, mode=mode)
        nets.append(net)
        net.setup()
        return net

    yield factory
    for net in nets:
        net.teardown()


@pytest.fixture
def make_cluster(tmp_path, make_net):
    clusters = []

    def factory(n, cluster=True, mode=None, extra_flags=()):
        net = make_net(range(1, n + 1), mode=mode)
        c = Cluster(net, tmp_path / ("c%d" % (len(clusters) + 1)), list(range(1, n + 1)), cluster=cluster,
                    extra_flags=extra_flags)
        clusters.append(c)
        c.start()
        return c

    yield factory
    for c in clusters:
        c.shutdown()
