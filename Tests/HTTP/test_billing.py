"""Stripe's webhooks (SPEC §6.6) against two replicas on a real PostgreSQL: signatures made and checked with Stripe's
own Python library (`stripe` on PyPI), event objects taken from Stripe's published API fixtures
(`data/stripe_fixtures3.json`, from github.com/stripe/openapi), every handled event type, both period shapes, secret
rotation, the tolerance, duplicates, replays, out-of-order delivery, one event given to two replicas at once, the
outcomes that apply nothing, malformed signed payloads, limits, the store going down and `kill -9` during a burst."""
import copy
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import stripe

from conftest import BIN, POLICIES, Service, kill_9_during_a_burst

FIXTURES = json.loads((Path(__file__).parent / "data" / "stripe_fixtures3.json").read_text())["resources"]
SECRETS = ["whsec_old_7c4e1f0b9a2d", "whsec_new_3b8e6a1c5f70"]
ENV = {"ENTITLEMENTS_CHECK_KEYS": "checker=ck", "ENTITLEMENTS_ADMIN_KEYS": "ops=ak",
       "ENTITLEMENTS_STRIPE_WEBHOOK_SECRETS": ",".join(SECRETS)}
ADMIN = {"Authorization": "Bearer ak"}
PRO_PRICE = FIXTURES["subscription"]["items"]["data"][0]["price"]["id"]  # mapped to pro by Policies/billing.yaml
T0 = 1_780_000_000  # 2026-05-28T20:26:40Z: the events' `created`, far from the signature's own timestamp

_n = [0]


def fresh(prefix="acc"):
    _n[0] += 1
    return f"{prefix}_{time.monotonic_ns()}_{_n[0]}"


def evt_id():
    _n[0] += 1
    return f"evt_test_{time.monotonic_ns()}_{_n[0]}"


@pytest.fixture(scope="module")
def replicas(db):
    a = Service(env=ENV, store=db.url)
    b = Service(env=ENV, store=db.url)
    yield a, b
    for s in (a, b):
        assert s.proc.poll() is None, s.log()
        assert s.stop() == 0


def subscription(account=None, price=PRO_PRICE, lookup_key=None, status="active", shape="items", quantity=1,
                 customer=None, period=(T0 - 86_400, T0 + 29 * 86_400), **fields):
    """Stripe's fixture subscription with the parts a test varies. `shape`: where the period is, on the item (API
    versions from 2025-03-31) or on the subscription (earlier ones)."""
    s = copy.deepcopy(FIXTURES["subscription"])
    item = s["items"]["data"][0]
    item["price"]["id"] = price
    item["price"]["lookup_key"] = lookup_key
    item["quantity"] = quantity
    s["status"] = status
    s["metadata"] = {"account_id": account} if account else {}
    s["customer"] = customer or s["customer"]
    s["ended_at"] = None
    s["canceled_at"] = None
    s.pop("current_period_start", None)
    s.pop("current_period_end", None)
    if shape == "items":
        item["current_period_start"], item["current_period_end"] = period
    else:
        item.pop("current_period_start", None)
        item.pop("current_period_end", None)
        s["current_period_start"], s["current_period_end"] = period
    s.update(fields)
    return s


def invoice(account=None, customer=None):
    i = copy.deepcopy(FIXTURES["invoice"])
    i["customer"] = customer or i["customer"]
    i["parent"] = {"type": "subscription_details", "quote_details": None,
                   "subscription_details": {"metadata": {"account_id": account} if account else {},
                                            "subscription": FIXTURES["subscription"]["id"]}}
    return i


def event(type, obj, created=T0, id=None):
    e = copy.deepcopy(FIXTURES["event"])
    e.update({"id": id or evt_id(), "type": type, "created": created})
    e["data"] = {"object": obj}
    return e


def sign(payload, secret=SECRETS[0], t=None, scheme="v1"):
    """The header Stripe sends, made with the official library's signing and checked with its verifier."""
    t = int(time.time()) if t is None else t
    sig = stripe.WebhookSignature._compute_signature(f"{t}.{payload}", secret)
    header = f"t={t},{scheme}={sig}"
    if scheme == "v1" and abs(time.time() - t) < 300:
        stripe.WebhookSignature.verify_header(payload, header, secret, 300)  # the library accepts what we send
    return header


def send(svc, evt, header=None, secret=SECRETS[0], raw=None):
    payload = raw if raw is not None else json.dumps(evt)
    h = {"Content-Type": "application/json; charset=utf-8",
         "Stripe-Signature": header if header is not None else sign(payload, secret)}
    status, _, data = svc.request("POST", "/v1/billing/stripe", payload.encode(), h)
    return status, (json.loads(data) if data else None)


def account(svc, id):
    status, _, data = svc.request("GET", f"/v1/accounts/{urllib.parse.quote(id, safe='')}", None, ADMIN)
    return json.loads(data) if status == 200 else None


def snapshot(svc, id, now):
    status, _, data = svc.request(
        "GET", f"/v1/accounts/{urllib.parse.quote(id, safe='')}/entitlements?now={urllib.parse.quote(now)}", None,
        {"Authorization": "Bearer ck"})
    assert status == 200, data
    return json.loads(data)


def within_a_second(check):
    """SPEC §7: a change made through one replica shows in every replica's decisions within 1 s."""
    deadline = time.monotonic() + 1.0
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)
    return check()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def billing_events(svc, outcome=None):
    path = "/v1/billing/events?limit=1000" + (f"&outcome={outcome}" if outcome else "")
    status, _, data = svc.request("GET", path, None, ADMIN)
    assert status == 200, data
    return json.loads(data)["events"]


# --- signatures -----------------------------------------------------------------------------------------------------

def test_no_secret_configured_is_404(db):
    s = Service(env={"ENTITLEMENTS_ADMIN_KEYS": "ops=ak"}, store=db.url)
    try:
        e = event("customer.subscription.created", subscription(fresh()))
        status, r = send(s, e)
        assert status == 404 and r["error"] == "not_found"
    finally:
        assert s.stop() == 0


def test_bad_signatures_are_400_and_store_nothing(replicas):
    a, _ = replicas
    id = fresh()
    e = event("customer.subscription.created", subscription(id))
    payload = json.dumps(e)
    now = int(time.time())
    tampered = payload.replace('"active"', '"trialing"')
    cases = {
        "missing": "",
        "unknown secret": sign(payload, "whsec_someone_else"),
        "tampered body": sign(tampered, SECRETS[0]),
        "expired (301 s old)": sign(payload, SECRETS[0], t=now - 301),
        "from the future (301 s ahead)": sign(payload, SECRETS[0], t=now + 301),
        "only another scheme": sign(payload, SECRETS[0], scheme="v0"),
        "no timestamp": "v1=" + stripe.WebhookSignature._compute_signature(f"{now}.{payload}", SECRETS[0]),
        "garbage": "t=abc,v1=zz",
    }
    for name, header in cases.items():
        status, r = send(a, e, header=header, raw=payload)
        assert (status, r["error"]) == (400, "invalid_signature"), name
        if name.startswith("from the future"):
            continue  # Stripe's library checks only the past; a header 5 minutes ahead of our clock is refused too
        # Stripe's own verifier agrees these are not valid.
        with pytest.raises((stripe.SignatureVerificationError, ValueError, IndexError)):
            stripe.Webhook.construct_event(payload, header, SECRETS[0])
    assert account(a, id) is None
    assert all(x["event_id"] != e["id"] for x in billing_events(a))


def test_rotation_tolerance_and_several_v1(replicas):
    a, b = replicas
    for secret in SECRETS:
        id = fresh()
        status, r = send(a, event("customer.subscription.created", subscription(id)), secret=secret)
        assert (status, r["applied"], r["account"]) == (200, True, id)
    # Within the tolerance; and a header with one stale and one current v1 signature (as during a roll).
    id = fresh()
    e = event("customer.subscription.created", subscription(id))
    payload = json.dumps(e)
    t = int(time.time()) - 280
    good = stripe.WebhookSignature._compute_signature(f"{t}.{payload}", SECRETS[1])
    header = f"t={t},v1={'0' * 64},v0=abc,v1={good}"
    stripe.Webhook.construct_event(payload, header, SECRETS[1])
    status, r = send(b, e, header=header, raw=payload)
    assert (status, r["reason"]) == (200, "applied")


# --- state from the subscription ------------------------------------------------------------------------------------

def test_every_event_type_and_both_period_shapes(replicas):
    a, b = replicas
    id = fresh()
    start, end = T0 - 86_400, T0 + 29 * 86_400
    # Newer API versions: the period on the item.
    status, r = send(a, event("customer.subscription.created", subscription(id, status="trialing", quantity=3),
                              created=T0))
    assert (status, r) == (200, {"received": True, "applied": True, "account": id, "reason": "applied"})
    sub = account(b, id)["subscription"]
    assert sub == {"plan": "pro", "status": "trialing", "period_start": iso(start), "period_end": iso(end),
                   "past_due_since": None, "ended_at": None, "seats": 3}
    assert send(b, event("customer.subscription.trial_will_end", subscription(id, status="trialing", quantity=3),
                         created=T0 + 10))[1]["applied"] is True
    # Earlier API versions: the period on the subscription; a lookup_key maps too.
    p2 = (T0 + 100, T0 + 100 + 30 * 86_400)
    r = send(a, event("customer.subscription.updated",
                      subscription(id, price="price_unknown_id", lookup_key="starter_monthly", shape="subscription",
                                   period=p2), created=T0 + 20))[1]
    assert r["reason"] == "applied"
    sub = account(b, id)["subscription"]
    assert (sub["plan"], sub["status"], sub["period_start"], sub["period_end"], sub["seats"]) == \
        ("starter", "active", iso(p2[0]), iso(p2[1]), 1)
    # The first failed payment starts past_due_since; later failures and the past_due update keep it.
    assert send(b, event("invoice.payment_failed", invoice(id), created=T0 + 30))[1]["applied"] is True
    assert account(a, id)["subscription"]["past_due_since"] == iso(T0 + 30)
    send(a, event("invoice.payment_failed", invoice(id), created=T0 + 40))
    send(a, event("customer.subscription.updated", subscription(id, status="past_due", lookup_key="starter_monthly",
                                                                price="x"), created=T0 + 41))
    sub = account(b, id)["subscription"]
    assert (sub["status"], sub["past_due_since"]) == ("past_due", iso(T0 + 30))
    assert snapshot(a, id, iso(T0 + 50))["subscription"]["live"] is True
    # Paid: no longer past due.
    send(b, event("invoice.paid", invoice(id), created=T0 + 50))
    send(b, event("customer.subscription.updated", subscription(id, lookup_key="starter_monthly", price="x"),
                  created=T0 + 51))
    assert account(a, id)["subscription"]["past_due_since"] is None
    # Paused and resumed (the sample bundle does not list `paused`: locked, with the unknown_status warning).
    send(a, event("customer.subscription.paused", subscription(id, status="paused"), created=T0 + 60))
    assert within_a_second(lambda: snapshot(b, id, iso(T0 + 61))["subscription"]["status"] == "paused")
    assert snapshot(b, id, iso(T0 + 61))["subscription"]["live"] is False
    send(a, event("customer.subscription.resumed", subscription(id), created=T0 + 70))
    assert within_a_second(lambda: snapshot(b, id, iso(T0 + 71))["subscription"]["live"] is True)
    # Deleted: canceled, ended_at from Stripe's, and the sample policy's 30-day read-only window from there.
    ended = T0 + 80
    send(b, event("customer.subscription.deleted", subscription(id, status="canceled", ended_at=ended,
                                                                canceled_at=ended - 5), created=T0 + 81))
    sub = account(a, id)["subscription"]
    assert (sub["status"], sub["ended_at"]) == ("canceled", iso(ended))
    assert within_a_second(lambda: snapshot(a, id, iso(ended + 86_400))["subscription"]["locked_at"] == iso(ended))
    snap = snapshot(a, id, iso(ended + 86_400))
    assert snap["subscription"]["locked_at"] == iso(ended) and snap["facts"]["in_read_only_window"] is True
    assert snapshot(a, id, iso(ended + 31 * 86_400))["facts"]["in_read_only_window"] is False
    # Audit: every applied event, with source stripe and its event id.
    status, _, data = a.request("GET", f"/v1/accounts/{id}/audit?limit=1000", None, ADMIN)
    entries = json.loads(data)["entries"]
    assert all(e["source"] == "stripe" and e["event_id"].startswith("evt_") for e in entries) and len(entries) == 11


# Every price of the sample bundle's mapping (Policies/billing.yaml), by id or by lookup_key.
SAMPLE_PRICES = {PRO_PRICE: "pro", "pro_annual": "pro", "starter_monthly": "starter", "starter_annual": "starter",
                 "free_monthly": "free"}


@pytest.mark.parametrize("price", sorted(SAMPLE_PRICES))
def test_each_price_of_the_sample_mapping(replicas, price):
    a, _ = replicas
    id = fresh()
    by_id = price.startswith("price_")
    s = subscription(id, price=price if by_id else "price_unlisted", lookup_key=None if by_id else price)
    assert send(a, event("customer.subscription.created", s))[1]["reason"] == "applied"
    assert account(a, id)["subscription"]["plan"] == SAMPLE_PRICES[price]
    status, _, data = a.request("GET", "/v1/catalog", None, {"Authorization": "Bearer ck"})
    assert json.loads(data)["billing"]["stripe"]["prices"][price] == SAMPLE_PRICES[price]


def test_an_immediate_cancellation_ends_at_canceled_at_and_unpaid_maps_to_canceled(replicas):
    a, _ = replicas
    id = fresh()
    send(a, event("customer.subscription.created", subscription(id), created=T0))
    send(a, event("customer.subscription.updated", subscription(id, status="canceled", canceled_at=T0 + 5),
                  created=T0 + 6))
    assert account(a, id)["subscription"]["ended_at"] == iso(T0 + 5)
    other = fresh()
    send(a, event("customer.subscription.created", subscription(other), created=T0))
    send(a, event("customer.subscription.updated", subscription(other, status="unpaid"), created=T0 + 9))
    sub = account(a, other)["subscription"]
    # unpaid → canceled (Policies/billing.yaml); no ended_at from Stripe: the write's instant (SPEC §9).
    assert sub["status"] == "canceled" and sub["ended_at"] is not None


# --- ordering, duplicates, outcomes that apply nothing -------------------------------------------------------------

def test_duplicates_and_out_of_order_delivery_change_nothing(replicas):
    a, b = replicas
    id = fresh()
    created = event("customer.subscription.created", subscription(id, quantity=2), created=T0)
    assert send(a, created)[1]["reason"] == "applied"
    # The same delivery again, to either replica: a duplicate, even signed with the other secret.
    assert send(b, created, secret=SECRETS[1])[1] == {"received": True, "applied": False, "account": id,
                                                       "reason": "duplicate"}
    newer = event("customer.subscription.updated", subscription(id, quantity=7), created=T0 + 100)
    older = event("customer.subscription.updated", subscription(id, quantity=5), created=T0 + 50)
    assert send(a, newer)[1]["reason"] == "applied"
    assert send(b, older)[1] == {"received": True, "applied": False, "account": id, "reason": "stale"}
    assert account(a, id)["subscription"]["seats"] == 7
    # Equal `created` applies (Stripe's times are whole seconds).
    same = event("customer.subscription.updated", subscription(id, quantity=8), created=T0 + 100)
    assert send(a, same)[1]["reason"] == "applied"
    status, _, data = a.request("GET", f"/v1/accounts/{id}/audit", None, ADMIN)
    assert len(json.loads(data)["entries"]) == 3


def test_two_replicas_given_the_same_events_at_once_apply_each_once(replicas):
    a, b = replicas
    ids = [fresh() for _ in range(16)]
    events = [event("customer.subscription.created", subscription(i), created=T0) for i in ids]
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda x: send(x[0], x[1]), [(s, e) for e in events for s in (a, b)]))
    assert all(status == 200 for status, _ in results)
    reasons = sorted(r["reason"] for _, r in results)
    assert reasons == ["applied"] * 16 + ["duplicate"] * 16
    for i in ids:
        status, _, data = a.request("GET", f"/v1/accounts/{i}/audit", None, ADMIN)
        assert len(json.loads(data)["entries"]) == 1


def test_outcomes_that_apply_nothing_are_recorded_counted_and_listed(replicas):
    a, b = replicas
    before = metrics(b)
    unmapped = event("customer.subscription.created", subscription(fresh(), price="price_nobody_mapped"))
    no_account = event("customer.subscription.created", subscription(None, customer="cus_never_linked"))
    ignored = copy.deepcopy(FIXTURES["event"])  # Stripe's own fixture event: plan.created
    ignored["id"] = evt_id()
    answers = [send(a, unmapped)[1], send(a, no_account)[1], send(a, ignored)[1]]
    assert [(r["applied"], r["reason"]) for r in answers] == \
        [(False, "unmapped_price"), (False, "no_account_id"), (False, "ignored_type")]
    assert answers[0]["account"] is not None and answers[1]["account"] is None
    for e, outcome in [(unmapped, "unmapped_price"), (no_account, "no_account_id"), (ignored, "ignored_type")]:
        assert e["id"] in [x["event_id"] for x in billing_events(b, outcome)]
        assert e["id"] not in [x["event_id"] for x in billing_events(b, "applied")]
    status, _, data = b.request("GET", "/v1/billing/events?outcome=appplied", None, ADMIN)
    assert status == 400 and "did you mean 'applied'" in json.loads(data)["detail"]
    assert b.request("GET", "/v1/billing/events", None, {"Authorization": "Bearer ck"})[0] == 403
    # Counted in /metrics, on the replica that answered.
    after = metrics(a)
    for outcome in ("unmapped_price", "no_account_id", "ignored_type"):
        assert after[outcome] >= 1
    assert set(before) >= {"applied", "duplicate", "stale", "plan_not_assignable", "invalid_signature"}


def metrics(svc):
    _, _, data = svc.request("GET", "/metrics", None, {})
    out = {}
    for line in data.decode().splitlines():
        if line.startswith("entitlements_billing_events_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            out[outcome] = int(line.rsplit(" ", 1)[1])
    return out


def test_malformed_signed_payloads_are_400_with_detail_never_5xx(replicas):
    a, _ = replicas
    for raw in ["not json", "[]", '{"id": "evt_x"}', '{"id": "evt_x", "type": "invoice.paid", "created": 1}',
                '{"id": "evt_x", "type": "invoice.paid", "created": "yesterday", "data": {"object": {}}}',
                '{"id": 3, "type": "invoice.paid", "created": 1, "data": {"object": {}}}',
                '{"id": "evt_x", "type": "invoice.paid", "created": 1, "data": {"object": []}}']:
        status, r = send(a, None, raw=raw)
        assert status == 400 and r["error"] == "invalid_request" and r["detail"], raw
    # A mapped subscription whose fields have the wrong types still answers (null where unreadable).
    id = fresh()
    s = subscription(id, quantity="many", period=("x", None), status=7)
    status, r = send(a, event("customer.subscription.created", s))
    assert status == 200 and r["applied"] is True
    assert account(a, id)["subscription"]["seats"] is None
    # Over 1 MiB: refused from the head, before the body (or its signature) is read.
    sock = socket.create_connection((a.host, a.port), timeout=10)
    sock.sendall(b"POST /v1/billing/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Stripe-Signature: t=1,v1=00\r\nContent-Length: %d\r\n\r\n" % ((1 << 20) + 1))
    data = sock.recv(65536)
    sock.close()
    assert b" 413 " in data.split(b"\r\n")[0]


# --- linking customers, assignability, the bundle's own mapping ----------------------------------------------------

@pytest.fixture(scope="module")
def linked(db, tmp_path_factory):
    """A bundle that reads account ids from client_reference_id and maps a price to a plan Stripe may not assign."""
    bundle = tmp_path_factory.mktemp("bundle")
    shutil.copytree(POLICIES, bundle, dirs_exist_ok=True)
    text = (bundle / "billing.yaml").read_text()
    text = text.replace("account_id: subscription.metadata.account_id", "account_id: client_reference_id")
    text = text.replace("      free_monthly: free", "      free_monthly: free\n      enterprise_monthly: enterprise")
    (bundle / "billing.yaml").write_text(text)
    s = Service(policies=bundle, env=ENV, store=db.url)
    yield s
    assert s.stop() == 0


def checkout(account, customer):
    c = copy.deepcopy(FIXTURES["checkout.session"])
    c.update({"client_reference_id": account, "customer": customer, "mode": "subscription",
              "subscription": FIXTURES["subscription"]["id"], "status": "complete", "payment_status": "paid"})
    return c


def test_checkout_links_the_customer_and_applies_what_came_before(linked):
    id, customer = fresh(), f"cus_{time.monotonic_ns()}"
    # Stripe often sends the subscription before the checkout: it waits for the link.
    r = send(linked, event("customer.subscription.created", subscription(None, customer=customer, quantity=4),
                           created=T0))[1]
    assert (r["applied"], r["reason"], r["account"]) == (False, "no_account_id", None)
    assert account(linked, id) is None
    r = send(linked, event("checkout.session.completed", checkout(id, customer), created=T0 + 1))[1]
    assert (r["applied"], r["account"]) == (True, id)
    sub = account(linked, id)["subscription"]
    assert (sub["plan"], sub["status"], sub["seats"]) == ("pro", "active", 4), (account(linked, id), billing_events(linked)[:3])
    # Later events find the account through the customer, invoices included.
    send(linked, event("invoice.payment_failed", invoice(None, customer=customer), created=T0 + 5))
    assert account(linked, id)["subscription"]["past_due_since"] == iso(T0 + 5)
    # A self-serve downgrade to free is assignable via stripe; enterprise is not.
    r = send(linked, event("customer.subscription.updated",
                           subscription(None, customer=customer, price="x", lookup_key="free_monthly"),
                           created=T0 + 10))[1]
    assert r["reason"] == "applied" and account(linked, id)["subscription"]["plan"] == "free"
    r = send(linked, event("customer.subscription.updated",
                           subscription(None, customer=customer, price="x", lookup_key="enterprise_monthly"),
                           created=T0 + 20))[1]
    assert (r["applied"], r["reason"]) == (False, "plan_not_assignable")
    assert account(linked, id)["subscription"]["plan"] == "free"


def test_the_catalog_shows_the_mapping(replicas):
    a, _ = replicas
    status, _, data = a.request("GET", "/v1/catalog", None, {"Authorization": "Bearer ck"})
    catalog = json.loads(data)
    stripe_section = catalog["billing"]["stripe"]
    assert stripe_section["account_id"] == "subscription.metadata.account_id"
    assert stripe_section["prices"][PRO_PRICE] == "pro"
    plans = {p["key"]: p for p in catalog["plans"]}
    assert PRO_PRICE in plans["pro"]["stripe_prices"] and plans["enterprise"]["stripe_prices"] == []


# --- durability ---------------------------------------------------------------------------------------------------

def test_store_down_is_503_so_stripe_retries(db):
    s = Service(env=ENV, store=db.url)
    try:
        id = fresh()
        e = event("customer.subscription.created", subscription(id))
        db.stop(mode="fast")
        status, r = send(s, e)
        assert status == 503 and r["error"] == "store_unavailable"
        db.start()
        assert send(s, e)[1]["reason"] == "applied"  # Stripe's retry applies it
    finally:
        assert s.stop() == 0


def test_kill_9_during_a_burst_loses_no_acknowledged_event(db):
    s = Service(env=ENV, store=db.url)
    run = time.monotonic_ns()

    def deliver(n, i):
        status, r = send(s, event("customer.subscription.created", subscription(f"burst_{run}_{n}_{i}")))
        return status == 200 and r["applied"]

    acked = [f"burst_{run}_{n}_{i}" for n, i in kill_9_during_a_burst(s, deliver, senders=8, seconds=1.5)]
    assert len(acked) > 10
    s2 = Service(env=ENV, store=db.url)
    try:
        for id in acked:
            assert account(s2, id)["subscription"]["plan"] == "pro", id
    finally:
        assert s2.stop() == 0


# --- replay -------------------------------------------------------------------------------------------------------

def test_billing_replay_dry_run_then_apply(db, tmp_path):
    id = fresh()
    lines = [event("customer.subscription.created", subscription(id, quantity=2), created=T0),
             event("customer.subscription.updated", subscription(id, quantity=6), created=T0 + 10),
             event("customer.subscription.updated", subscription(id, quantity=1), created=T0 + 5),
             event("customer.subscription.created", subscription(fresh(), price="nobody"), created=T0)]
    lines.append(lines[0])  # exported twice: a duplicate
    f = tmp_path / "events.jsonl"
    f.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    run = lambda *extra: subprocess.run([str(BIN), "billing", "replay", str(f), str(POLICIES), "--database-url",
                                         db.url, *extra], capture_output=True, text=True, timeout=60)
    dry = run("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert id in dry.stdout and "seats: null → 2" in dry.stdout and "duplicate" in dry.stdout, dry.stdout
    assert "unmapped_price" in dry.stdout
    s = Service(env=ENV, store=db.url)
    try:
        assert account(s, id) is None  # the dry run changed nothing
        done = run()
        assert done.returncode == 0, done.stderr
        assert account(s, id)["subscription"]["seats"] == 6
        again = run()
        assert "duplicate" in again.stdout and account(s, id)["subscription"]["seats"] == 6
    finally:
        assert s.stop() == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "evt_1"}\nnot json\n')
    r = subprocess.run([str(BIN), "billing", "replay", str(bad), str(POLICIES), "--database-url", db.url,
                        "--dry-run"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "bad.jsonl:1" in r.stderr and "bad.jsonl:2" in r.stderr


# --- migration ----------------------------------------------------------------------------------------------------

def test_the_previous_release_database_is_migrated_in_place():
    """A database as the previous release left it (schema version 1, subscriptions stored without ended_at) gains
    the billing tables at start-up and keeps every account."""
    from pg import Postgres
    pg = Postgres()
    try:
        s = Service(env=ENV, store=pg.url)
        assert s.stop() == 0
        # Back to version 1: no billing tables, an account written before ended_at existed.
        pg.psql("entitlements", "DROP TABLE ent_billing_events; DROP TABLE ent_stripe_customers; "
                                "DELETE FROM ent_schema WHERE version > 1")
        pg.psql("entitlements", """INSERT INTO ent_accounts (account_id, subscription, attributes, created_at, updated_at)
          VALUES ('old_1', '{"plan":"pro","status":"active","period_start":null,"period_end":null,"past_due_since":null,"seats":3}',
          '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')""")
        s = Service(env=ENV, store=pg.url)
        try:
            assert account(s, "old_1")["subscription"] == {
                "plan": "pro", "status": "active", "period_start": None, "period_end": None, "past_due_since": None,
                "ended_at": None, "seats": 3}
            r = send(s, event("customer.subscription.deleted",
                              subscription("old_1", status="canceled", ended_at=T0), created=T0))[1]
            assert r["reason"] == "applied" and account(s, "old_1")["subscription"]["ended_at"] == iso(T0)
            # Every migration since ran once (issue 24's usage migration follows the billing one).
            assert pg.psql("entitlements", "SELECT max(version) >= 2 AND count(*) = max(version) "
                                           "FROM ent_schema") == "t"
        finally:
            assert s.stop() == 0
    finally:
        pg.close()
