"""Durability: an acknowledged write survives kill -9 and SIGTERM; the audit chain verifies.

N threads post runs/log-batch (100 metrics each, unique (key, step) per request)
and one thread creates runs; every request answered 200 is recorded. The server
is killed with SIGKILL mid-traffic and restarted on the same database: every
acknowledged point and run must be there (extra, unacknowledged ones are fine),
and `trellis audit verify` must exit 0. Artifact uploads get the same treatment: killed
mid-stream, every acknowledged file is there whole with its recorded digest, and no partial
file is ever visible.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from helpers import API, Rest, uniq

N_THREADS = 8
POINTS_PER_REQ = 100
KEYS_PER_THREAD = 10
BASE_TS = 1_700_000_000_000


def _value(tid: int, seq: int, i: int) -> float:
    return seq * 1000.0 + i + tid / 100.0


class Traffic:
    """Background writers; records what the server acknowledged."""

    def __init__(self, url: str, eid: str, run_ids: list[str]):
        self.url = url
        self.eid = eid
        self.run_ids = run_ids
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: list[tuple[int, int]] = []  # (tid, seq)
        self.acked_runs: list[str] = []
        self.errors: list[str] = []  # non-connection failures (bad statuses) while the server was up
        self.threads: list[threading.Thread] = []
        self.seq_start = 0

    def run_of(self, tid: int) -> str:
        return self.run_ids[tid % len(self.run_ids)]

    def batch(self, tid: int, seq: int) -> dict:
        metrics = []
        for i in range(POINTS_PER_REQ):
            k, s = i % KEYS_PER_THREAD, seq * (POINTS_PER_REQ // KEYS_PER_THREAD) + i // KEYS_PER_THREAD
            metrics.append({"key": f"t{tid}_k{k}", "value": _value(tid, seq, i), "timestamp": BASE_TS + s, "step": s})
        return {"run_id": self.run_of(tid), "metrics": metrics}

    def _writer(self, tid: int):
        s = requests.Session()
        seq = self.seq_start
        while not self.stop.is_set():
            try:
                r = s.post(self.url + API + "/runs/log-batch", json=self.batch(tid, seq), timeout=10)
            except requests.RequestException:
                return  # server gone
            if r.status_code == 200:
                with self.lock:
                    self.acked.append((tid, seq))
            elif r.status_code != 503:
                with self.lock:
                    self.errors.append(f"log-batch -> {r.status_code} {r.text[:200]}")
            seq += 1

    def _creator(self):
        s = requests.Session()
        n = 0
        while not self.stop.is_set():
            try:
                r = s.post(
                    self.url + API + "/runs/create",
                    json={"experiment_id": self.eid, "start_time": BASE_TS + n, "run_name": f"c{n}"},
                    timeout=10,
                )
            except requests.RequestException:
                return
            if r.status_code == 200:
                with self.lock:
                    self.acked_runs.append(r.json()["run"]["info"]["run_id"])
            elif r.status_code != 503:
                with self.lock:
                    self.errors.append(f"runs/create -> {r.status_code} {r.text[:200]}")
            n += 1

    def start(self):
        self.stop.clear()
        self.threads = [threading.Thread(target=self._writer, args=(t,), daemon=True) for t in range(N_THREADS)]
        self.threads.append(threading.Thread(target=self._creator, daemon=True))
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
            assert not t.is_alive(), "writer thread hung"


def _verify_acked(rest: Rest, traffic: Traffic, acked: list[tuple[int, int]], acked_runs: list[str]):
    # group expected points per (run, key)
    expected: dict[tuple[str, str], dict[int, float]] = {}
    for tid, seq in acked:
        body = traffic.batch(tid, seq)
        for m in body["metrics"]:
            expected.setdefault((body["run_id"], m["key"]), {})[m["step"]] = m["value"]
    missing = []
    for (rid, key), points in expected.items():
        got = {}
        for m in rest.history(rid, key):
            got.setdefault(m["step"], set()).add(m["value"])
        for step, value in points.items():
            if value not in got.get(step, ()):
                missing.append((rid, key, step, value))
    assert not missing, f"{len(missing)} acknowledged metric points lost after restart, e.g. {missing[:5]}"
    lost_runs = []
    for rid in acked_runs:
        r = rest.get(API + "/runs/get", params={"run_id": rid})
        if r.status_code != 200:
            lost_runs.append((rid, r.status_code))
    assert not lost_runs, f"acknowledged runs/create lost after restart: {lost_runs[:5]}"


def _setup(rest: Rest, n_runs: int = 3) -> tuple[str, list[str]]:
    eid = rest.create_experiment(uniq("crash"))
    return eid, [rest.create_run(eid) for _ in range(n_runs)]


def _audit_ok(srv):
    res = srv.audit_verify()
    assert res.returncode == 0, f"audit verify failed ({res.returncode}): {res.stdout[-2000:]} {res.stderr[-2000:]}"


def test_kill9_mid_traffic(make_server):
    srv = make_server("kill9")
    rest = Rest(srv.url)
    eid, runs = _setup(rest)
    traffic = Traffic(srv.url, eid, runs)
    all_acked, all_runs = [], []

    for cycle in range(2):
        traffic.url = srv.url
        traffic.seq_start = cycle * 1_000_000  # keep (key, step) unique across cycles
        traffic.acked, traffic.acked_runs = [], []
        traffic.start()
        time.sleep(2.0)
        srv.kill9()
        traffic.join()
        assert not traffic.errors, traffic.errors[:5]
        assert len(traffic.acked) >= 10, f"cycle {cycle}: only {len(traffic.acked)} batches acknowledged in 2 s"
        print(f"kill -9 cycle {cycle}: {len(traffic.acked)} log-batch and {len(traffic.acked_runs)} runs/create acknowledged")
        all_acked += traffic.acked
        all_runs += traffic.acked_runs

        srv.start()  # same db, new port
        rest = Rest(srv.url)
        _verify_acked(rest, traffic, all_acked, all_runs)

    # still writable, and runs/get agrees with history for a latest value
    rest.log_batch(runs[0], metrics=[{"key": "after", "value": 1.0, "timestamp": 1, "step": 0}])
    assert {m["key"]: m["value"] for m in rest.get_run(runs[0])["data"]["metrics"]}["after"] == 1.0
    srv.stop()
    _audit_ok(srv)


def test_sigterm_mid_traffic(make_server):
    srv = make_server("sigterm")
    rest = Rest(srv.url)
    eid, runs = _setup(rest)
    traffic = Traffic(srv.url, eid, runs)
    traffic.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    rc = srv.stop(check=False)
    elapsed = time.monotonic() - t0
    traffic.join()
    assert rc == 0, f"SIGTERM exit status {rc}; stderr:\n{srv.stderr_text()}"
    assert elapsed < 10, f"graceful stop took {elapsed:.1f}s"
    assert not traffic.errors, traffic.errors[:5]
    assert len(traffic.acked) >= 5
    _audit_ok(srv)
    srv.start()
    _verify_acked(Rest(srv.url), traffic, traffic.acked, traffic.acked_runs)
    srv.stop()
    _audit_ok(srv)


def test_sigterm_idle_and_restart_keeps_everything(make_server):
    srv = make_server("idle")
    rest = Rest(srv.url)
    name = uniq("idle")
    eid = rest.create_experiment(name)
    rid = rest.create_run(eid, run_name="keep")
    rest.log_batch(
        rid,
        metrics=[{"key": "m", "value": float(i), "timestamp": i, "step": i} for i in range(50)],
        params=[{"key": "p", "value": "v"}],
        tags=[{"key": "t", "value": "tv"}],
    )
    rest.ok("POST", API + "/runs/update", {"run_id": rid, "status": "FINISHED", "end_time": 42})
    srv.stop()  # asserts exit 0
    srv.start()
    rest = Rest(srv.url)
    got = rest.ok("GET", API + "/experiments/get-by-name", params={"experiment_name": name})["experiment"]
    assert got["experiment_id"] == eid
    run = rest.get_run(rid)
    assert run["info"]["status"] == "FINISHED" and run["info"]["end_time"] == 42
    assert run["info"]["run_name"] == "keep"
    assert [m["value"] for m in rest.history(rid, "m")] == [float(i) for i in range(50)]
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"p": "v"}
    # Default experiment is not duplicated by a second start
    exps = rest.ok("POST", API + "/experiments/search", {"filter": "name = 'Default'", "max_results": 10})
    assert [e["experiment_id"] for e in exps["experiments"]] == ["0"]
    srv.stop()
    _audit_ok(srv)


def test_audit_verify_detects_tampering(make_server):
    srv = make_server("tamper")
    rest = Rest(srv.url)
    for i in range(5):
        eid = rest.create_experiment(uniq("aud"))
        rest.create_run(eid)
    srv.stop()
    _audit_ok(srv)

    con = sqlite3.connect(srv.db_path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '%audit%'")]
        assert tables, "no audit table found in the store"
        table = max(tables, key=lambda t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
        n = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        assert n >= 5, f"audit table {table} has only {n} entries for 10 control-plane changes"
        cols = [(r[1], (r[2] or "").upper()) for r in con.execute(f'PRAGMA table_info("{table}")')]
        text_cols = [c for c, t in cols if ("TEXT" in t or "CHAR" in t) and c not in ("id", "seq")]
        assert text_cols, cols
        col = next((c for c in ("action", "resource", "actor", "outcome") if c in text_cols), text_cols[0])
        for (trigger,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name=?", (table,)
        ).fetchall():
            con.execute(f'DROP TRIGGER "{trigger}"')  # an attacker with the file can do this too
        rowid = con.execute(f'SELECT rowid FROM "{table}" ORDER BY rowid LIMIT 1 OFFSET ?', (n // 2,)).fetchone()[0]
        con.execute(f'UPDATE "{table}" SET "{col}" = "{col}" || \'-tampered\' WHERE rowid = ?', (rowid,))
        con.commit()
    finally:
        con.close()
    res = srv.audit_verify()
    assert res.returncode != 0, f"audit verify did not notice a modified entry: {res.stdout} {res.stderr}"
    out = res.stdout + res.stderr
    assert out.strip(), "audit verify failed silently: it must name the first broken entry"


# ----------------------------------------------------------------------------- artifact uploads

ART = "/api/2.0/mlflow-artifacts/artifacts"
TMP_PREFIX = ".trellis-upload-"


def _upload_content(tid: int, seq: int) -> bytes:
    rnd = random.Random(tid * 1_000_003 + seq)
    return rnd.randbytes(rnd.randrange(64 << 10, 3 << 20))


def _list_tree(url: str, path: str) -> list[tuple[str, bool]]:
    """Every (path, is_dir) under PATH, through the listing API."""
    out = []
    for f in requests.get(url + ART, params={"path": path}, timeout=10).json().get("files", []):
        child = f"{path}/{f['path']}"
        out.append((child, f["is_dir"]))
        if f["is_dir"]:
            out += _list_tree(url, child)
    return out


def test_kill9_mid_uploads(make_server):
    srv = make_server("kill9-uploads")
    stop = threading.Event()
    lock = threading.Lock()
    acked: list[tuple[int, int]] = []
    errors: list[str] = []

    def uploader(tid: int):
        s = requests.Session()
        for seq in range(1_000_000):
            if stop.is_set():
                return
            try:
                r = s.put(f"{srv.url}{ART}/up/t{tid}/f{seq}.bin", data=_upload_content(tid, seq), timeout=30)
            except requests.RequestException:
                return  # server gone
            with lock:
                if r.status_code == 200:
                    acked.append((tid, seq))
                else:
                    errors.append(f"PUT -> {r.status_code} {r.text[:200]}")

    def slow():  # still sending when the server dies: a partial file must exist then
        def body():
            while not stop.is_set():
                yield b"s" * 65536
                time.sleep(0.02)

        try:
            requests.put(f"{srv.url}{ART}/up/slow.bin", data=body(), timeout=30)
        except requests.RequestException:
            pass

    threads = [threading.Thread(target=uploader, args=(t,), daemon=True) for t in range(6)]
    threads.append(threading.Thread(target=slow, daemon=True))
    for t in threads:
        t.start()
    time.sleep(2.0)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(30)
        assert not t.is_alive(), "uploader hung"
    assert not errors, errors[:5]
    assert len(acked) >= 10, f"only {len(acked)} uploads acknowledged in 2 s"
    left = list(Path(srv.artifacts_dir).rglob(TMP_PREFIX + "*"))
    assert left, "no upload was in progress at the kill"
    print(f"kill -9 mid-uploads: {len(acked)} acknowledged, {len(left)} partial files left")

    srv.start()  # same store and artifact folder; the start removes what the crash left
    assert not list(Path(srv.artifacts_dir).rglob(TMP_PREFIX + "*"))
    assert "unfinished uploads" in srv.stderr_text()
    with sqlite3.connect(srv.db_path) as db:
        recorded = {p: (size, sha) for p, size, sha in db.execute("SELECT path, size, sha256 FROM artifacts")}
    for tid, seq in acked:
        data = _upload_content(tid, seq)
        path = f"up/t{tid}/f{seq}.bin"
        assert recorded.get(path) == (len(data), hashlib.sha256(data).hexdigest()), path
        assert requests.get(f"{srv.url}{ART}/{path}", timeout=10).content == data, path
    # whatever is visible is whole: acknowledged or not, never a part, never a temporary name
    visible = _list_tree(srv.url, "up")
    assert ("up/slow.bin", False) not in visible
    for path, is_dir in visible:
        assert TMP_PREFIX not in path, path
        if not is_dir:
            tid, seq = (int(x[1:]) for x in path[len("up/"):-len(".bin")].split("/"))
            got = requests.get(f"{srv.url}{ART}/{path}", timeout=10).content
            assert got == _upload_content(tid, seq), f"{path} is visible but not whole ({len(got)} bytes)"
    r = requests.put(f"{srv.url}{ART}/up/after.bin", data=b"after", timeout=10)
    assert r.status_code == 200, r.text
    srv.stop()
    _audit_ok(srv)
