"""A throwaway PostgreSQL server for the store tests: initdb in a temporary directory, one postgres process on a Unix
socket (no TCP), stopped and removed at the end. As root it runs as the `postgres` system user, as the service's
embedded cluster does. Never a mock."""
import glob
import os
import shutil
import subprocess
import tempfile
import time


def _bin(tool):
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if os.access(os.path.join(d, tool), os.X_OK):
            return os.path.join(d, tool)
    raise RuntimeError("PostgreSQL is not installed (scripts/setup installs Debian's postgresql)")


def _as_owner(cmd):
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    def __init__(self, standby_of=None, settings=()):
        """A new cluster; with `standby_of`, a streaming standby of that primary (`pg_basebackup -R`: a copy of its
        data directory that follows its write-ahead log). `settings` are extra `-c` settings (`recovery_min_apply_delay=2s`)."""
        # /tmp itself is searchable by everyone, so the postgres user reaches a directory made here.
        self.dir = tempfile.mkdtemp(prefix="ent-pg-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.settings = list(settings)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        if standby_of is None:
            os.mkdir(self.data, 0o700)
            if os.geteuid() == 0:
                shutil.chown(self.data, "postgres")
            subprocess.run(_as_owner([_bin("initdb"), "-D", self.data, "-U", "entitlements", "--auth=trust", "-E",
                                      "UTF8", "--no-locale", "--no-sync"]), check=True, capture_output=True)
        else:
            subprocess.run(_as_owner([_bin("pg_basebackup"), "-D", self.data, "-R", "-X", "stream", "--checkpoint=fast", "-h",
                                      standby_of.dir, "-p", "5432", "-U", "entitlements", "--no-sync"]),
                           check=True, capture_output=True)
        self.proc = None
        self.start()
        if standby_of is None:
            self.psql("postgres", "CREATE DATABASE entitlements")

    @property
    def url(self):
        return f"host={self.dir} port=5432 dbname=entitlements user=entitlements"

    def start(self):
        log = open(os.path.join(self.dir, "postgres.log"), "ab")
        self.proc = subprocess.Popen(
            _as_owner([_bin("postgres"), "-D", self.data, "-c", "listen_addresses=", "-c",
                       f"unix_socket_directories={self.dir}", "-c", "port=5432", "-c", "fsync=on",
                       *[a for kv in self.settings for a in ("-c", kv)]]),
            stdout=log, stderr=log)
        for _ in range(300):
            if subprocess.run(_as_owner([_bin("pg_isready"), "-h", self.dir, "-p", "5432"]),
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("postgres did not start: " + open(os.path.join(self.dir, "postgres.log")).read()[-2000:])

    def stop(self, mode="fast"):
        if self.proc and self.proc.poll() is None:
            subprocess.run(_as_owner([_bin("pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"]), capture_output=True)
            self.proc.wait(timeout=30)
        self.proc = None

    def promote(self):
        """A standby becomes a primary of its own."""
        subprocess.run(_as_owner([_bin("pg_ctl"), "-D", self.data, "-w", "promote"]), check=True, capture_output=True)

    def psql(self, db, sql):
        out = subprocess.run(_as_owner([_bin("psql"), "-h", self.dir, "-p", "5432", "-U", "entitlements", "-d", db,
                                        "-Atc", sql]), check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
