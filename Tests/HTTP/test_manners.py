"""HTTP manners (RFC 9110, RFC 6750) and what operators read: HEAD on every GET endpoint, the Bearer challenge on
401, request ids in responses and log lines, OFREP's 404 shape for keys a client's URL handling made vanish, and
the start-up line about auth."""
import json
import socket

from conftest import Service, check_body

GETS = ["/healthz", "/readyz", "/metrics", "/ui", "/v1/catalog", "/v1/policy", "/v1/outline",
        "/ofrep/v1/configuration"]


def raw(svc, data):
    """Sends raw bytes on one connection and reads until the peer closes."""
    s = socket.create_connection((svc.host, svc.port), timeout=5)
    s.sendall(data)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    return out


def test_head_answers_every_get_endpoint_with_the_gets_head_and_no_body(svc):
    for path in GETS:
        get_status, get_headers, get_body = svc.request("GET", path)
        # HEAD then GET on one connection: if HEAD sent a body, the second response would not start right after
        # the first head.
        out = raw(svc, f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n".encode())
        head, rest = out.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 "), (path, head)
        assert rest.startswith(b"HTTP/1.1 200 "), (path, rest[:80])
        lines = {k.lower(): v for k, v in (l.split(": ", 1) for l in head.decode().split("\r\n")[1:])}
        assert get_status == 200
        assert lines["content-type"] == get_headers["Content-Type"], path
        if path not in ("/metrics", "/readyz", "/healthz"):  # their bodies change between two requests
            assert int(lines["content-length"]) == len(get_body), path


def test_405_lists_head_and_head_on_a_post_endpoint_is_refused(svc):
    status, headers, body = svc.json("DELETE", "/ui")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, _ = svc.request("HEAD", "/v1/check")
    assert status == 405 and headers["Allow"] == "POST"


def test_request_ids_are_echoed_made_and_replaced_when_unusable(svc):
    _, headers, _ = svc.request("GET", "/healthz", headers={"X-Request-Id": "trace-42/abc"})
    assert headers["X-Request-Id"] == "trace-42/abc"
    ids = {svc.request("GET", "/healthz")[1]["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3 and all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    for bad in ["x" * 129, "has space", "tab\there"]:
        got = svc.request("GET", "/healthz", headers={"X-Request-Id": bad})[1]["X-Request-Id"]
        assert got != bad and len(got) == 24
    # The error's log line carries the same id as its response.
    status, headers, _ = svc.request("GET", "/v2/nothing", headers={"X-Request-Id": "find-me-123"})
    assert status == 404 and headers["X-Request-Id"] == "find-me-123"
    lines = [json.loads(l) for l in svc.log().splitlines() if l.startswith("{")]
    assert any(l.get("event") == "request_error" and l.get("request_id") == "find-me-123" and l["status"] == 404
               for l in lines)


def test_ofrep_keys_that_normalize_away_get_ofreps_404(svc):
    for path in ["/ofrep/v1/evaluate/", "/ofrep/v1/evaluate", "/ofrep/v1/evaluate/flags/"]:
        status, _, body = svc.json("POST", path, {"context": {"targetingKey": "acc_1"}})
        assert status == 404 and body["errorCode"] == "FLAG_NOT_FOUND" and "error" not in body, (path, body)
    # `..` sent as is (curl --path-as-is) is a key of its own, unknown.
    out = raw(svc, b"POST /ofrep/v1/evaluate/flags/.. HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    assert out.startswith(b"HTTP/1.1 404 ") and json.loads(out.split(b"\r\n\r\n", 1)[1])["key"] == ".."
    # Elsewhere the generic shape stays.
    status, _, body = svc.json("GET", "/ofrepx")
    assert status == 404 and body["error"] == "not_found"


def test_401_carries_the_bearer_challenge_and_start_up_names_the_keys(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("admin ops o-secret\n")
    s = Service(env={"ENTITLEMENTS_CHECK_KEYS": "svc=c-secret,bare-secret"}, args=["--keys-file", str(keys)])
    try:
        status, headers, body = s.json("POST", "/v1/check", check_body({"feature": "sso"}))
        assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="entitlements"'
        status, headers, _ = s.json("GET", "/v1/catalog", None, {"Authorization": "Bearer wrong"})
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Bearer realm="entitlements", error="invalid_token"'
        status, headers, _ = s.request("HEAD", "/ui")
        assert status == 200  # the page needs no key (it asks for one)
        assert "auth on; check keys: svc, key1; admin keys: ops" in s.listening
        started = [json.loads(l) for l in s.log().splitlines() if '"listening"' in l][0]
        assert (started["auth"], started["check_keys"], started["admin_keys"]) == ("on", ["svc", "key1"], ["ops"])
        assert "c-secret" not in s.log() and "o-secret" not in s.log() and "c-secret" not in s.listening
    finally:
        assert s.stop() == 0
