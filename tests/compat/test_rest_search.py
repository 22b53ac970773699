"""Raw REST checks for what the official client cannot send or does not look at.

OR / parentheses in filters (a Trellis extension), GET query-string forms,
both URL prefixes, legacy run_uuid-only requests, bulk-interval history,
the JSON encoding of int64/ids/NaN, unknown endpoints and the service routes
(/version, /api/2.0/trellis/version, /metrics).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from urllib.parse import quote

import pytest

from helpers import AJAX, API, assert_error, by_key, now_ms, uniq

PREFIXES = [API, AJAX]


def _strict_json(text: str):
    """json.loads that refuses the bare NaN/Infinity tokens the mlflow client rejects."""

    def bad(tok):
        raise AssertionError(f"bare {tok} token in JSON output (must be quoted): {text[:300]}")

    return json.loads(text, parse_constant=bad)


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def or_runs(rest):
    """Experiment with 4 runs: a/p/t chosen so OR and parentheses give distinct answers."""
    eid = rest.create_experiment(uniq("or"))
    spec = {
        "r1": (2.0, "x", None),
        "r2": (0.5, "x", None),
        "r3": (3.0, "y", "k"),
        "r4": (0.0, "z", "k"),
    }
    ids = {}
    for i, (name, (a, p, t)) in enumerate(spec.items()):
        rid = rest.create_run(eid, run_name=name, start_time=1_700_000_000_000 + i)
        rest.log_batch(
            rid,
            metrics=[{"key": "a", "value": a, "timestamp": 1, "step": 0}],
            params=[{"key": "p", "value": p}],
            tags=[{"key": "t", "value": t}] if t else [],
        )
        ids[name] = rid
    return eid, ids


def _names(resp, ids):
    rev = {v: k for k, v in ids.items()}
    return {rev[r["info"]["run_id"]] for r in resp.get("runs", [])}


# ----------------------------------------------------------------------------- OR / ()


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("metrics.a > 1 OR params.p = 'x'", {"r1", "r2", "r3"}),
        ("metrics.a > 1 or params.p = 'z'", {"r1", "r3", "r4"}),
        ("(metrics.a > 1 OR params.p = 'z') AND tags.t = 'k'", {"r3", "r4"}),
        ("tags.t = 'k' AND (metrics.a > 1 OR params.p = 'z')", {"r3", "r4"}),
        ("metrics.a > 1 OR (params.p = 'x' AND metrics.a < 1)", {"r1", "r2", "r3"}),
        ("((params.p = 'x'))", {"r1", "r2"}),
        # AND binds tighter than OR
        ("params.p = 'y' OR params.p = 'x' AND metrics.a > 1", {"r1", "r3"}),
        ("(params.p = 'y' OR params.p = 'x') AND metrics.a > 1", {"r1", "r3"}),
        ("(params.p = 'y' OR params.p = 'z') AND (metrics.a < 1 OR tags.t = 'nope')", {"r4"}),
        ("params.p = 'z' OR metrics.a >= 3 OR params.p = 'x'", {"r1", "r2", "r3", "r4"}),
        ("attributes.run_name = 'r1' OR attributes.run_name = 'r4'", {"r1", "r4"}),
    ],
)
def test_runs_search_or_parentheses(rest, or_runs, flt, expected):
    eid, ids = or_runs
    assert _names(rest.search_runs([eid], flt), ids) == expected, flt


@pytest.mark.parametrize(
    "flt",
    [
        "(metrics.a > 1 OR params.p = 'x'",
        "metrics.a > 1 OR params.p = 'x')",
        "metrics.a > 1 OR",
        "OR metrics.a > 1",
        "metrics.a > 1 AND OR params.p = 'x'",
        "()",
    ],
)
def test_runs_search_or_malformed(rest, or_runs, flt):
    eid, _ = or_runs
    r = rest.post(API + "/runs/search", {"experiment_ids": [eid], "filter": flt})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_experiments_search_or(rest):
    pfx = uniq("eor")
    ids = {s: rest.create_experiment(f"{pfx}-{s}", tags=[{"key": "k", "value": s}]) for s in "abc"}
    body = lambda flt: {"filter": flt, "max_results": 100}  # noqa: E731
    got = rest.ok("POST", API + "/experiments/search", body(f"name = '{pfx}-a' OR name = '{pfx}-c'"))
    assert {e["experiment_id"] for e in got["experiments"]} == {ids["a"], ids["c"]}
    got = rest.ok(
        "POST",
        API + "/experiments/search",
        body(f"(tags.k = 'a' OR tags.k = 'b') AND name LIKE '{pfx}-%'"),
    )
    assert {e["experiment_id"] for e in got["experiments"]} == {ids["a"], ids["b"]}
    got = rest.ok("POST", API + "/experiments/search", body(f"name LIKE '{pfx}-%' AND (tags.k = 'c' OR name = 'nope')"))
    assert [e["experiment_id"] for e in got["experiments"]] == [ids["c"]]


# ----------------------------------------------------------------------------- GET query strings


def test_experiments_search_get_query_string(rest):
    pfx = uniq("qs")
    for s in "abc":
        rest.create_experiment(f"{pfx}-{s}")
    # The exact shape python-requests produces: spaces as '+', quotes/percent encoded, repeated keys.
    qs = (
        f"filter=name+LIKE+%27{pfx}-%25%27&max_results=100"
        "&order_by=name+DESC&order_by=creation_time+DESC&view_type=ACTIVE_ONLY"
    )
    r = rest.get(API + "/experiments/search?" + qs)
    assert r.status_code == 200, r.text
    assert [e["name"] for e in r.json()["experiments"]] == [f"{pfx}-c", f"{pfx}-b", f"{pfx}-a"]
    # %20 for spaces works as well, and AJAX prefix serves the same
    qs2 = f"filter=name%20LIKE%20%27{pfx}-%25%27&order_by=name%20ASC&max_results=2"
    r = rest.get(AJAX + "/experiments/search?" + qs2)
    assert r.status_code == 200, r.text
    data = r.json()
    assert [e["name"] for e in data["experiments"]] == [f"{pfx}-a", f"{pfx}-b"]
    token = data.get("next_page_token")
    assert token
    # page_token round-trips percent-encoded (base64 may contain + / =)
    r = rest.get(API + "/experiments/search?" + qs2 + "&page_token=" + quote(token, safe=""))
    assert r.status_code == 200, r.text
    data = r.json()
    assert [e["name"] for e in data["experiments"]] == [f"{pfx}-c"]
    assert not data.get("next_page_token")


def test_get_by_name_with_special_characters(rest):
    name = uniq("sp") + " a b+c&d=e/f%g 'q' ünï"
    eid = rest.create_experiment(name)
    got = rest.ok("GET", API + "/experiments/get-by-name", params={"experiment_name": name})
    assert got["experiment"]["experiment_id"] == eid
    assert got["experiment"]["name"] == name
    # and with '+' standing for spaces in a hand-written query string
    plain = uniq("plus") + " with spaces"
    eid2 = rest.create_experiment(plain)
    r = rest.get(API + "/experiments/get-by-name?experiment_name=" + plain.replace(" ", "+"))
    assert r.status_code == 200, r.text
    assert r.json()["experiment"]["experiment_id"] == eid2


def test_metric_history_get_paging(rest):
    eid = rest.create_experiment()
    rid = rest.create_run(eid)
    rest.log_batch(rid, metrics=[{"key": "h", "value": i, "timestamp": 1000 + i, "step": i} for i in range(7)])
    seen, token, pages = [], None, 0
    while True:
        params = [("run_id", rid), ("run_uuid", rid), ("metric_key", "h"), ("max_results", "3")]
        if token:
            params.append(("page_token", token))
        data = rest.ok("GET", API + "/metrics/get-history", params=params)
        pages += 1
        assert len(data.get("metrics", [])) <= 3
        seen += [m["step"] for m in data.get("metrics", [])]
        token = data.get("next_page_token")
        if not token:
            break
        assert pages < 10
    assert seen == list(range(7))
    assert pages == 3  # never a token on a short page


# ----------------------------------------------------------------------------- prefixes


@pytest.mark.parametrize("prefix", PREFIXES)
def test_both_prefixes(rest, prefix):
    name = uniq("pfx")
    r = rest.post(prefix + "/experiments/create", {"name": name})
    assert r.status_code == 200, r.text
    eid = r.json()["experiment_id"]
    got = rest.ok("GET", prefix + "/experiments/get", params={"experiment_id": eid})
    assert got["experiment"]["name"] == name
    run = rest.ok("POST", prefix + "/runs/create", {"experiment_id": eid, "start_time": now_ms()})["run"]
    rid = run["info"]["run_id"]
    rest.ok("POST", prefix + "/runs/log-metric", {"run_id": rid, "key": "m", "value": 1.5, "timestamp": 5, "step": 2})
    rest.ok("POST", prefix + "/runs/log-batch", {"run_id": rid, "params": [{"key": "p", "value": "v"}]})
    found = rest.ok("POST", prefix + "/runs/search", {"experiment_ids": [eid]})
    assert [r_["info"]["run_id"] for r_ in found["runs"]] == [rid]
    hist = rest.ok("GET", prefix + "/metrics/get-history", params={"run_id": rid, "metric_key": "m"})
    assert [(m["value"], m["timestamp"], m["step"]) for m in hist["metrics"]] == [(1.5, 5, 2)]
    exps = rest.ok("POST", prefix + "/experiments/search", {"filter": f"name = '{name}'", "max_results": 10})
    assert [e["experiment_id"] for e in exps["experiments"]] == [eid]


# ----------------------------------------------------------------------------- legacy run_uuid


def test_run_uuid_only_requests(rest):
    eid = rest.create_experiment()
    rid = rest.create_run(eid)
    rest.ok("POST", API + "/runs/log-metric", {"run_uuid": rid, "key": "m", "value": 2.5, "timestamp": 10, "step": 1})
    rest.ok("POST", API + "/runs/log-parameter", {"run_uuid": rid, "key": "p", "value": "v"})
    rest.ok("POST", API + "/runs/set-tag", {"run_uuid": rid, "key": "t", "value": "tv"})
    info = rest.ok("POST", API + "/runs/update", {"run_uuid": rid, "status": "FINISHED", "end_time": 12345})["run_info"]
    assert info["run_id"] == rid and info["run_uuid"] == rid
    assert info["status"] == "FINISHED" and info["end_time"] == 12345
    run = rest.ok("GET", API + "/runs/get", params={"run_uuid": rid})["run"]
    assert run["info"]["run_id"] == rid and run["info"]["run_uuid"] == rid
    assert by_key(run["data"]["params"]) == {"p": "v"}
    assert by_key(run["data"]["tags"])["t"] == "tv"
    assert by_key(run["data"]["metrics"])["m"] == 2.5
    hist = rest.ok("GET", API + "/metrics/get-history", params={"run_uuid": rid, "metric_key": "m"})["metrics"]
    assert [(m["value"], m["step"]) for m in hist] == [(2.5, 1)]
    # both given (what the client sends)
    run2 = rest.ok("GET", API + "/runs/get", params={"run_id": rid, "run_uuid": rid})["run"]
    assert run2["info"]["run_id"] == rid


# ----------------------------------------------------------------------------- bulk interval


@pytest.mark.parametrize("prefix", PREFIXES)
def test_get_history_bulk_interval(rest, prefix):
    eid = rest.create_experiment()
    r1, r2 = rest.create_run(eid), rest.create_run(eid)
    for rid, scale in ((r1, 1.0), (r2, 10.0)):
        rest.log_batch(rid, metrics=[{"key": "loss", "value": i * scale, "timestamp": 100 + i, "step": i} for i in range(10)])
    path = prefix + "/metrics/get-history-bulk-interval"
    data = rest.ok("GET", path, params=[("run_ids", r1), ("run_ids", r2), ("metric_key", "loss")])
    pts = data["metrics"]
    assert len(pts) == 20
    for rid, scale in ((r1, 1.0), (r2, 10.0)):
        mine = [p for p in pts if p["run_id"] == rid]
        assert [p["step"] for p in mine] == list(range(10))
        assert [p["value"] for p in mine] == [i * scale for i in range(10)]
        assert all(p["key"] == "loss" and isinstance(p["timestamp"], int) for p in mine)
    # explicit window
    data = rest.ok(
        "GET", path, params=[("run_ids", r1), ("metric_key", "loss"), ("start_step", "2"), ("end_step", "5")]
    )
    assert [p["step"] for p in data["metrics"]] == [2, 3, 4, 5]
    # missing metric_key / run_ids
    assert_error(rest.get(path, params=[("run_ids", r1)]), 400, "INVALID_PARAMETER_VALUE")
    assert_error(rest.get(path, params=[("metric_key", "loss")]), 400, "INVALID_PARAMETER_VALUE")


def test_get_history_bulk_interval_downsamples(rest):
    eid = rest.create_experiment()
    rid = rest.create_run(eid)
    rest.log_batch(rid, metrics=[{"key": "m", "value": i, "timestamp": i, "step": i} for i in range(1000)])
    data = rest.ok(
        "GET",
        API + "/metrics/get-history-bulk-interval",
        params=[("run_ids", rid), ("metric_key", "m"), ("max_results", "10")],
    )
    steps = [p["step"] for p in data["metrics"]]
    assert 2 <= len(steps) <= 12, steps
    assert steps == sorted(set(steps))
    assert steps[0] == 0 and steps[-1] == 999  # min and max step always included


# ----------------------------------------------------------------------------- JSON encoding


def test_int64_numbers_ids_strings(rest):
    eid = rest.create_experiment()
    exp = _strict_json(rest.get(API + "/experiments/get", params={"experiment_id": eid}).text)["experiment"]
    assert isinstance(exp["experiment_id"], str)
    assert isinstance(exp["creation_time"], int) and isinstance(exp["last_update_time"], int)
    assert exp["lifecycle_stage"] == "active"
    rid = rest.create_run(eid, start_time=1_700_000_000_123)
    # int64 may arrive as strings (hand-written and non-Python clients); emitted as numbers
    rest.ok("POST", API + "/runs/log-metric", {"run_id": rid, "key": "m", "value": 1, "timestamp": "1700000000999", "step": "3"})
    rest.ok("POST", API + "/runs/log-metric", {"run_id": rid, "key": "nostep", "value": 2, "timestamp": 5})
    r = rest.get(API + "/runs/get", params={"run_id": rid})
    run = _strict_json(r.text)["run"]
    info = run["info"]
    assert isinstance(info["run_id"], str) and isinstance(info["experiment_id"], str)
    assert info["experiment_id"] == eid
    assert info["start_time"] == 1_700_000_000_123 and isinstance(info["start_time"], int)
    assert not info.get("end_time"), "end_time must be omitted (or 0) while running"
    assert info["status"] == "RUNNING" and info["lifecycle_stage"] == "active"
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["m"]["timestamp"] == 1_700_000_000_999 and metrics["m"]["step"] == 3
    assert isinstance(metrics["m"]["timestamp"], int) and isinstance(metrics["m"]["step"], int)
    assert metrics["nostep"]["step"] == 0  # default emitted
    # numeric experiment_id (old clients): accepted as the string id, or refused cleanly
    r = rest.post(API + "/runs/create", {"experiment_id": int(eid) if eid.isdigit() else eid, "start_time": 1})
    if r.status_code == 200:
        assert r.json()["run"]["info"]["experiment_id"] == eid
    else:
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")


def test_nan_inf_encoding(rest):
    eid = rest.create_experiment()
    rid = rest.create_run(eid)
    rest.ok("POST", API + "/runs/log-metric", {"run_id": rid, "key": "n", "value": "NaN", "timestamp": 1, "step": 0})
    rest.ok(
        "POST",
        API + "/runs/log-batch",
        {
            "run_id": rid,
            "metrics": [
                {"key": "pi", "value": "Infinity", "timestamp": 1, "step": 0},
                {"key": "ni", "value": "-Infinity", "timestamp": 1, "step": 0},
                {"key": "f", "value": 0.1, "timestamp": 1, "step": 0},
            ],
        },
    )
    r = rest.get(API + "/runs/get", params={"run_id": rid})
    run = _strict_json(r.text)["run"]
    m = by_key(run["data"]["metrics"])
    assert m["n"] == "NaN"
    assert m["pi"] in ("Infinity", 1.7976931348623157e308)
    assert m["ni"] in ("-Infinity", -1.7976931348623157e308)
    assert m["f"] == 0.1  # round-trip precision
    hist = _strict_json(rest.get(API + "/metrics/get-history", params={"run_id": rid, "metric_key": "n"}).text)
    assert hist["metrics"][0]["value"] == "NaN"
    # search sees NaN as a value: sorts after real values, does not match numeric comparisons
    found = rest.search_runs([eid], "metrics.n > 0")
    assert found.get("runs", []) == []


def test_enum_input_as_integer(rest):
    eid = rest.create_experiment()
    rid = rest.create_run(eid)
    rest.ok("POST", API + "/runs/delete", {"run_id": rid})
    for view in (2, "DELETED_ONLY"):
        got = rest.search_runs([eid], run_view_type=view)
        assert [r["info"]["run_id"] for r in got.get("runs", [])] == [rid], view
    assert rest.search_runs([eid], run_view_type=1).get("runs", []) == []
    got = rest.search_runs([eid], run_view_type=3)
    assert len(got["runs"]) == 1 and got["runs"][0]["info"]["lifecycle_stage"] == "deleted"


def test_empty_responses_are_objects(rest):
    eid = rest.create_experiment()
    rid = rest.create_run(eid)
    for path, body in [
        ("/runs/log-batch", {"run_id": rid, "metrics": [{"key": "k", "value": 1, "timestamp": 1}]}),
        ("/runs/set-tag", {"run_id": rid, "key": "a", "value": "b"}),
        ("/experiments/set-experiment-tag", {"experiment_id": eid, "key": "a", "value": "b"}),
    ]:
        r = rest.post(API + path, body)
        assert r.status_code == 200 and r.json() == {}, (path, r.status_code, r.text)
    # search on an experiment without runs: {} or {"runs": []}, and no page token
    empty = rest.create_experiment()
    got = rest.search_runs([empty])
    assert got.get("runs", []) == [] and not got.get("next_page_token")


def test_unknown_fields_ignored(rest):
    eid = rest.create_experiment(uniq("unk"), some_future_field={"x": 1})
    rid = rest.create_run(eid)
    rest.ok(
        "POST",
        API + "/runs/log-metric",
        {"run_id": rid, "key": "m", "value": 1, "timestamp": 1, "zzz": [1], "future": {"a": None}},
    )
    assert by_key(rest.get_run(rid)["data"]["metrics"])["m"] == 1


# ----------------------------------------------------------------------------- 404s


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", API + "/no-such-endpoint"),
        ("POST", API + "/runs/no-such-rpc"),
        ("GET", AJAX + "/nothing/here"),
        ("GET", "/api/2.0/nothing"),
        ("GET", "/api/9.9/mlflow/runs/get"),
    ],
)
def test_unknown_endpoint(rest, method, path):
    r = rest.request(method, path, json={} if method == "POST" else None)
    assert_error(r, 404, "ENDPOINT_NOT_FOUND")


def test_wrong_method(rest):
    r = rest.get(API + "/runs/create")
    assert_error(r, (404, 405))
    r = rest.request("DELETE", API + "/experiments/get", params={"experiment_id": "0"})
    assert_error(r, (404, 405))


# ----------------------------------------------------------------------------- service routes


def test_version_plain_text(rest):
    r = rest.get("/version")
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/")
    text = r.text.strip()
    m = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", text)
    assert m, f"/version is not a version string: {text!r}"
    assert (int(m.group(1)), int(m.group(2))) < (3, 4), f"/version must stay below 3.4 (no OTLP): {text}"


def test_trellis_version_json(rest, server):
    data = rest.ok("GET", "/api/2.0/trellis/version")
    assert isinstance(data.get("version"), str) and data["version"], data
    cli = subprocess.run([server.binary, "--version"], capture_output=True, text=True, timeout=10)
    assert cli.returncode == 0, cli.stderr
    assert data["version"] in (cli.stdout + cli.stderr), (data, cli.stdout)


def _prom_samples(text: str) -> tuple[dict, dict]:
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(None, 3)
            types[name] = typ.strip()
        elif line and not line.startswith("#"):
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            assert m, f"not a Prometheus sample line: {line!r}"
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return types, samples


def test_prometheus_metrics(rest):
    r = rest.get("/metrics")
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain")
    types, before = _prom_samples(r.text)
    counters = [n for n, t in types.items() if t == "counter" and "request" in n]
    assert counters, f"no request counter in /metrics: {sorted(types)}"

    def total(samples):
        return sum(v for k, v in samples.items() if any(k == c or k.startswith(c + "{") or k.startswith(c + "_total") for c in counters))

    for _ in range(5):
        rest.get(API + "/experiments/get", params={"experiment_id": "0"})
    _, after = _prom_samples(rest.get("/metrics").text)
    assert total(after) >= total(before) + 5, (total(before), total(after))
    assert all(not math.isnan(v) for v in after.values() if v == v)


def test_health(rest):
    r = rest.get("/health")
    assert r.status_code == 200 and r.text.strip() == "OK"


# ----------------------------------------------------------------------------- 2.x log-model


def test_log_model_appends_history(rest):
    """MLflow 2.x `runs/log-model`: each model JSON is appended to mlflow.log-model.history."""
    rid = rest.create_run(rest.create_experiment(uniq("logmodel")))
    for path in ("model", "model2"):
        model = {"artifact_path": path, "flavors": {"python_function": {}},
                 "utc_time_created": "2026-11-27 00:00:00.000000", "run_id": rid}
        rest.ok("POST", API + "/runs/log-model", {"run_id": rid, "model_json": json.dumps(model)})
    tags = by_key(rest.get_run(rid)["data"]["tags"])
    history = json.loads(tags["mlflow.log-model.history"])
    assert [m["artifact_path"] for m in history] == ["model", "model2"]
    # a model JSON without the mandatory fields is refused and changes nothing
    r = rest.post(API + "/runs/log-model", {"run_id": rid, "model_json": json.dumps({"flavors": {}})})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = rest.post(API + "/runs/log-model", {"run_id": rid, "model_json": "not json"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    tags = by_key(rest.get_run(rid)["data"]["tags"])
    assert len(json.loads(tags["mlflow.log-model.history"])) == 2


# ----------------------------------------------------------------------------- order by a param / tag


@pytest.mark.parametrize("kind", ["params", "tags"])
@pytest.mark.parametrize("asc", [True, False])
def test_search_order_by_param_or_tag_pages(rest, kind, asc):
    """Ordering by a param or tag (walked on its index): values in order, runs
    without it last in both directions, ties by start_time DESC; the same
    order page by page (2 a page) across the two tiers, with a filter."""
    eid = rest.create_experiment(uniq("kvorder"))
    values = {"a": "b", "b": "a", "c": None, "d": "c", "e": "a", "f": None, "g": "b"}
    for i, (name, v) in enumerate(values.items()):
        rid = rest.create_run(eid, run_name=name, start_time=1_700_000_000_000 + i)
        if v is not None:
            if kind == "params":
                rest.log_batch(rid, params=[{"key": "k", "value": v}])
            else:
                rest.log_batch(rid, tags=[{"key": "k", "value": v}])
        rest.log_batch(rid, metrics=[{"key": "m", "value": float(i), "timestamp": 1, "step": 0}])
    order = [f"{kind}.`k` {'ASC' if asc else 'DESC'}"]
    have = sorted((n for n in values if values[n] is not None), key=lambda n: -ord(n))  # start_time DESC
    have.sort(key=lambda n: values[n], reverse=not asc)
    missing = sorted((n for n in values if values[n] is None), key=lambda n: -ord(n))
    want = have + missing

    def walk(flt=None):
        names, token = [], None
        for _ in range(10):
            extra = {"order_by": order, "max_results": 2}
            if token:
                extra["page_token"] = token
            r = rest.search_runs([eid], flt, **extra)
            names += [x["info"]["run_name"] for x in r.get("runs", [])]
            token = r.get("next_page_token")
            if not token:
                break
        return names

    assert walk() == want
    assert walk("metrics.m >= 2") == [n for n in want if ord(n) - ord("a") >= 2]
