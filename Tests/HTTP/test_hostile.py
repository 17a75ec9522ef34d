"""Hostile clients: the service never crashes, never answers 500, and stays responsive."""
import json
import random
import socket
import time

from conftest import PRO, check_body, slowloris


def raw_exchange(svc, payload, timeout=2):
    s = socket.create_connection((svc.host, svc.port), timeout=timeout)
    try:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before the whole payload is sent
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data
    except OSError:
        return data if "data" in locals() else b""
    finally:
        s.close()


def test_garbage_request_lines(svc):
    for payload in [b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"POST /v1/check HTTP/9.9\r\n\r\n",
                    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"b" * 200000 + b"\r\n\r\n",
                    b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                    b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"]:
        data = raw_exchange(svc, payload)
        if data:
            assert b" 500 " not in data.split(b"\r\n")[0]
    assert svc.json("GET", "/healthz")[0] == 200


def test_random_bodies_never_500(svc):
    rng = random.Random(1234)
    seeds = [json.dumps(check_body({"feature": "psa_integration"}, {"route": "GET /api/v1/trees"}, {"flag": "self_serve_enabled"},
                                   {"feature": "max_trees", "usage": 3})).encode(),
             b'{"account":{"subscription":{"plan":"team","status":"trialing","period_end":"2026-05-21T12:00:00Z"},'
             b'"overrides":[{"feature":"sso","value":true}],"attributes":{"a":[1,{"b":null}]}},"checks":[{"feature":"sso"}]}']
    for _ in range(600):
        body = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            op = rng.randint(0, 3)
            i = rng.randrange(len(body))
            if op == 0:
                body[i] = rng.randrange(256)
            elif op == 1:
                del body[i]
            elif op == 2:
                body[i:i] = bytes([rng.choice(b'{}[]",:0123456789-e.\\u')])
            else:
                body[i:i] = body[rng.randrange(len(body)):][:rng.randint(1, 40)]
        status, _, data = svc.request("POST", "/v1/check", bytes(body), {"Content-Type": "application/json"})
        assert status in (200, 400, 503), (status, bytes(body))
        json.loads(data)


def test_slow_clients_do_not_block_others(svc):
    """Slowloris: many connections dribbling headers; normal requests still answer promptly."""
    with slowloris(svc, 60, head=b"POST /v1/check HTTP/1.1\r\nHost: x\r\n"):
        for _ in range(20):
            t0 = time.monotonic()
            status, _, _ = svc.request("POST", "/v1/check", json.dumps(check_body({"feature": "sso"})),
                                       {"Content-Type": "application/json"})
            assert status == 200
            assert time.monotonic() - t0 < 1.0


def test_slow_body_then_complete(svc):
    s = socket.create_connection((svc.host, svc.port), timeout=10)
    body = json.dumps(check_body({"feature": "psa_integration"})).encode()
    s.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
    for i in range(0, len(body), 10):
        s.sendall(body[i:i + 10])
        time.sleep(0.01)
    data = s.recv(65536)
    s.close()
    assert b" 200 " in data.split(b"\r\n")[0]
    assert b'"allowed":true' in data
