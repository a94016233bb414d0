"""The workload, nemeses and checker end to end against ONE sluice node in plain single-node
mode, inside a network namespace. A single node ignores the Sluice-* headers, so the workload
runs non-idempotent: a request whose outcome is ambiguous is given up (its events become
indeterminate) instead of retried. These runs prove the harness, and that a single node loses
nothing acknowledged under kill -9, SIGSTOP and lost answers."""

import time

import pytest

from fault_scenario import nemesis_kill_random, run_scenario

DURATION = 15.0


def nemesis_pause(ctx):
    node = ctx.cluster.node(1)
    ctx.sleep(ctx.rnd.uniform(1.0, 2.0))
    if ctx.remaining() < 2:
        return
    hold = ctx.rnd.uniform(2.0, 4.0)
    node.pause()
    ctx.log("SIGSTOP n1 for %.1fs" % hold)
    time.sleep(hold)
    node.resume()
    ctx.log("SIGCONT n1")
    ctx.sleep(ctx.rnd.uniform(1.0, 2.0))


def nemesis_lose_answers(ctx):
    """n1 cannot send to the test process for a while: requests arrive and are appended, their
    answers are lost (ambiguous outcomes), reads time out."""
    ctx.sleep(ctx.rnd.uniform(1.0, 2.0))
    if ctx.remaining() < 2:
        return
    ctx.net.cut_host(1)
    ctx.log("n1 -> test process cut")
    ctx.sleep(ctx.rnd.uniform(9.0, 11.0))         # longer than the produce read timeout (8 s)
    ctx.net.heal()
    ctx.log("healed")
    ctx.sleep(ctx.rnd.uniform(1.0, 2.0))


@pytest.mark.parametrize("nemesis", [nemesis_kill_random, nemesis_pause, nemesis_lose_answers],
                         ids=["kill9", "sigstop", "lost-answers"])
def test_single_node(make_cluster, nemesis):
    c = make_cluster(1, cluster=False)
    report, failures = run_scenario("single-%s" % nemesis.__name__.replace("nemesis_", ""), c, nemesis,
                                    duration=DURATION, partitions=3, producers=3, idempotent=False,
                                    min_acked=100, converge_s=15.0, drain_s=10.0)
    assert not failures, "\n".join(failures)


def test_checker_catches_duplicates_from_blind_retries(make_cluster):
    """Negative control: retrying ambiguous requests with the same Sluice-Sequence against a server
    that does NOT deduplicate (a single node ignores the headers) must duplicate events whose
    answers were lost, and the checker must say so. Proves the pipeline (workload -> final read ->
    checker) really sees duplicates in real logs, not just in synthetic histories."""
    c = make_cluster(1, cluster=False)
    report, failures = run_scenario("single-blind-retries (expected to find duplicates)", c, nemesis_lose_answers,
                                    duration=12.0, partitions=2, producers=2, idempotent=True,
                                    min_acked=50, converge_s=15.0, drain_s=15.0, expect_anomalies=True)
    assert report.anomalies["duplicate"], "no duplicate found although answers were lost and retried:\n" + \
        "\n".join(failures)
    others = [r for r, v in report.anomalies.items() if v and r != "duplicate"]
    assert not others, "unexpected anomalies besides duplicates: %s\n%s" % (others, "\n".join(failures))
