"""OFREP through the stock OpenFeature Python SDK and its OFREP provider, plus the raw protocol."""
import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

ACTIVE_PRO = {"subscription": {"plan": "pro", "status": "active"}}


@pytest.fixture(scope="module")
def client(svc):
    api.set_provider(OFREPProvider(base_url=f"http://{svc.host}:{svc.port}"))
    yield api.get_client()
    api.shutdown()


def ctx(key, account=ACTIVE_PRO, **attrs):
    a = dict(attrs)
    if account is not None:
        a["account"] = account
    return EvaluationContext(targeting_key=key, attributes=a)


def test_boolean_flag_rollout(client):
    d = client.get_boolean_details("self_serve_enabled", False, ctx("acc_27"))
    assert d.value is True and d.reason == Reason.TARGETING_MATCH and d.error_code is None
    d = client.get_boolean_details("self_serve_enabled", True, ctx("acc_1"))
    assert d.value is False and d.reason == Reason.STATIC


def test_user_context_reaches_rules(client):
    d = client.get_string_details("editor_version", "x", ctx("acc_1", email="ops@example.com", created_at="2026-04-01T00:00:00Z"))
    assert d.value == "next"
    assert client.get_string_value("editor_version", "x", ctx("acc_1")) == "classic"


def test_integer_flag(client):
    assert client.get_integer_value("session_page_size", 0, ctx("e1", {"subscription": {"plan": "enterprise", "status": "active"}})) == 100


def test_features(client):
    assert client.get_boolean_value("psa_integration", False, ctx("acc_1")) is True
    assert client.get_integer_value("max_trees", 0, ctx("acc_1")) == 25
    assert client.get_integer_value("max_trees", 0, ctx("e1", {"subscription": {"plan": "enterprise", "status": "active"}})) == -1
    formats = client.get_object_value("export_formats", {}, ctx("s1", {"subscription": {"plan": "starter", "status": "active"}}))
    assert formats == {"values": ["markdown", "text", "html"]}


def test_feature_off_by_plan_names_the_denial(client):
    d = client.get_boolean_details("sso", True, ctx("acc_1"))
    assert d.value is False and d.reason == Reason.TARGETING_MATCH and d.flag_metadata["denial"] == "feature_not_in_plan"
    assert "denial" not in client.get_boolean_details("psa_integration", False, ctx("acc_1")).flag_metadata


def test_locked_feature_is_disabled(client):
    d = client.get_boolean_details("psa_integration", True, ctx("c1", {"subscription": {"plan": "pro", "status": "canceled"}}))
    assert d.value is False and d.reason == Reason.DISABLED and d.flag_metadata["denial"] == "subscription_inactive"
    d = client.get_integer_details("max_trees", 7, ctx("n1", {}))
    assert d.value == 0 and d.reason == Reason.DISABLED and d.flag_metadata["denial"] == "no_subscription"


def test_errors_through_the_sdk(client):
    d = client.get_boolean_details("no_such_flag", True, ctx("acc_1"))
    assert d.value is True and d.error_code == ErrorCode.FLAG_NOT_FOUND
    d = client.get_boolean_details("psa_integration", True, EvaluationContext(attributes={"account": ACTIVE_PRO}))
    assert d.error_code == ErrorCode.TARGETING_KEY_MISSING
    d = client.get_boolean_details("psa_integration", True, ctx("acc_1", account=None))
    assert d.error_code == ErrorCode.INVALID_CONTEXT
    d = client.get_boolean_details("psa_integration", True, ctx("acc_1", {"id": "other", **ACTIVE_PRO}))
    assert d.error_code == ErrorCode.INVALID_CONTEXT
    d = client.get_string_details("self_serve_enabled", "x", ctx("acc_1"))  # a boolean flag asked as a string
    assert d.value == "x" and d.error_code == ErrorCode.TYPE_MISMATCH


def test_raw_protocol_order(svc):
    # Unknown key before anything else, even an unparsable body.
    status, _, body = svc.request("POST", "/ofrep/v1/evaluate/flags/nope", b"{", {"Content-Type": "application/json"})
    assert status == 404 and b"FLAG_NOT_FOUND" in body
    status, _, body = svc.json("POST", "/ofrep/v1/evaluate/flags/sso", b"{", {"Content-Type": "application/json"})
    assert status == 400 and body["errorCode"] == "PARSE_ERROR" and body["key"] == "sso"
    status, _, body = svc.json("POST", "/ofrep/v1/evaluate/flags/sso", {"context": {}})
    assert status == 400 and body["errorCode"] == "TARGETING_KEY_MISSING"
    status, _, body = svc.json("POST", "/ofrep/v1/evaluate/flags/sso", {"context": {"targetingKey": "a", "account": 3}})
    assert status == 400 and body["errorCode"] == "INVALID_CONTEXT"


def test_bulk_lists_everything_with_etag(svc):
    body = {"context": {"targetingKey": "acc_1", "account": ACTIVE_PRO}}
    status, headers, data = svc.json("POST", "/ofrep/v1/evaluate/flags", body)
    assert status == 200
    keys = [f["key"] for f in data["flags"]]
    assert "self_serve_enabled" in keys and "psa_integration" in keys and "export_formats" in keys
    assert all("reason" in f and "variant" in f for f in data["flags"])
    etag = headers["ETag"]
    status, headers2, raw = svc.request("POST", "/ofrep/v1/evaluate/flags", body, {"If-None-Match": etag})
    assert status == 304 and raw == b"" and headers2["ETag"] == etag
    body["context"]["account"] = {"subscription": {"plan": "free", "status": "active"}}
    assert svc.request("POST", "/ofrep/v1/evaluate/flags", body, {"If-None-Match": etag})[0] == 200


def test_configuration(svc):
    status, headers, body = svc.json("GET", "/ofrep/v1/configuration")
    assert status == 200 and body["name"] == "entitlements"
    assert svc.request("GET", "/ofrep/v1/configuration", None, {"If-None-Match": headers["ETag"]})[0] == 304


def test_the_stock_provider_sends_the_bearer_key_through_headers_factory():
    """With auth on, the Python OFREP provider passes the key with `headers_factory` (docs/API.md shows it); without
    it the evaluation fails and the caller's default is used."""
    from conftest import Service
    keyed = Service(env={"ENTITLEMENTS_CHECK_KEYS": "app=ofrep-secret"})
    try:
        base = f"http://{keyed.host}:{keyed.port}"
        api.set_provider(OFREPProvider(base_url=base, headers_factory=lambda: {"Authorization": "Bearer ofrep-secret"}))
        d = api.get_client().get_boolean_details("psa_integration", False, ctx("acc_1"))
        assert d.value is True and d.error_code is None
        api.set_provider(OFREPProvider(base_url=base))
        d = api.get_client().get_boolean_details("psa_integration", False, ctx("acc_1"))
        assert d.value is False and d.error_code is not None
    finally:
        api.shutdown()
        assert keyed.stop() == 0
