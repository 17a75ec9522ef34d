"""Bearer keys and roles (SPEC §6.5)."""
from conftest import Service, check_body


def test_roles_and_keys(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# role name key\ncheck reader r-secret\nadmin ops o-secret\n")
    svc = Service(env={"ENTITLEMENTS_CHECK_KEYS": "svc=c-secret,bare-secret", "ENTITLEMENTS_ADMIN_KEYS": "root=a-secret"},
                  args=["--keys-file", str(keys)])
    try:
        body = check_body({"feature": "sso"})
        assert svc.json("POST", "/v1/check", body)[0] == 401
        assert svc.json("POST", "/v1/check", body, {"Authorization": "Bearer wrong"})[0] == 401
        assert svc.json("POST", "/v1/check", body, {"Authorization": "Basic c-secret"})[0] == 401
        for key in ["c-secret", "bare-secret", "r-secret", "a-secret", "o-secret"]:
            assert svc.json("POST", "/v1/check", body, {"Authorization": f"Bearer {key}"})[0] == 200, key
        status, _, err = svc.json("POST", "/v1/policy/reload", None, {"Authorization": "Bearer c-secret"})
        assert status == 403 and err["error"] == "forbidden"
        assert svc.json("POST", "/v1/policy/reload", None, {"Authorization": "Bearer a-secret"})[0] == 200
        assert svc.json("POST", "/v1/policy/reload", None, {"Authorization": "Bearer o-secret"})[0] == 200
        assert svc.json("GET", "/v1/accounts/x", None, {"Authorization": "Bearer r-secret"})[0] == 403
        assert svc.json("GET", "/v1/accounts/x", None, {"Authorization": "Bearer o-secret"})[0] == 503
        assert svc.json("GET", "/v1/accounts/x/entitlements", None, {"Authorization": "Bearer r-secret"})[0] == 503
        for path in ["/healthz", "/readyz", "/metrics"]:
            assert svc.request("GET", path)[0] == 200
        assert svc.json("GET", "/v1/catalog")[0] == 401
    finally:
        assert svc.stop() == 0


def test_without_keys_only_loopback(tmp_path):
    svc = Service(listen="0.0.0.0:0")
    try:
        assert svc.host == "127.0.0.1"
        assert "loopback" in svc.log()
        assert svc.json("POST", "/v1/check", check_body({"feature": "sso"}))[0] == 200
    finally:
        svc.stop()
