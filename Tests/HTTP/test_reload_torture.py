"""Reloads meet the cache and writes (SPEC §7 "Policy reloads"): two replicas on one real PostgreSQL, each reloading
its own bundle over and over across three variants that reorder plans, features and statuses and change grants and
periods, while worker threads write account state, overrides and usage and ask about their accounts by id. Every
by-id answer must equal the inline answer for the same stored state under the same `policy` digest, and both
processes must stay up. (Before the cache keyed its entries by a program serial, a freed program's address was
reused by a later one and cached accounts were answered with the old program's plan and feature indexes: wrong
entitlements, then a crash.) Bounded: about 25 seconds."""
import json
import random
import threading
import time
from pathlib import Path
from string import Template

import pytest

from conftest import Service
from test_store import ADMIN, CHECK, KEYS, call, fresh, q

FEATURES = {
    "psa_integration": "psa_integration: { type: boolean }",
    "sso": "sso: { type: boolean }",
    "max_trees": "max_trees: { type: limit, default: 0 }",
    "monthly_sessions": "monthly_sessions: { type: limit, period: $period }",
    "export_formats": "export_formats: { type: set, values: [markdown, text, html, pdf] }",
}
PLANS = {
    "free": "free: { grants: { max_trees: 3, monthly_sessions: 20, export_formats: [markdown] } }",
    "starter": "starter: { extends: free, grants: { max_trees: 10, export_formats: [markdown, text] } }",
    "pro": "pro: { extends: starter, aliases: [team], grants: { psa_integration: true, max_trees: $pro_trees, "
           "monthly_sessions: 200, export_formats: [markdown, text, html] } }",
    "enterprise": "enterprise: { extends: pro, grants: { sso: true, max_trees: unlimited, monthly_sessions: unlimited } }",
}
STATUSES = {
    "active": 'active: { live: true }',
    "trialing": 'trialing: { live: "now < subscription.period_end" }',
    "past_due": 'past_due: { live: $past_due }',
    "canceled": 'canceled: { live: false }',
}
# Each variant: the order of features, plans and statuses, and values that change.
VARIANTS = [
    dict(features=list(FEATURES), plans=list(PLANS), statuses=list(STATUSES), period="month", pro_trees=25,
         past_due="true"),
    dict(features=list(reversed(FEATURES)), plans=list(reversed(PLANS)), statuses=list(reversed(STATUSES)),
         period="24h", pro_trees=40, past_due="false"),
    dict(features=["max_trees", "export_formats", "psa_integration", "monthly_sessions", "sso"],
         plans=["pro", "free", "enterprise", "starter"], statuses=["canceled", "active", "past_due", "trialing"],
         period="none", pro_trees=30, past_due="true"),
]


def bundle(v):
    def fill(text):
        return Template(text).substitute(v)
    lines = ["features:"]
    lines += ["  " + fill(FEATURES[f]) for f in v["features"]]
    lines += ["plans:"] + ["  " + fill(PLANS[p]) for p in v["plans"]]
    lines += ["subscription:", "  statuses:"] + ["    " + fill(STATUSES[s]) for s in v["statuses"]]
    lines += ["flags:", "  beta:", "    type: boolean", "    default: false", "    rules:",
              '      - when: subscription.plan == "pro"', "        value: true"]
    return "\n".join(lines) + "\n"


def write_variant(directory, v):
    tmp = directory / ".policy.yaml.tmp"
    tmp.write_text(bundle(v))
    tmp.rename(directory / "policy.yaml")


CHECKS = [
    {"feature": "psa_integration"}, {"feature": "sso"}, {"feature": "max_trees"}, {"feature": "monthly_sessions"},
    {"feature": "export_formats", "value": "html"}, {"flag": "beta"},
]
PLAN_CHOICES = ["free", "starter", "pro", "team", "enterprise"]
STATUS_CHOICES = ["active", "trialing", "past_due", "canceled"]


class Model:
    """What one worker knows it stored for one account."""

    def __init__(self, id):
        self.id = id
        self.subscription = None
        self.overrides = {}
        self.used = {"max_trees": 0, "monthly_sessions": 0}

    def inline(self):
        overrides = [{"feature": f, "value": v} for f, v in sorted(self.overrides.items())]
        return {"id": self.id, "subscription": self.subscription, "overrides": overrides}


@pytest.fixture(scope="module")
def torture(db, tmp_path_factory):
    dirs = []
    for i in range(2):
        d = Path(tmp_path_factory.mktemp(f"bundle{i}"))
        write_variant(d, VARIANTS[0])
        dirs.append(d)
    replicas = [Service(policies=d, env=KEYS, store=db.url, args=("--no-watch",)) for d in dirs]
    yield replicas, dirs
    for s in replicas:
        assert s.proc.poll() is None, "a replica died:\n" + s.log()[-3000:]
        assert s.stop() == 0


def test_by_id_answers_equal_inline_answers_through_reloads_and_writes(torture):
    replicas, dirs = torture
    stop = threading.Event()
    deadline = time.monotonic() + 22
    problems, compared, digests, reloads = [], [0], set(), [0]
    lock = threading.Lock()

    def note(msg):
        with lock:
            if len(problems) < 20:
                problems.append(msg)

    def reloader(i):
        rnd = random.Random(i)
        svc, d = replicas[i], dirs[i]
        while not stop.is_set():
            write_variant(d, VARIANTS[rnd.randrange(len(VARIANTS))])
            status, body = call(svc, "POST", "/v1/policy/reload", None, ADMIN)
            if status != 200:
                note(f"reload on replica {i}: {status} {body}")
            with lock:
                reloads[0] += 1
            time.sleep(rnd.uniform(0, 0.02))

    def pair(svc, m, now):
        """One by-id and one inline check under the same digest (retried when a reload came between them)."""
        for _ in range(8):
            s1, by_id = call(svc, "POST", "/v1/check", {"account": m.id, "now": now, "checks": CHECKS}, CHECK)
            inline_checks = [dict(c, usage=m.used[c["feature"]]) if c.get("feature") in m.used else c for c in CHECKS]
            s2, inline = call(svc, "POST", "/v1/check", {"account": m.inline(), "now": now, "checks": inline_checks},
                              CHECK)
            if s1 != 200 or s2 != 200:
                note(f"{m.id}: statuses {s1} {s2}: {by_id} {inline}")
                return
            if by_id["policy"] != inline["policy"]:
                continue
            with lock:
                compared[0] += 1
                digests.add(by_id["policy"])
            if by_id != inline:
                note(f"{m.id} under {by_id['policy'][:12]}: by id {json.dumps(by_id['results'])}"
                     f" != inline {json.dumps(inline['results'])} (stored {json.dumps(m.inline())})")
            return

    def worker(w):
        rnd = random.Random(100 + w)
        models = [Model(fresh(f"tort{w}")) for _ in range(3)]
        n = 0
        while time.monotonic() < deadline and not stop.is_set():
            m = rnd.choice(models)
            svc = replicas[rnd.randrange(2)]
            op = rnd.random()
            if op < 0.4 or m.subscription is None:
                sub = {"plan": rnd.choice(PLAN_CHOICES), "status": rnd.choice(STATUS_CHOICES),
                       "period_start": "2026-01-01T00:00:00Z", "period_end": "2099-01-01T00:00:00Z"}
                status, body = call(svc, "PUT", f"/v1/accounts/{q(m.id)}", {"source": "admin", "subscription": sub})
                if status not in (200, 201):
                    note(f"put {m.id}: {status} {body}")
                    continue
                m.subscription = sub
            elif op < 0.6:
                f, v = rnd.choice([("psa_integration", True), ("sso", False), ("max_trees", 7)])
                status, body = call(svc, "PUT", f"/v1/accounts/{q(m.id)}/overrides/{f}",
                                    {"value": v, "reason": "torture", "actor": "test"})
                if status not in (200, 201):
                    note(f"override {m.id}: {status} {body}")
                    continue
                m.overrides[f] = v
            elif op < 0.7 and m.overrides:
                f = rnd.choice(sorted(m.overrides))
                status, body = call(svc, "DELETE", f"/v1/accounts/{q(m.id)}/overrides/{f}",
                                    {"reason": "torture", "actor": "test"})
                if status != 200:
                    note(f"delete override {m.id}: {status} {body}")
                    continue
                del m.overrides[f]
            else:
                f = rnd.choice(["max_trees", "monthly_sessions"])
                n += 1
                status, body = call(svc, "POST", f"/v1/accounts/{q(m.id)}/usage/{f}",
                                    {"amount": 1, "idempotency_key": f"{m.id}-{n}"})
                if status != 200:
                    note(f"usage {m.id}: {status} {body}")
                    continue
                if body.get("allowed"):
                    m.used[f] += 1
            # Ask the replica that took the write (the other one sees it within 1 s, which is not what this tests).
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
            pair(svc, m, now)

    threads = [threading.Thread(target=reloader, args=(i,)) for i in range(2)]
    threads += [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads[2:]:
        t.join()
    stop.set()
    for t in threads[:2]:
        t.join()
    for i, s in enumerate(replicas):
        assert s.proc.poll() is None, f"replica {i} died:\n" + s.log()[-3000:]
    assert not problems, "\n".join(problems)
    assert reloads[0] >= 100, f"only {reloads[0]} reloads"
    assert compared[0] >= 200, f"only {compared[0]} comparisons"
    assert len(digests) == len(VARIANTS), f"answers came from {len(digests)} of {len(VARIANTS)} variants"
