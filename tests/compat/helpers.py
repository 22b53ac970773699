"""Small helpers shared by the raw-REST compat tests (requests, not the mlflow client)."""

from __future__ import annotations

import json
import math
import time
import uuid

import requests

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
JSON_HEADERS = {"Content-Type": "application/json"}


def uniq(prefix: str = "t") -> str:
    """A name no other test (or earlier run against the same db) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def now_ms() -> int:
    return int(time.time() * 1000)


class Rest:
    """Thin requests wrapper bound to one server base URL."""

    def __init__(self, base_url: str, timeout: float = 30):
        self.base = base_url.rstrip("/")
        self.timeout = timeout
        self.s = requests.Session()

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path: str, params=None, **kw) -> requests.Response:
        kw.setdefault("timeout", self.timeout)
        return self.s.get(self.url(path), params=params, **kw)

    def post(self, path: str, body=None, **kw) -> requests.Response:
        kw.setdefault("timeout", self.timeout)
        if body is not None and "data" not in kw:
            kw["json"] = body
        return self.s.post(self.url(path), **kw)

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", self.timeout)
        return self.s.request(method, self.url(path), **kw)

    # ------------------------------------------------- convenience (must succeed)
    def ok(self, method: str, path: str, body=None, params=None) -> dict:
        if method == "GET":
            r = self.get(path, params=params)
        else:
            r = self.request(method, path, json=body if body is not None else {}, params=params)
        assert r.status_code == 200, f"{method} {path} {body or params} -> {r.status_code} {r.text[:500]}"
        assert r.headers.get("Content-Type", "").startswith("application/json"), (
            f"{method} {path}: Content-Type {r.headers.get('Content-Type')!r}"
        )
        data = r.json()
        assert isinstance(data, dict), f"{method} {path}: body is not a JSON object: {r.text[:200]}"
        return data

    def create_experiment(self, name: str | None = None, **extra) -> str:
        body = {"name": name or uniq("exp"), **extra}
        eid = self.ok("POST", API + "/experiments/create", body)["experiment_id"]
        assert isinstance(eid, str) and eid, f"experiment_id must be a non-empty JSON string, got {eid!r}"
        return eid

    def create_run(self, experiment_id: str, run_name: str | None = None, start_time: int | None = None, tags=None) -> str:
        body = {"experiment_id": experiment_id, "start_time": start_time or now_ms()}
        if run_name:
            body["run_name"] = run_name
        if tags:
            body["tags"] = tags
        run = self.ok("POST", API + "/runs/create", body)["run"]
        rid = run["info"]["run_id"]
        assert isinstance(rid, str) and rid
        return rid

    def get_run(self, run_id: str) -> dict:
        return self.ok("GET", API + "/runs/get", params={"run_id": run_id})["run"]

    def log_batch(self, run_id: str, metrics=(), params=(), tags=()) -> dict:
        return self.ok(
            "POST",
            API + "/runs/log-batch",
            {"run_id": run_id, "metrics": list(metrics), "params": list(params), "tags": list(tags)},
        )

    def history(self, run_id: str, key: str) -> list[dict]:
        out, token = [], None
        for _ in range(1000):
            params = {"run_id": run_id, "metric_key": key, "max_results": 25000}
            if token:
                params["page_token"] = token
            data = self.ok("GET", API + "/metrics/get-history", params=params)
            out += data.get("metrics", [])
            token = data.get("next_page_token")
            if not token:
                return out
        raise AssertionError("get-history never stopped returning next_page_token")

    def search_runs(self, experiment_ids, filter=None, **extra) -> dict:
        body = {"experiment_ids": list(experiment_ids), **extra}
        if filter is not None:
            body["filter"] = filter
        return self.ok("POST", API + "/runs/search", body)

    # ------------------------------------------------- artifacts, registry, logged models
    def put_artifact(self, rel_path: str, data: bytes) -> None:
        """Upload DATA through the artifact proxy at <root>/REL_PATH (e.g. "1/<run>/artifacts/model/MLmodel")."""
        r = self.request("PUT", ARTIFACTS + "/" + rel_path.lstrip("/"), data=data)
        assert r.status_code == 200, f"PUT {rel_path} -> {r.status_code} {r.text[:300]}"

    def create_registered_model(self, name: str, **extra) -> dict:
        return self.ok("POST", API + "/registered-models/create", {"name": name, **extra})["registered_model"]

    def create_model_version(self, name: str, source: str, run_id: str | None = None, **extra) -> dict:
        body = {"name": name, "source": source, **extra}
        if run_id:
            body["run_id"] = run_id
        return self.ok("POST", API + "/model-versions/create", body)["model_version"]

    def model_versions(self, name: str) -> list[dict]:
        """Every (non-deleted) version of registered model NAME, via model-versions/search."""
        flt = "name = '%s'" % name.replace("'", "\\'")
        return self.ok("GET", API + "/model-versions/search", params={"filter": flt}).get("model_versions", [])

    def create_logged_model(self, experiment_id: str, name: str = "model", source_run_id: str | None = None, **extra) -> dict:
        body = {"experiment_id": experiment_id, "name": name, **extra}
        if source_run_id:
            body["source_run_id"] = source_run_id
        return self.ok("POST", API + "/logged-models", body)["model"]

    def healthy(self) -> bool:
        try:
            r = self.s.get(self.url("/health"), timeout=5)
            return r.status_code == 200 and r.text.strip() == "OK"
        except requests.RequestException:
            return False


def assert_error(r: requests.Response, status=None, code=None, *, json_body: bool = True) -> dict:
    """A clean client error: 4xx (never 5xx), JSON {error_code, message}."""
    ctx = f"{r.request.method} {r.request.url[:200]} -> {r.status_code} {r.text[:300]!r}"
    assert 400 <= r.status_code < 500, f"expected a 4xx error: {ctx}"
    if status is not None:
        statuses = status if isinstance(status, (tuple, list, set)) else (status,)
        assert r.status_code in statuses, f"expected HTTP {status}: {ctx}"
    if not json_body:
        return {}
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {ctx}")
    assert isinstance(body, dict), f"error body is not a JSON object: {ctx}"
    assert isinstance(body.get("error_code"), str) and body["error_code"], f"no error_code: {ctx}"
    assert isinstance(body.get("message"), str), f"no message: {ctx}"
    if code is not None:
        codes = code if isinstance(code, (tuple, list, set)) else (code,)
        assert body["error_code"] in codes, f"expected error_code {code}: {ctx}"
    return body


def metric_value(v):
    """Decode a JSON metric value (number or "NaN"/"Infinity"/"-Infinity")."""
    if isinstance(v, str):
        return float(v)
    return v


def is_nan(v) -> bool:
    v = metric_value(v)
    return isinstance(v, float) and math.isnan(v)


def by_key(items) -> dict:
    return {i["key"]: i.get("value") for i in items or []}


def raw_json(r: requests.Response):
    """Parse a response keeping NaN/Infinity tokens visible (json accepts them)."""
    return json.loads(r.text)


def read_tree(root) -> dict:
    """{relative posix path: bytes} of every file beneath ROOT."""
    import os

    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            full = os.path.join(d, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, root).replace(os.sep, "/")] = fh.read()
    return out
