"""Soak: the suite's nemeses in a loop for SLUICE_SOAK_SECONDS (`make soak`, default 600 s), each
round a fresh cluster (3 or 5 nodes) with a random nemesis, a random seed and 20-40 s of load,
checked like the scenarios. Skipped unless SLUICE_SOAK_SECONDS is set. Without cluster mode in
SLUICE_BIN it loops over the single-node nemeses instead. Every round's summary is printed; the
test fails at the end if any round failed, listing each failed round's seed."""

import os
import random
import time

import pytest

import fault_net
from fault_cluster import Cluster, cluster_mode_missing
from fault_scenario import (nemesis_bridge, nemesis_isolate_one, nemesis_kill_leader, nemesis_kill_random,
                            nemesis_mix, nemesis_pause_leader, nemesis_split, run_scenario)
from test_fault_single import nemesis_lose_answers, nemesis_pause

SOAK = float(os.environ.get("SLUICE_SOAK_SECONDS") or 0)

pytestmark = pytest.mark.skipif(SOAK <= 0, reason="soak runs only with SLUICE_SOAK_SECONDS set (make soak)")


def rounds(cluster_mode):
    if cluster_mode:
        return [
            (3, "blackhole", nemesis_kill_random, 3), (3, "blackhole", nemesis_kill_leader, 3),
            (3, "blackhole", nemesis_pause_leader, 3), (3, "blackhole", nemesis_isolate_one, 3),
            (3, "drop", nemesis_isolate_one, 3), (5, "blackhole", nemesis_split([[1, 2], [3, 4, 5]]), 5),
            (5, "drop", nemesis_split([[1, 2], [3, 4, 5]]), 5), (5, "blackhole", nemesis_bridge, 5),
            (5, "drop", nemesis_mix, 3), (3, "blackhole", nemesis_mix, 3),
        ]
    return [(1, "blackhole", nemesis_kill_random, None), (1, "blackhole", nemesis_pause, None),
            (1, "blackhole", nemesis_lose_answers, None)]


def test_soak(tmp_path):
    cluster_mode = cluster_mode_missing() is None
    rnd = random.Random(int(os.environ.get("SLUICE_FAULT_SEED") or time.time()))
    end = time.monotonic() + SOAK
    failed, passed = [], 0
    i = 0
    while time.monotonic() < end - 20:
        i += 1
        nodes, mode, nemesis, rf = rnd.choice(rounds(cluster_mode))
        duration = min(rnd.uniform(20.0, 40.0), max(10.0, end - time.monotonic() - 30))
        seed = rnd.randrange(1 << 31)
        name = "soak%d-%dn-%s-%s" % (i, nodes, mode, nemesis.__name__.replace("nemesis_", ""))
        net = fault_net.Net(range(1, nodes + 1), mode=mode)
        c = None
        try:
            net.setup()
            c = Cluster(net, tmp_path / ("r%d" % i), list(range(1, nodes + 1)), cluster=cluster_mode)
            c.start()
            _rep, failures = run_scenario(name, c, nemesis, duration=duration, partitions=4, rf=rf,
                                          producers=4 if cluster_mode else 3, idempotent=cluster_mode, seed=seed,
                                          min_acked=50)
        except Exception as e:                    # noqa: BLE001 - a round that cannot even run is a failure
            failures = ["%s: %s" % (type(e).__name__, e)]
        finally:
            if c is not None:
                c.shutdown()
            net.teardown()
        if failures:
            failed.append("%s (SLUICE_FAULT_SEED=%d):\n  %s" % (name, seed, "\n  ".join(failures[:12])))
        else:
            passed += 1
    print("soak: %d rounds passed, %d failed" % (passed, len(failed)))
    assert not failed, "\n\n".join(failed)
