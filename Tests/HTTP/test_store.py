"""The account store (SPEC §6.3, §7, §9) against a real PostgreSQL that these tests start (never a mock): two
replicas of the service on one database, every endpoint and error, events, plan assignability, trials, overrides,
audit, usage periods and concurrency, decisions by id against inline evaluation, hostile ids, kill -9 durability
and a schema race. Every test is bounded in time."""
import json
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
import urllib.parse
from pathlib import Path

import pytest

from conftest import POLICIES, Service, kill_9_during_a_burst
from pg import Postgres

KEYS = {"ENTITLEMENTS_CHECK_KEYS": "checker=ck", "ENTITLEMENTS_ADMIN_KEYS": "ops=ak"}
ADMIN = {"Authorization": "Bearer ak"}
CHECK = {"Authorization": "Bearer ck"}


@pytest.fixture(scope="module")
def replicas(db):
    a = Service(env=KEYS, store=db.url)
    b = Service(env=KEYS, store=db.url)
    yield a, b
    for s in (a, b):
        assert s.proc.poll() is None, s.log()
        assert s.stop() == 0


def call(svc, method, path, body=None, headers=ADMIN):
    h = dict(headers)
    if body is not None:
        h["Content-Type"] = "application/json"
    status, hdrs, data = svc.request(method, path, json.dumps(body) if body is not None else None, h)
    return status, (json.loads(data) if data else None)


def q(id):
    return urllib.parse.quote(id, safe="")


_n = [0]


def fresh(prefix="acc"):
    _n[0] += 1
    return f"{prefix}_{os.getpid()}_{time.monotonic_ns()}_{_n[0]}"


def put(svc, id, body, headers=ADMIN):
    return call(svc, "PUT", f"/v1/accounts/{q(id)}", body, headers)


def check(svc, account, *checks, now=None, headers=CHECK):
    body = {"account": account, "checks": list(checks)}
    if now:
        body["now"] = now
    status, r = call(svc, "POST", "/v1/check", body, headers)
    assert status == 200, r
    return r["results"]


# --- accounts -----------------------------------------------------------------------------------------------------

def test_create_read_update_delete_on_two_replicas(replicas):
    a, b = replicas
    id = fresh()
    status, r = put(a, id, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"},
                            "attributes": {"region": "eu"}})
    assert status == 201 and r["applied"] is True and r["account"]["id"] == id
    status, r = call(b, "GET", f"/v1/accounts/{q(id)}")
    assert status == 200 and r["subscription"]["plan"] == "pro" and r["attributes"] == {"region": "eu"}
    assert r["overrides"] == []
    status, r = put(b, id, {"source": "admin", "attributes": {"region": "us"}})
    assert status == 200 and r["account"]["subscription"]["plan"] == "pro"  # absent subscription: left as it was
    status, r = put(a, id, {"source": "admin", "subscription": None})
    assert status == 200 and r["account"]["subscription"] is None and r["account"]["attributes"] == {"region": "us"}
    status, r = call(b, "DELETE", f"/v1/accounts/{q(id)}")
    assert status == 200
    assert call(a, "GET", f"/v1/accounts/{q(id)}") == (404, {"error": "unknown_account",
                                                           "detail": "no account with this id"})
    assert call(a, "DELETE", f"/v1/accounts/{q(id)}")[0] == 404


def test_creating_without_a_subscription_needs_no_plan(replicas):
    a, _ = replicas
    status, r = put(a, fresh(), {"source": "signup"})
    assert status == 201 and r["account"]["subscription"] is None


def test_source_is_required_and_unknown_fields_refused(replicas):
    a, _ = replicas
    id = fresh()
    assert put(a, id, {"subscription": {"plan": "pro", "status": "active"}})[0] == 400
    assert put(a, id, {"source": "web"})[0] == 400
    assert put(a, id, {"source": "admin", "bogus": 1})[0] == 400
    assert put(a, id, {"source": "admin", "attributes": []})[0] == 400
    assert call(a, "GET", f"/v1/accounts/{q(id)}")[0] == 404  # refused requests change nothing


@pytest.mark.parametrize("id", ["a'b\"c", "100%", "été ☃", "x" * 255, "a/b", "a b", "🙂" * 255])
def test_hostile_ids_round_trip_exactly(replicas, id):
    a, b = replicas
    status, r = put(a, id, {"source": "admin", "attributes": {"k": id}})
    assert status in (200, 201), r
    status, r = call(b, "GET", f"/v1/accounts/{q(id)}")
    assert status == 200 and r["id"] == id and r["attributes"] == {"k": id}
    assert check(b, id, {"feature": "sso"})[0]["error"] == "no_subscription"


@pytest.mark.parametrize("id", ["x" * 256, "a\x00b", "a\nb", "\x7f", "🙂" * 256])
def test_invalid_ids_are_refused_and_change_nothing(replicas, id):
    a, _ = replicas
    status, r = put(a, id, {"source": "admin"})
    assert status == 400 and r["error"] == "invalid_request"
    status, r = call(a, "POST", "/v1/check", {"account": id, "checks": [{"feature": "sso"}]}, CHECK)
    assert status == 400
    status, r = call(a, "GET", "/v1/accounts?limit=1000")
    assert all(x["id"] != id for x in r["accounts"])


def test_ids_that_differ_only_in_normalization_are_two_accounts(replicas):
    """Ids are bytes (SPEC §9 "compared exactly"): `zoë` composed (NFC) and decomposed (NFD) are two accounts, in
    the cache as in the database, whichever is asked about first."""
    a, b = replicas
    base = fresh("zo")
    nfc, nfd = base + "\u00eb-7", base + "e\u0308-7"
    assert put(a, nfc, {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})[0] == 201
    for svc in (a, b, a):
        assert check(svc, nfd, {"feature": "psa_integration"})[0]["error"] == "no_subscription"
        assert check(svc, nfc, {"feature": "psa_integration"})[0]["allowed"] is True
    assert put(b, nfd, {"source": "admin", "subscription": {"plan": "free", "status": "active"}})[0] == 201
    for svc in (b, a):
        # (Replica a learns of b's write by notification, within 1 s.)
        deadline = time.monotonic() + 1.5
        while check(svc, nfd, {"feature": "max_trees", "usage": 0})[0].get("limit") != 3:
            assert time.monotonic() < deadline, "the NFD account was not stored as its own account"
            time.sleep(0.05)
        assert check(svc, nfc, {"feature": "max_trees", "usage": 0})[0]["limit"] == 25
    # The other order: the unstored id asked about first, then stored.
    other = fresh("zo") + "e\u0308"
    assert check(a, other, {"feature": "psa_integration"})[0]["error"] == "no_subscription"
    assert check(a, unicodedata.normalize("NFC", other), {"feature": "psa_integration"})[0]["error"] == "no_subscription"
    # Event ids and idempotency keys too.
    ev = {"id": "evt_\u00e9", "time": "2026-05-01T00:00:00Z"}
    assert put(a, nfc, {"source": "admin", "attributes": {"n": 1}, "event": ev})[1]["applied"] is True
    ev2 = {"id": "evt_e\u0301", "time": "2026-05-01T00:00:00Z"}
    r = put(a, nfc, {"source": "admin", "attributes": {"n": 2}, "event": ev2})[1]
    assert r["applied"] is True and r["account"]["attributes"] == {"n": 2}
    for key in ("k\u00e9", "ke\u0301"):
        status, r = call(a, "POST", f"/v1/accounts/{q(nfc)}/usage/max_trees", {"amount": 1, "idempotency_key": key})
        assert status == 200 and r["allowed"] is True
    assert call(a, "GET", f"/v1/accounts/{q(nfc)}/usage/max_trees")[1]["used"] == 2


def test_attribute_names_that_differ_only_in_normalization_are_refused(replicas):
    """JSON member names compare by scalars, so `"é"` and `"e\u0301"` are two names; an account's attributes would
    merge them, so such a pair is refused rather than silently losing one."""
    a, _ = replicas
    id = fresh()
    attrs = '{"\u00e9": 1, "e\u0301": 2}'
    status, _, body = a.request("PUT", f"/v1/accounts/{q(id)}", '{"source": "admin", "attributes": ' + attrs + "}",
                                {**ADMIN, "Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["path"] == "attributes"
    assert call(a, "GET", f"/v1/accounts/{q(id)}")[0] == 404
    body = '{"account": {"subscription": {"plan": "pro", "status": "active"}, "attributes": ' + attrs + \
        '}, "checks": [{"feature": "sso"}]}'
    status, _, r = a.request("POST", "/v1/check", body, {**CHECK, "Content-Type": "application/json"})
    assert status == 400 and json.loads(r)["error"] == "invalid_request"


@pytest.mark.parametrize("field", ["reason", "actor"])
def test_a_nul_in_an_override_text_is_refused_and_stores_nothing(replicas, field):
    a, _ = replicas
    id = fresh()
    put(a, id, {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
    body = {"value": True, "reason": "pilot", "actor": "ana"}
    body[field] = "r\u0000x"
    status, r = call(a, "PUT", f"/v1/accounts/{q(id)}/overrides/sso", body)
    assert status == 400 and r["error"] == "invalid_request" and r["path"] == field
    assert call(a, "GET", f"/v1/accounts/{q(id)}")[1]["overrides"] == []


def test_nul_in_keys_and_event_ids_is_refused_and_in_attributes_kept_exactly(replicas):
    a, b = replicas
    id = fresh()
    put(a, id, {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
    status, r = call(a, "POST", f"/v1/accounts/{q(id)}/usage/max_trees", {"amount": 1, "idempotency_key": "k\u0000"})
    assert status == 400 and r["path"] == "idempotency_key"
    status, r = put(a, id, {"source": "admin", "event": {"id": "e\u0000", "time": "2026-05-01T00:00:00Z"}})
    assert status == 400 and r["path"] == "event.id"
    assert put(a, id, {"source": "admin\u0000"})[0] == 400
    status, r = put(a, id, {"source": "admin", "attributes": {"k\u0000": "a\u0000b"}})
    assert status == 200 and r["account"]["attributes"] == {"k\u0000": "a\u0000b"}
    assert call(b, "GET", f"/v1/accounts/{q(id)}")[1]["attributes"] == {"k\u0000": "a\u0000b"}
    assert call(a, "GET", f"/v1/accounts/{q(id)}/usage/max_trees")[1]["used"] == 0
    audit = call(a, "GET", f"/v1/accounts/{q(id)}/audit")[1]["entries"]
    assert audit[0]["new"]["attributes"] == {"k\u0000": "a\u0000b"}


def test_a_100000_character_id_is_refused_not_500(replicas):
    a, _ = replicas
    status, r = call(a, "POST", "/v1/check", {"account": "x" * 100000, "checks": [{"feature": "sso"}]}, CHECK)
    assert status == 400
    status, _, _ = a.request("GET", "/v1/accounts/" + "x" * 100000, None, ADMIN)
    assert 400 <= status < 500


def test_listing_pages_by_id(replicas):
    a, b = replicas
    prefix = fresh("list")
    ids = [f"{prefix}_{i:02d}" for i in range(5)]
    for id in ids:
        assert put(a, id, {"source": "checkout", "subscription": {"plan": "starter", "status": "active"}})[0] == 201
    seen, after = [], ids[0][:-3]
    while True:
        status, r = call(b, "GET", f"/v1/accounts?limit=2&after={q(after)}")
        assert status == 200
        mine = [x for x in r["accounts"] if x["id"].startswith(prefix)]
        seen += mine
        if "next_after" not in r or not mine:
            break
        after = r["next_after"]
    assert [x["id"] for x in seen] == ids
    assert all(x == {"id": x["id"], "plan": "starter", "status": "active", "live": True} for x in seen)
    assert call(a, "GET", "/v1/accounts?limit=0")[0] == 400
    assert call(a, "GET", "/v1/accounts?limit=1001")[0] == 400


def test_roles(replicas):
    a, _ = replicas
    id = fresh()
    assert put(a, id, {"source": "admin"}, headers=CHECK)[0] == 403
    assert put(a, id, {"source": "admin"}, headers={})[0] == 401
    assert put(a, id, {"source": "admin"})[0] == 201
    assert call(a, "GET", f"/v1/accounts/{q(id)}", headers=CHECK)[0] == 403
    assert call(a, "GET", f"/v1/accounts/{q(id)}/entitlements", headers=CHECK)[0] == 200
    assert call(a, "GET", "/v1/accounts", headers=CHECK)[0] == 403


# --- events -------------------------------------------------------------------------------------------------------

def event_put(svc, id, eid, time, plan="pro"):
    return put(svc, id, {"source": "billing_sync", "subscription": {"plan": plan, "status": "active"},
                         "event": {"id": eid, "time": time}})


def test_events_duplicate_stale_equal_offsets_and_nanoseconds(replicas):
    a, b = replicas
    id = fresh()
    assert event_put(a, id, "e1", "2026-05-10T12:00:00.000000002Z")[0] == 201
    status, r = event_put(b, id, "e1", "2026-05-11T00:00:00Z", plan="starter")
    assert (status, r["applied"], r["reason"]) == (200, False, "duplicate")
    assert r["account"]["subscription"]["plan"] == "pro"
    # One nanosecond older than the last applied event: stale. (Written with an offset: the same instant rules.)
    status, r = event_put(a, id, "e2", "2026-05-10T14:00:00.000000001+02:00", plan="starter")
    assert (status, r["applied"], r["reason"]) == (200, False, "stale")
    # Equal times apply.
    status, r = event_put(b, id, "e3", "2026-05-10T14:00:00.000000002+02:00", plan="starter")
    assert (status, r["applied"]) == (200, True) and r["account"]["subscription"]["plan"] == "starter"
    # Duplicates are checked before staleness, both before the plan.
    status, r = event_put(a, id, "e3", "2020-01-01T00:00:00Z", plan="gold")
    assert r["reason"] == "duplicate"
    status, r = event_put(a, id, "e4", "2020-01-01T00:00:00Z", plan="gold")
    assert r["reason"] == "stale"
    # A refused event is not remembered: the same id applies once it is valid.
    status, r = event_put(a, id, "e5", "2026-06-01T00:00:00Z", plan="gold")
    assert status == 400 and r["error"] == "unknown_plan"
    assert event_put(a, id, "e5", "2026-06-01T00:00:00Z")[1]["applied"] is True
    # Event ids are per account.
    assert event_put(a, fresh(), "e1", "2026-05-10T12:00:00Z")[0] == 201
    # Duplicate and stale events add no audit entry.
    entries = call(a, "GET", f"/v1/accounts/{q(id)}/audit")[1]["entries"]
    assert [e.get("event_id") for e in entries] == ["e5", "e3", "e1"]


def entitlements(svc, id, now):
    status, r = call(svc, "GET", f"/v1/accounts/{q(id)}/entitlements?now={urllib.parse.quote(now)}", headers=CHECK)
    assert status == 200, r
    return r


def test_a_write_that_ends_a_live_subscription_records_its_instant(replicas):
    """SPEC §2.4/§9: live → not live by a write without ended_at stores the write's instant as ended_at, so the
    sample policy's 30-day read-only window runs from the cancellation; a given ended_at is kept as sent."""
    a, b = replicas
    id = fresh()
    assert put(a, id, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})[0] == 201
    before = time.time()
    status, r = put(a, id, {"source": "admin", "subscription": {"plan": "pro", "status": "canceled"}})
    after = time.time()
    assert status == 200
    ended = r["account"]["subscription"]["ended_at"]
    assert ended is not None
    t = time.mktime(time.strptime(ended[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert before - 1 <= t <= after + 1, ended
    # Every replica reads it back and derives locked_at from it (decisions within 1 s: here, the writer's).
    assert call(b, "GET", f"/v1/accounts/{q(id)}")[1]["subscription"]["ended_at"] == ended
    snap = entitlements(a, id, ended)
    assert snap["subscription"]["locked_at"] == ended and snap["facts"]["in_read_only_window"] is True
    # A later write that keeps it not live and names no ended_at keeps the stored instant.
    r = put(b, id, {"source": "admin", "subscription": {"plan": "pro", "status": "canceled", "seats": 2}})[1]
    assert r["account"]["subscription"]["ended_at"] == ended
    # A given ended_at is stored as sent, never replaced.
    other = fresh()
    put(a, other, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})
    r = put(a, other, {"source": "admin", "subscription": {"plan": "pro", "status": "canceled",
                                                          "ended_at": "2026-05-01T00:00:00.5Z"}})[1]
    assert r["account"]["subscription"]["ended_at"] == "2026-05-01T00:00:00.5Z"
    snap = entitlements(a, other, "2026-05-20T00:00:00Z")
    assert snap["subscription"]["locked_at"] == "2026-05-01T00:00:00.5Z"
    assert snap["facts"]["in_read_only_window"] is True
    assert entitlements(a, other, "2026-06-01T00:00:00Z")["facts"]["in_read_only_window"] is False
    # Created not live, or live → live: nothing is invented.
    fresh_canceled = fresh()
    r = put(a, fresh_canceled, {"source": "admin", "subscription": {"plan": "pro", "status": "canceled"}})[1]
    assert r["account"]["subscription"]["ended_at"] is None
    r = put(a, id, {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})[1]
    assert r["account"]["subscription"]["ended_at"] is None


def test_an_event_that_ends_a_trial_records_its_instant_and_a_bad_ended_at_is_refused(replicas):
    a, _ = replicas
    id = fresh()
    assert call(a, "POST", f"/v1/accounts/{q(id)}/trial")[0] == 201
    status, r = put(a, id, {"source": "billing_sync", "subscription": {"plan": "pro", "status": "incomplete"},
                            "event": {"id": "evt_end", "time": "2026-05-10T00:00:00Z"}})
    assert status == 200 and r["account"]["subscription"]["ended_at"] is not None
    status, r = put(a, id, {"source": "admin", "subscription": {"plan": "pro", "status": "canceled",
                                                                "ended_at": "last week"}})
    assert status == 400 and r["path"] == "subscription.ended_at"


def test_duplicate_event_of_an_unknown_account_answers_null(replicas):
    a, _ = replicas
    id = fresh()
    assert event_put(a, id, "e1", "2026-05-10T12:00:00Z")[0] == 201
    assert call(a, "DELETE", f"/v1/accounts/{q(id)}")[0] == 200
    status, r = event_put(a, id, "e1", "2026-05-10T12:00:00Z")
    assert (status, r["applied"], r["reason"], r["account"]) == (200, False, "duplicate", None)


# --- plans --------------------------------------------------------------------------------------------------------

ASSIGNABLE = {  # from Policies/plans.yaml
    "free": {"signup", "admin", "stripe"},
    "starter": {"checkout", "admin", "billing_sync", "stripe"},
    "pro": {"checkout", "admin", "billing_sync", "stripe"},
    "team": {"checkout", "admin", "billing_sync", "stripe"},  # an alias of pro
    "enterprise": {"admin"},
}


@pytest.mark.parametrize("plan", sorted(ASSIGNABLE))
@pytest.mark.parametrize("source", ["signup", "checkout", "admin", "billing_sync"])
def test_assignability_matrix(replicas, plan, source):
    a, b = replicas
    id = fresh()
    status, r = put(a, id, {"source": source, "subscription": {"plan": plan, "status": "active"}})
    if source in ASSIGNABLE[plan]:
        assert status == 201 and r["account"]["subscription"]["plan"] == plan  # reads back as sent
    else:
        assert status == 403 and r["error"] == "plan_not_assignable"
        assert call(b, "GET", f"/v1/accounts/{q(id)}")[0] == 404


def test_plan_checks_apply_only_when_the_plan_changes(replicas):
    a, _ = replicas
    id = fresh()
    assert put(a, id, {"source": "admin", "subscription": {"plan": "enterprise", "status": "active"}})[0] == 201
    # Same plan, another status, from a source that could not assign it: no plan check.
    assert put(a, id, {"source": "billing_sync", "subscription": {"plan": "enterprise", "status": "past_due"}})[0] == 200
    # pro -> team is no change after alias resolution.
    id2 = fresh()
    assert put(a, id2, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})[0] == 201
    assert put(a, id2, {"source": "signup", "subscription": {"plan": "team", "status": "active"}})[0] == 200
    assert put(a, id2, {"source": "signup", "subscription": {"plan": "starter", "status": "active"}})[0] == 403
    status, r = put(a, id2, {"source": "admin", "subscription": {"plan": "platinum", "status": "active"}})
    assert status == 400 and r["error"] == "unknown_plan"
    status, r = put(a, id2, {"source": "admin", "subscription": {"plan": None, "status": "active"}})
    assert status == 400 and r["error"] == "unknown_plan"


# --- trials -------------------------------------------------------------------------------------------------------

def test_trial_once_per_account_ever(replicas):
    a, b = replicas
    id = fresh()
    status, r = call(a, "POST", f"/v1/accounts/{q(id)}/trial")
    assert status == 201 and r["applied"] is True
    sub = r["account"]["subscription"]
    assert sub["plan"] == "pro" and sub["status"] == "trialing"
    status, r = call(b, "POST", f"/v1/accounts/{q(id)}/trial", {"actor": "ana", "reason": "again"})
    assert status == 409 and r["error"] == "trial_already_used"
    assert call(a, "DELETE", f"/v1/accounts/{q(id)}")[0] == 200
    assert call(a, "POST", f"/v1/accounts/{q(id)}/trial")[0] == 409
    # An existing account gets 200; one stored as trialing has had its trial.
    id2 = fresh()
    assert put(a, id2, {"source": "admin", "subscription": {"plan": "free", "status": "active"}})[0] == 201
    status, r = call(b, "POST", f"/v1/accounts/{q(id2)}/trial", {"actor": "ana", "reason": "sales"})
    assert status == 200
    entry = call(a, "GET", f"/v1/accounts/{q(id2)}/audit")[1]["entries"][0]
    assert (entry["action"], entry["actor"], entry["reason"]) == ("trial.start", "ana", "sales")
    id3 = fresh()
    assert put(a, id3, {"source": "admin", "subscription": {"plan": "pro", "status": "trialing"}})[0] == 201
    assert call(a, "POST", f"/v1/accounts/{q(id3)}/trial")[0] == 409


def test_no_trial_in_the_bundle(db, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(POLICIES, bundle)
    sub = (bundle / "subscription.yaml").read_text()
    # Drop the `trial:` block (the line and the deeper-indented lines under it).
    sub = re.sub(r"\n  trial:\n(    .*\n)+", "\n", sub)
    assert "\n  trial:" not in sub
    (bundle / "subscription.yaml").write_text(sub)
    s = Service(policies=bundle, env=KEYS, store=db.url)
    try:
        status, r = call(s, "POST", f"/v1/accounts/{q(fresh())}/trial")
        assert status == 409 and r["error"] == "no_trial", r
    finally:
        assert s.stop() == 0


def test_sigterm_right_after_start_exits_cleanly(db):
    # The store's threads start before `serve` blocks the process signals; they block them themselves, so SIGTERM
    # always reaches the waiting thread (a clean exit 0), never a store thread (killed by the signal, -15).
    for _ in range(15):
        s = Service(env=KEYS, store=db.url)
        assert s.stop() == 0, s.log()


# --- overrides and audit ------------------------------------------------------------------------------------------

def test_overrides_with_expiry_and_audit(replicas):
    a, b = replicas
    id = fresh()
    assert put(a, id, {"source": "checkout", "subscription": {"plan": "starter", "status": "active"}})[0] == 201
    path = f"/v1/accounts/{q(id)}/overrides/psa_integration"
    body = {"value": True, "expires_at": "2026-06-01T00:00:00Z", "reason": "deal #42", "actor": "ana@corp"}
    status, r = call(a, "PUT", path, body)
    assert status == 201 and r == {"feature": "psa_integration", **body}
    status, r = call(b, "PUT", path, {**body, "expires_at": "2026-07-01T00:00:00.000000005+01:00"})
    expires = "2026-06-30T23:00:00.000000005Z"  # the same instant, in UTC, to the nanosecond
    assert status == 200 and r["expires_at"] == expires
    before, at = "2026-06-30T23:00:00.000000004Z", expires
    assert check(b, id, {"feature": "psa_integration"}, now=before)[0]["allowed"] is True
    assert check(b, id, {"feature": "psa_integration"}, now=at)[0]["error"] == "feature_not_in_plan"
    assert check(b, id, {"feature": "psa_integration"}, now="2026-07-02T00:00:00Z")[0]["allowed"] is False
    # Type-checked against the feature; reason and actor required, 1–500 characters.
    assert call(a, "PUT", f"/v1/accounts/{q(id)}/overrides/max_trees", {**body, "value": True})[0] == 400
    assert call(a, "PUT", f"/v1/accounts/{q(id)}/overrides/export_formats", {**body, "value": ["docx"]})[0] == 400
    status, r = call(a, "PUT", f"/v1/accounts/{q(id)}/overrides/nope", body)
    assert status == 400 and r["error"] == "unknown_feature"
    assert call(a, "PUT", path, {**body, "reason": ""})[0] == 400
    assert call(a, "PUT", path, {**body, "actor": "x" * 501})[0] == 400
    assert call(a, "PUT", path, {"value": True, "reason": "r"})[0] == 400
    assert call(a, "PUT", f"/v1/accounts/{q(fresh())}/overrides/sso", body)[0] == 404
    # Delete: 200, then 404 not_found.
    status, _ = call(b, "DELETE", path, {"actor": "bob", "reason": "deal ended"})
    assert status == 200
    status, r = call(b, "DELETE", path, {"actor": "bob", "reason": "deal ended"})
    assert status == 404 and r["error"] == "not_found"
    entries = call(a, "GET", f"/v1/accounts/{q(id)}/audit")[1]["entries"]
    assert [e["action"] for e in entries] == ["override.delete", "override.set", "override.set", "account.create"]
    assert entries[0]["old"] == {"value": True, "expires_at": expires} and entries[0]["new"] is None
    assert entries[0]["actor"] == "bob" and entries[0]["reason"] == "deal ended"
    assert entries[2]["old"] is None and entries[2]["new"] == {"value": True, "expires_at": "2026-06-01T00:00:00Z"}
    assert entries[3]["actor"] == "ops" and entries[3]["source"] == "checkout"  # the API key's name
    assert entries[3]["old"] is None and entries[3]["new"]["subscription"]["plan"] == "starter"


def test_audit_paging_and_the_log_of_a_deleted_account(replicas):
    a, _ = replicas
    id = fresh()
    for i in range(5):
        put(a, id, {"source": "admin", "attributes": {"i": i}})
    status, r = call(a, "GET", f"/v1/accounts/{q(id)}/audit?limit=2")
    assert status == 200 and len(r["entries"]) == 2 and r["entries"][0]["new"]["attributes"] == {"i": 4}
    status, r2 = call(a, "GET", f"/v1/accounts/{q(id)}/audit?limit=10&before={q(r['next_before'])}")
    assert [e["new"]["attributes"]["i"] for e in r2["entries"]] == [2, 1, 0] and "next_before" not in r2
    assert call(a, "DELETE", f"/v1/accounts/{q(id)}")[0] == 200
    status, r = call(a, "GET", f"/v1/accounts/{q(id)}/audit")
    assert status == 200 and r["entries"][0]["action"] == "account.delete" and len(r["entries"]) == 6
    assert call(a, "GET", f"/v1/accounts/{q(fresh())}/audit")[0] == 404
    assert call(a, "GET", f"/v1/accounts/{q(id)}/audit?limit=1001")[0] == 400
    assert call(a, "GET", f"/v1/accounts/{q(id)}/audit?before=yesterday")[0] == 400


# --- usage --------------------------------------------------------------------------------------------------------

def consume(svc, id, feature, amount, key, now=None):
    body = {"amount": amount, "idempotency_key": key}
    if now:
        body["now"] = now
    status, r = call(svc, "POST", f"/v1/accounts/{q(id)}/usage/{feature}", body)
    assert status == 200, r
    return r


def test_usage_periods_and_boundaries(replicas):
    a, b = replicas
    id = fresh()
    put(a, id, {"source": "checkout", "subscription": {"plan": "pro", "status": "active",
                                                        "period_start": "2026-05-15T00:00:00Z",
                                                        "period_end": "2026-06-15T00:00:00Z"}})
    # month (monthly_sessions): the calendar month containing now, UTC.
    r = consume(a, id, "monthly_sessions", 5, "m1", now="2026-05-31T23:59:59.999999999Z")
    assert (r["used"], r["period_start"], r["period_end"]) == (5, "2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z")
    r = consume(b, id, "monthly_sessions", 1, "m2", now="2026-06-01T00:00:00Z")
    assert r["used"] == 1
    # The check's usage without `usage` is the recorded usage of the period containing the request's now.
    assert check(b, id, {"feature": "monthly_sessions"}, now="2026-05-20T00:00:00Z")[0]["remaining"] == 200 - 5 - 1
    assert check(b, id, {"feature": "monthly_sessions"}, now="2026-06-20T00:00:00Z")[0]["remaining"] == 200 - 1 - 1
    # none (max_trees): lifetime, period dates null.
    r = consume(a, id, "max_trees", 2, "t1", now="2026-01-01T00:00:00Z")
    r = consume(a, id, "max_trees", 3, "t2", now="2030-01-01T00:00:00Z")
    assert (r["used"], r["period_start"], r["period_end"]) == (5, None, None)
    status, r = call(b, "GET", f"/v1/accounts/{q(id)}/usage/max_trees")
    assert status == 200 and r == {"used": 5, "limit": 25, "remaining": 20, "allowance": 25, "balance": 20,
                                   "grants": [], "period_start": None, "period_end": None}
    # At a past instant the balance is computed from the records up to it.
    status, r = call(b, "GET", f"/v1/accounts/{q(id)}/usage/max_trees?now=2029-12-31T23:59:59.999999999Z")
    assert status == 200 and (r["used"], r["balance"]) == (2, 23)


def test_usage_of_a_24h_and_a_billing_period(db, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(POLICIES, bundle)
    (bundle / "usage.yaml").write_text(
        "features:\n  daily_exports: { type: limit, period: 24h }\n  billed_seats: { type: limit, period: billing }\n"
        "plans:\n  pro_x: { grants: { daily_exports: 10, billed_seats: 10 } }\n")
    s = Service(policies=bundle, env=KEYS, store=db.url)
    try:
        id = fresh()
        assert put(s, id, {"source": "admin", "subscription": {"plan": "pro_x", "status": "active",
                                                                 "period_start": "2026-05-15T00:00:00Z",
                                                                 "period_end": "2026-06-15T00:00:00Z"}})[0] == 201
        consume(s, id, "daily_exports", 4, "d1", now="2026-05-10T12:00:00Z")
        r = consume(s, id, "daily_exports", 1, "d2", now="2026-05-11T11:59:59.999999999Z")
        assert r["used"] == 5
        r = consume(s, id, "daily_exports", 1, "d3", now="2026-05-11T12:00:00Z")  # (now − 24h, now]: d1 is out
        assert r["used"] == 2 and r["period_start"] == "2026-05-10T12:00:00Z"
        r = consume(s, id, "billed_seats", 3, "b1", now="2026-06-14T23:59:59Z")
        assert (r["used"], r["period_start"], r["period_end"]) == (3, "2026-05-15T00:00:00Z", "2026-06-15T00:00:00Z")
        # Outside the billing period: the calendar month, which holds b1 (June 14) too.
        r = consume(s, id, "billed_seats", 1, "b2", now="2026-06-15T00:00:00Z")
        assert (r["used"], r["period_start"], r["period_end"]) == (4, "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z")
    finally:
        assert s.stop() == 0


def test_usage_idempotency_denials_and_errors(replicas):
    a, b = replicas
    id = fresh()
    put(a, id, {"source": "checkout", "subscription": {"plan": "starter", "status": "active"}})
    r1 = consume(a, id, "max_trees", 7, "k1")
    assert r1["allowed"] is True and r1["used"] == 7 and r1["remaining"] == 3
    # A replay answers the first answer and says so; counts nothing.
    assert consume(b, id, "max_trees", 7, "k1") == {**r1, "replayed": True}
    # The key names one request: another amount or feature is refused, and changes nothing.
    for feature, amount in [("max_trees", 2), ("monthly_sessions", 7)]:
        status, r = call(a, "POST", f"/v1/accounts/{q(id)}/usage/{feature}", {"amount": amount, "idempotency_key": "k1"})
        assert status == 409 and r["error"] == "idempotency_key_reused"
    assert call(a, "GET", f"/v1/accounts/{q(id)}/usage/monthly_sessions")[1]["used"] == 0
    r = consume(a, id, "max_trees", 4, "k2")
    assert (r["allowed"], r["error"], r["status"], r["used"], r["remaining"]) == (False, "limit_exceeded", 402, 7, 3)
    assert consume(a, id, "max_trees", 3, "k3")["used"] == 10
    status, r = call(a, "POST", f"/v1/accounts/{q(id)}/usage/sso", {"amount": 1, "idempotency_key": "x"})
    assert status == 400
    status, r = call(a, "POST", f"/v1/accounts/{q(id)}/usage/nope", {"amount": 1, "idempotency_key": "x"})
    assert status == 400 and r["error"] == "unknown_feature"
    for bad in [{"amount": 0, "idempotency_key": "x"}, {"amount": 1}, {"amount": 1, "idempotency_key": ""},
                {"amount": 1, "idempotency_key": "x" * 201}, {"amount": 1.5, "idempotency_key": "x"}]:
        assert call(a, "POST", f"/v1/accounts/{q(id)}/usage/max_trees", bad)[0] == 400
    assert call(a, "POST", f"/v1/accounts/{q(fresh())}/usage/max_trees", {"amount": 1, "idempotency_key": "x"})[0] == 404
    # No subscription: denied as in §4.
    id2 = fresh()
    put(a, id2, {"source": "admin"})
    r = consume(a, id2, "max_trees", 1, "k")
    assert (r["allowed"], r["error"], r["limit"], r["remaining"]) == (False, "no_subscription", 0, 0)


def test_64_concurrent_consumers_at_a_limit_of_100_get_exactly_100(replicas):
    a, b = replicas
    id = fresh()
    put(a, id, {"source": "checkout", "subscription": {"plan": "pro", "status": "active"}})
    call(a, "PUT", f"/v1/accounts/{q(id)}/overrides/max_trees", {"value": 100, "reason": "test", "actor": "t"})
    allowed = []
    lock = threading.Lock()

    def worker(n):
        svc = (a, b)[n % 2]
        for i in range(3):
            r = consume(svc, id, "max_trees", 1, f"w{n}-{i}")
            with lock:
                allowed.append(r["allowed"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(allowed) == 192 and allowed.count(True) == 100
    assert call(b, "GET", f"/v1/accounts/{q(id)}/usage/max_trees")[1]["used"] == 100


# --- decisions by id ----------------------------------------------------------------------------------------------

def test_decisions_by_id_equal_inline_evaluation(replicas):
    a, b = replicas
    id = fresh()
    sub = {"plan": "team", "status": "trialing", "period_start": "2026-05-07T12:00:00Z",
           "period_end": "2026-05-21T12:00:00Z", "past_due_since": None, "seats": 3}
    put(a, id, {"source": "checkout", "subscription": sub, "attributes": {"region": "eu"}})
    call(a, "PUT", f"/v1/accounts/{q(id)}/overrides/sso", {"value": True, "reason": "r", "actor": "x"})
    checks = [{"feature": "sso"}, {"feature": "psa_integration"}, {"feature": "max_trees", "usage": 3},
              {"feature": "export_formats", "value": "pdf"}, {"route": "GET /api/v1/trees"},
              {"flag": "self_serve_enabled"}]
    inline = {"id": id, "subscription": sub, "attributes": {"region": "eu"},
              "overrides": [{"feature": "sso", "value": True, "reason": "r", "actor": "x"}]}
    for now in ["2026-05-10T12:00:00Z", "2026-05-19T12:00:00Z", "2026-05-22T00:00:00Z"]:
        assert check(b, id, *checks, now=now) == check(a, inline, *checks, now=now)
        by_id = call(b, "POST", "/v1/entitlements", {"account": id, "now": now}, CHECK)[1]
        assert by_id == call(a, "POST", "/v1/entitlements", {"account": inline, "now": now}, CHECK)[1]
        path = call(a, "GET", f"/v1/accounts/{q(id)}/entitlements?now={q(now)}", headers=CHECK)[1]
        assert path == by_id
    # OFREP evaluates at the clock: by id and inline agree.
    answers = []
    for context in [{"targetingKey": id}, {"targetingKey": id, "account": inline}]:
        status, _, data = b.request("POST", "/ofrep/v1/evaluate/flags", json.dumps({"context": context}),
                                    {**CHECK, "Content-Type": "application/json"})
        assert status == 200
        answers.append(json.loads(data))
    assert answers[0] == answers[1]


def test_unknown_accounts(replicas):
    a, _ = replicas
    id = fresh()
    r = check(a, id, {"feature": "sso"}, {"route": "GET /api/v1/billing/state"})
    assert r[0]["error"] == "no_subscription" and r[1]["allowed"] is True
    status, r = call(a, "POST", "/v1/entitlements", {"account": id}, CHECK)
    assert status == 200 and r["subscription"]["live"] is False
    status, r = call(a, "GET", f"/v1/accounts/{q(id)}/entitlements", headers=CHECK)
    assert status == 404 and r["error"] == "unknown_account"
    status, _, data = a.request("POST", "/ofrep/v1/evaluate/flags/sso", json.dumps({"context": {"targetingKey": id}}),
                                {**CHECK, "Content-Type": "application/json"})
    body = json.loads(data)
    assert status == 200 and body["reason"] == "DISABLED" and body["metadata"]["denial"] == "no_subscription"


# --- durability and start-up --------------------------------------------------------------------------------------

def test_kill_9_loses_no_acknowledged_write(db):
    s = Service(env=KEYS, store=db.url)
    id = fresh()

    def write(n, i):
        status, _ = call(s, "PUT", f"/v1/accounts/{q(id)}-{n}-{i}", {"source": "admin", "attributes": {"n": n, "i": i}})
        return status in (200, 201)

    acked = [f"{id}-{n}-{i}" for n, i in kill_9_during_a_burst(s, write)]
    assert len(acked) > 10
    s2 = Service(env=KEYS, store=db.url)
    try:
        for key in acked:
            assert call(s2, "GET", f"/v1/accounts/{q(key)}")[0] == 200, key
    finally:
        assert s2.stop() == 0


def test_acknowledged_writes_survive_a_postgres_restart(db):
    s = Service(env=KEYS, store=db.url)
    try:
        id = fresh()
        assert put(s, id, {"source": "admin", "attributes": {"x": 1}})[0] == 201
        db.stop(mode="immediate")
        db.start()
        # The first request after the restart meets a dropped connection and retries once on a fresh one.
        status, r = call(s, "GET", f"/v1/accounts/{q(id)}")
        assert status == 200 and r["attributes"] == {"x": 1}
    finally:
        assert s.stop() == 0


def test_store_down_is_503_and_recovers(db):
    s = Service(env=KEYS, store=db.url)
    try:
        db.stop(mode="fast")
        status, r = put(s, fresh(), {"source": "admin"})
        assert status == 503 and r["error"] == "store_unavailable"
        assert call(s, "GET", "/readyz", headers={})[0] == 503
        assert call(s, "GET", "/healthz", headers={})[0] == 200
        db.start()
        assert put(s, fresh(), {"source": "admin"})[0] == 201
        assert call(s, "GET", "/readyz", headers={})[0] == 200
    finally:
        assert s.stop() == 0


def test_replicas_starting_at_once_on_an_empty_database_all_come_up():
    pg = Postgres()
    try:
        services = []
        errors = []

        def start():
            try:
                services.append(Service(env=KEYS, store=pg.url))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors and len(services) == 4
        for svc in services:
            assert put(svc, fresh(), {"source": "admin"})[0] == 201
            assert svc.stop() == 0
        # Each migration ran exactly once.
        assert pg.psql("entitlements", "SELECT count(*) = count(DISTINCT version) AND count(*) = max(version) "
                                       "FROM ent_schema") == "t"
    finally:
        pg.close()


def test_the_embedded_cluster_starts_stops_and_is_reused():
    # /tmp is searchable by everyone: as root the cluster runs as the postgres user, which must reach the directory.
    base = Path(tempfile.mkdtemp(prefix="ent-embedded-", dir="/tmp"))
    os.chmod(base, 0o755)
    data = base / "pg"
    s = Service(env=KEYS, store=str(data))
    try:
        id = fresh()
        assert put(s, id, {"source": "admin", "attributes": {"kept": True}})[0] == 201
        assert "embedded" in s.listening
    finally:
        assert s.stop() == 0
    assert not (data / "postmaster.pid").exists()  # stopped with the service
    s = Service(env=KEYS, store=str(data))
    try:
        assert call(s, "GET", f"/v1/accounts/{q(id)}")[1]["attributes"] == {"kept": True}
    finally:
        assert s.stop() == 0
        shutil.rmtree(base, ignore_errors=True)


def metric(svc, name, **labels):
    """The value of one sample of /metrics (0 when absent)."""
    text = svc.request("GET", "/metrics")[2].decode()
    want = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split(" ")[1])
    return 0


def test_metrics_label_account_routes_by_pattern_and_count_usage(replicas):
    a, _ = replicas
    id = fresh()
    put(a, id, {"source": "checkout", "subscription": {"plan": "starter", "status": "active"}})
    usage = dict(route="/v1/accounts/{id}/usage/{feature}", status="200")
    before = (metric(a, "entitlements_http_requests_total", **usage),
              metric(a, "entitlements_usage_consumptions_total", result="recorded", error=""),
              metric(a, "entitlements_usage_consumptions_total", result="refused", error="limit_exceeded"))
    assert consume(a, id, "max_trees", 10, "m1")["allowed"] is True
    assert consume(a, id, "max_trees", 1, "m2")["error"] == "limit_exceeded"
    assert consume(a, id, "max_trees", 1, "m3")["error"] == "limit_exceeded"
    after = (metric(a, "entitlements_http_requests_total", **usage),
             metric(a, "entitlements_usage_consumptions_total", result="recorded", error=""),
             metric(a, "entitlements_usage_consumptions_total", result="refused", error="limit_exceeded"))
    assert [y - x for x, y in zip(before, after)] == [3, 1, 2]
    assert metric(a, "entitlements_http_requests_total", route="/v1/accounts/{id}", status="201") >= 1


def test_without_a_cache_every_decision_reads_the_database(db):
    """`--cache-size 0`: decisions by id read the account (and the usage of limit checks) with the same one-statement
    read as a cache miss, every time, and see every write at once."""
    svc = Service(env=KEYS, store=db.url, args=("--cache-size", "0"))
    try:
        id = fresh("nocache")
        assert check(svc, id, {"feature": "sso"})[0]["error"] == "no_subscription"
        put(svc, id, {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
        for n in range(3):
            assert call(svc, "POST", f"/v1/accounts/{q(id)}/usage/max_trees",
                        {"amount": 2, "idempotency_key": f"nc{n}"})[1]["allowed"] is True
            r = check(svc, id, {"feature": "max_trees"}, {"feature": "psa_integration"})
            assert r[0]["remaining"] == 25 - 2 * (n + 1) - 1  # after this check's own amount of 1
            assert r[1]["allowed"] is True
        put(svc, id, {"source": "admin", "subscription": {"plan": "free", "status": "active"}})
        assert check(svc, id, {"feature": "psa_integration"})[0]["error"] == "feature_not_in_plan"
        assert call(svc, "GET", "/healthz", headers={})[1]["store"]["cached_accounts"] == 0
    finally:
        assert svc.stop() == 0
