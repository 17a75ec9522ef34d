"""Starts the real `entitlements serve` binary for the HTTP tests and talks to it over sockets."""
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ENTITLEMENTS_BIN", REPO / ".build" / "debug" / "entitlements"))
POLICIES = REPO / "Policies"


class Service:
    """The binary serving a bundle. Stateless unless `store` names a data directory for its embedded cluster or a
    database URL."""

    def __init__(self, policies=POLICIES, env=None, args=(), listen="127.0.0.1:0", store=None):
        if store is None:
            args = ("--stateless", *args)
        elif store.startswith("postgresql:") or store.startswith("host="):
            args = ("--database-url", store, *args)
        else:
            args = ("--data-dir", store, *args)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ENTITLEMENTS_")}
        full_env.update(env or {})
        self.stderr_path = Path(f"/tmp/entitlements-serve-{os.getpid()}-{time.monotonic_ns()}.log")
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN), "serve", str(policies), "--listen", listen, *args],
            stdout=subprocess.PIPE, stderr=self.stderr, env=full_env)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("listening on http://"), f"service did not start: {line!r} {self.log()}"
        self.listening = line
        hostport = line.split("http://", 1)[1].split(" ", 1)[0]
        self.host, self.port = hostport.rsplit(":", 1)
        self.host = self.host.strip("[]")
        self.port = int(self.port)

    def log(self):
        if not self.stderr.closed:
            self.stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def conn(self, timeout=10):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        c = conn or self.conn()
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, dict(r.getheaders()), data

    def json(self, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        return status, hdrs, (json.loads(data) if data else None)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.stderr.close()
        return self.proc.returncode


def kill_9_during_a_burst(service, write, senders=4, seconds=1.0):
    """`senders` threads call `write(n, i)` (True: acknowledged) in a loop until the service is killed with SIGKILL
    after `seconds`; the keys `(n, i)` of every acknowledged write."""
    acked = []
    stop = threading.Event()

    def sender(n):
        i = 0
        while not stop.is_set():
            try:
                if write(n, i):
                    acked.append((n, i))
            except Exception:
                return
            i += 1

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    service.proc.send_signal(signal.SIGKILL)
    service.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    service.stderr.close()
    return acked


@pytest.fixture(scope="module")
def svc():
    s = Service()
    yield s
    assert s.proc.poll() is None, "the service died during the tests:\n" + s.log()
    assert s.stop() == 0


PRO = {"id": "acc_1", "subscription": {"plan": "pro", "status": "active"}}
VERIFIED = {"email": "a@example.com", "email_verified_at": "2026-05-01T00:00:00Z", "created_at": "2026-04-01T00:00:00Z"}


def check_body(*checks, account=PRO, user=None, now="2026-05-10T12:00:00Z", **extra):
    b = {"account": account, "now": now, "checks": list(checks)}
    if user is not None:
        b["user"] = user
    b.update(extra)
    return b


@contextlib.contextmanager
def slowloris(svc, count, head=b"GET /healthz HTTP/1.1\r\nHost: x\r\n"):
    """`count` connections that send a request head one header line at a time, every half second, never finishing
    it (slowloris); yields the list of their sockets and closes them at the end."""
    stop = threading.Event()
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection((svc.host, svc.port), timeout=2)
            s.sendall(head)
            socks.append(s)
        except OSError:
            pass

    def dribble():
        while not stop.is_set():
            for s in socks:
                try:
                    s.sendall(b"X-a: b\r\n")
                except OSError:
                    pass
            stop.wait(0.5)

    t = threading.Thread(target=dribble)
    t.start()
    try:
        yield socks
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()


@pytest.fixture(scope="module")
def db():
    """A throwaway PostgreSQL for the module's tests (pg.py): started here, stopped and removed at the end."""
    from pg import Postgres
    pg = Postgres()
    yield pg
    pg.close()
