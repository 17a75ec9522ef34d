"""Grants, balances and the hot account (SPEC §7 "Grants", §6.3 usage) against a real PostgreSQL these tests start:
burn order and spanning checked against a hand-computed ledger at every step, expiry at −1 ns / at / after, void,
balances at past instants, idempotency keys that name one request, concurrency at the limit with grants on two
replicas, 10,000 consumers on one account, kill -9, and the previous release's database migrated in place."""
import json
import os
import signal
import subprocess
import threading
import time

from conftest import Service
from test_store import KEYS, call, fresh, put, q, consume, check  # noqa: F401  (fixtures come from conftest)
from test_store import replicas  # noqa: F401

T0 = "2026-06-01T00:00:00Z"


def grant(svc, id, amount, key, feature="max_trees", now=T0, status=201, **extra):
    body = {"feature": feature, "amount": amount, "reason": "test", "actor": "t", "idempotency_key": key, "now": now,
            **extra}
    s, r = call(svc, "POST", f"/v1/accounts/{q(id)}/grants", body)
    assert s == status, r
    return r


def usage(svc, id, feature="max_trees", now=None):
    path = f"/v1/accounts/{q(id)}/usage/{feature}" + (f"?now={q(now)}" if now else "")
    s, r = call(svc, "GET", path)
    assert s == 200, r
    return r


def starter(svc):
    id = fresh()
    put(svc, id, {"source": "checkout", "subscription": {"plan": "starter", "status": "active"}})  # max_trees: 10
    return id


def test_burn_order_and_spanning_match_a_hand_computed_ledger(replicas):
    a, b = replicas
    id = starter(a)
    g1 = grant(a, id, 5, "g1")["id"]                                                       # prio 0, no expiry
    g2 = grant(b, id, 3, "g2", priority=5, expires_at="2027-01-01T00:00:00Z")["id"]       # prio 5, later expiry
    g3 = grant(a, id, 4, "g3", priority=5, expires_at="2026-12-31T00:00:00Z")["id"]       # prio 5, earliest expiry
    g4 = grant(b, id, 2, "g4", now="2026-06-01T00:00:01Z")["id"]                          # prio 0, newer than g1
    # (amount, allowed, used after, remaining per grant in burn order g3 g2 g1 g4, balance after)
    ledger = [
        (8, True, 8, [4, 3, 5, 2], 2 + 14),
        (5, True, 13, [1, 3, 5, 2], 11),       # 2 from the allowance, 3 from g3
        (6, True, 19, [0, 0, 3, 2], 5),        # spans g3 (1), g2 (3), g1 (2)
        (6, False, 19, [0, 0, 3, 2], 5),       # more than the balance: denied, nothing drawn
        (5, True, 24, [0, 0, 0, 0], 0),        # g1 (3), g4 (2)
        (1, False, 24, [0, 0, 0, 0], 0),
    ]
    for step, (amount, allowed, used, remaining, balance) in enumerate(ledger):
        svc = (a, b)[step % 2]
        r = consume(svc, id, "max_trees", amount, f"c{step}", now="2026-06-02T00:00:00Z")
        assert (r["allowed"], r["used"], r["remaining"], r["limit"]) == (allowed, used, balance, 24), (step, r)
        if not allowed:
            assert (r["error"], r["status"]) == ("limit_exceeded", 402)
        u = usage((b, a)[step % 2], id, now="2026-06-02T00:00:00Z")
        assert [g["id"] for g in u["grants"]] == [g3, g2, g1, g4]
        assert [g["remaining"] for g in u["grants"]] == remaining, step
        assert (u["used"], u["allowance"], u["limit"], u["balance"], u["remaining"]) == (used, 10, 24, balance,
                                                                                         balance)
    # Balances at past instants come from the records: before the grants existed, and before any consumption.
    assert usage(a, id, now="2026-05-31T23:59:59Z")["balance"] == 10
    u = usage(a, id, now="2026-06-01T00:00:00Z")
    assert (u["balance"], len(u["grants"])) == (10 + 12, 3)  # g4 was created a second later


def test_expiry_at_minus_one_nanosecond_at_and_after(replicas):
    a, b = replicas
    id = starter(a)
    assert consume(a, id, "max_trees", 10, "all", now=T0)["remaining"] == 0
    grant(a, id, 5, "exp", expires_at="2026-07-01T00:00:00Z")
    r = consume(b, id, "max_trees", 1, "before", now="2026-06-30T23:59:59.999999999Z")
    assert (r["allowed"], r["remaining"], r["limit"]) == (True, 4, 15)
    for key, now in [("at", "2026-07-01T00:00:00Z"), ("after", "2026-07-01T00:00:00.000000001Z")]:
        r = consume(a, id, "max_trees", 1, key, now=now)
        assert (r["allowed"], r["error"], r["remaining"], r["limit"]) == (False, "limit_exceeded", 0, 10)
    assert usage(b, id, now="2026-06-30T23:59:59.999999998Z")["balance"] == 5
    assert usage(b, id, now="2026-06-30T23:59:59.999999999Z")["balance"] == 4
    u = usage(b, id, now="2026-07-01T00:00:00Z")
    assert (u["balance"], u["grants"], u["limit"]) == (0, [], 10)


def test_void_takes_what_is_left_and_is_audited(replicas):
    a, b = replicas
    id = starter(a)
    consume(a, id, "max_trees", 10, "all", now=T0)
    g = grant(a, id, 5, "v")
    assert consume(b, id, "max_trees", 2, "two", now="2026-06-02T00:00:00Z")["remaining"] == 3
    s, r = call(b, "DELETE", f"/v1/accounts/{q(id)}/grants/{g['id']}",
                {"actor": "ops", "reason": "refund", "now": "2026-06-03T00:00:00Z"})
    assert s == 200 and r["voided_at"] == "2026-06-03T00:00:00Z" and r["remaining"] == 3
    assert consume(a, id, "max_trees", 1, "after-void", now="2026-06-04T00:00:00Z")["allowed"] is False
    assert usage(a, id, now="2026-06-02T12:00:00Z")["balance"] == 3   # before the void
    assert usage(a, id, now="2026-06-03T00:00:00Z")["balance"] == 0   # from the void on
    # Voiding again changes nothing; an unknown grant is 404; the audit log has both grant entries.
    assert call(a, "DELETE", f"/v1/accounts/{q(id)}/grants/{g['id']}", {"actor": "ops", "reason": "x"})[1] == r
    s, r2 = call(a, "DELETE", f"/v1/accounts/{q(id)}/grants/grt_nope", {"actor": "ops", "reason": "x"})
    assert s == 404 and r2["error"] == "not_found"
    actions = [e["action"] for e in call(a, "GET", f"/v1/accounts/{q(id)}/audit")[1]["entries"]]
    assert actions[:2] == ["grant.void", "grant.create"]
    listed = call(b, "GET", f"/v1/accounts/{q(id)}/grants")[1]["grants"]
    assert [(x["id"], x["voided_at"]) for x in listed] == [(g["id"], "2026-06-03T00:00:00Z")]


def test_grant_requests_are_validated_and_keys_name_one_request(replicas):
    a, b = replicas
    id = starter(a)
    first = grant(a, id, 5, "k")
    again = grant(b, id, 5, "k", status=200)
    assert again == {**first, "replayed": True}
    s, r = call(a, "POST", f"/v1/accounts/{q(id)}/grants",
                {"feature": "max_trees", "amount": 6, "reason": "test", "actor": "t", "idempotency_key": "k"})
    assert s == 409 and r["error"] == "idempotency_key_reused"
    assert len(call(a, "GET", f"/v1/accounts/{q(id)}/grants")[1]["grants"]) == 1
    base = {"feature": "max_trees", "amount": 1, "reason": "r", "actor": "t", "idempotency_key": "z"}
    for bad in [{"amount": 0}, {"amount": -1}, {"amount": 1.5}, {"feature": "sso"}, {"feature": "nope"},
                {"priority": "high"}, {"expires_at": "tomorrow"}, {"reason": ""}, {"idempotency_key": None},
                {"bogus": 1}]:
        body = {k: v for k, v in {**base, **bad}.items() if v is not None}
        assert call(a, "POST", f"/v1/accounts/{q(id)}/grants", body)[0] == 400, bad
    assert call(a, "POST", f"/v1/accounts/{q(fresh())}/grants", base)[0] == 404
    assert len(call(a, "GET", f"/v1/accounts/{q(id)}/grants")[1]["grants"]) == 1


def test_64_consumers_at_the_limit_with_a_grant_on_two_replicas(replicas):
    a, b = replicas
    id = fresh()
    put(a, id, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})
    call(a, "PUT", f"/v1/accounts/{q(id)}/overrides/max_trees", {"value": 100, "reason": "test", "actor": "t"})
    grant(b, id, 50, "top-up", now="2026-01-01T00:00:00Z")
    allowed = []

    def worker(n):
        for i in range(3):
            allowed.append(consume((a, b)[n % 2], id, "max_trees", 1, f"w{n}-{i}")["allowed"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(allowed) == 192 and allowed.count(True) == 150
    u = usage(a, id)
    assert (u["used"], u["balance"], u["grants"][0]["remaining"]) == (150, 0, 0)


def test_10000_consumers_on_one_account_never_pass_the_limit(db):
    s = Service(env=KEYS, store=db.url)
    try:
        id = fresh()
        put(s, id, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})
        call(s, "PUT", f"/v1/accounts/{q(id)}/overrides/max_trees", {"value": 5000, "reason": "test", "actor": "t"})
        allowed = [0] * 100

        def worker(n):
            conn = s.conn()
            for i in range(100):
                status, _, data = s.request("POST", f"/v1/accounts/{q(id)}/usage/max_trees",
                                            {"amount": 1, "idempotency_key": f"{n}-{i}"}, {"Authorization": "Bearer ak"},
                                            conn=conn)
                assert status == 200
                allowed[n] += b'"allowed":true' in data
            conn.close()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert sum(allowed) == 5000
        assert db.psql("entitlements", f"SELECT sum(amount), count(*) FROM ent_usage WHERE account_id = '{id}'") \
            == "5000|10000"
        assert usage(s, id)["used"] == 5000
    finally:
        assert s.stop() == 0


def test_kill_9_loses_no_acknowledged_consumption_or_draw(db):
    from conftest import kill_9_during_a_burst
    s = Service(env=KEYS, store=db.url)
    id = starter(s)
    grant(s, id, 1_000_000, "big", now="2026-01-01T00:00:00Z")

    def write(n, i):
        status, r = call(s, "POST", f"/v1/accounts/{q(id)}/usage/max_trees", {"amount": 1, "idempotency_key": f"{n}-{i}"})
        return status == 200 and r["allowed"]

    acked = [f"{n}-{i}" for n, i in kill_9_during_a_burst(s, write, senders=8)]
    assert len(acked) > 10
    s2 = Service(env=KEYS, store=db.url)
    try:
        for key in acked[:50]:
            r = consume(s2, id, "max_trees", 1, key)
            assert r.get("replayed") is True and r["allowed"] is True
        u = usage(s2, id)
        assert u["used"] >= len(acked)
        # Every unit beyond the allowance was drawn from the grant, and the ledger adds up.
        assert u["grants"][0]["remaining"] == 1_000_000 - (u["used"] - 10)
        assert u["balance"] == 1_000_000 + 10 - u["used"]
    finally:
        assert s2.stop() == 0


V1 = [
    """CREATE TABLE ent_schema (version integer NOT NULL)""",
    """INSERT INTO ent_schema VALUES (1)""",
    """CREATE TABLE ent_accounts (account_id text PRIMARY KEY, subscription text,
         attributes text NOT NULL DEFAULT '{}', last_event_s bigint, last_event_n integer, created_at text NOT NULL,
         updated_at text NOT NULL)""",
    """CREATE TABLE ent_overrides (account_id text NOT NULL, feature text NOT NULL, value text NOT NULL,
         expires_at text, reason text NOT NULL, actor text NOT NULL, PRIMARY KEY (account_id, feature))""",
    """CREATE TABLE ent_audit (account_id text NOT NULL, seq bigint NOT NULL, at_s bigint NOT NULL,
         at_n integer NOT NULL, entry text NOT NULL, PRIMARY KEY (account_id, seq))""",
    """CREATE TABLE ent_events (account_id text NOT NULL, event_id text NOT NULL, seen_s bigint NOT NULL,
         PRIMARY KEY (account_id, event_id))""",
    """CREATE TABLE ent_trials (account_id text PRIMARY KEY, started_at text NOT NULL)""",
    """CREATE TABLE ent_usage (account_id text NOT NULL, feature text NOT NULL, idempotency_key text NOT NULL,
         at_s bigint NOT NULL, at_n integer NOT NULL, amount bigint NOT NULL, answer text NOT NULL,
         PRIMARY KEY (account_id, feature, idempotency_key))""",
    """CREATE INDEX ent_usage_window ON ent_usage (account_id, feature, at_s, at_n)""",
]


def test_a_database_of_the_previous_release_migrates_in_place():
    from pg import Postgres
    pg = Postgres()
    try:
        for sql in V1:
            pg.psql("entitlements", sql)
        pg.psql("entitlements", """INSERT INTO ent_accounts (account_id, subscription, created_at, updated_at)
          VALUES ('old', '{"plan":"starter","status":"active"}', 'x', 'x')""")
        # Records inserted out of time order, one denied (amount 0), in two months of monthly_sessions.
        answer = '{"allowed":true,"used":1,"limit":10,"remaining":9,"period_start":null,"period_end":null}'
        for key, feature, at_s, amount in [("k3", "max_trees", 1780000300, 4), ("k1", "max_trees", 1780000100, 2),
                                           ("k2", "max_trees", 1780000200, 0), ("m1", "monthly_sessions", 1777600000, 7),
                                           ("m2", "monthly_sessions", 1780300000, 5)]:
            pg.psql("entitlements", f"""INSERT INTO ent_usage VALUES ('old', '{feature}', '{key}', {at_s}, 0,
              {amount}, '{answer}')""")
        s = Service(env=KEYS, store=pg.url)
        try:
            assert usage(s, "old")["used"] == 6
            assert usage(s, "old", now="2026-05-28T20:29:00Z")["used"] == 2   # k1 only (k1 at 20:28:20, k2, k3 later)
            assert usage(s, "old", "monthly_sessions", now="2026-06-01T07:46:40Z")["used"] == 5
            assert usage(s, "old", "monthly_sessions", now="2026-05-01T02:00:00Z")["used"] == 7
            # An old record's key still replays (its body was not kept: the feature decides).
            r = consume(s, "old", "max_trees", 9, "k1")
            assert r["replayed"] is True and r["used"] == 1
            assert consume(s, "old", "max_trees", 4, "new")["used"] == 10
            assert pg.psql("entitlements", "SELECT max(version) FROM ent_schema") == "4"
            assert pg.psql("entitlements", "SELECT count(*) FROM ent_usage") == "6"
        finally:
            assert s.stop() == 0
    finally:
        pg.close()


def test_hostile_ids_and_keys_travel_exactly_in_a_batch(replicas):
    a, b = replicas
    for id in ['q"\\{},NULL', "NULL", "a b,c", "\\\\"]:
        put(a, id, {"source": "checkout", "subscription": {"plan": "starter", "status": "active"}})
        keys = ['k"1', "k\\2", "{k3}", "NULL", "k,5", "é\u2028"]
        answers = [consume(a, id, "max_trees", 1, k, now=T0) for k in keys]
        assert [r["allowed"] for r in answers] == [True] * 6
        assert [consume(b, id, "max_trees", 1, k, now=T0).get("replayed") for k in keys] == [True] * 6
        assert usage(a, id)["used"] == 6
        call(a, "DELETE", f"/v1/accounts/{q(id)}")


def test_decisions_on_stored_accounts_count_grants_on_every_replica(replicas):
    a, b = replicas
    id = starter(a)
    now = "2026-06-02T00:00:00Z"
    assert check(b, id, {"feature": "max_trees"}, now=now)[0]["limit"] == 10   # cached on b
    consume(a, id, "max_trees", 10, "all", now=T0)
    g = grant(a, id, 5, "five", priority=1)
    grant(a, id, 3, "three", expires_at="2026-06-03T00:00:00Z")
    deadline = time.monotonic() + 1.0
    while True:  # every write NOTIFYs: b drops its entry within 1 s
        r = check(b, id, {"feature": "max_trees", "amount": 8}, now=now)[0]
        if r.get("limit") == 18 or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert (r["allowed"], r["limit"], r["remaining"]) == (True, 18, 0)
    r = check(b, id, {"feature": "max_trees", "amount": 9}, now=now)[0]
    assert (r["allowed"], r["error"], r["remaining"]) == (False, "limit_exceeded", 8)
    # After the 3-unit grant expires, and after the other is voided.
    assert check(b, id, {"feature": "max_trees"}, now="2026-06-03T00:00:00Z")[0]["remaining"] == 4
    call(a, "DELETE", f"/v1/accounts/{q(id)}/grants/{g['id']}", {"actor": "ops", "reason": "x"})
    time.sleep(0.3)
    r = check(b, id, {"feature": "max_trees"}, now="2026-06-03T00:00:00Z")[0]
    assert (r["allowed"], r["limit"], r["remaining"]) == (False, 10, 0)
    # Inline accounts carry grants in the same shape.
    inline = {"id": "x", "subscription": {"plan": "starter", "status": "active"},
              "grants": [{"feature": "max_trees", "amount": 4, "remaining": 2}]}
    r = check(a, inline, {"feature": "max_trees", "usage": 10, "amount": 2})[0]
    assert (r["allowed"], r["limit"], r["remaining"]) == (True, 14, 0)
    status, r = call(a, "POST", "/v1/check", {"account": {**inline, "grants": [{"feature": "sso", "amount": 1}]},
                                               "checks": [{"feature": "max_trees"}]}, {"Authorization": "Bearer ck"})
    assert (status, r["error"], r["path"]) == (400, "invalid_request", "account.grants[0].feature")


ROLLOVER = ("features:\n  credits: { type: limit, period: month, rollover: { max: 50 } }\n"
            "  billed_credits: { type: limit, period: billing, rollover: { max: 20, expires_after: 10d } }\n"
            "plans:\n  pro_x: { grants: { credits: 75, billed_credits: 30 } }\n")


def rollover_service(db, tmp_path):
    import shutil
    from conftest import POLICIES
    bundle = tmp_path / "bundle"
    shutil.copytree(POLICIES, bundle)
    (bundle / "rollover.yaml").write_text(ROLLOVER)
    return Service(policies=bundle, env=KEYS, store=db.url)


def test_rollover_across_months_matches_a_hand_computed_ledger(db, tmp_path):
    s = rollover_service(db, tmp_path)
    try:
        id = fresh()
        put(s, id, {"source": "admin", "subscription": {"plan": "pro_x", "status": "active"}})
        # The account is new this month (created at the clock, no usage before): nothing rolls into it.
        today = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
        assert (usage(s, id, "credits", now=today)["grants"]) == []
        # Every later month follows one it existed in: December 2098 left all 75 unused, at most 50 rolls.
        u = usage(s, id, "credits", now="2099-01-01T00:00:00Z")
        assert (u["balance"], [g["amount"] for g in u["grants"]]) == (125, [50])
        assert consume(s, id, "credits", 30, "jan", now="2099-01-10T00:00:00Z")["remaining"] == 95
        assert usage(s, id, "credits", now="2099-01-31T23:59:59.999999999Z")["balance"] == 95
        # February: January left 45 of its allowance unused (max 50) — January's own rollover expired with it — as
        # a grant that says where it came from, until February ends.
        u = usage(s, id, "credits", now="2099-02-01T00:00:00Z")
        assert (u["used"], u["allowance"], u["limit"], u["balance"]) == (0, 75, 120, 120)
        [g] = u["grants"]
        assert (g["amount"], g["remaining"], g["created_at"], g["expires_at"]) == (
            45, 45, "2099-02-01T00:00:00Z", "2099-03-01T00:00:00Z")
        assert g["source"] == {"rollover": {"period_start": "2099-01-01T00:00:00Z",
                                            "period_end": "2099-02-01T00:00:00Z"}}
        r = consume(s, id, "credits", 100, "feb", now="2099-02-05T00:00:00Z")  # 75 allowance + 25 rolled over
        assert (r["allowed"], r["used"], r["limit"], r["remaining"]) == (True, 100, 120, 20)
        r = consume(s, id, "credits", 21, "feb2", now="2099-02-06T00:00:00Z")
        assert (r["allowed"], r["remaining"]) == (False, 20)
        assert usage(s, id, "credits", now="2099-02-04T00:00:00Z")["balance"] == 120   # before the draw
        assert usage(s, id, "credits", now="2099-02-10T00:00:00Z")["grants"][0]["remaining"] == 20
        # March: February's allowance was all used (nothing rolls) and its rollover expired with February.
        u = usage(s, id, "credits", now="2099-03-01T00:00:00Z")
        assert (u["balance"], u["grants"]) == (75, [])
        # April: March left all 75 unused; at most 50 rolls.
        u = usage(s, id, "credits", now="2099-04-02T00:00:00Z")
        assert (u["balance"], u["grants"][0]["amount"]) == (125, 50)
    finally:
        assert s.stop() == 0


def test_rollover_across_billing_periods_with_expires_after(db, tmp_path):
    s = rollover_service(db, tmp_path)
    try:
        id = fresh()
        sub = {"plan": "pro_x", "status": "active", "period_start": "2099-01-15T00:00:00Z",
               "period_end": "2099-02-15T00:00:00Z"}
        put(s, id, {"source": "admin", "subscription": sub})
        consume(s, id, "billed_credits", 10, "b1", now="2099-01-20T00:00:00Z")
        put(s, id, {"source": "admin", "subscription": {**sub, "period_start": "2099-02-15T00:00:00Z",
                                                         "period_end": "2099-03-15T00:00:00Z"}})
        u = usage(s, id, "billed_credits", now="2099-02-16T00:00:00Z")
        assert (u["balance"], u["grants"][0]["amount"], u["grants"][0]["expires_at"]) == (
            50, 20, "2099-02-25T00:00:00Z")
        assert u["grants"][0]["source"]["rollover"] == {"period_start": "2099-01-15T00:00:00Z",
                                                         "period_end": "2099-02-15T00:00:00Z"}
        r = consume(s, id, "billed_credits", 45, "b2", now="2099-02-24T23:59:59.999999999Z")
        assert (r["allowed"], r["remaining"]) == (True, 5)
        u = usage(s, id, "billed_credits", now="2099-02-25T00:00:00Z")
        assert (u["balance"], u["grants"]) == (0, [])
    finally:
        assert s.stop() == 0


def test_rollover_is_validated(tmp_path):
    import shutil
    from conftest import POLICIES
    for text, code in [("features:\n  c: { type: boolean, rollover: { max: 5 } }\n", "not_applicable"),
                       ("features:\n  c: { type: limit, rollover: { max: 5 } }\n", "not_applicable"),
                       ("features:\n  c: { type: limit, period: 24h, rollover: { max: 5 } }\n", "not_applicable"),
                       ("features:\n  c: { type: limit, period: month, rollover: { max: 0 } }\n", ""),
                       ("features:\n  c: { type: limit, period: month, rollover: { maximum: 5 } }\n", "unknown_key"),
                       ("features:\n  c: { type: limit, period: month, rollover: { max: 5, expires_after: soon } }\n",
                        "")]:
        bundle = tmp_path / str(abs(hash(text)))
        shutil.copytree(POLICIES, bundle)
        shutil.rmtree(bundle / "tests")
        (bundle / "c.yaml").write_text(text)
        p = subprocess.run([os.environ["ENTITLEMENTS_BIN"], "validate", str(bundle)], capture_output=True, text=True)
        assert p.returncode == 1 and f"[{code}" in p.stdout + p.stderr and "features.c.rollover" in p.stdout + p.stderr, \
            (text, p.stdout + p.stderr)


def test_grant_instants_are_timeline_boundaries(tmp_path):
    from conftest import POLICIES
    account = tmp_path / "account.json"
    account.write_text(json.dumps({
        "id": "a", "subscription": {"plan": "starter", "status": "active"},
        "grants": [{"feature": "max_trees", "amount": 5, "remaining": 4, "created_at": "2026-06-01T00:00:00Z",
                    "expires_at": "2026-07-01T00:00:00Z"}]}))
    p = subprocess.run([os.environ["ENTITLEMENTS_BIN"], "timeline", str(POLICIES), "--account", str(account),
                        "--from", "2026-05-20T00:00:00Z", "--to", "2026-07-20T00:00:00Z", "--format", "json"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    boundaries = json.loads(p.stdout)["boundaries"]
    assert [b["at"] for b in boundaries] == ["2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"]
    assert "grants.max_trees (5) expires" in json.dumps(boundaries[1])
