"""Lifecycle webhooks (SPEC §6.7) against a real receiver that verifies every delivery with the `standardwebhooks`
library (PyPI) and a real PostgreSQL (never a mock): the endpoints API, each cause (write, time, reload),
usage thresholds, exactly-once emission with two replicas, a receiver that is down, answers 500 or hangs, kill -9
of a replica mid-delivery, a rolled-back write, and time-caused changes sent at or after their instant and within
a second of it. The retry schedule is shortened with ENTITLEMENTS_WEBHOOK_RETRY so every test is bounded."""
import base64
import datetime
import http.server
import json
import signal
import threading
import time
import urllib.parse

import pytest
from standardwebhooks.webhooks import Webhook

from conftest import Service
from test_store import call, fresh

KEYS = {"ENTITLEMENTS_CHECK_KEYS": "checker=ck", "ENTITLEMENTS_ADMIN_KEYS": "ops=ak",
        # 100 ms doubling to 400 ms, for 10 minutes, 1 s per attempt.
        "ENTITLEMENTS_WEBHOOK_RETRY": "100ms,400ms,10m,1s"}
ADMIN = {"Authorization": "Bearer ak"}
CHECK = {"Authorization": "Bearer ck"}
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()

BUNDLE = """
features:
  sso: { type: boolean }
  seats: { type: limit }
  api_calls: { type: limit, period: month, notify_at: [80, 100] }
plans:
  free: { grants: { seats: 1, api_calls: 10 } }
  pro: { grants: { sso: true, seats: 5, api_calls: 10 } }
subscription:
  statuses:
    active: { live: true }
    trialing: { live: "now < subscription.period_end" }
    canceled: { live: false }
  trial: { plan: pro, length: 14d, stages: { warning: 3d, urgent: 1d } }
"""


class Receiver:
    """An HTTP receiver on 127.0.0.1: verifies each request with standardwebhooks, records it with its arrival time,
    and answers as `mode` says: `ok` (204), `fail` (500), or `hang` (answers after `hang_seconds`). `fail_first`
    makes the first N requests of each webhook-id fail."""

    def __init__(self, port=0):
        self.events = []  # (arrival, webhook-id, payload) of verified deliveries, in arrival order
        self.rejected = []
        self.mode = "ok"
        self.fail_first = 0
        self.hang_seconds = 3
        self.seen = {}
        self.lock = threading.Lock()
        self.verifier = Webhook(SECRET)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                arrival = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items()}
                try:
                    payload = receiver.verifier.verify(body, headers)
                except Exception as e:  # noqa: BLE001
                    with receiver.lock:
                        receiver.rejected.append((headers, body, str(e)))
                    self.send_response(400)
                    self.end_headers()
                    return
                msg = headers.get("webhook-id") or headers.get("Webhook-Id")
                with receiver.lock:
                    n = receiver.seen.get(msg, 0)
                    receiver.seen[msg] = n + 1
                    mode = receiver.mode
                    failing = n < receiver.fail_first
                if mode == "hang":
                    time.sleep(receiver.hang_seconds)
                if mode == "fail" or failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.events.append((arrival, msg, payload))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hooks"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def unique(self, account=None, type=None):
        """Verified deliveries deduplicated by webhook-id (first arrival kept), optionally of one account/type."""
        with self.lock:
            out, ids = [], set()
            for arrival, msg, p in self.events:
                if msg in ids:
                    continue
                ids.add(msg)
                if (account is None or p.get("account") == account) and (type is None or p.get("type") == type):
                    out.append((arrival, msg, p))
            return out

    def wait(self, count, account=None, type=None, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.unique(account, type)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        return self.unique(account, type)


def iso(t):
    return datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(s):
    s = s.rstrip("Z")
    whole, _, frac = s.partition(".")
    base = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def changes(payload):
    return {c["path"]: (c["from"], c["to"]) for c in payload["changes"]}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    d = tmp_path_factory.mktemp("bundle")
    (d / "policy.yaml").write_text(BUNDLE)
    return d


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def svc(db, bundle, receiver):
    s = Service(policies=bundle, env=KEYS, store=db.url, args=("--no-watch",))
    status, _ = call(s, "PUT", "/v1/webhooks/main", {"url": receiver.url, "secret": SECRET})
    assert status in (200, 201)
    yield s
    assert s.proc.poll() is None, s.log()
    assert s.stop() == 0


# --- the endpoints API --------------------------------------------------------------------------------------------

def test_endpoints_are_stored_listed_and_never_echo_the_secret(svc):
    name = fresh("hook")
    body = {"url": "http://127.0.0.1:9/x", "secret": SECRET, "events": ["usage.threshold"]}
    status, r = call(svc, "PUT", f"/v1/webhooks/{name}", body)
    assert status == 201 and r["name"] == name and r["events"] == ["usage.threshold"] and "secret" not in r
    status, r = call(svc, "PUT", f"/v1/webhooks/{name}", dict(body, events=["entitlements.changed"]))
    assert status == 200 and r["events"] == ["entitlements.changed"]
    status, r = call(svc, "GET", f"/v1/webhooks/{name}")
    assert status == 200 and r["url"] == "http://127.0.0.1:9/x" and SECRET not in json.dumps(r)
    status, r = call(svc, "GET", "/v1/webhooks")
    assert status == 200 and name in [w["name"] for w in r["webhooks"]] and SECRET not in json.dumps(r)
    assert call(svc, "GET", f"/v1/webhooks/{name}", headers=CHECK)[0] == 403
    assert call(svc, "GET", "/v1/webhooks", headers={})[0] == 401
    status, r = call(svc, "DELETE", f"/v1/webhooks/{name}")
    assert status == 200 and r["deleted"] is True
    assert call(svc, "GET", f"/v1/webhooks/{name}")[1]["error"] == "not_found"
    assert call(svc, "DELETE", f"/v1/webhooks/{name}")[0] == 404


@pytest.mark.parametrize("body,path", [
    ({"secret": SECRET}, "url"),
    ({"url": "https://example.com/x", "secret": SECRET}, "url"),
    ({"url": "ftp://x", "secret": SECRET}, "url"),
    ({"url": "http://127.0.0.1:9/x"}, "secret"),
    ({"url": "http://127.0.0.1:9/x", "secret": "nope"}, "secret"),
    ({"url": "http://127.0.0.1:9/x", "secret": "whsec_!!!"}, "secret"),
    ({"url": "http://127.0.0.1:9/x", "secret": SECRET, "events": []}, "events"),
    ({"url": "http://127.0.0.1:9/x", "secret": SECRET, "events": ["nope"]}, "events[0]"),
    ({"url": "http://127.0.0.1:9/x", "secret": SECRET, "events": ["usage.threshold", "usage.threshold"]}, "events[1]"),
])
def test_invalid_endpoints_are_refused_and_store_nothing(svc, body, path):
    name = fresh("bad")
    status, r = call(svc, "PUT", f"/v1/webhooks/{name}", body)
    assert status == 400 and r["error"] == "invalid_request" and r["path"] == path, r
    assert call(svc, "GET", f"/v1/webhooks/{name}")[0] == 404
    assert call(svc, "PUT", "/v1/webhooks/has%20space", {"url": "http://127.0.0.1:9/", "secret": SECRET})[0] == 400


# --- causes -------------------------------------------------------------------------------------------------------

def test_writes_send_exactly_what_changed_signed(svc, receiver):
    id = fresh()
    assert call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin",
                "subscription": {"plan": "free", "status": "active"}})[0] == 201
    [(_, msg, created)] = receiver.wait(1, id)
    assert created["type"] == "entitlements.changed" and created["cause"] == "write" and created["id"] == msg
    assert created["account"] == id and created["policy"]
    c = changes(created)
    assert c["subscription.live"] == (False, True) and c["features.seats.value"] == (0, 1)
    # An upgrade lists only what changed.
    call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
    got = receiver.wait(2, id)
    c = changes(got[1][2])
    assert c["features.sso.value"] == (False, True) and c["features.seats.value"] == (1, 5)
    assert "subscription.live" not in c and "features.api_calls.value" not in c
    # Attributes no rule reads change nothing: no event.
    call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin", "attributes": {"x": 1}})
    # An override, then its removal; then the deletion.
    assert call(svc, "PUT", f"/v1/accounts/{id}/overrides/seats",
                {"value": 50, "reason": "deal", "actor": "ana"})[0] == 201
    assert call(svc, "DELETE", f"/v1/accounts/{id}/overrides/seats", {"reason": "end", "actor": "ana"})[0] == 200
    assert call(svc, "DELETE", f"/v1/accounts/{id}")[0] == 200
    got = receiver.wait(5, id)
    assert [changes(p)["features.seats.value"] for _, _, p in got[2:]] == [(5, 50), (50, 5), (5, 0)]
    assert changes(got[4][2])["subscription.live"] == (True, False)
    time.sleep(0.3)
    assert len(receiver.unique(id)) == 5 and not receiver.rejected


def test_a_trial_start_is_a_write(svc, receiver):
    id = fresh()
    assert call(svc, "POST", f"/v1/accounts/{id}/trial")[0] == 201
    [(_, _, p)] = receiver.wait(1, id)
    c = changes(p)
    assert p["cause"] == "write" and c["subscription.status"] == (None, "trialing")
    assert c["subscription.stage"] == (None, "pristine") and c["features.sso.value"] == (False, True)


def test_time_caused_changes_arrive_at_or_after_their_instant_within_a_second(svc, receiver):
    id = fresh()
    end = time.time() + 2.5
    call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {
        "plan": "pro", "status": "trialing", "period_start": iso(end - 14 * 86400), "period_end": iso(end)}})
    # An override that expires sooner.
    soon = time.time() + 1.5
    call(svc, "PUT", f"/v1/accounts/{id}/overrides/seats",
         {"value": 9, "expires_at": iso(soon), "reason": "r", "actor": "a"})
    got = receiver.wait(4, id, timeout=8)
    assert [p["cause"] for _, _, p in got] == ["write", "write", "time", "time"], got
    (arr1, _, expiry), (arr2, _, lock) = got[2], got[3]
    assert parse(expiry["at"]) == pytest.approx(soon, abs=1e-5)
    c = changes(expiry)
    assert c["features.seats.value"] == (9, 5) and c["features.seats.source"] == ("override", "plan:pro")
    assert c["features.seats.expires_at"][1] is None and "subscription.live" not in c
    assert soon <= arr1 <= soon + 1.0, (arr1 - soon)
    assert parse(lock["at"]) == pytest.approx(end, abs=1e-5)
    c = changes(lock)
    assert c["subscription.live"] == (True, False) and c["subscription.stage"] == ("urgent", "expired")
    assert c["features.sso.value"] == (True, False)
    assert end <= arr2 <= end + 1.0, (arr2 - end)
    time.sleep(0.5)
    assert len(receiver.unique(id)) == 4  # nothing more: the account no longer changes


def test_usage_thresholds_once_per_period_and_threshold(svc, receiver):
    id = fresh()
    call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})

    def use(n, key):
        status, r = call(svc, "POST", f"/v1/accounts/{id}/usage/api_calls", {"amount": n, "idempotency_key": key})
        assert status == 200 and r["allowed"], r

    use(7, "a")
    use(1, "b")  # 8 of 10: 80 %
    use(1, "b")  # a replay counts nothing
    use(1, "c")
    use(1, "d")  # 10 of 10: 100 %
    got = receiver.wait(2, id, "usage.threshold")
    assert [(p["threshold"], p["used"], p["limit"]) for _, _, p in got] == [(80, 8, 10), (100, 10, 10)]
    p = got[0][2]
    assert p["feature"] == "api_calls" and p["period_start"].endswith("T00:00:00Z") and p["period_end"]
    time.sleep(0.3)
    assert len(receiver.unique(id, "usage.threshold")) == 2


def test_a_rolled_back_write_sends_nothing(svc, db, receiver):
    id = fresh("rollback")
    # The write fails inside PostgreSQL after its outbox rows were written: everything is rolled back.
    db.psql("entitlements", f"""
        CREATE OR REPLACE FUNCTION ent_test_boom() RETURNS trigger AS $$
        BEGIN IF NEW.account_id = '{id}' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER ent_test_boom BEFORE UPDATE OF notified ON ent_accounts
        FOR EACH ROW EXECUTE FUNCTION ent_test_boom();""")
    try:
        status, r = call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin",
                         "subscription": {"plan": "pro", "status": "active"}})
        assert status == 503, r
    finally:
        db.psql("entitlements", "DROP TRIGGER ent_test_boom ON ent_accounts")
    assert call(svc, "GET", f"/v1/accounts/{id}")[0] == 404
    assert db.psql("entitlements", f"SELECT count(*) FROM ent_deliveries WHERE account_id = '{id}'") == "0"
    # Refused writes (unknown plan) send nothing either.
    assert call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin",
                "subscription": {"plan": "nope", "status": "active"}})[0] == 400
    time.sleep(0.5)
    assert receiver.unique(id) == []


def test_a_reload_that_changes_a_grant_notifies_only_the_accounts_it_changes(db, tmp_path):
    r = Receiver()
    (tmp_path / "policy.yaml").write_text(BUNDLE)
    s = Service(policies=tmp_path, env=KEYS, store=db.url, args=("--no-watch",))
    try:
        hook = fresh("reload")
        call(s, "PUT", f"/v1/webhooks/{hook}", {"url": r.url, "secret": SECRET, "events": ["entitlements.changed"]})
        pro, free = fresh("pro"), fresh("free")
        odd = fresh('we"ird\\,{id} é NULL')  # quotes, backslashes, commas, braces: array literals must hold them
        for id, plan in ((pro, "pro"), (free, "free"), (odd, "pro")):
            status, _ = call(s, "PUT", f"/v1/accounts/{urllib.parse.quote(id, safe='')}",
                             {"source": "admin", "subscription": {"plan": plan, "status": "active"}})
            assert status == 201
        assert len(r.wait(1, pro)) == 1 and len(r.wait(1, free)) == 1 and len(r.wait(1, odd)) == 1
        (tmp_path / "policy.yaml").write_text(BUNDLE.replace("sso: true, seats: 5", "sso: true, seats: 7"))
        status, info = call(s, "POST", "/v1/policy/reload")
        assert status == 200
        got = r.wait(2, pro)
        assert len(got) == 2
        p = got[1][2]
        assert p["cause"] == "reload" and p["policy"] == info["digest"]
        assert changes(p) == {"features.seats.value": (5, 7)}
        got = r.wait(2, odd)
        assert len(got) == 2 and changes(got[1][2]) == {"features.seats.value": (5, 7)}
        time.sleep(0.5)
        assert len(r.unique(free)) == 1  # unchanged by the reload: nothing
        # Other accounts in the database (other tests' endpoint) were compared too, but this endpoint only gets its own.
    finally:
        assert s.stop() == 0
        r.close()


# --- delivery -----------------------------------------------------------------------------------------------------

def deliveries(svc, name, status=None):
    path = f"/v1/webhooks/{name}/deliveries" + (f"?status={status}" if status else "")
    code, r = call(svc, "GET", path)
    assert code == 200, r
    return r["deliveries"]


def settled(svc, name, account, timeout=5):
    """The endpoint's one delivery for `account` once it is no longer pending (the receiver may have read it just
    before the worker recorded the answer)."""
    deadline = time.time() + timeout
    while True:
        [d] = [d for d in deliveries(svc, name) if d["account"] == account]
        if d["status"] != "pending" or time.time() > deadline:
            return d
        time.sleep(0.05)


def test_a_receiver_down_then_up_loses_nothing_and_keeps_each_accounts_order(svc, receiver):
    down = Receiver()
    port = down.port
    down.close()  # nothing listens on the port now
    name = fresh("outage")
    call(svc, "PUT", f"/v1/webhooks/{name}", {"url": f"http://127.0.0.1:{port}/hooks", "secret": SECRET,
                                              "events": ["entitlements.changed"]})
    ids = [fresh("down") for _ in range(3)]
    for id in ids:
        for plan in ("free", "pro", "free"):
            call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {"plan": plan, "status": "active"}})
    time.sleep(2)
    pending = deliveries(svc, name, "pending")
    assert len(pending) == 9 and max(d["attempts"] for d in pending) >= 2
    assert all(d["last_error"] for d in pending if d["attempts"])
    up = Receiver(port)
    try:
        for id in ids:
            got = up.wait(3, id)
            assert [changes(p)["features.seats.value"] for _, _, p in got] == [(0, 1), (1, 5), (5, 1)]
        deadline = time.time() + 5
        while deliveries(svc, name, "pending") and time.time() < deadline:
            time.sleep(0.05)
        assert deliveries(svc, name, "pending") == [] and len(deliveries(svc, name, "succeeded")) == 9
    finally:
        up.close()
        call(svc, "DELETE", f"/v1/webhooks/{name}")


def test_500s_and_timeouts_are_retried_until_accepted(svc):
    r = Receiver()
    name = fresh("flaky")
    try:
        call(svc, "PUT", f"/v1/webhooks/{name}", {"url": r.url, "secret": SECRET})
        r.fail_first = 2
        id = fresh()
        call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
        assert len(r.wait(1, id)) == 1
        d = settled(svc, name, id)
        assert d["status"] == "succeeded" and d["attempts"] == 3 and d["last_status"] == 204
        # A receiver that answers after the 1 s attempt timeout: the attempt fails, a later one succeeds.
        r.fail_first = 0
        r.mode, r.hang_seconds = "hang", 1.5
        id = fresh()
        call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
        time.sleep(1.3)
        r.mode = "ok"
        d = settled(svc, name, id)
        assert d["status"] == "succeeded" and d["attempts"] >= 2 and r.unique(id)
        with r.lock:
            assert r.seen[d["webhook_id"]] == d["attempts"]  # the same webhook-id on every attempt
    finally:
        call(svc, "DELETE", f"/v1/webhooks/{name}")
        r.close()


def test_a_delivery_fails_after_its_window_and_can_be_retried(db, bundle):
    r = Receiver()
    r.mode = "fail"
    env = dict(KEYS, ENTITLEMENTS_WEBHOOK_RETRY="100ms,200ms,1s,1s")
    s = Service(policies=bundle, env=env, store=db.url, args=("--no-watch",))
    name = fresh("window")
    try:
        call(s, "PUT", f"/v1/webhooks/{name}", {"url": r.url, "secret": SECRET})
        id = fresh()
        call(s, "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
        call(s, "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {"plan": "free", "status": "active"}})
        # The second waits behind the first (per-account order) until the first has failed for good.
        time.sleep(0.5)
        first, second = sorted((d for d in deliveries(s, name) if d["account"] == id), key=lambda d: int(d["id"]))
        assert first["attempts"] >= 1 and second["attempts"] == 0 and second["next_attempt_at"] is None
        # (Accounts of earlier tests may be notified too: this replica's start-up is a reload for them.)
        deadline = time.time() + 8
        while len([d for d in deliveries(s, name, "failed") if d["account"] == id]) < 2 and time.time() < deadline:
            time.sleep(0.1)
        failed = [d for d in deliveries(s, name, "failed") if d["account"] == id]
        assert [d["id"] for d in failed] == [second["id"], first["id"]]  # newest first
        d = failed[1]
        assert d["attempts"] >= 3 and d["last_status"] == 500 and d["done_at"]
        assert call(s, "GET", f"/v1/webhooks/{name}/deliveries?status=nope")[0] == 400
        assert call(s, "POST", f"/v1/webhooks/{name}/deliveries/999999999/retry")[0] == 404
        r.mode = "ok"
        status, again = call(s, "POST", f"/v1/webhooks/{name}/deliveries/{d['id']}/retry")
        assert status == 200 and again["status"] == "pending"
        got = r.wait(1, id)
        assert got and got[0][1] == d["webhook_id"]
        metrics = s.request("GET", "/metrics")[2].decode()
        assert "entitlements_webhook_delivery_seconds_count" in metrics
        assert "entitlements_webhook_deliveries_pending" in metrics
    finally:
        assert s.stop() == 0
        r.close()


def test_two_replicas_emit_each_change_once_and_survive_kill_9_mid_delivery(db, bundle):
    r = Receiver()
    a = Service(policies=bundle, env=KEYS, store=db.url, args=("--no-watch",))
    b = Service(policies=bundle, env=KEYS, store=db.url, args=("--no-watch",))
    name = fresh("pair")
    try:
        call(a, "PUT", f"/v1/webhooks/{name}", {"url": r.url, "secret": SECRET})
        # Time-caused changes of accounts written through either replica: each sent once (after dedupe by id) and
        # emitted once (one outbox row per change).
        end = time.time() + 2
        ids = [fresh("pair") for _ in range(6)]
        for k, id in enumerate(ids):
            call((a, b)[k % 2], "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {
                "plan": "pro", "status": "trialing", "period_start": iso(end - 86400), "period_end": iso(end)}})
        for id in ids:
            got = r.wait(2, id, timeout=6)
            assert [p["cause"] for _, _, p in got] == ["write", "time"], got
            assert end <= got[1][0] <= end + 1.0
        rows = db.psql("entitlements", f"SELECT count(*) FROM ent_deliveries WHERE endpoint = '{name}'")
        assert rows == str(2 * len(ids))
        # kill -9 of the replica holding a delivery: the other one sends it.
        r.mode, r.hang_seconds = "hang", 4
        id = fresh("killed")
        call(a, "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
        time.sleep(0.5)
        with r.lock:
            assert any(n for n in r.seen.values())  # a request is in flight
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(5)
        r.mode = "ok"
        got = r.wait(1, id, timeout=10)
        assert len(got) == 1
        assert settled(b, name, id)["status"] == "succeeded"
    finally:
        a.stop()
        assert b.stop() == 0
        r.close()


def test_decisions_do_not_wait_for_a_hanging_receiver(svc):
    r = Receiver()
    r.mode, r.hang_seconds = "hang", 5
    name = fresh("slow")
    try:
        call(svc, "PUT", f"/v1/webhooks/{name}", {"url": r.url, "secret": SECRET})
        ids = [fresh("slow") for _ in range(8)]
        for id in ids:
            call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin", "subscription": {"plan": "pro", "status": "active"}})
        start = time.time()
        for id in ids:
            status, res = call(svc, "POST", "/v1/check", {"account": id, "checks": [{"feature": "sso"}]}, CHECK)
            assert status == 200 and res["results"][0]["allowed"]
            status, _ = call(svc, "PUT", f"/v1/accounts/{id}", {"source": "admin", "attributes": {"n": 1}})
            assert status == 200
        assert time.time() - start < 2
    finally:
        r.mode = "ok"
        call(svc, "DELETE", f"/v1/webhooks/{name}")
        r.close()


# The schema of the previous release (Schema.swift's migration 1), as a version-1 service left it.
VERSION_1 = """
CREATE TABLE ent_schema (version integer NOT NULL);
INSERT INTO ent_schema VALUES (1);
CREATE TABLE ent_accounts (account_id text PRIMARY KEY, subscription text, attributes text NOT NULL DEFAULT '{}',
  last_event_s bigint, last_event_n integer, created_at text NOT NULL, updated_at text NOT NULL);
CREATE TABLE ent_overrides (account_id text NOT NULL, feature text NOT NULL, value text NOT NULL, expires_at text,
  reason text NOT NULL, actor text NOT NULL, PRIMARY KEY (account_id, feature));
CREATE TABLE ent_audit (account_id text NOT NULL, seq bigint NOT NULL, at_s bigint NOT NULL, at_n integer NOT NULL,
  entry text NOT NULL, PRIMARY KEY (account_id, seq));
CREATE TABLE ent_events (account_id text NOT NULL, event_id text NOT NULL, seen_s bigint NOT NULL,
  PRIMARY KEY (account_id, event_id));
CREATE TABLE ent_trials (account_id text PRIMARY KEY, started_at text NOT NULL);
CREATE TABLE ent_usage (account_id text NOT NULL, feature text NOT NULL, idempotency_key text NOT NULL,
  at_s bigint NOT NULL, at_n integer NOT NULL, amount bigint NOT NULL, answer text NOT NULL,
  PRIMARY KEY (account_id, feature, idempotency_key));
CREATE INDEX ent_usage_window ON ent_usage (account_id, feature, at_s, at_n);
"""


def test_a_version_1_database_is_migrated_in_place(bundle):
    from pg import Postgres
    pg = Postgres()
    r = Receiver()
    try:
        end = time.time() + 4
        trial = json.dumps({"plan": "pro", "status": "trialing", "period_start": iso(end - 86400),
                            "period_end": iso(end)})
        pg.psql("entitlements", VERSION_1 + f"""
            INSERT INTO ent_accounts (account_id, subscription, created_at, updated_at) VALUES
              ('old_free', '{{"plan":"free","status":"active"}}', 'x', 'x'),
              ('old_trial', '{trial}', 'x', 'x');""")
        s = Service(policies=bundle, env=KEYS, store=pg.url, args=("--no-watch",))
        try:
            assert pg.psql("entitlements", "SELECT string_agg(version::text, ',' ORDER BY version) FROM ent_schema") \
                == "1,2,3,4"
            call(s, "PUT", "/v1/webhooks/app", {"url": r.url, "secret": SECRET})
            status, a = call(s, "GET", "/v1/accounts/old_free")
            assert status == 200 and a["subscription"]["plan"] == "free"
            # The first notification of an old account lists only what changed since the upgrade.
            call(s, "PUT", "/v1/accounts/old_free", {"source": "admin",
                 "subscription": {"plan": "pro", "status": "active"}})
            [(_, _, p)] = r.wait(1, "old_free")
            assert changes(p)["features.seats.value"] == (1, 5) and "subscription.live" not in changes(p)
            # An old account's time-caused change is scheduled at the first start-up.
            [(arrival, _, p)] = r.wait(1, "old_trial", timeout=8)
            assert p["cause"] == "time" and changes(p)["subscription.live"] == (True, False)
            assert end <= arrival <= end + 1.0
        finally:
            assert s.stop() == 0
    finally:
        r.close()
        pg.close()


def test_a_stripe_event_is_a_write_that_notifies(db):
    """A Stripe webhook (SPEC §6.6) is applied as a §6.3 event: its entitlements.changed is in its transaction."""
    import test_billing as billing
    r = Receiver()
    s = Service(env=dict(KEYS, **billing.ENV), store=db.url, args=("--no-watch",))
    try:
        call(s, "PUT", "/v1/webhooks/stripe", {"url": r.url, "secret": SECRET, "events": ["entitlements.changed"]})
        id = fresh("stripe")
        status, answer = billing.send(s, billing.event("customer.subscription.created", billing.subscription(id)))
        assert status == 200 and answer["applied"], answer
        [(_, _, p)] = r.wait(1, id)
        c = changes(p)
        assert p["cause"] == "write" and c["subscription.plan"] == (None, "pro") and c["subscription.live"][1] is True
        # The same event again is a duplicate: nothing changes, nothing is sent.
        evt = billing.event("customer.subscription.updated", billing.subscription(id))
        assert billing.send(s, evt)[1]["applied"] and billing.send(s, evt)[1]["reason"] == "duplicate"
        time.sleep(0.3)
        assert len(r.unique(id)) == 1
    finally:
        assert s.stop() == 0
        r.close()
