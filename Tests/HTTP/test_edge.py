"""The HTTP edge against hostile clients (raw sockets): request framing (RFC 9112), request targets, answers from the
head before the body is read, memory, deadlines and connection floods. Every test is bounded in time."""
import json
import random
import socket
import string
import threading
import time

import pytest

from conftest import Service, check_body, slowloris
from test_hostile import raw_exchange

SMUGGLED = b"GET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n"
BODY = json.dumps(check_body({"feature": "sso"})).encode()


def exchange(svc, payload, timeout=3.0):
    """Sends the payload, then reads until the server closes the connection (or the timeout)."""
    s = socket.create_connection((svc.host, svc.port), timeout=timeout)
    data = b""
    try:
        try:
            s.sendall(payload)
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                return data, True
            data += chunk
        return data, False
    finally:
        s.close()


def responses(data):
    """The status lines of the responses in a byte stream."""
    out, rest = [], data
    while rest.startswith(b"HTTP/1."):
        head, _, rest = rest.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        out.append(int(lines[0].split(b" ")[1]))
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        rest = rest[length:]
    return out


def post(path=b"/v1/check", headers=b"", body=b""):
    return b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers + b"\r\n" + body


FRAMING = {
    # RFC 9112 6.3: conflicting lengths are an unrecoverable framing error.
    "two Content-Length": (post(headers=b"Content-Length: %d\r\nContent-Length: 5\r\n" % len(BODY), body=BODY + SMUGGLED), 400),
    # Both lengths: an attempt at smuggling; rejected.
    "Content-Length and chunked": (
        post(headers=b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
             body=b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n" + SMUGGLED), 400),
    # RFC 9112 5.1: whitespace between a field name and its colon.
    "space before colon": (post(headers=b"Content-Length : %d\r\n" % len(SMUGGLED), body=SMUGGLED), 400),
    # RFC 9112 5.2: obs-fold.
    "obs-folded Content-Length": (post(headers=b"X-A: b\r\n Content-Length: %d\r\n" % len(SMUGGLED), body=SMUGGLED), 400),
    "obs-folded value of Content-Length": (post(headers=b"Content-Length:\r\n %d\r\n" % len(SMUGGLED), body=SMUGGLED), 400),
    # RFC 9112 6.1 / 6.3: chunked must be the final coding; other codings are not implemented.
    "chunked, identity": (post(headers=b"Transfer-Encoding: chunked, identity\r\n", body=b"0\r\n\r\n" + SMUGGLED), 400),
    "gzip, chunked": (post(headers=b"Transfer-Encoding: gzip, chunked\r\n", body=b"0\r\n\r\n" + SMUGGLED), 501),
    "xchunked": (post(headers=b"Transfer-Encoding: xchunked\r\n", body=b"0\r\n\r\n" + SMUGGLED), 400),
    "chunked;x=1": (post(headers=b"Transfer-Encoding: chunked;x=1\r\n", body=b"0\r\n\r\n" + SMUGGLED), 400),
    "two Transfer-Encoding": (post(headers=b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                                   body=b"0\r\n\r\n" + SMUGGLED), 400),
    # RFC 9112 3.2: exactly one Host in HTTP/1.1.
    "no Host": (b"GET /healthz HTTP/1.1\r\n\r\n" + SMUGGLED, 400),
    "two Host": (b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + SMUGGLED, 400),
    # NUL, CR and encoded separators.
    "%00 in the path": (b"GET /v1/policy%00x HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED, 400),
    "raw NUL in the path": (b"GET /v1/policy\x00x HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED, 400),
    "%2F in the path": (b"GET /v1%2Fpolicy HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED, 400),
    "%5C in the path": (b"GET /v1%5Cpolicy HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED, 400),
    "bare CR in the path": (b"GET /v1/pol\ricy HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED, 400),
    "NUL in Authorization": (b"GET /v1/policy HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer C\x00junk\r\n\r\n" + SMUGGLED, 400),
    "NUL in Content-Type": (post(headers=b"Content-Type2: x\r\nX: application/json\x00x\r\nContent-Length: %d\r\n" % len(BODY),
                                 body=BODY + SMUGGLED), 400),
}


@pytest.mark.parametrize("name", sorted(FRAMING))
def test_framing_is_refused_and_nothing_is_smuggled(svc, name):
    payload, status = FRAMING[name]
    data, closed = exchange(svc, payload)
    assert b"SMUGGLED" not in data, data
    assert responses(data) == [status], data
    assert b"\r\nConnection: close\r\n" in data
    assert closed, "the connection must be closed after a framing error"
    if status == 400:
        assert json.loads(data.split(b"\r\n\r\n", 1)[1])["error"] == "bad_request"


def test_bare_lf_in_a_chunk_line_never_reaches_a_second_request(svc):
    payload = post(headers=b"Transfer-Encoding: chunked\r\n", body=b"%x\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n" + SMUGGLED)
    data, closed = exchange(svc, payload)
    assert b"SMUGGLED" not in data
    assert len(responses(data)) == 1 and closed


def test_chunked_requests_are_answered_then_closed(svc):
    data, closed = exchange(svc, post(headers=b"Transfer-Encoding: chunked\r\n",
                                      body=b"%x\r\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n" + SMUGGLED))
    assert responses(data) == [200] and closed and b"SMUGGLED" not in data


def test_keep_alive_still_works_for_well_formed_requests(svc):
    one = post(headers=b"Content-Length: %d\r\n" % len(BODY), body=BODY)
    data, _ = exchange(svc, one * 3, timeout=1.0)
    assert responses(data) == [200, 200, 200]


def test_ofrep_keys_are_split_on_bytes(svc):
    for raw, key in [(b"a%2Fb", "a/b"), ("\u0301x".encode(), "\u0301x"), (b"%CC%81x", "\u0301x"), (b"x%00y", "x\x00y")]:
        data, _ = exchange(svc, b"POST /ofrep/v1/evaluate/flags/" + raw + b" HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", timeout=1.0)
        assert responses(data) == [404], data
        body = json.loads(data.split(b"\r\n\r\n", 1)[1])
        assert body["errorCode"] == "FLAG_NOT_FOUND" and body["key"] == key


def test_unknown_ofrep_key_is_flag_not_found_before_content_checks(svc):
    status, _, body = svc.json("POST", "/ofrep/v1/evaluate/flags/nope")
    assert status == 404 and body == {"key": "nope", "errorCode": "FLAG_NOT_FOUND",
                                      "errorDetails": "no flag or feature named 'nope'"}


def test_ofrep_reasons_are_in_the_protocol_enum(svc):
    ctx = {"context": {"targetingKey": "acc_1", "account": {"subscription": {"plan": "free", "status": "active"}}}}
    status, _, body = svc.json("POST", "/ofrep/v1/evaluate/flags", ctx)
    assert status == 200
    reasons = {f["reason"] for f in body["flags"]}
    assert reasons <= {"STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "UNKNOWN"}
    assert "STATIC" in reasons


def test_refusals_come_from_the_head_before_the_body(svc):
    """404, 405, 415 and 413 are answered after the headers alone; the body is never awaited."""
    for head, status in [
        (b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", 404),
        (b"PUT /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", 405),
        (b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n", 415),
        (b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n", 413),
    ]:
        data, closed = exchange(svc, head, timeout=2.0)
        assert responses(data) == [status], (head, data)
        assert closed


def keyed_service(**kw):
    return Service(env={"ENTITLEMENTS_CHECK_KEYS": "c1", "ENTITLEMENTS_ADMIN_KEYS": "a1"}, **kw)


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_unauthenticated_uploads_hold_no_memory():
    s = keyed_service()
    try:
        base = rss_kb(s.proc.pid)
        body = b"x" * (1024 * 1024 - 64)
        answers = []

        def upload():
            c = socket.create_connection((s.host, s.port), timeout=10)
            c.sendall(post(headers=b"Content-Length: %d\r\n" % len(body)))
            c.settimeout(5)
            try:
                answers.append(c.recv(200))  # 401 arrives without sending the body
                for i in range(0, len(body), 65536):
                    c.sendall(body[i:i + 65536])
            except OSError:
                pass  # the server closed the connection: nothing more is read
            c.close()

        threads = [threading.Thread(target=upload) for _ in range(300)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert all(a.startswith(b"HTTP/1.1 401") for a in answers) and len(answers) == 300
        assert rss_kb(s.proc.pid) - base < 20 * 1024, "unauthenticated uploads must not be buffered"
    finally:
        assert s.stop() == 0


def test_bodies_in_flight_share_a_budget():
    s = keyed_service(args=["--body-memory", "1"])
    try:
        half = 600 * 1024
        hold = socket.create_connection((s.host, s.port), timeout=10)
        hold.sendall(post(headers=b"Authorization: Bearer c1\r\nContent-Length: %d\r\n" % half, body=b"{"))
        time.sleep(0.3)
        data, _ = exchange(s, post(headers=b"Authorization: Bearer c1\r\nContent-Length: %d\r\n" % half), timeout=2)
        assert responses(data) == [503], data
        assert b"Retry-After: 1" in data
        hold.close()
        time.sleep(0.3)
        status, _, _ = s.json("POST", "/v1/check", check_body({"feature": "sso"}), {"Authorization": "Bearer c1"})
        assert status == 200
    finally:
        assert s.stop() == 0


def test_deadlines_for_the_head_and_the_whole_request():
    s = Service(args=["--head-timeout", "1", "--request-timeout", "2"])
    try:
        # A head that dribbles in: closed after the head deadline, without an answer.
        c = socket.create_connection((s.host, s.port), timeout=5)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0, closed = time.monotonic(), False
        while time.monotonic() - t0 < 4:
            try:
                c.sendall(b"X-A: b\r\n")
                c.settimeout(0.2)
                if c.recv(100) == b"":
                    closed = True
                    break
            except socket.timeout:
                continue
            except OSError:
                closed = True
                break
        assert closed and time.monotonic() - t0 < 3
        # A body that dribbles in: 408 after the request deadline.
        c = socket.create_connection((s.host, s.port), timeout=5)
        c.sendall(post(headers=b"Content-Length: 100\r\n", body=b"{"))
        t0, data = time.monotonic(), b""
        while time.monotonic() - t0 < 5 and b"408" not in data:
            try:
                c.sendall(b" ")
                c.settimeout(0.2)
                data += c.recv(1000)
            except (socket.timeout, OSError):
                pass
        assert data.startswith(b"HTTP/1.1 408") and time.monotonic() - t0 < 4
        assert s.json("GET", "/healthz")[0] == 200
    finally:
        assert s.stop() == 0


def test_health_is_answered_during_a_slowloris_flood():
    """More stalled connections than the connection limit, each sending a header line now and then: the oldest
    stalled ones are closed to make room, and /healthz keeps answering at once."""
    s = Service(args=("--max-connections", "300"))
    try:
        with slowloris(s, 600):
            worst = 0.0
            for _ in range(20):
                t0 = time.monotonic()
                assert s.json("GET", "/healthz")[0] == 200
                worst = max(worst, time.monotonic() - t0)
                time.sleep(0.1)
            assert worst < 1.0
        metrics = s.request("GET", "/metrics")[2].decode()
        evicted = [line for line in metrics.splitlines() if line.startswith("entitlements_http_connections_evicted_total")]
        assert evicted and int(evicted[0].split()[1]) > 0
    finally:
        assert s.stop() == 0


def test_an_object_with_many_keys_is_parsed_in_linear_time(svc):
    """115,000 distinct short keys (under 1 MiB): a quadratic duplicate-key check took 46 s of CPU here."""
    alphabet = string.ascii_letters + string.digits
    rng = random.Random(7)
    keys = list(dict.fromkeys("".join(rng.choices(alphabet, k=3)) for _ in range(200000)))[:115000]
    assert len(keys) == 115000
    attributes = "{" + ",".join(f'"{k}":0' for k in keys) + "}"
    body = ('{"account":{"attributes":' + attributes + '},"checks":[{"feature":"sso"}]}').encode()
    assert len(body) < 1 << 20
    t0 = time.monotonic()
    status, _, _ = svc.request("POST", "/v1/check", body, {"Content-Type": "application/json"})
    assert status == 200
    assert time.monotonic() - t0 < 5, "parsing must be linear in the input"


def _raw(svc, request, timeout=10):
    """Sends raw bytes on a new connection and reads until the service closes it; the status line, the head and the
    body."""
    head, _, body = raw_exchange(svc, request, timeout=timeout).partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), head.decode(), body


def test_a_burst_of_connections_from_one_address_is_answered():
    """500 connections opened at once from one address (a service's own pool behind one proxy address), each sending
    one check: every one is answered (no per-address cap by default)."""
    s = Service()
    try:
        body = json.dumps(check_body({"feature": "psa_integration"})).encode()
        req = (b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % len(body)) + body
        socks = [socket.create_connection((s.host, s.port), timeout=10) for _ in range(500)]
        statuses = [None] * len(socks)

        def go(i):
            try:
                socks[i].sendall(req)
                statuses[i] = socks[i].recv(65536).split(b"\r\n", 1)[0]
            except OSError as e:
                statuses[i] = repr(e).encode()

        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(socks))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for so in socks:
            so.close()
        assert statuses.count(b"HTTP/1.1 200 OK") == 500, {x: statuses.count(x) for x in set(statuses)}
    finally:
        assert s.stop() == 0


def test_a_connection_over_the_limit_is_told_503_with_retry_after():
    """Every slot busy with a request whose body is still coming: a new connection cannot make room, so once its
    request head is in it is answered 503 `server_busy` with Retry-After, then closed."""
    s = Service(args=("--max-connections", "20"))
    busy = []
    try:
        for _ in range(20):
            c = socket.create_connection((s.host, s.port), timeout=5)
            c.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n"
                      b"\r\n{")
            busy.append(c)
        time.sleep(0.3)
        status, head, body = _raw(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == "HTTP/1.1 503 Service Unavailable", head
        assert "Retry-After: 1" in head
        assert json.loads(body)["error"] == "server_busy"
    finally:
        for c in busy:
            c.close()
        assert s.stop() == 0


def test_a_request_head_over_the_limit_is_answered_not_reset(svc):
    """A `PUT` whose path is 100,000 characters, with a body behind it, ten times: each client reads a 414 answer
    (the socket lingers, so the unread body does not turn the close into a reset). Header fields over the limit: 431."""
    body = b'{"source": "admin"}'
    for _ in range(10):
        status, _, _ = _raw(svc, b"PUT /v1/accounts/" + b"x" * 100_000 + b" HTTP/1.1\r\nHost: x\r\nContent-Type: "
                            b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert status == "HTTP/1.1 414 URI Too Long"
    status, _, _ = _raw(svc, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 20_000 + b"\r\n\r\n")
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"
