"""Limits that follow the subscription (SPEC §2.3): a plan grants a limit from a subscription field, or a small
integer expression over it, type-checked at compile time; at evaluation a null operand gives the feature's
default. Tried as a new user would: a per-seat business plan, validated, decided, in the catalog and in `diff`."""
import json
import os
import shutil
import subprocess

from conftest import POLICIES, Service

BIN = os.environ.get("ENTITLEMENTS_BIN", "entitlements")

BUSINESS = """plans:
  business:
    extends: pro
    assignable_via: [checkout, admin, billing_sync]
    grants: { seats: subscription.seats, max_trees: subscription.seats + 5 }
"""


def bundle(tmp_path, extra):
    b = tmp_path / "bundle"
    shutil.copytree(POLICIES, b)
    shutil.rmtree(b / "tests")
    (b / "business.yaml").write_text(extra)
    return b


def cli(*args):
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_a_per_seat_plan_decides_from_the_subscription(tmp_path):
    b = bundle(tmp_path, BUSINESS)
    assert cli("validate", b)[0] == 0
    s = Service(policies=b)
    try:
        def check(seats, *checks):
            sub = {"plan": "business", "status": "active"}
            if seats is not None:
                sub["seats"] = seats
            body = {"account": {"id": "a", "subscription": sub}, "checks": list(checks)}
            status, _, data = s.request("POST", "/v1/check", body)
            assert status == 200, data
            return json.loads(data)["results"]

        r = check(12, {"feature": "seats", "usage": 11}, {"feature": "seats", "usage": 12},
                  {"feature": "max_trees", "usage": 16})
        assert [(x["allowed"], x["limit"], x.get("remaining")) for x in r] == [(True, 12, 0), (False, 12, 0),
                                                                               (True, 17, 0)]
        assert r[0]["reason"] == "plan"
        # No seats stored: each feature's default (seats 1, max_trees 0).
        r = check(None, {"feature": "seats"}, {"feature": "max_trees"})
        assert [(x["allowed"], x["limit"]) for x in r] == [(True, 1), (False, 0)]
        # The snapshot names the plan; the catalog shows the expression.
        status, _, data = s.request("POST", "/v1/entitlements",
                                    {"account": {"id": "a", "subscription": {"plan": "business", "status": "active",
                                                                              "seats": 3}}})
        features = json.loads(data)["features"]
        assert features["seats"] == {"value": 3, "source": "plan:business"}
        assert features["max_trees"] == {"value": 8, "source": "plan:business"}
        status, _, data = s.request("GET", "/v1/catalog")
        plan = next(p for p in json.loads(data)["plans"] if p["key"] == "business")
        assert plan["grants"]["seats"] == "subscription.seats"
        assert plan["grants"]["max_trees"] == "subscription.seats + 5"
    finally:
        assert s.stop() == 0


def test_expression_grants_are_type_checked_at_compile_time(tmp_path):
    for grant, code in [("subscription.status", "type_mismatch"), ('subscription.seats + "x"', "type_mismatch"),
                        ("subscription.seats + account.attributes.n", "name_not_allowed"), ("user.email", "name_not_allowed"),
                        ("subscription.live", "name_not_allowed"), ("subscription.sets", "unknown_name"),
                        ('limit("seats")', "name_not_allowed"), ("subscription.seats +", "expr_syntax")]:
        b = bundle(tmp_path / code / str(abs(hash(grant))), BUSINESS.replace("subscription.seats + 5", grant))
        rc, out = cli("validate", b)
        assert rc == 1 and f"[{code}]" in out and "plans.business.grants.max_trees" in out, (grant, out)


def test_diff_shows_an_expression_grant(tmp_path):
    old = bundle(tmp_path / "old", BUSINESS.replace("subscription.seats + 5", "10"))
    new = bundle(tmp_path / "new", BUSINESS)
    rc, out = cli("diff", old, new)
    assert "subscription.seats + 5" in out, out
