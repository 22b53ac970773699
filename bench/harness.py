#!/usr/bin/env python3
"""Trellis vs. MLflow benchmark harness.

Runs both servers side by side on this machine (server pinned to core 0, load
generator and this script pinned to core 1), drives the same workloads against
each, and writes results to bench/results/. Start it through bench/run.sh,
which creates the reference venv, builds Trellis and pins this process.

Workloads (see bench/README.md):
  startup  time from spawn to first 200 on GET /health; idle RSS after settling
  W1       runs/log-metric, one point per request, wrk -t1 -c32
  W2       runs/log-batch, 1,000 points per request, wrk -t1 -c8
  W3       runs/search (filter + order_by, max_results=100), wrk -t1 -c4,
           over datasets of 10k and 100k runs
"""

import argparse
import datetime as _dt
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LUA = os.path.join(HERE, "lua")
HOST = "127.0.0.1"
SERVER_CPU = "0"
LOADGEN_CPU = "1"

SEARCH_FILTER = "metrics.m3 < 0.5 and params.p2 = '7'"
SEARCH_ORDER = ["metrics.m3 DESC"]
SEARCH_MAX = 100

_live_servers = []


def log(msg):
    ts = time.strftime("%H:%M:%S")
    print(f"[{ts}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# process helpers


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _proc_table():
    """pid -> (ppid, pgid, state, utime+stime ticks) for every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        rest = raw[raw.rfind(")") + 2:].split()
        # rest[0]=state rest[1]=ppid rest[2]=pgrp ... rest[11]=utime rest[12]=stime
        out[int(d)] = (int(rest[1]), int(rest[2]), rest[0], int(rest[11]) + int(rest[12]))
    return out


def tree_pids(root):
    table = _proc_table()
    kids = {}
    for pid, (ppid, _, state, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    seen, stack = [], [root]
    while stack:
        p = stack.pop()
        if p not in table or table[p][2] == "Z":
            continue
        seen.append(p)
        stack.extend(kids.get(p, []))
    return seen, table


def group_alive(pgid):
    return [p for p, (_, g, st, _) in _proc_table().items() if g == pgid and st != "Z"]


def _status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_of(root):
    pids, _ = tree_pids(root)
    return {
        "rss_kb_main": _status_kb(root, "VmRSS"),
        "rss_kb_tree": sum(_status_kb(p, "VmRSS") for p in pids),
        "pss_kb_tree": sum(_pss_kb(p) for p in pids),
        "processes": len(pids),
    }


def tree_cpu_ticks(root):
    pids, table = tree_pids(root)
    return sum(table[p][3] for p in pids if p in table)


# --------------------------------------------------------------------------
# HTTP helpers


class Client:
    def __init__(self, port, timeout=120):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def _c(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        return self.conn

    def post(self, path, body):
        data = json.dumps(body).encode()
        for attempt in range(2):
            try:
                c = self._c()
                c.request("POST", "/api/2.0/mlflow/" + path, body=data,
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"_raw": raw[:300].decode("utf-8", "replace")}
        return r.status, payload

    def must(self, path, body):
        st, p = self.post(path, body)
        if st != 200:
            raise RuntimeError(f"{path} -> {st}: {json.dumps(p)[:300]}")
        return p

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def health_once(port):
    s = socket.create_connection((HOST, port), timeout=2)
    try:
        s.sendall(f"GET /health HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = s.recv(64)
    finally:
        s.close()
    return data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200")


# --------------------------------------------------------------------------
# servers


class Server:
    def __init__(self, kind, cmd_fn, db_name, workdir):
        self.kind = kind
        self.cmd_fn = cmd_fn
        self.db_name = db_name
        self.workdir = workdir
        self.db_path = os.path.join(workdir, db_name)
        self.art = os.path.join(workdir, "art")
        os.makedirs(self.art, exist_ok=True)
        self.proc = None
        self.port = None
        self.logf = None

    def start(self, health_timeout):
        self.port = free_port()
        cmd = ["taskset", "-c", SERVER_CPU] + self.cmd_fn(self.db_path, self.art, self.port)
        self.logf = open(os.path.join(self.workdir, "server.log"), "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        _live_servers.append(self)
        deadline = t0 + health_timeout
        while True:
            try:
                if health_once(self.port):
                    break
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode} before /health; "
                                   f"log tail:\n{self.log_tail()}")
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} not healthy after {health_timeout}s")
            time.sleep(0.005)
        return (time.perf_counter() - t0) * 1000.0

    def settle(self, max_s=120.0, window=0.5, idle_frac=0.05):
        """Wait until the server's process tree is idle (< idle_frac of a core)."""
        hz = os.sysconf("SC_CLK_TCK")
        t0 = time.perf_counter()
        prev = tree_cpu_ticks(self.proc.pid)
        quiet = 0
        while time.perf_counter() - t0 < max_s:
            time.sleep(window)
            cur = tree_cpu_ticks(self.proc.pid)
            busy = (cur - prev) / hz / window
            prev = cur
            quiet = quiet + 1 if busy < idle_frac else 0
            if quiet >= 2:
                break
        return (time.perf_counter() - t0) * 1000.0

    def memory(self):
        return memory_of(self.proc.pid)

    def url(self):
        return f"http://{HOST}:{self.port}"

    def log_tail(self, n=2000):
        try:
            with open(os.path.join(self.workdir, "server.log"), "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, hard=False, grace=15.0):
        """Stop by process group (the group id is the spawned PID): SIGTERM, then SIGKILL."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGKILL if hard else signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + (2.0 if hard else grace)
        while time.time() < deadline and group_alive(pgid):
            time.sleep(0.05)
            self.proc.poll()
        if group_alive(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            end = time.time() + 10
            while time.time() < end and group_alive(pgid):
                time.sleep(0.05)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self in _live_servers:
            _live_servers.remove(self)
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None


def mlflow_cmd(venv):
    exe = os.path.join(venv, "bin", "mlflow")

    def fn(db, art, port):
        return [exe, "server", "--backend-store-uri", f"sqlite:///{db}", "--default-artifact-root", art,
                "--host", HOST, "--port", str(port)]
    return fn


def trellis_cmd(binary):
    def fn(db, art, port):
        return [binary, "server", "--host", HOST, "--port", str(port), "--backend-store-uri",
                f"sqlite:///{db}", "--artifacts-destination", art]
    return fn


# --------------------------------------------------------------------------
# wrk


def run_wrk(url, script, args, conns, duration, timeout_s, latency=False):
    cmd = ["taskset", "-c", LOADGEN_CPU, "wrk", "-t1", f"-c{conns}", f"-d{duration}s",
           f"--timeout", f"{timeout_s}s"]
    if latency:
        cmd.append("--latency")
    cmd += ["-s", os.path.join(LUA, script), url, "--"] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + timeout_s + 60)
    line = next((l for l in p.stdout.splitlines() if l.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk produced no summary (rc={p.returncode}): {p.stdout[-500:]} {p.stderr[-500:]}")
    res = json.loads(line[len("BENCHJSON "):])
    secs = res["duration_us"] / 1e6
    res["ok_per_s"] = res["ok"] / secs if secs else 0.0
    res["socket_errors_total"] = sum(res["socket_errors"].values())
    res["connections"] = conns
    res["duration_s"] = duration
    if res["requests"] == 0:  # wrk reports garbage percentiles when nothing completed
        res["latency_us"] = {k: None for k in res["latency_us"]}
    return res


# --------------------------------------------------------------------------
# W3 dataset


def gen_dataset(n, seed):
    rng = random.Random(seed)
    base = 1_700_000_000_000
    runs = []
    for i in range(n):
        runs.append({
            "name": f"run-{i:06d}",
            "start": base + i,
            "params": [str(rng.randrange(10)) for _ in range(10)],
            "metrics": [rng.random() for _ in range(10)],
            "tags": [f"tag{rng.randrange(100)}" for _ in range(5)],
        })
    return runs


def expected_top(runs):
    sel = [r for r in runs if r["params"][2] == "7" and r["metrics"][3] < 0.5]
    sel.sort(key=lambda r: -r["metrics"][3])
    return [r["name"] for r in sel[:SEARCH_MAX]], len(sel)


def search_body(exp_id):
    return {"experiment_ids": [exp_id], "filter": SEARCH_FILTER, "max_results": SEARCH_MAX,
            "order_by": SEARCH_ORDER}


def check_search(port, exp_id, expected_names, repeats=25):
    """Validate the result against the dataset, and time sequential requests
    (one client: the latency a user sees, without queueing behind other clients)."""
    c = Client(port, timeout=900)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = c.must("runs/search", search_body(exp_id))
        times.append(time.perf_counter() - t0)
        if sum(times) > 30:
            break
    c.close()
    names = []
    for r in p.get("runs", []):
        info = r.get("info", {})
        name = info.get("run_name")
        if not name:
            for t in r.get("data", {}).get("tags", []):
                if t.get("key") == "mlflow.runName":
                    name = t.get("value")
        names.append(name)
    return {"returned": len(names), "matches_expected": names == expected_names,
            "sequential_ms": [round(t * 1000, 1) for t in times],
            "sequential_p50_ms": round(statistics.median(times) * 1000, 1),
            "has_next_page_token": bool(p.get("next_page_token"))}


def load_mlflow_bulk(db_path, art, runs):
    """Create MLflow's schema with its own store, then bulk-insert the dataset.

    A template run is written through SqlAlchemyStore.create_run/log_batch so the
    bulk rows copy exactly the columns and extra tags MLflow writes itself; the
    template is then removed so both servers hold the same dataset.
    """
    import logging
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    t0 = time.perf_counter()
    store = SqlAlchemyStore(f"sqlite:///{db_path}", art)
    exp_id = store.create_experiment("bench-search")
    r0 = runs[0]
    tmpl = store.create_run(exp_id, "", r0["start"], [RunTag(f"t{j}", v) for j, v in enumerate(r0["tags"])],
                            "template-run")
    tid = tmpl.info.run_id
    store.log_batch(tid, [Metric(f"m{j}", v, r0["start"], 0) for j, v in enumerate(r0["metrics"])],
                    [Param(f"p{j}", v) for j, v in enumerate(r0["params"])], [])
    store.engine.dispose()

    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    tables = ["runs", "tags", "params", "metrics", "latest_metrics"]
    tmpl_rows = {t: [dict(r) for r in con.execute(f"SELECT * FROM {t} WHERE run_uuid=?", (tid,))]
                 for t in tables}
    con.row_factory = None
    with con:
        for t in reversed(tables):
            con.execute(f"DELETE FROM {t} WHERE run_uuid=?", (tid,))
    rows = {t: [] for t in tables}
    for r in runs:
        rid = uuid.uuid4().hex
        for t in tables:
            for tr in tmpl_rows[t]:
                row = dict(tr)
                row["run_uuid"] = rid
                if t == "runs":
                    row["name"] = r["name"]
                    row["start_time"] = r["start"]
                    row["artifact_uri"] = (row["artifact_uri"] or "").replace(tid, rid)
                elif t == "tags":
                    k = row["key"]
                    if k == "mlflow.runName":
                        row["value"] = r["name"]
                    elif k.startswith("t") and k[1:].isdigit():
                        row["value"] = r["tags"][int(k[1:])]
                elif t == "params":
                    row["value"] = r["params"][int(row["key"][1:])]
                else:  # metrics, latest_metrics
                    row["value"] = r["metrics"][int(row["key"][1:])]
                    row["timestamp"] = r["start"]
                rows[t].append(row)
    with con:
        for t in tables:
            if not rows[t]:
                continue
            cols = list(rows[t][0].keys())
            sql = f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            con.executemany(sql, ([row[c] for c in cols] for row in rows[t]))
    con.close()
    return {"experiment_id": exp_id, "load_s": round(time.perf_counter() - t0, 2),
            "load_method": "SqlAlchemyStore schema + template run, then bulk SQL inserts (sqlite3 executemany)",
            "template_tags": sorted(x["key"] for x in tmpl_rows["tags"])}


def load_rest(port, runs, threads=32):
    """Load the dataset through the REST API: runs/create + runs/log-batch per run."""
    t0 = time.perf_counter()
    c = Client(port)
    exp_id = c.must("experiments/create", {"name": "bench-search"})["experiment_id"]
    c.close()
    idx = iter(range(len(runs)))
    lock = threading.Lock()
    errors = []

    def worker():
        cl = Client(port)
        while True:
            with lock:
                i = next(idx, None)
            if i is None or len(errors) > 10:
                break
            r = runs[i]
            try:
                run = cl.must("runs/create", {
                    "experiment_id": exp_id, "run_name": r["name"], "start_time": r["start"],
                    "tags": [{"key": f"t{j}", "value": v} for j, v in enumerate(r["tags"])]})
                rid = run["run"]["info"]["run_id"]
                cl.must("runs/log-batch", {
                    "run_id": rid,
                    "metrics": [{"key": f"m{j}", "value": v, "timestamp": r["start"], "step": 0}
                                for j, v in enumerate(r["metrics"])],
                    "params": [{"key": f"p{j}", "value": v} for j, v in enumerate(r["params"])]})
            except Exception as e:  # noqa: BLE001 - recorded and re-raised below
                errors.append(f"run {i}: {e}")
        cl.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError(f"REST load failed: {errors[:3]}")
    dt = time.perf_counter() - t0
    return {"experiment_id": exp_id, "load_s": round(dt, 2),
            "load_method": f"REST runs/create + runs/log-batch, {threads} client threads",
            "runs_per_s": round(len(runs) / dt, 1)}


# --------------------------------------------------------------------------
# durability check for W2


def count_points(db_path, run_id):
    """Points stored for run_id, read straight from the SQLite file after the server is gone.

    Tries MLflow's `metrics` table, then Trellis's `metric_chunks`; None when neither fits.
    """
    if not os.path.exists(db_path):
        return None
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        for q in ("SELECT count(*) FROM metrics WHERE run_uuid=?",
                  "SELECT count(*) FROM metrics WHERE run_id=?",
                  "SELECT count(*) FROM metrics m JOIN runs r ON m.run_id=r.id WHERE r.run_uuid=?",
                  "SELECT count(*) FROM metrics m JOIN runs r ON m.run_id=r.id WHERE r.run_id=?",
                  # Trellis (schema at the time of writing): points packed in chunks of n points
                  "SELECT coalesce(sum(n), 0) FROM metric_chunks WHERE run_uuid=?"):
            try:
                return con.execute(q, (run_id,)).fetchone()[0]
            except sqlite3.Error:
                continue
        return None
    finally:
        con.close()


# --------------------------------------------------------------------------
# per-server benchmark


def bench_server(kind, cmd_fn, db_name, cfg, datasets, tmproot, res):
    """Fills res (kept by the caller, so an interrupted run still reports what finished)."""
    health_timeout = cfg["health_timeout"]

    def newdir(tag):
        d = os.path.join(tmproot, f"{kind}-{tag}")
        os.makedirs(d, exist_ok=True)
        return d

    # ---- startup + idle memory, then W1 and W2 on the last instance
    srv = None
    try:
        starts = []
        for i in range(cfg["startup_repeats"]):
            srv = Server(kind, cmd_fn, db_name, newdir(f"start{i}"))
            ms = srv.start(health_timeout)
            starts.append(round(ms, 1))
            log(f"{kind}: startup #{i + 1} {ms:.0f} ms")
            if i < cfg["startup_repeats"] - 1:
                srv.stop()
        res["startup"] = {"fresh_db_ms": starts, "median_ms": round(statistics.median(starts), 1)}
        settle_ms = srv.settle()
        mem = srv.memory()
        mem["settle_ms"] = round(settle_ms, 0)
        res["idle"] = mem
        log(f"{kind}: idle after {settle_ms:.0f} ms settle: RSS tree {mem['rss_kb_tree'] / 1024:.1f} MiB "
            f"({mem['processes']} procs), PSS {mem['pss_kb_tree'] / 1024:.1f} MiB")

        c = Client(srv.port)
        exp = c.must("experiments/create", {"name": "bench-writes"})["experiment_id"]
        run1 = c.must("runs/create", {"experiment_id": exp, "start_time": int(time.time() * 1000),
                                      "run_name": "w1"})["run"]["info"]["run_id"]
        run2 = c.must("runs/create", {"experiment_id": exp, "start_time": int(time.time() * 1000),
                                      "run_name": "w2"})["run"]["info"]["run_id"]
        c.close()

        try:
            if cfg["warmup"]:
                run_wrk(srv.url(), "log_metric.lua", [run1, 0], 32, cfg["warmup"], 10)
                srv.settle(max_s=30)
            w1 = run_wrk(srv.url(), "log_metric.lua", [run1, 500_000_000], 32, cfg["w1"], 10)
            res["w1"] = w1
            log(f"{kind}: W1 {w1['ok_per_s']:.0f} 2xx req/s, non2xx {w1['non2xx']}, "
                f"socket errors {w1['socket_errors_total']}")
        except Exception as e:  # noqa: BLE001
            res["w1"] = {"error": str(e)}
            log(f"{kind}: W1 failed: {e}")

        try:
            warm_ok = 0
            if cfg["warmup"]:
                warm_ok = run_wrk(srv.url(), "log_batch.lua", [run2, 0], 8, cfg["warmup"], 30)["ok"]
                srv.settle(max_s=30)
            w2 = run_wrk(srv.url(), "log_batch.lua", [run2, 500_000_000], 8, cfg["w2"], 30)
            w2["points_per_s"] = w2["ok_per_s"] * 1000
            res["w2"] = w2
            log(f"{kind}: W2 {w2['points_per_s']:.0f} points/s, non2xx {w2['non2xx']}, "
                f"socket errors {w2['socket_errors_total']}")
            # Durability: SIGKILL the server, then count the points that are on disk.
            srv.stop(hard=True)
            n = count_points(srv.db_path, run2)
            exp_pts = (warm_ok + w2["ok"]) * 1000
            w2["durability"] = {"stopped_with": "SIGKILL", "acked_points": exp_pts, "points_in_db": n,
                                "all_acked_present": (n >= exp_pts) if n is not None else None}
            log(f"{kind}: W2 after SIGKILL: {n} points in DB, {exp_pts} acknowledged")
        except Exception as e:  # noqa: BLE001
            res["w2"] = {"error": str(e)}
            log(f"{kind}: W2 failed: {e}")
    except Exception as e:  # noqa: BLE001
        res["error"] = str(e)
        log(f"{kind}: startup/W1/W2 failed: {e}")
    finally:
        if srv is not None:
            srv.stop()

    # ---- W3
    res["w3"] = {}
    for n, (runs, exp_names, n_match) in datasets.items():
        key = str(n)
        srv = None
        try:
            srv = Server(kind, cmd_fn, db_name, newdir(f"search{n}"))
            if kind == "mlflow":
                load = load_mlflow_bulk(srv.db_path, srv.art, runs)
                ms = srv.start(health_timeout)
                load["startup_existing_db_ms"] = round(ms, 1)
                srv.settle()
            else:
                ms = srv.start(health_timeout)
                srv.settle(max_s=10)
                load = load_rest(srv.port, runs)
            log(f"{kind}: W3 {n} runs loaded in {load['load_s']} s ({load['load_method']})")
            chk = check_search(srv.port, load["experiment_id"], exp_names)
            log(f"{kind}: W3 {n} check: {chk}")
            # Slow servers get a longer run so that enough requests complete for percentiles.
            # The server has one core, so throughput is ~1/latency whatever the concurrency:
            # duration >= min_samples x sequential latency (x1.3) + time to fill 4 connections.
            est = statistics.median(chk["sequential_ms"]) / 1000.0
            dur = max(cfg["w3"], min(600, int(cfg["w3_min_samples"] * est * 1.3 + 4 * est) + 2))
            tmo = int(max(60, 10 * est))
            if cfg["warmup"] and est < 0.2:
                run_wrk(srv.url(), "search.lua", [load["experiment_id"]], 4, cfg["warmup"], tmo)
            srv.settle(max_s=30)
            w3 = run_wrk(srv.url(), "search.lua", [load["experiment_id"]], 4, dur, tmo, latency=True)
            w3.update(load)
            w3["check"] = chk
            w3["matching_runs"] = n_match
            res["w3"][key] = w3
            lat = {k: (v or 0) / 1000 for k, v in w3["latency_us"].items()}
            log(f"{kind}: W3 {n}: {w3['ok']} ok in {dur} s: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, "
                f"p99 {lat['p99']:.1f} ms, {w3['ok_per_s']:.1f} req/s")
        except Exception as e:  # noqa: BLE001
            res["w3"][key] = {"error": str(e)}
            log(f"{kind}: W3 {n} failed: {e}")
        finally:
            if srv is not None:
                srv.stop()
            shutil.rmtree(os.path.join(tmproot, f"{kind}-search{n}"), ignore_errors=True)


# --------------------------------------------------------------------------
# report


def _get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float):
        if abs(v) >= 100:
            s = f"{v:,.0f}"
        elif abs(v) >= 10:
            s = f"{v:.1f}"
        else:
            s = f"{v:.2f}"
    elif isinstance(v, bool):
        s = "yes" if v else "NO"
    else:
        s = f"{v:,}" if isinstance(v, int) else str(v)
    return s + unit


def ratio(t, m, higher_better):
    if t is None or m is None:
        return None
    if higher_better:
        return t / m if m else None
    return m / t if t else None


def markdown(results):
    T = results["servers"].get("trellis", {})
    M = results["servers"].get("mlflow", {})
    rows = []

    def row(label, path, higher_better, scale=1.0, unit="", target=None, fmt_ratio=True):
        t = _get(T, *path)
        m = _get(M, *path)
        if scale != 1.0:
            t = t * scale if isinstance(t, (int, float)) and not isinstance(t, bool) else t
            m = m * scale if isinstance(m, (int, float)) and not isinstance(m, bool) else m
        r = ratio(t, m, higher_better) if fmt_ratio else None
        tgts = []
        for kind, val in (target or []):
            if kind == "ratio":
                rr = ratio(t, m, higher_better)
                tgts.append(f"≥ {val}×" + ("" if rr is None else (" ✅" if rr >= val else " ❌")))
            elif kind == "max":
                tgts.append(f"≤ {fmt(val, unit)}" + ("" if t is None else (" ✅" if t <= val else " ❌")))
            elif kind == "min":
                tgts.append(f"≥ {fmt(val, unit)}" + ("" if t is None else (" ✅" if t >= val else " ❌")))
        tgt = "; ".join(tgts)
        rows.append(f"| {label} | {fmt(t, unit)} | {fmt(m, unit)} | {fmt(r, '×') if r is not None else '—'} | {tgt} |")

    rows.append("| Metric | Trellis | MLflow " + results["meta"].get("mlflow_version", "") +
                " | Trellis advantage | Target |")
    rows.append("|---|---|---|---|---|")
    row("Startup to first healthy /health (ms, median, empty DB)", ["startup", "median_ms"], False)
    row("Idle RSS, whole process tree (MiB)", ["idle", "rss_kb_tree"], False, 1 / 1024)
    row("Idle PSS, whole process tree (MiB)", ["idle", "pss_kb_tree"], False, 1 / 1024)
    row("Idle processes", ["idle", "processes"], False, fmt_ratio=False)
    row("W1 log-metric, 2xx req/s (c=32)", ["w1", "ok_per_s"], True, target=[("ratio", 50)])
    row("W1 non-2xx responses", ["w1", "non2xx"], False, fmt_ratio=False)
    row("W1 socket errors", ["w1", "socket_errors_total"], False, fmt_ratio=False)
    row("W1 latency p99 (ms)", ["w1", "latency_us", "p99"], False, 1 / 1000)
    row("W2 log-batch, points/s (1,000/req, c=8)", ["w2", "points_per_s"], True,
        target=[("ratio", 30), ("min", 300000.0)])
    row("W2 non-2xx responses", ["w2", "non2xx"], False, fmt_ratio=False)
    row("W2 socket errors", ["w2", "socket_errors_total"], False, fmt_ratio=False)
    row("W2 all acked points on disk after SIGKILL", ["w2", "durability", "all_acked_present"], False,
        fmt_ratio=False)
    for n in results["meta"]["sizes"]:
        k = str(n)
        lbl = f"W3 search {n // 1000}k runs"
        row(f"{lbl}: p50 (ms, one client)", ["w3", k, "check", "sequential_p50_ms"], False,
            target=[("max", 20.0), ("ratio", 30)])
        row(f"{lbl}: p50 (ms, c=4)", ["w3", k, "latency_us", "p50"], False, 1 / 1000)
        row(f"{lbl}: p95 (ms)", ["w3", k, "latency_us", "p95"], False, 1 / 1000)
        row(f"{lbl}: p99 (ms)", ["w3", k, "latency_us", "p99"], False, 1 / 1000)
        row(f"{lbl}: req/s", ["w3", k, "ok_per_s"], True, target=[("ratio", 30)])
        row(f"{lbl}: top-100 matches expected", ["w3", k, "check", "matches_expected"], False,
            fmt_ratio=False)
        row(f"{lbl}: load time (s)", ["w3", k, "load_s"], False, fmt_ratio=False)
    notes = []
    for name, srv in results["servers"].items():
        for k, v in srv.items():
            if isinstance(v, dict) and "error" in v:
                notes.append(f"- {name} {k}: error: {v['error'][:300]}")
            if k == "w3":
                for n, w in v.items():
                    if "error" in w:
                        notes.append(f"- {name} W3 {n}: error: {w['error'][:300]}")
        if "error" in srv and isinstance(srv["error"], str):
            notes.append(f"- {name}: {srv['error'][:300]}")
        if "skipped" in srv:
            notes.append(f"- {name}: skipped: {srv['skipped']}")
    for name, srv in results["servers"].items():
        for wl in ("w1", "w2"):
            fe = _get(srv, wl, "first_error")
            if fe:
                notes.append(f"- {name} {wl.upper()} first non-2xx: `{fe[:200]}`")
    for name, srv in results["servers"].items():
        for n, w in (srv.get("w3") or {}).items():
            if "load_method" in w:
                notes.append(f"- {name} W3 {n} dataset load: {w['load_method']}, {w['load_s']} s")
    meta = results["meta"]
    head = ("**INTERRUPTED: partial results.** " if meta.get("interrupted") else "") + (
            f"Trellis benchmark — {meta['mode']} run, {meta['started']}, {meta['machine']['cpu']} "
            f"({meta['machine']['nproc']} cores), server on core {SERVER_CPU}, load generator on core "
            f"{LOADGEN_CPU}. Ratios are Trellis÷MLflow for throughput and MLflow÷Trellis for "
            f"latency, time and memory.")
    out = head + "\n\n" + "\n".join(rows) + "\n"
    if notes:
        out += "\nNotes:\n" + "\n".join(notes) + "\n"
    return out


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = _status_kb_from("/proc/meminfo", "MemTotal")
    osrel = ""
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osrel = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
    return {"cpu": cpu, "nproc": os.cpu_count(), "mem_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "os": osrel, "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "wrk": wrk[0].strip() if wrk else ""}


def _status_kb_from(path, field):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short durations, 10k dataset only")
    ap.add_argument("--only", choices=["both", "trellis", "mlflow"], default="both")
    ap.add_argument("--sizes", help="comma-separated W3 dataset sizes (default 10000,100000; quick 10000)")
    ap.add_argument("--duration", type=int, help="seconds per measured wrk run (overrides defaults)")
    ap.add_argument("--venv", default=os.path.join(ROOT, ".venv", "bench"))
    ap.add_argument("--trellis-bin", default=os.path.join(ROOT, "build", "trellis"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--keep-tmp", action="store_true")
    ap.add_argument("--report", metavar="JSON", help="only re-print the Markdown table of a results file")
    a = ap.parse_args()

    a.trellis_bin = os.path.abspath(a.trellis_bin)
    a.venv = os.path.abspath(a.venv)
    if a.report:
        with open(a.report) as f:
            print(markdown(json.load(f)))
        return

    if a.quick:
        cfg = {"w1": 5, "w2": 5, "w3": 5, "warmup": 1, "startup_repeats": 1, "w3_min_samples": 12}
        sizes = [10000]
    else:
        cfg = {"w1": 30, "w2": 30, "w3": 30, "warmup": 3, "startup_repeats": 3, "w3_min_samples": 30}
        sizes = [10000, 100000]
    if a.duration:
        cfg.update(w1=a.duration, w2=a.duration, w3=a.duration)
    if a.sizes:
        sizes = [int(x) for x in a.sizes.split(",") if x]
    cfg["health_timeout"] = 300

    aff = os.sched_getaffinity(0)
    if aff != {int(LOADGEN_CPU)}:
        log(f"warning: harness affinity is {sorted(aff)}, expected core {LOADGEN_CPU} (use bench/run.sh)")

    try:
        mlflow_version = subprocess.run([os.path.join(a.venv, "bin", "python"), "-c",
                                         "import mlflow; print(mlflow.__version__)"],
                                        capture_output=True, text=True).stdout.strip()
    except OSError:
        mlflow_version = ""
    try:
        trellis_version = subprocess.run([a.trellis_bin, "--version"], capture_output=True, text=True,
                                         timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        trellis_version = ""
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""

    started = _dt.datetime.now().astimezone()
    results = {"meta": {
        "mode": "quick" if a.quick else "full", "started": started.isoformat(timespec="seconds"),
        "sizes": sizes, "durations_s": {k: cfg[k] for k in ("w1", "w2", "w3", "warmup")},
        "startup_repeats": cfg["startup_repeats"], "server_cpu": SERVER_CPU, "loadgen_cpu": LOADGEN_CPU,
        "mlflow_version": mlflow_version, "trellis_version": trellis_version, "git_commit": commit,
        "machine": machine_info(),
        "search": {"filter": SEARCH_FILTER, "order_by": SEARCH_ORDER, "max_results": SEARCH_MAX},
    }, "servers": {}}

    log("generating W3 datasets: " + ", ".join(map(str, sizes)))
    datasets = {}
    for n in sizes:
        runs = gen_dataset(n, seed=20240 + n)
        names, n_match = expected_top(runs)
        datasets[n] = (runs, names, n_match)

    tmproot = tempfile.mkdtemp(prefix="trellis-bench-")

    def cleanup(*_):
        for s in list(_live_servers):
            s.stop(hard=True)
        if not a.keep_tmp:
            shutil.rmtree(tmproot, ignore_errors=True)

    def on_signal(signum, frame):
        log(f"signal {signum}: stopping servers, writing partial results")
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    try:
        order = []
        if a.only in ("both", "trellis"):
            order.append("trellis")
        if a.only in ("both", "mlflow"):
            order.append("mlflow")
        for kind in order:
            if kind == "trellis":
                if not (os.path.isfile(a.trellis_bin) and os.access(a.trellis_bin, os.X_OK)):
                    results["servers"]["trellis"] = {"skipped": f"{a.trellis_bin} not built"}
                    log("trellis: skipped (binary not built)")
                    continue
                fn, db = trellis_cmd(a.trellis_bin), "trellis.db"
            else:
                if not os.path.exists(os.path.join(a.venv, "bin", "mlflow")):
                    results["servers"]["mlflow"] = {"skipped": f"no mlflow in {a.venv}"}
                    continue
                fn, db = mlflow_cmd(a.venv), "mlflow.db"
            log(f"=== {kind} ===")
            results["servers"][kind] = partial = {"kind": kind}
            bench_server(kind, fn, db, cfg, datasets, tmproot, partial)
    except KeyboardInterrupt:
        results["meta"]["interrupted"] = True
    finally:
        cleanup()

    results["meta"]["finished"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    os.makedirs(a.out, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    md = markdown(results)
    jpath = os.path.join(a.out, f"{stamp}-{results['meta']['mode']}.json")
    mpath = os.path.join(a.out, f"{stamp}-{results['meta']['mode']}.md")
    with open(jpath, "w") as f:
        json.dump(results, f, indent=2)
    with open(mpath, "w") as f:
        f.write(md)
    shutil.copyfile(jpath, os.path.join(a.out, "latest.json"))
    shutil.copyfile(mpath, os.path.join(a.out, "latest.md"))
    print(md)
    log(f"results: {jpath}")


if __name__ == "__main__":
    main()
