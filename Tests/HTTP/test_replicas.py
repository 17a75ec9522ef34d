"""Replicas that agree (SPEC §7, §9): each keeps an account cache fresh by LISTEN/NOTIFY. Against a real
PostgreSQL these tests start: every kind of change is visible on the other replica within 1 s; a killed LISTEN
connection never yields stale answers; with PostgreSQL stopped, cached accounts keep being answered while writes,
uncached accounts and /readyz answer 503, and everything recovers by itself. Bounded in time."""
import json
import threading
import time

import pytest

from test_store import ADMIN, CHECK, KEYS, call, check, fresh, put, q
from conftest import Service


@pytest.fixture(scope="module")
def pair(db):
    a = Service(env=KEYS, store=db.url)
    b = Service(env=KEYS, store=db.url)
    wait_listening(a)
    wait_listening(b)
    yield a, b
    for s in (a, b):
        assert s.stop() == 0


def health(svc):
    return call(svc, "GET", "/healthz", headers={})[1]["store"]


def wait_listening(svc, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if health(svc)["listening"]:
            return
        time.sleep(0.05)
    raise AssertionError("the replica never started listening")


def visible(svc, predicate, seconds=1.0):
    """Polls `predicate(svc)` until true; returns the seconds it took (fails past `seconds`)."""
    t0 = time.monotonic()
    while True:
        if predicate(svc):
            return time.monotonic() - t0
        if time.monotonic() - t0 > seconds:
            raise AssertionError(f"not visible within {seconds} s")
        time.sleep(0.01)


def sso(svc, id):
    return check(svc, id, {"feature": "sso"})[0]


def test_every_kind_of_change_is_visible_on_the_other_replica_within_1s(pair):
    a, b = pair
    id = fresh()
    put(a, id, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})
    assert sso(b, id)["error"] == "feature_not_in_plan"  # now cached on b
    lags = []
    # state
    put(a, id, {"source": "admin", "subscription": {"plan": "enterprise", "status": "active"}})
    lags.append(visible(b, lambda s: sso(s, id)["allowed"] is True))
    # override
    call(a, "PUT", f"/v1/accounts/{q(id)}/overrides/sso", {"value": False, "reason": "r", "actor": "x"})
    lags.append(visible(b, lambda s: sso(s, id)["allowed"] is False))
    call(a, "DELETE", f"/v1/accounts/{q(id)}/overrides/sso", {"reason": "r", "actor": "x"})
    lags.append(visible(b, lambda s: sso(s, id)["allowed"] is True))
    # usage (on a plan with a finite monthly limit)
    put(a, id, {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
    lags.append(visible(b, lambda s: sso(s, id)["allowed"] is False))
    before = check(b, id, {"feature": "monthly_sessions"})[0]["remaining"]
    status, r = call(a, "POST", f"/v1/accounts/{q(id)}/usage/monthly_sessions", {"amount": 1, "idempotency_key": "u"})
    assert status == 200 and r["allowed"] is True
    lags.append(visible(b, lambda s: check(s, id, {"feature": "monthly_sessions"})[0]["remaining"] == before - 1))
    # deletion
    call(a, "DELETE", f"/v1/accounts/{q(id)}")
    lags.append(visible(b, lambda s: sso(s, id)["error"] == "no_subscription"))
    # trial (an unknown id, cached as such, then created by a trial)
    id2 = fresh()
    assert sso(b, id2)["error"] == "no_subscription"
    assert call(a, "POST", f"/v1/accounts/{q(id2)}/trial")[0] == 201
    lags.append(visible(b, lambda s: check(s, id2, {"feature": "psa_integration"})[0]["allowed"] is True))
    assert max(lags) <= 1.0
    h = health(b)
    assert h["cached_accounts"] >= 1 and h["notification_lag_max_seconds"] < 1.0


def test_decisions_on_a_cached_account_are_cache_hits(pair):
    a, _ = pair
    id = fresh()
    put(a, id, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})
    sso(a, id)
    before = health(a)["cache_hit_ratio"]
    for _ in range(50):
        sso(a, id)
    assert health(a)["cache_hit_ratio"] > before


def test_a_killed_listen_connection_never_yields_stale_answers(pair, db):
    a, b = pair
    id = fresh()
    put(a, id, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})
    assert sso(b, id)["allowed"] is False  # cached on b
    killed = db.psql("entitlements", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE query LIKE 'LISTEN %'")
    assert int(killed) >= 2
    put(a, id, {"source": "admin", "subscription": {"plan": "enterprise", "status": "active"}})
    assert sso(b, id)["allowed"] is True  # read through while not listening, or re-LISTENed and cleared
    wait_listening(b)
    put(a, id, {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
    visible(b, lambda s: sso(s, id)["allowed"] is False)


def test_an_outage_keeps_cached_accounts_answered(db):
    a = Service(env=KEYS, store=db.url)
    try:
        wait_listening(a)
        id = fresh()
        put(a, id, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})
        a_limit = f"/v1/accounts/{q(id)}/usage/max_trees"
        assert call(a, "POST", a_limit, {"amount": 5, "idempotency_key": "k"})[1]["used"] == 5
        expected = check(a, id, {"feature": "psa_integration"}, {"feature": "max_trees"})
        snapshot = call(a, "POST", "/v1/entitlements", {"account": id, "now": "2026-05-10T12:00:00Z"}, CHECK)[1]
        errors, answers = [], []
        stop = threading.Event()

        def checker():
            while not stop.is_set():
                try:
                    got = check(a, id, {"feature": "psa_integration"}, {"feature": "max_trees"})
                    answers.append(got == expected)
                except AssertionError as e:
                    errors.append(str(e))
                stop.wait(0.05)

        t = threading.Thread(target=checker)
        t.start()
        try:
            time.sleep(0.3)
            db.stop(mode="immediate")
            time.sleep(1.0)
            # Cached: decisions (the limit uses the cached usage), snapshots and OFREP keep answering.
            assert check(a, id, {"feature": "max_trees"})[0]["remaining"] == 25 - 5 - 1
            assert call(a, "POST", "/v1/entitlements", {"account": id, "now": "2026-05-10T12:00:00Z"},
                        CHECK)[1] == snapshot
            status, _, data = a.request("POST", "/ofrep/v1/evaluate/flags/psa_integration",
                                        json.dumps({"context": {"targetingKey": id}}),
                                        {**CHECK, "Content-Type": "application/json"})
            assert status == 200 and json.loads(data)["value"] is True
            # Not cached, writes, listing and readiness: 503. Liveness: 200.
            status, r = call(a, "POST", "/v1/check", {"account": fresh(), "checks": [{"feature": "sso"}]}, CHECK)
            assert status == 503 and r["error"] == "store_unavailable"
            assert put(a, id, {"source": "admin"})[0] == 503
            assert call(a, "GET", "/v1/accounts")[0] == 503
            assert call(a, "GET", "/readyz", headers={})[0] == 503
            status, h = call(a, "GET", "/healthz", headers={})
            assert status == 200 and h["store"]["listening"] is False
            db.start()
            # Recovery by itself: writes succeed again and the listener comes back.
            deadline = time.monotonic() + 10
            while put(a, fresh(), {"source": "admin"})[0] != 201:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            wait_listening(a)
            assert call(a, "GET", "/readyz", headers={})[0] == 200
        finally:
            stop.set()
            t.join()
        assert not errors, errors[:3]
        assert answers and all(answers)
    finally:
        assert a.stop() == 0


def test_a_slow_database_never_stalls_cached_decisions(pair, db):
    """Writes that wait on the database run on the blocking pool, not on the HTTP workers: while eight writes are
    stuck behind a lock held for 3 s, cached decisions on another account keep answering at once — and so do cache
    misses, since writers never hold the pool's last connection."""
    import subprocess
    from pg import _as_owner, _bin
    a, _ = pair
    cached = fresh()
    put(a, cached, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})
    assert sso(a, cached)["allowed"] is False
    slow = fresh()
    put(a, slow, {"source": "admin"})
    holder = subprocess.Popen(_as_owner([
        _bin("psql"), "-h", db.dir, "-p", "5432", "-U", "entitlements", "-d", "entitlements", "-c",
        f"SELECT pg_advisory_lock(hashtextextended('{slow}', 0)); SELECT pg_sleep(3);"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    statuses = []
    writers = [threading.Thread(target=lambda i=i: statuses.append(
        put(a, slow, {"source": "admin", "attributes": {"i": i}})[0])) for i in range(8)]
    for w in writers:
        w.start()
    time.sleep(0.2)
    worst = 0.0
    for _ in range(20):
        t0 = time.monotonic()
        assert sso(a, cached)["allowed"] is False
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.05)
    assert worst < 0.5, worst
    # Accounts this replica has never read: each decision is a cache miss that reads the database.
    misses = 0.0
    for _ in range(5):
        t0 = time.monotonic()
        assert sso(a, fresh())["allowed"] is False
        misses = max(misses, time.monotonic() - t0)
    assert misses < 0.5, misses
    for w in writers:
        w.join(15)
    holder.wait(15)
    assert statuses == [200] * 8
