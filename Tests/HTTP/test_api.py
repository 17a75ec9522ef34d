"""Every endpoint and the error rules of SPEC §6.5 against the running binary."""
import json
import socket

import pytest

from conftest import PRO, VERIFIED, check_body


def test_health_ready_metrics(svc):
    assert svc.json("GET", "/healthz")[0] == 200
    status, _, body = svc.json("GET", "/readyz")
    assert status == 200 and body["status"] == "ready"
    status, headers, data = svc.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    text = data.decode()
    for name in ["entitlements_http_requests_total", "entitlements_decisions_total", "entitlements_request_duration_seconds_bucket",
                 "entitlements_policy_info", "entitlements_policy_reload_failures_total", "entitlements_cache_hit_ratio",
                 "entitlements_store_errors_total", "entitlements_policy_loaded_timestamp_seconds"]:
        assert name in text


def test_check_answers_in_order(svc):
    status, _, body = svc.json("POST", "/v1/check", check_body(
        {"feature": "psa_integration"}, {"feature": "max_trees", "usage": 25}, {"route": "GET /api/v1/trees"},
        {"flag": "editor_version"}, user=VERIFIED))
    assert status == 200
    assert body["now"] == "2026-05-10T12:00:00Z"
    _, _, policy = svc.json("GET", "/v1/policy")
    assert body["policy"] == policy["digest"]
    r = body["results"]
    assert r[0] == {"allowed": True, "reason": "plan", "value": True}
    assert r[1]["allowed"] is False and r[1]["error"] == "limit_exceeded" and r[1]["status"] == 402
    assert r[2] == {"allowed": True, "reason": "guards_passed"}
    assert r[3]["value"] == "classic"


def test_keep_alive(svc):
    c = svc.conn()
    for _ in range(20):
        status, _, _ = svc.request("POST", "/v1/check", check_body({"feature": "sso"}), conn=c)
        assert status == 200
    c.close()


@pytest.mark.parametrize("raw", [
    b"{", b"[]", b"\"x\"", b"null", b"\xef\xbb\xbf{}", b'{"checks":[{"feature":"sso"}],"checks":[]}',
    b'{"account":{"id":"\xc3\x28"},"checks":[{"feature":"sso"}]}', b'{"account":{},"checks":[{"feature":"\\ud800"}]}',
    b'{"account":{},"checks":[]}', b'{"account":{}}', b'{"account":{},"checks":{}}', b'{"account":3,"checks":[{"flag":"x"}]}',
    b'{"account":{},"checks":[{"flag":"x"}],"bogus":1}', b'{"account":{},"now":"yesterday","checks":[{"flag":"x"}]}',
    b'{"account":{},"explain":"yes","checks":[{"flag":"x"}]}', b'{"account":{},"user":[],"checks":[{"flag":"x"}]}',
    b'{"account":{"overrides":[{"feature":"sso","value":true},{"feature":"sso","value":false}]},"checks":[{"flag":"x"}]}',
    b'{"account":{},"x":' + b"[" * 65 + b"]" * 65 + b',"checks":[{"flag":"x"}]}',
    b'{"account":{},"checks":[' + b",".join([b'{"feature":"sso"}'] * 101) + b"]}",
    b"", b"\x00\x01\x02", b'{"account":{}, "checks":[{"feature":"sso"}]} trailing',
])
def test_request_level_errors_are_400(svc, raw):
    status, _, data = svc.request("POST", "/v1/check", raw, {"Content-Type": "application/json"})
    assert status == 400, data
    body = json.loads(data)
    assert body["error"] == "invalid_request" and body["detail"]


def test_error_path_names_the_field(svc):
    _, _, body = svc.json("POST", "/v1/check", {"account": {"subscription": {"plan": "pro", "status": "active", "seats": -1}},
                                                 "checks": [{"feature": "sso"}]})
    assert body["path"] == "account.subscription.seats"


@pytest.mark.parametrize("number", ["1e2", "2.0", "18446744073709551616", "1e400", "9" * 100000, "-1", "0.5"])
def test_bad_numbers_are_check_level(svc, number):
    raw = '{"account":{"subscription":{"plan":"pro","status":"active"}},"checks":[{"feature":"max_trees","usage":%s},{"feature":"sso"}]}' % number
    status, _, data = svc.request("POST", "/v1/check", raw, {"Content-Type": "application/json"})
    assert status == 200
    r = json.loads(data)["results"]
    assert r[0] == {"allowed": False, "error": "invalid_request", "status": 400, "detail": r[0]["detail"], "path": "checks[0].usage"}
    assert r[1]["error"] == "feature_not_in_plan"


def test_check_level_errors(svc):
    _, _, body = svc.json("POST", "/v1/check", check_body({"feature": "nope"}, {"feature": "nope", "bogus": 1}, 3,
                                                           {"route": "GET /a/%2F"}, {"feature": "export_formats", "value": "docx"}))
    r = body["results"]
    assert r[0]["error"] == "unknown_feature" and r[0]["path"] == "checks[0].feature"
    assert r[1]["error"] == "invalid_request" and r[1]["path"] == "checks[1].bogus"
    assert r[2]["error"] == "invalid_request" and r[2]["path"] == "checks[2]"
    assert r[3]["error"] == "invalid_path" and r[3]["status"] == 400
    assert r[4]["error"] == "invalid_request" and r[4]["path"] == "checks[4].value"


@pytest.mark.parametrize("ctype,expected", [
    (None, 415), ("text/plain", 415), ("application/json; charset=latin1", 415), ("application/x-www-form-urlencoded", 415),
    ("application/json", 200), ("application/json; charset=utf-8", 200), ("Application/JSON; charset=\"UTF-8\"", 200),
])
def test_content_type(svc, ctype, expected):
    headers = {"Content-Type": ctype} if ctype else {}
    status, _, data = svc.request("POST", "/v1/check", json.dumps(check_body({"feature": "sso"})), headers)
    assert status == expected
    if expected == 415:
        assert json.loads(data)["error"] == "unsupported_media_type"


def test_payload_too_large(svc):
    # A declared length over 1 MiB is refused before the body is read: send the headers, read the answer.
    s = socket.create_connection((svc.host, svc.port), timeout=10)
    s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % ((1 << 20) + 1))
    data = s.recv(65536)
    s.close()
    assert b" 413 " in data.split(b"\r\n")[0]
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["error"] == "payload_too_large"
    # exactly 1 MiB is accepted (it is then judged as JSON)
    body = b'{"account":{},"checks":[{"feature":"sso"}],"x":"'
    body += b"a" * ((1 << 20) - len(body) - 2) + b'"}'
    assert len(body) == 1 << 20
    status, _, data = svc.request("POST", "/v1/check", body, {"Content-Type": "application/json"})
    assert status == 400 and json.loads(data)["path"] == "x"


def test_chunked_body_over_the_cap(svc):
    s = socket.create_connection((svc.host, svc.port), timeout=10)
    s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"a" * 65536
    try:
        for _ in range(20):
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = s.recv(65536)
    s.close()
    assert b" 413 " in data.split(b"\r\n")[0]


def test_not_found_and_method_not_allowed(svc):
    status, _, body = svc.json("GET", "/v2/nothing")
    assert status == 404 and body["error"] == "not_found"
    status, headers, body = svc.json("GET", "/v1/check")
    assert status == 405 and body["error"] == "method_not_allowed" and headers["Allow"] == "POST"
    status, headers, _ = svc.json("DELETE", "/v1/catalog")
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_account_ids_need_the_store(svc):
    status, _, body = svc.json("POST", "/v1/check", {"account": "acc_1", "checks": [{"feature": "sso"}]})
    assert status == 503 and body["error"] == "store_unavailable"
    status, _, body = svc.json("POST", "/v1/entitlements", {"account": "acc_1"})
    assert status == 503 and body["error"] == "store_unavailable"


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/accounts"), ("GET", "/v1/accounts/acc_1"), ("PUT", "/v1/accounts/acc_1"), ("DELETE", "/v1/accounts/acc_1"),
    ("GET", "/v1/accounts/acc_1/entitlements"), ("POST", "/v1/accounts/acc_1/trial"),
    ("PUT", "/v1/accounts/acc_1/overrides/sso"), ("DELETE", "/v1/accounts/acc_1/overrides/sso"),
    ("GET", "/v1/accounts/acc_1/audit"), ("GET", "/v1/accounts/acc_1/usage/max_trees"), ("POST", "/v1/accounts/acc_1/usage/max_trees"),
])
def test_account_state_endpoints_are_503_stateless(svc, method, path):
    status, _, body = svc.json(method, path, {} if method in ("PUT", "POST") else None)
    assert status == 503 and body["error"] == "store_unavailable"


def test_snapshot(svc):
    status, _, body = svc.json("POST", "/v1/entitlements", {
        "account": {"id": "acc_1", "subscription": {"plan": "pro", "status": "trialing",
                                                     "period_start": "2026-05-07T12:00:00Z", "period_end": "2026-05-21T12:00:00Z"}},
        "now": "2026-05-19T12:00:00Z"})
    assert status == 200
    assert body["account"] == "acc_1"
    assert body["subscription"]["stage"] == "warning" and body["subscription"]["days_remaining"] == 2
    assert body["features"]["psa_integration"] == {"value": True, "source": "plan:pro"}
    assert body["facts"]["has_pro_entitlement"] is True
    assert "self_serve_enabled" in body["flags"]


def test_catalog(svc):
    status, _, body = svc.json("GET", "/v1/catalog")
    assert status == 200
    plans = {p["key"]: p for p in body["plans"]}
    assert [p["key"] for p in body["plans"]] == ["free", "starter", "pro", "enterprise"]
    assert plans["pro"]["aliases"] == ["team"] and plans["pro"]["extends"] == "starter"
    assert plans["enterprise"]["grants"]["max_trees"] == "unlimited"
    assert plans["starter"]["grants"]["export_formats"] == ["markdown", "text", "html"]
    assert plans["pro"]["price"] == {"monthly_cents": 9900, "annual_cents": 99000, "currency": "USD"}
    features = {f["key"]: f for f in body["features"]}
    assert features["export_formats"]["values"] == ["markdown", "text", "html", "pdf"]
    assert features["monthly_sessions"]["period"] == "month"


def test_policy_info(svc):
    status, _, body = svc.json("GET", "/v1/policy")
    assert status == 200
    assert len(body["digest"]) == 64 and body["last_reload_error"] is None
    assert "plans.yaml" in body["files"] and body["loaded_at"].endswith("Z")


def test_route_attacks_over_http(svc):
    canceled = {"subscription": {"plan": "pro", "status": "canceled"}}
    _, _, body = svc.json("POST", "/v1/check", check_body(
        {"route": "GET /api/v1/billing/../trees"}, {"route": "GET /api/v1/billing/%2e%2e/trees"},
        {"route": "GET /api/v1/billing%2F..%2Ftrees"}, {"route": "GET /api/v1/billing/..\\trees"},
        {"route": "GET /api/v1/billing/%00"}, {"route": "GET /../x"}, {"route": "GET /api/v1/billing/state"},
        account=canceled, user=VERIFIED))
    errors = [r.get("error") for r in body["results"]]
    assert errors == ["subscription_inactive", "subscription_inactive", "invalid_path", "invalid_path", "invalid_path",
                      "invalid_path", None]


def test_fixtures_over_http_check_the_served_bundle(svc, tmp_path):
    import shutil
    import subprocess

    from conftest import BIN, POLICIES

    url = f"http://{svc.host}:{svc.port}"
    same = subprocess.run([str(BIN), "test", str(POLICIES), "--http", url], capture_output=True, text=True)
    assert same.returncode == 0 and same.stdout.endswith(" failed\n"), same.stderr
    # A local bundle that differs from what the service serves: one error naming both digests, no cases run.
    bundle = tmp_path / "bundle"
    shutil.copytree(POLICIES, bundle)
    (bundle / "plans.yaml").write_text((bundle / "plans.yaml").read_text() + "# edited\n")
    other = subprocess.run([str(BIN), "test", str(bundle), "--http", url], capture_output=True, text=True)
    assert other.returncode == 1 and other.stdout == ""
    assert "serves bundle" in other.stderr and "--ignore-digest" in other.stderr, other.stderr
    forced = subprocess.run(
        [str(BIN), "test", str(bundle), "--http", url, "--ignore-digest"], capture_output=True, text=True)
    assert forced.returncode == 0 and forced.stdout.endswith(" passed, 0 failed\n"), forced.stdout[-500:]
