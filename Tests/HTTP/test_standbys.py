"""Reads from PostgreSQL streaming standbys (`--database-read-url`; docs/STORE.md "Standbys"), against real
replication that these tests set up: a primary and a standby made with `pg_basebackup -R`. Cold reads go to the
standby; a replica never reads state older than what it acknowledged or was notified of (read-your-writes, also under
artificial replay lag); a standby that is down is skipped; with the primary down, cached and cold reads through the
standby are answered while writes answer 503, and everything recovers without a restart; a promoted standby serves
as the new primary after a restart. Bounded in time."""
import time

import pytest

from conftest import Service
from pg import Postgres
from test_store import CHECK, KEYS, call, check, fresh, put, q

PRO = {"plan": "pro", "status": "active"}


def store_health(svc):
    return call(svc, "GET", "/healthz", headers={})[1]["store"]


def wait_for(predicate, seconds=8.0, what="condition"):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def standby_usable(svc):
    return store_health(svc)["standbys"][0]["usable"]


@pytest.fixture
def cluster():
    primary = Postgres()
    standby = Postgres(standby_of=primary)
    yield primary, standby
    standby.close()
    primary.close()


def serve(primary, standby, *args):
    return Service(env=KEYS, store=primary.url, args=("--database-read-url", standby.url, *args))


def test_cold_reads_go_to_the_standby_and_read_your_writes_holds(cluster):
    primary, standby = cluster
    writer = Service(env=KEYS, store=primary.url)
    svc = serve(primary, standby)
    try:
        wait_for(lambda: standby_usable(svc), what="the standby to be usable")
        ids = [fresh("sb") for _ in range(20)]
        for id in ids:
            assert put(writer, id, {"source": "admin", "subscription": PRO})[0] == 201
        time.sleep(1.5)  # replayed by the standby, and past the second of lag a standby may have
        before = store_health(svc)["standbys"][0]["reads"]
        for id in ids:
            assert check(svc, id, {"feature": "psa_integration"})[0]["allowed"] is True
        assert store_health(svc)["standbys"][0]["reads"] > before, "the cold reads did not use the standby"
        # Read-your-writes: this replica's own write is seen at once, whatever the standby has replayed.
        for n in range(10):
            id = ids[n]
            plan = "free" if n % 2 else "enterprise"
            assert put(svc, id, {"source": "admin", "subscription": {"plan": plan, "status": "active"}})[0] == 200
            assert check(svc, id, {"feature": "sso"})[0]["allowed"] is (plan == "enterprise")
            assert call(svc, "GET", f"/v1/accounts/{q(id)}")[1]["subscription"]["plan"] == plan
            status, r = call(svc, "POST", f"/v1/accounts/{q(id)}/usage/max_trees",
                             {"amount": 1, "idempotency_key": f"k{n}"})
            assert status == 200
            assert call(svc, "GET", f"/v1/accounts/{q(id)}/usage/max_trees")[1]["used"] == (1 if r["allowed"] else 0)
            assert call(svc, "GET", f"/v1/accounts/{q(id)}/audit")[1]["entries"][0]["action"] == "account.update"
        assert svc.proc.poll() is None, svc.log()
    finally:
        writer.stop()
        svc.stop()


def test_a_lagging_standby_never_serves_older_state(cluster):
    primary, _ = cluster
    lagging = Postgres(standby_of=primary, settings=["recovery_min_apply_delay=3s"])
    a = serve(primary, lagging)
    b = serve(primary, lagging)
    try:
        ids = [fresh("lag") for _ in range(5)]
        for id in ids:
            assert put(a, id, {"source": "admin", "subscription": PRO})[0] == 201
            assert check(b, id, {"feature": "psa_integration"})[0]["allowed"] is True  # cached on b
        for id in ids:
            assert put(a, id, {"source": "admin", "subscription": {"plan": "free", "status": "active"}})[0] == 200
            # The writer sees its write at once; the other replica within 1 s of the notification. Neither ever
            # answers from the standby, which is 3 s behind.
            assert check(a, id, {"feature": "psa_integration"})[0]["error"] == "feature_not_in_plan"
            deadline = time.monotonic() + 1.0
            while check(b, id, {"feature": "psa_integration"})[0].get("error") != "feature_not_in_plan":
                assert time.monotonic() < deadline, "replica b served older state"
                time.sleep(0.02)
            # Once b saw it, it never goes back.
            for _ in range(5):
                assert check(b, id, {"feature": "psa_integration"})[0]["error"] == "feature_not_in_plan"
        wait_for(lambda: not standby_usable(a), seconds=3, what="the lagging standby to be skipped")
        for s in (a, b):
            assert s.proc.poll() is None, s.log()
    finally:
        a.stop()
        b.stop()
        lagging.close()


def test_a_standby_slightly_behind_is_used_and_never_serves_older_state(cluster):
    """A standby 300 ms behind stays in use (it has replayed what the primary wrote a second ago), so cache misses
    right after a write meet a standby that has not replayed it yet: the replica that wrote, and the other one once
    notified, must still never answer from before the write, nor go back to it."""
    primary, _ = cluster
    behind = Postgres(standby_of=primary, settings=["recovery_min_apply_delay=300ms"])
    a = serve(primary, behind)
    b = serve(primary, behind)
    try:
        wait_for(lambda: standby_usable(a) and standby_usable(b), what="the standby to be usable")
        plans = ["free", "pro", "enterprise"]
        expected = {"free": 3, "pro": 25, "enterprise": "unlimited"}
        ids = [fresh("near") for _ in range(6)]
        for id in ids:
            assert put(a, id, {"source": "admin", "subscription": PRO})[0] == 201
        time.sleep(1.0)
        for id in ids:  # cold reads on b, from the standby
            assert check(b, id, {"feature": "max_trees", "usage": 0})[0]["limit"] == 25
        reads = store_health(b)["standbys"][0]["reads"]
        assert reads > 0, "the standby was never read from"
        for round in range(3):
            for n, id in enumerate(ids):
                plan = plans[(n + round) % 3]
                assert put(a, id, {"source": "admin", "subscription": {"plan": plan, "status": "active"}})[0] == 200
                assert check(a, id, {"feature": "max_trees", "usage": 0})[0].get("limit") == expected[plan]
                deadline = time.monotonic() + 1.0
                while check(b, id, {"feature": "max_trees", "usage": 0})[0].get("limit") != expected[plan]:
                    assert time.monotonic() < deadline, f"replica b did not see {plan} within 1 s"
                    time.sleep(0.01)
                for _ in range(3):
                    assert check(b, id, {"feature": "max_trees", "usage": 0})[0].get("limit") == expected[plan]
        for s in (a, b):
            assert s.proc.poll() is None, s.log()
    finally:
        a.stop()
        b.stop()
        behind.close()


def test_a_standby_that_is_down_is_skipped(cluster):
    primary, standby = cluster
    svc = serve(primary, standby)
    try:
        wait_for(lambda: standby_usable(svc), what="the standby to be usable")
        standby.stop()
        ids = [fresh("down") for _ in range(5)]
        for id in ids:
            assert put(svc, id, {"source": "admin", "subscription": PRO})[0] == 201
        t0 = time.monotonic()
        for id in ids:
            assert check(svc, id, {"feature": "psa_integration"})[0]["allowed"] is True
            assert call(svc, "GET", f"/v1/accounts/{q(id)}")[0] == 200
        assert time.monotonic() - t0 < 5
        wait_for(lambda: not store_health(svc)["standbys"][0]["reachable"], seconds=3, what="the standby to be down")
        standby.start()
        wait_for(lambda: standby_usable(svc), what="the standby to be back")
    finally:
        svc.stop()


def test_with_the_primary_down_reads_go_on_through_the_standby(cluster):
    primary, standby = cluster
    svc = serve(primary, standby)
    try:
        wait_for(lambda: standby_usable(svc), what="the standby to be usable")
        cached, cold = fresh("cached"), fresh("cold")
        assert put(svc, cached, {"source": "admin", "subscription": PRO})[0] == 201
        assert put(svc, cold, {"source": "admin", "subscription": {"plan": "enterprise", "status": "active"}})[0] == 201
        assert check(svc, cached, {"feature": "psa_integration"})[0]["allowed"] is True
        time.sleep(1.0)  # the standby replays both
        primary.stop()
        wait_for(lambda: not store_health(svc)["connected"] or not store_health(svc)["listening"], seconds=5,
                 what="the primary to be seen down")
        assert check(svc, cached, {"feature": "psa_integration"})[0]["allowed"] is True
        assert check(svc, cold, {"feature": "sso"})[0]["allowed"] is True  # never cached: read on the standby
        assert call(svc, "GET", f"/v1/accounts/{q(cold)}")[1]["subscription"]["plan"] == "enterprise"
        status, r = put(svc, cold, {"source": "admin", "subscription": PRO})
        assert status == 503 and r["error"] == "store_unavailable"
        primary.start()
        wait_for(lambda: put(svc, cold, {"source": "admin", "subscription": PRO})[0] == 200, seconds=10,
                 what="writes to recover")
        assert check(svc, cold, {"feature": "sso"})[0]["error"] == "feature_not_in_plan"
        assert svc.proc.poll() is None, svc.log()
    finally:
        svc.stop()


def test_a_promoted_standby_serves_after_a_restart(cluster):
    primary, standby = cluster
    svc = serve(primary, standby)
    id = fresh("promo")
    try:
        assert put(svc, id, {"source": "admin", "subscription": PRO})[0] == 201
        time.sleep(1.0)
    finally:
        svc.stop()
    primary.stop()
    standby.promote()
    svc = Service(env=KEYS, store=standby.url)
    try:
        assert check(svc, id, {"feature": "psa_integration"})[0]["allowed"] is True
        assert put(svc, id, {"source": "admin", "subscription": {"plan": "free", "status": "active"}})[0] == 200
        assert check(svc, id, {"feature": "psa_integration"})[0]["error"] == "feature_not_in_plan"
    finally:
        svc.stop()


def test_warm_up_fills_the_cache_before_ready(cluster):
    """`--warm N`: a replica reads the N most recently written accounts into its cache (from the standby) before
    `/readyz` says ready; `/healthz` shows the progress."""
    primary, standby = cluster
    writer = Service(env=KEYS, store=primary.url)
    ids = [fresh("warm") for _ in range(60)]
    try:
        for id in ids:
            assert put(writer, id, {"source": "admin", "subscription": PRO})[0] == 201
    finally:
        writer.stop()
    time.sleep(1.0)
    svc = serve(primary, standby, "--warm", "50")
    try:
        wait_for(lambda: call(svc, "GET", "/readyz", headers={})[0] == 200, what="the warm-up to finish")
        health = store_health(svc)
        assert health["warmup"] == {"target": 50, "loaded": 50, "done": True, "failed": False}
        assert health["cached_accounts"] >= 50
        hits = health["cache_hit_ratio"]
        # The 50 most recent are cached: asking about them is a cache hit.
        for id in ids[-50:]:
            assert check(svc, id, {"feature": "psa_integration"})[0]["allowed"] is True
        assert store_health(svc)["cache_hit_ratio"] > hits
    finally:
        svc.stop()


def test_warm_up_fills_the_cache_from_the_standby_before_ready(cluster):
    """`--warm N`: the N most recently written accounts are in the cache, each with its overrides and usage (a
    monthly sum and rolling-day records), before `/readyz` answers 200, and every decision on them is then a hit that
    answers as a replica reading the primary does. 20,000 accounts, in groups of 500 from the standby, within 30 s:
    the group statement once cost time in the square of the group's size (about 0.5 ms per account at 500, over
    60 s for these 20,000 on the shared test machine); it is linear now (docs/BENCHMARKS.md, issue 26)."""
    primary, standby = cluster
    writer = Service(env=KEYS, store=primary.url)
    try:
        primary.psql("entitlements", """INSERT INTO ent_accounts (account_id, subscription, attributes, created_at,
          updated_at) SELECT 'warm_' || i, '{"plan":"pro","status":"active","period_start":null,"period_end":null,
          "past_due_since":null,"seats":null}', '{}', '2026-01-01T00:00:00Z',
          to_char(timestamp '2026-01-01' + i * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
          FROM generate_series(1, 20000) i""")
        special = fresh("warm")
        assert put(writer, special, {"source": "admin", "subscription": PRO})[0] == 201
        assert call(writer, "PUT", f"/v1/accounts/{q(special)}/overrides/sso",
                    {"value": True, "reason": "r", "actor": "x"})[0] in (200, 201)
        for feature, amount in (("monthly_sessions", 3), ("ai_suggestions", 2)):
            status, r = call(writer, "POST", f"/v1/accounts/{q(special)}/usage/{feature}",
                             {"amount": amount, "idempotency_key": feature})
            assert status == 200 and r["allowed"] is True, r
        lsn = primary.psql("postgres", "SELECT pg_current_wal_lsn()")
        wait_for(lambda: standby.psql("postgres", f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'") == "t",
                 what="the standby to replay the accounts")
        t0 = time.monotonic()
        svc = serve(primary, standby, "--warm", "20001", "--cache-size", "30000")
        try:
            wait_for(lambda: call(svc, "GET", "/readyz", headers={})[0] == 200, seconds=60, what="the warm-up")
            seconds = time.monotonic() - t0
            store = store_health(svc)
            assert store["warmup"] == {"target": 20001, "loaded": 20001, "done": True, "failed": False}
            assert store["cached_accounts"] == 20001
            assert seconds < 30, f"warming 20,001 accounts took {seconds:.1f} s"
            checks = ({"feature": "sso"}, {"feature": "monthly_sessions"}, {"feature": "ai_suggestions"},
                      {"feature": "max_trees"})
            for id in (special, "warm_1", "warm_20000"):
                assert check(svc, id, *checks) == check(writer, id, *checks), id
            assert check(svc, special, {"feature": "sso"})[0]["allowed"] is True
            assert store_health(svc)["cache_hit_ratio"] == 1, "a warmed account was read again"
        finally:
            svc.stop()
    finally:
        writer.stop()
