"""Hostile and malformed input over raw HTTP.

For every bad request: a 4xx status (never 5xx: the mlflow client retries 5xx
for minutes), a JSON body {error_code, message}, the server still healthy
afterwards (checked after every test), and no partial write.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from conftest import ALLOWED_ORIGIN
from helpers import API, assert_error, by_key, uniq

BAD_CODES_400 = ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST")


@pytest.fixture(autouse=True)
def _healthy_after(rest):
    yield
    assert rest.healthy(), "server is not healthy after this test's bad input"


@pytest.fixture
def exp_run(rest):
    eid = rest.create_experiment(uniq("bad"))
    rid = rest.create_run(eid)
    return eid, rid


def _raw(server, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, return whatever the server answers (possibly after it closed early)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        try:
            view = memoryview(data)
            while view:
                n = s.send(view[: 1 << 16])
                view = view[n:]
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
                if b"\r\n\r\n" in b"".join(chunks):
                    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                    cl = [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
                    if cl and len(body) >= int(cl[0].split(b":")[1]):
                        break
        except (ConnectionResetError, socket.timeout):
            pass
        return b"".join(chunks)


def _raw_status(resp: bytes) -> tuple[int, bytes]:
    assert resp.startswith(b"HTTP/1."), f"no HTTP response: {resp[:200]!r}"
    status = int(resp.split(b" ", 2)[1])
    body = resp.partition(b"\r\n\r\n")[2]
    return status, body


def _assert_raw_error(resp: bytes, statuses=None):
    status, body = _raw_status(resp)
    assert 400 <= status < 500, f"expected 4xx, got {status}: {resp[:300]!r}"
    if statuses:
        assert status in statuses, f"expected {statuses}, got {status}"
    if body:
        # chunked bodies: be lenient, find the JSON object
        text = body.decode(errors="replace")
        start, end = text.find("{"), text.rfind("}")
        assert start >= 0, f"error body is not JSON: {text[:200]!r}"
        obj = json.loads(text[start : end + 1])
        assert "error_code" in obj and "message" in obj, obj


# ----------------------------------------------------------------------------- malformed bodies


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": ',
        b"{name: 'x'}",
        b'{"name": "x",}',
        b"\xff\xfe\x00garbage",
        b'{"name": "\\ud800"}x',
        b"[]",
        b'"just a string"',
        b"123",
        b"null",
        b'{"name": "a"} {"name": "b"}',
    ],
)
def test_malformed_json(rest, body):
    r = rest.post(API + "/experiments/create", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, BAD_CODES_400)


def test_deeply_nested_json(rest, server):
    body = b"[" * 100_000 + b"]" * 100_000
    r = rest.post(API + "/experiments/create", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, (400, 413), BAD_CODES_400 + ("RESOURCE_EXHAUSTED", "REQUEST_LIMIT_EXCEEDED"))
    body = b'{"name":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}"
    r = rest.post(API + "/experiments/create", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, (400, 413))


@pytest.mark.parametrize(
    "path, body",
    [
        ("/experiments/create", {"name": 123}),
        ("/experiments/create", {"name": ["a"]}),
        ("/experiments/create", {"name": "ok-" + uniq(), "tags": {"k": "v"}}),
        ("/experiments/create", {"name": "ok-" + uniq(), "tags": [{"key": 1, "value": "v"}]}),
        ("/runs/log-metric", {"run_id": "RID", "key": "m", "value": "abc", "timestamp": 1}),
        ("/runs/log-metric", {"run_id": "RID", "key": "m", "value": True, "timestamp": 1}),
        ("/runs/log-metric", {"run_id": "RID", "key": "m", "value": 1, "timestamp": "yesterday"}),
        ("/runs/log-metric", {"run_id": "RID", "key": "m", "value": 1, "timestamp": 1, "step": 1.5}),
        ("/runs/log-metric", {"run_id": "RID", "key": "m", "value": 1, "timestamp": -1}),
        ("/runs/log-metric", {"run_id": ["RID"], "key": "m", "value": 1, "timestamp": 1}),
        ("/runs/log-metric", {"run_id": "RID", "key": "m", "value": 1, "timestamp": 99999999999999999999999}),
        ("/runs/log-parameter", {"run_id": "RID", "key": "p", "value": {"nested": 1}}),
        ("/runs/log-batch", {"run_id": "RID", "metrics": {"key": "m"}}),
        ("/runs/log-batch", {"run_id": "RID", "metrics": ["not an object"]}),
        ("/runs/set-tag", {"run_id": "RID", "key": 5, "value": "v"}),
        ("/runs/search", {"experiment_ids": "EID"}),
        ("/runs/search", {"experiment_ids": ["EID"], "max_results": "lots"}),
        ("/runs/search", {"experiment_ids": ["EID"], "max_results": -1}),
        ("/runs/search", {"experiment_ids": ["EID"], "max_results": 50001}),
        ("/runs/search", {"experiment_ids": ["EID"], "order_by": "metrics.a"}),
        ("/runs/search", {"experiment_ids": ["EID"], "order_by": ["metrics.a SIDEWAYS"]}),
        ("/runs/search", {"experiment_ids": ["EID"], "page_token": "not-a-token!!"}),
        ("/experiments/search", {"max_results": "x"}),
        ("/experiments/search", {"max_results": 100, "page_token": "%%%"}),
        ("/experiments/search", {"max_results": 100, "order_by": ["bogus_column"]}),
    ],
)
def test_wrong_types(rest, exp_run, path, body):
    eid, rid = exp_run
    body = json.loads(json.dumps(body).replace('"RID"', json.dumps(rid)).replace('"EID"', json.dumps(eid)))
    r = rest.post(API + path, body)
    assert_error(r, 400, BAD_CODES_400)
    run = rest.get_run(rid)
    assert not run["data"].get("metrics") and not run["data"].get("params")
    assert run["info"]["status"] == "RUNNING"


def test_unknown_enum_values(rest, exp_run):
    """MLflow ignores unknown enum names (proto default); refusing them is fine too, 5xx is not."""
    eid, rid = exp_run
    r = rest.post(API + "/runs/update", {"run_id": rid, "status": "EXPLODED"})
    if r.status_code != 200:
        assert_error(r, 400, BAD_CODES_400)
    assert rest.get_run(rid)["info"]["status"] in ("RUNNING",)
    r = rest.post(API + "/runs/search", {"experiment_ids": [eid], "run_view_type": "SOMETIMES"})
    if r.status_code == 200:
        assert [x["info"]["run_id"] for x in r.json().get("runs", [])] == [rid]
    else:
        assert_error(r, 400, BAD_CODES_400)


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/experiments/create", {}),
        ("POST", "/experiments/create", {"name": ""}),
        ("GET", "/experiments/get", {}),
        ("GET", "/experiments/get-by-name", {}),
        ("POST", "/experiments/update", {"experiment_id": "EID"}),
        ("POST", "/experiments/delete", {}),
        ("POST", "/experiments/set-experiment-tag", {"experiment_id": "EID", "value": "v"}),
        ("GET", "/runs/get", {}),
        ("POST", "/runs/update", {"status": "FINISHED"}),
        ("POST", "/runs/delete", {}),
        ("POST", "/runs/log-metric", {"run_id": "RID", "value": 1, "timestamp": 1}),
        ("POST", "/runs/log-metric", {"run_id": "RID", "key": "m", "timestamp": 1}),
        ("POST", "/runs/log-metric", {"run_id": "RID", "key": "m", "value": 1}),
        ("POST", "/runs/log-metric", {"key": "m", "value": 1, "timestamp": 1}),
        ("POST", "/runs/log-parameter", {"run_id": "RID", "value": "v"}),
        ("POST", "/runs/set-tag", {"run_id": "RID", "value": "v"}),
        ("POST", "/runs/delete-tag", {"run_id": "RID"}),
        ("POST", "/runs/log-batch", {"metrics": [{"key": "m", "value": 1, "timestamp": 1}]}),
        ("POST", "/runs/log-batch", {"run_id": "RID", "metrics": [{"key": "m", "value": 1}]}),
        ("POST", "/runs/log-batch", {"run_id": "RID", "metrics": [{"value": 1, "timestamp": 1}]}),
        ("POST", "/runs/log-batch", {"run_id": "RID", "params": [{"value": "v"}]}),
        ("POST", "/runs/log-batch", {"run_id": "RID", "tags": [{"value": "v"}]}),
        ("GET", "/metrics/get-history", {"run_id": "RID"}),
    ],
)
def test_missing_required(rest, exp_run, method, path, body):
    eid, rid = exp_run
    body = json.loads(json.dumps(body).replace('"RID"', json.dumps(rid)).replace('"EID"', json.dumps(eid)))
    if method == "GET":
        r = rest.get(API + path, params=body)
    else:
        r = rest.post(API + path, body)
    err = assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert err["message"]
    run = rest.get_run(rid)
    assert not run["data"].get("metrics") and not run["data"].get("params")


# ----------------------------------------------------------------------------- limits


def _metrics(n, key="m"):
    return [{"key": f"{key}{i}", "value": i, "timestamp": 1, "step": 0} for i in range(n)]


@pytest.mark.parametrize(
    "batch",
    [
        {"metrics": _metrics(1001)},
        {"params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
        {"tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]},
        {
            "metrics": _metrics(900),
            "params": [{"key": f"p{i}", "value": "v"} for i in range(60)],
            "tags": [{"key": f"t{i}", "value": "v"} for i in range(60)],
        },
    ],
    ids=["1001-metrics", "101-params", "101-tags", "1020-entities"],
)
def test_batch_too_large(rest, exp_run, batch):
    _, rid = exp_run
    r = rest.post(API + "/runs/log-batch", {"run_id": rid, **batch})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    data = rest.get_run(rid)["data"]
    assert not data.get("metrics") and not data.get("params")
    assert not [t for t in data.get("tags", []) if t["key"].startswith("t")]


def test_batch_at_limits_accepted(rest, exp_run):
    _, rid = exp_run
    rest.log_batch(rid, metrics=_metrics(1000))
    rest.log_batch(rid, params=[{"key": f"p{i}", "value": "v"} for i in range(100)])
    rest.log_batch(rid, tags=[{"key": f"t{i}", "value": "v"} for i in range(100)])
    data = rest.get_run(rid)["data"]
    assert len(data["metrics"]) == 1000 and len(data["params"]) == 100


@pytest.mark.parametrize(
    "key",
    ["k" * 251, "../etc", "/abs", "a//b", "trailing/", ".", "bad*char", "semi;colon", "quote'key", "new\nline", "tab\tkey", "nul\x00key"],
)
def test_bad_keys(rest, exp_run, key):
    _, rid = exp_run
    for path, body in [
        ("/runs/log-metric", {"run_id": rid, "key": key, "value": 1, "timestamp": 1}),
        ("/runs/log-parameter", {"run_id": rid, "key": key, "value": "v"}),
        ("/runs/set-tag", {"run_id": rid, "key": key, "value": "v"}),
        ("/runs/log-batch", {"run_id": rid, "metrics": [{"key": key, "value": 1, "timestamp": 1}]}),
    ]:
        assert_error(rest.post(API + path, body), 400, "INVALID_PARAMETER_VALUE")
    data = rest.get_run(rid)["data"]
    assert not data.get("metrics") and not data.get("params")
    assert key not in by_key(data.get("tags"))


def test_key_at_limit_accepted(rest, exp_run):
    _, rid = exp_run
    key = "k" * 250
    rest.ok("POST", API + "/runs/log-metric", {"run_id": rid, "key": key, "value": 1, "timestamp": 1})
    assert key in by_key(rest.get_run(rid)["data"]["metrics"])


@pytest.mark.parametrize(
    "path, field, limit",
    [("/runs/log-parameter", "value", 6000), ("/runs/set-tag", "value", 8000)],
)
def test_long_values_truncated_or_rejected(rest, exp_run, path, field, limit):
    _, rid = exp_run
    value = "v" * (limit + 1)
    r = rest.post(API + path, {"run_id": rid, "key": "long", field: value})
    data = rest.get_run(rid)["data"]
    stored = by_key(data.get("params" if "param" in path else "tags")).get("long")
    if r.status_code == 200:
        assert stored is not None and len(stored) <= limit and value.startswith(stored)
    else:
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
        assert stored is None
    r = rest.post(API + path, {"run_id": rid, "key": "huge", field: "x" * 1_000_000})
    if r.status_code != 200:
        assert_error(r, (400, 413))


def test_experiment_limits(rest):
    assert_error(rest.post(API + "/experiments/create", {"name": "n" * 501}), 400, "INVALID_PARAMETER_VALUE")
    eid = rest.create_experiment()
    r = rest.post(API + "/experiments/set-experiment-tag", {"experiment_id": eid, "key": "k", "value": "v" * 5001})
    if r.status_code != 200:
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = rest.post(API + "/experiments/set-experiment-tag", {"experiment_id": eid, "key": "k" * 251, "value": "v"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    tags = by_key(rest.ok("GET", API + "/experiments/get", params={"experiment_id": eid})["experiment"].get("tags"))
    assert "k" * 251 not in tags


def test_body_over_limit(rest, server):
    eid = rest.create_experiment()
    name = uniq("big")
    payload = json.dumps({"name": name, "artifact_location": "", "tags": [{"key": "k", "value": "x" * (20 << 20)}]})
    head = (
        f"POST {API}/experiments/create HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    ).encode()
    t0 = time.monotonic()
    resp = _raw(server, head + payload.encode(), timeout=30)
    if resp:  # the server may answer early and close; a reset before any byte is tolerated
        _assert_raw_error(resp, (400, 413))
    assert time.monotonic() - t0 < 30
    r = rest.get(API + "/experiments/get-by-name", params={"experiment_name": name})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    assert rest.ok("GET", API + "/experiments/get", params={"experiment_id": eid})["experiment"]["experiment_id"] == eid


def test_declared_huge_content_length_answered_promptly(server):
    head = (
        f"POST {API}/runs/log-batch HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 20000000000\r\n\r\n{"
    ).encode()
    t0 = time.monotonic()
    resp = _raw(server, head, timeout=10)
    assert time.monotonic() - t0 < 10, "server waited for a body it should have refused"
    assert resp, "no answer to a request declaring a 20 GB body"
    _assert_raw_error(resp, (400, 413))


# ----------------------------------------------------------------------------- unknown ids


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", "/experiments/get", {"experiment_id": "99999999"}),
        ("GET", "/experiments/get-by-name", {"experiment_name": "no-such-exp-" + uniq()}),
        ("POST", "/experiments/update", {"experiment_id": "99999999", "new_name": "x" + uniq()}),
        ("POST", "/experiments/delete", {"experiment_id": "99999999"}),
        ("POST", "/experiments/restore", {"experiment_id": "99999999"}),
        ("POST", "/experiments/set-experiment-tag", {"experiment_id": "99999999", "key": "k", "value": "v"}),
        ("POST", "/runs/create", {"experiment_id": "99999999", "start_time": 1}),
        ("GET", "/runs/get", {"run_id": "f" * 32}),
        ("POST", "/runs/update", {"run_id": "f" * 32, "status": "FINISHED"}),
        ("POST", "/runs/delete", {"run_id": "f" * 32}),
        ("POST", "/runs/restore", {"run_id": "f" * 32}),
        ("POST", "/runs/log-metric", {"run_id": "f" * 32, "key": "m", "value": 1, "timestamp": 1}),
        ("POST", "/runs/log-parameter", {"run_id": "f" * 32, "key": "p", "value": "v"}),
        ("POST", "/runs/set-tag", {"run_id": "f" * 32, "key": "t", "value": "v"}),
        ("POST", "/runs/log-batch", {"run_id": "f" * 32, "metrics": [{"key": "m", "value": 1, "timestamp": 1}]}),
        ("GET", "/metrics/get-history", {"run_id": "f" * 32, "metric_key": "m"}),
    ],
)
def test_unknown_ids(rest, method, path, body):
    r = rest.get(API + path, params=body) if method == "GET" else rest.post(API + path, body)
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize("bad_id", ["abc", "-1", "1.5", "' OR '1'='1", "0; DROP TABLE experiments", "../0", "%00", "9" * 40])
def test_weird_experiment_ids(rest, bad_id):
    r = rest.get(API + "/experiments/get", params={"experiment_id": bad_id})
    assert_error(r, (400, 404), ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"))
    r = rest.get(API + "/runs/get", params={"run_id": bad_id})
    assert_error(r, (400, 404), ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"))
    assert rest.ok("GET", API + "/experiments/get", params={"experiment_id": "0"})["experiment"]["name"] == "Default"


# ----------------------------------------------------------------------------- injection


@pytest.fixture
def inj(rest):
    eid = rest.create_experiment(uniq("inj"))
    good = rest.create_run(eid, run_name="good")
    other = rest.create_run(eid, run_name="other")
    rest.log_batch(good, metrics=[{"key": "a", "value": 1, "timestamp": 1}], params=[{"key": "p", "value": "x"}])
    rest.log_batch(other, metrics=[{"key": "a", "value": 5, "timestamp": 1}], params=[{"key": "p", "value": "y"}])
    return eid, good, other


@pytest.mark.parametrize(
    "flt",
    [
        "params.p = 'x' OR 1=1",
        "params.p = 'x' -- ",
        "params.p = 'x'; DROP TABLE runs; --",
        "params.p = 'x''; DROP TABLE runs; --'",
        "params.p = 'x'' OR ''1''=''1'",
        "params.`p' OR '1'='1` = 'x'",
        "params.\"p\\\" OR 1=1 --\" = 'x'",
        "metrics.a > 0 UNION SELECT * FROM experiments",
        "metrics.`a) OR (1=1` > 0",
        "params.p = 'x' /* comment */",
        "tags.`mlflow.runName` = 'good' AND 1=1",
        "attributes.run_id IN ('x') OR '1'='1'",
        "params.p = 'x' ESCAPE '\\'",
        "attributes.status = 'RUNNING' OR attributes.status = (SELECT 'RUNNING')",
        "metrics.a > 1e309",
        "metrics.a > 0x10",
        "params.p = '\x00'",
    ],
)
def test_sql_injection_in_filter(rest, inj, flt):
    eid, good, other = inj
    r = rest.post(API + "/runs/search", {"experiment_ids": [eid], "filter": flt})
    if r.status_code != 200:
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    else:
        ids = {x["info"]["run_id"] for x in r.json().get("runs", [])}
        # nothing beyond what a literal reading could match: never both runs via a tautology
        assert ids != {good, other} or flt.startswith("metrics.a > 0x"), f"{flt!r} matched everything: injection?"
    # the store is intact
    got = rest.search_runs([eid], "params.p = 'x'")
    assert [x["info"]["run_id"] for x in got["runs"]] == [good]
    assert rest.ok("GET", API + "/experiments/get", params={"experiment_id": "0"})["experiment"]["name"] == "Default"


@pytest.mark.parametrize(
    "order",
    ["metrics.a; DROP TABLE runs", "params.`p`) DESC; --", "(SELECT 1)", "metrics.a ASC, params.p", "1"],
)
def test_sql_injection_in_order_by(rest, inj, order):
    eid, good, other = inj
    r = rest.post(API + "/runs/search", {"experiment_ids": [eid], "order_by": [order]})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert len(rest.search_runs([eid])["runs"]) == 2


def test_sql_injection_in_experiment_filter_and_names(rest):
    name = uniq("inj") + "'; DROP TABLE experiments; --"
    eid = rest.create_experiment(name)
    got = rest.ok("GET", API + "/experiments/get-by-name", params={"experiment_name": name})
    assert got["experiment"]["experiment_id"] == eid
    for flt in ["name = 'x' OR 1=1", "name = '' OR ''=''", "name LIKE '%' OR 1=1 --", "tags.`a' OR 1=1 --` = 'b'"]:
        r = rest.post(API + "/experiments/search", {"filter": flt, "max_results": 1000})
        if r.status_code == 200:
            names = [e["name"] for e in r.json().get("experiments", [])]
            assert "Default" not in names, f"{flt!r} returned everything"
        else:
            assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert rest.ok("GET", API + "/experiments/get", params={"experiment_id": eid})["experiment"]["name"] == name


def test_huge_filter_string(rest, inj):
    eid, good, _ = inj
    cases = [
        "params.p = '" + "a" * (1 << 20) + "'",
        " AND ".join(["metrics.a > 0"] * 60_000),
        "(" * 100_000 + "params.p = 'x'" + ")" * 100_000,
        " OR ".join(["params.p = 'x'"] * 60_000),
    ]
    for flt in cases:
        t0 = time.monotonic()
        r = rest.post(API + "/runs/search", {"experiment_ids": [eid], "filter": flt})
        elapsed = time.monotonic() - t0
        assert elapsed < 10, f"filter of {len(flt)} chars took {elapsed:.1f}s"
        if r.status_code == 200:
            ids = [x["info"]["run_id"] for x in r.json().get("runs", [])]
            assert ids in ([], [good]) or len(ids) == 2 and "metrics.a > 0" in flt
        else:
            assert_error(r, (400, 413), ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "RESOURCE_EXHAUSTED"))
        assert rest.healthy()


def test_injection_in_keys_and_values(rest, exp_run):
    _, rid = exp_run
    evil_value = "'); DROP TABLE params; --"
    rest.ok("POST", API + "/runs/log-parameter", {"run_id": rid, "key": "safe", "value": evil_value})
    rest.ok("POST", API + "/runs/set-tag", {"run_id": rid, "key": "safe_tag", "value": evil_value})
    data = rest.get_run(rid)["data"]
    assert by_key(data["params"]) == {"safe": evil_value}
    assert by_key(data["tags"])["safe_tag"] == evil_value
    r = rest.post(API + "/runs/log-parameter", {"run_id": rid, "key": "x'); DROP TABLE params; --", "value": "v"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert by_key(rest.get_run(rid)["data"]["params"]) == {"safe": evil_value}


# ----------------------------------------------------------------------------- no partial writes


def test_log_batch_atomic_bad_metric(rest, exp_run):
    _, rid = exp_run
    batch = {
        "run_id": rid,
        "metrics": _metrics(10) + [{"key": "bad", "value": "not-a-number", "timestamp": 1}],
        "params": [{"key": "p1", "value": "v"}],
        "tags": [{"key": "t1", "value": "v"}],
    }
    assert_error(rest.post(API + "/runs/log-batch", batch), 400, "INVALID_PARAMETER_VALUE")
    data = rest.get_run(rid)["data"]
    assert not data.get("metrics") and not data.get("params") and "t1" not in by_key(data.get("tags"))
    assert rest.history(rid, "m0") == []


def test_log_batch_atomic_bad_key_last(rest, exp_run):
    _, rid = exp_run
    batch = {"run_id": rid, "metrics": _metrics(5), "params": [{"key": "ok", "value": "v"}, {"key": "../bad", "value": "v"}]}
    assert_error(rest.post(API + "/runs/log-batch", batch), 400, "INVALID_PARAMETER_VALUE")
    data = rest.get_run(rid)["data"]
    assert not data.get("metrics") and not data.get("params")


def test_log_batch_atomic_param_conflict(rest, exp_run):
    _, rid = exp_run
    rest.log_batch(rid, params=[{"key": "p", "value": "1"}])
    batch = {"run_id": rid, "metrics": _metrics(3), "params": [{"key": "q", "value": "new"}, {"key": "p", "value": "2"}]}
    assert_error(rest.post(API + "/runs/log-batch", batch), 400, "INVALID_PARAMETER_VALUE")
    data = rest.get_run(rid)["data"]
    assert by_key(data["params"]) == {"p": "1"}
    assert not data.get("metrics")


def test_log_batch_duplicate_param_keys(rest, exp_run):
    _, rid = exp_run
    batch = {"run_id": rid, "params": [{"key": "d", "value": "1"}, {"key": "d", "value": "2"}]}
    assert_error(rest.post(API + "/runs/log-batch", batch), 400, "INVALID_PARAMETER_VALUE")
    assert not rest.get_run(rid)["data"].get("params")


def test_writes_to_deleted_run_refused(rest, exp_run):
    _, rid = exp_run
    rest.ok("POST", API + "/runs/delete", {"run_id": rid})
    for path, body in [
        ("/runs/log-metric", {"run_id": rid, "key": "m", "value": 1, "timestamp": 1}),
        ("/runs/log-parameter", {"run_id": rid, "key": "p", "value": "v"}),
        ("/runs/set-tag", {"run_id": rid, "key": "t", "value": "v"}),
        ("/runs/log-batch", {"run_id": rid, "metrics": [{"key": "m", "value": 1, "timestamp": 1}]}),
        ("/runs/update", {"run_id": rid, "status": "FINISHED"}),
    ]:
        assert_error(rest.post(API + path, body), 400, "INVALID_PARAMETER_VALUE")
    data = rest.get_run(rid)["data"]
    assert not data.get("metrics") and not data.get("params") and "t" not in by_key(data.get("tags"))


def test_create_run_in_deleted_experiment_refused(rest):
    eid = rest.create_experiment()
    rest.ok("POST", API + "/experiments/delete", {"experiment_id": eid})
    assert_error(rest.post(API + "/runs/create", {"experiment_id": eid, "start_time": 1}), 400, "INVALID_PARAMETER_VALUE")
    assert rest.search_runs([eid], run_view_type="ALL").get("runs", []) == []


def test_run_name_tag_mismatch(rest):
    eid = rest.create_experiment()
    r = rest.post(
        API + "/runs/create",
        {"experiment_id": eid, "run_name": "a", "tags": [{"key": "mlflow.runName", "value": "b"}], "start_time": 1},
    )
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert rest.search_runs([eid], run_view_type="ALL").get("runs", []) == []


# ----------------------------------------------------------------------------- CSRF / host / CORS


@pytest.mark.parametrize(
    "ctype",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_csrf_content_type(rest, ctype):
    """CVE-2023-43472: a cross-site POST with a 'simple' content type must change nothing."""
    headers = {"Content-Type": ctype} if ctype else {}
    body = json.dumps({"experiment_id": "0", "new_name": "pwned-" + uniq()}).encode()
    s = requests.Session()
    req = requests.Request("POST", rest.url(API + "/experiments/update"), data=body, headers=headers).prepare()
    if ctype is None:
        req.headers.pop("Content-Type", None)
    r = s.send(req, timeout=10)
    assert_error(r, (400, 403, 415))
    name = uniq("csrf")
    req = requests.Request(
        "POST", rest.url(API + "/experiments/create"), data=json.dumps({"name": name}).encode(), headers=headers
    ).prepare()
    if ctype is None:
        req.headers.pop("Content-Type", None)
    assert_error(s.send(req, timeout=10), (400, 403, 415))
    exp0 = rest.ok("GET", API + "/experiments/get", params={"experiment_id": "0"})["experiment"]
    assert exp0["name"] == "Default"
    assert exp0["artifact_location"] == "mlflow-artifacts:/0"
    assert_error(rest.get(API + "/experiments/get-by-name", params={"experiment_name": name}), 404)


def test_json_content_type_with_charset_accepted(rest):
    name = uniq("charset")
    r = rest.post(
        API + "/experiments/create",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "attacker.com:5000", "127.0.0.1.evil.example", ""])
def test_dns_rebinding_host_rejected(rest, server, host):
    for method, path, kw in [
        ("GET", API + "/experiments/get", {"params": {"experiment_id": "0"}}),
        ("POST", API + "/experiments/create", {"json": {"name": uniq("rebind")}}),
        ("GET", "/metrics", {}),
    ]:
        r = rest.request(method, path, headers={"Host": host}, **kw)
        assert 400 <= r.status_code < 500, f"Host {host!r}: {method} {path} -> {r.status_code} {r.text[:200]}"
        if r.headers.get("Content-Type", "").startswith("application/json"):
            assert "error_code" in r.json()
    assert "rebind" not in json.dumps(
        rest.ok("POST", API + "/experiments/search", {"filter": "name LIKE 'rebind-%'", "max_results": 10})
    )


@pytest.mark.parametrize("host_fmt", ["127.0.0.1:{port}", "localhost:{port}", "localhost", "127.0.0.1"])
def test_local_host_headers_accepted(rest, server, host_fmt):
    r = rest.get(API + "/experiments/get", params={"experiment_id": "0"}, headers={"Host": host_fmt.format(port=server.port)})
    assert r.status_code == 200, r.text


def test_allowed_hosts_flag(make_server):
    srv = make_server("hosts", allowed_hosts=["mlflow.internal", "mlflow.internal:*", "127.0.0.1:*"])
    url = srv.url + API + "/experiments/get"
    ok = requests.get(url, params={"experiment_id": "0"}, headers={"Host": "mlflow.internal"}, timeout=10)
    assert ok.status_code == 200, ok.text
    bad = requests.get(url, params={"experiment_id": "0"}, headers={"Host": "evil.example"}, timeout=10)
    assert 400 <= bad.status_code < 500
    assert requests.get(srv.url + "/health", timeout=5).status_code == 200
    srv.stop()


def test_cors_disallowed_origin(rest):
    evil = "http://evil.example"
    r = rest.get(API + "/experiments/get", params={"experiment_id": "0"}, headers={"Origin": evil})
    assert r.headers.get("Access-Control-Allow-Origin") in (None, ""), r.headers
    pre = rest.request(
        "OPTIONS",
        API + "/experiments/update",
        headers={"Origin": evil, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert pre.status_code < 500
    assert pre.headers.get("Access-Control-Allow-Origin") in (None, ""), pre.headers
    # a cross-origin state change from a disallowed origin is refused even with a JSON content type
    name = uniq("cors")
    r = rest.post(API + "/experiments/create", {"name": name}, headers={"Origin": evil})
    assert 400 <= r.status_code < 500, f"cross-origin POST from {evil} accepted: {r.status_code} {r.text[:200]}"
    assert r.headers.get("Access-Control-Allow-Origin") in (None, "")
    assert_error(rest.get(API + "/experiments/get-by-name", params={"experiment_name": name}), 404)


def test_cors_allowed_origin(rest):
    pre = rest.request(
        "OPTIONS",
        API + "/experiments/create",
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert pre.status_code in (200, 204), pre.text
    assert pre.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert "POST" in pre.headers.get("Access-Control-Allow-Methods", "POST").upper()
    r = rest.post(API + "/experiments/create", {"name": uniq("corsok")}, headers={"Origin": ALLOWED_ORIGIN})
    assert r.status_code == 200, r.text
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN


# ----------------------------------------------------------------------------- artifact_location attacks


@pytest.mark.parametrize(
    "location",
    [
        "http:///?/../../../../etc/",
        "http:///#/../../../../etc/",
        "http://host/a;/../../../../etc/",
        "http://host/path;params=/../../etc",
        "dbfs:/",
        "file:///etc/",
        "file:/etc/passwd",
        "/etc",
        "../../../etc",
        "runs:/x",
        "runs:/0123456789abcdef0123456789abcdef/artifacts",
        "mlflow-artifacts:/../../etc",
        "mlflow-artifacts:/0/%2e%2e/%2e%2e/etc",
        "s3://bucket/" + "a" * 2100,
        "http://169.254.169.254/latest/meta-data/",
        "http://ATTACKER/api/2.0/mlflow-artifacts/artifacts/",
    ],
)
def test_artifact_location_attacks(rest, location):
    name = uniq("loc")
    r = rest.post(API + "/experiments/create", {"name": name, "artifact_location": location})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert_error(rest.get(API + "/experiments/get-by-name", params={"experiment_name": name}), 404, "RESOURCE_DOES_NOT_EXIST")
