"""The audit log API (/api/2.0/trellis/audit/entries and /audit/verify) on a
real server: entries made by the official mlflow client (experiments, runs,
a registered model with an alias; run in the mlflow venv, $MLFLOW_PYTHON),
each filter, paging that returns every entry exactly once, refused input in
MLflow's error shape, and verification before and after the database file is
tampered with while the server is stopped (the append-only triggers dropped
first, as an attacker with the file would)."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
MLFLOW_PYTHON = os.environ.get("MLFLOW_PYTHON", str(REPO / ".venv/mlflow3/bin/python"))

FILL = """
import json
import mlflow
c = mlflow.MlflowClient()
e1 = c.create_experiment("audit-api-a")
e2 = c.create_experiment("audit-api-b")
runs = []
for i in range(3):
    r = c.create_run(e1, run_name=f"r{i}")
    c.log_param(r.info.run_id, "lr", str(0.1 * (i + 1)))
    c.set_terminated(r.info.run_id, "FINISHED")
    runs.append(r.info.run_id)
c.create_run(e2, run_name="other")
c.log_text(runs[0], "flavors: {}\\n", "model/MLmodel")
c.create_registered_model("audit-api-model")
v = c.create_model_version("audit-api-model", "runs:/%s/model" % runs[0], run_id=runs[0])
c.set_registered_model_alias("audit-api-model", "champion", v.version)
print(json.dumps({"e1": e1, "e2": e2, "runs": runs}))
"""


@pytest.fixture(scope="module")
def filled(server):
    out = subprocess.run(
        [MLFLOW_PYTHON, "-c", FILL],
        env={**os.environ, "MLFLOW_TRACKING_URI": server.url},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def entries(server, **params):
    r = requests.get(f"{server.url}/api/2.0/trellis/audit/entries", params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def all_entries(server, **params):
    out, token = [], None
    while True:
        page = entries(server, **params, max_results=1000, **({"page_token": token} if token else {}))
        out += page.get("entries", [])
        token = page.get("next_page_token")
        if not token:
            return out


def verify(server):
    r = requests.get(f"{server.url}/api/2.0/trellis/audit/verify", timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def test_entries_have_the_chain_fields_newest_first(server, filled):
    es = all_entries(server)
    assert len(es) >= 12
    seqs = [e["seq"] for e in es]
    assert seqs == sorted(seqs, reverse=True)
    assert seqs[-1] == 1 and seqs[0] == len(es)
    for e in es:
        assert set(e) >= {"seq", "time_ms", "actor", "action", "resource", "resource_type",
                          "resource_id", "outcome", "detail", "request_digest", "prev_hash", "hash"}
        assert len(e["hash"]) == 64
    # each entry chains to the one before it
    for newer, older in zip(es, es[1:]):
        assert newer["prev_hash"] == older["hash"]
    assert es[0]["action"] == "registered-models.set-alias"
    assert es[0]["resource"] == "registered_model/audit-api-model"


def test_each_filter_narrows(server, filled):
    es = all_entries(server)
    # actor: the mlflow client is anonymous here
    assert len(all_entries(server, actor="anonymous")) == len(es)
    assert all_entries(server, actor="someone-else") == []
    # action: exact and prefix
    creates = all_entries(server, action="runs.create")
    assert len(creates) == 4
    assert {e["action"] for e in creates} == {"runs.create"}
    runs_any = all_entries(server, action="runs.*")
    assert {e["action"] for e in runs_any} >= {"runs.create", "runs.update"}
    assert all(e["action"].startswith("runs.") for e in runs_any)
    assert all_entries(server, action="runs") == []
    reg = all_entries(server, action="registered-models.*")
    assert {e["action"] for e in reg} == {"registered-models.create", "registered-models.set-alias"}
    # resource type and id
    exps = all_entries(server, resource_type="experiment")
    assert {e["resource"] for e in exps} == {f"experiment/{filled['e1']}", f"experiment/{filled['e2']}"}
    one = all_entries(server, resource_type="run", resource_id=filled["runs"][1])
    assert {e["resource"] for e in one} == {"run/" + filled["runs"][1]}
    assert {e["action"] for e in one} >= {"runs.create", "runs.update"}
    mv = all_entries(server, resource_type="model_version", resource_id="audit-api-model/1")
    assert [e["action"] for e in mv] == ["model-versions.create"]
    # time range: inclusive on both ends
    t = sorted(e["time_ms"] for e in es)
    mid = t[len(t) // 2]
    older = all_entries(server, to_ms=mid)
    newer = all_entries(server, from_ms=mid + 1)
    assert len(older) + len(newer) == len(es)
    assert all(e["time_ms"] <= mid for e in older)
    assert all(e["time_ms"] > mid for e in newer)
    both = all_entries(server, from_ms=t[0], to_ms=t[-1], action="runs.create")
    assert len(both) == 4


def test_paging_covers_every_entry_exactly_once(server, filled):
    total = len(all_entries(server))
    for size in (1, 3, 7):
        seen, token, pages = [], None, 0
        while True:
            page = entries(server, max_results=size, **({"page_token": token} if token else {}))
            pages += 1
            seen += [e["seq"] for e in page["entries"]]
            token = page.get("next_page_token")
            if not token:
                break
            assert len(page["entries"]) == size
        assert sorted(seen, reverse=True) == seen
        assert sorted(seen) == list(range(1, total + 1))
        assert pages == -(-total // size)
    # a filtered walk too
    seen, token = [], None
    while True:
        page = entries(server, action="runs.*", max_results=2, **({"page_token": token} if token else {}))
        seen += [e["seq"] for e in page["entries"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == [e["seq"] for e in all_entries(server, action="runs.*")]


@pytest.mark.parametrize(
    "params, needle",
    [
        ({"max_results": "0"}, "max_results"),
        ({"max_results": "1001"}, "max_results"),
        ({"max_results": "1e3"}, "max_results"),
        ({"max_results": "99999999999999999999999"}, "max_results"),
        ({"from_ms": "yesterday"}, "from_ms"),
        ({"to_ms": "-5"}, "to_ms"),
        ({"from_ms": "20", "to_ms": "10"}, "after"),
        ({"colour": "red"}, "unknown parameter"),
        ({"action": "*runs"}, "'*'"),
        ({"resource_id": "x"}, "resource_type"),
        ({"resource_type": "run/x"}, "resource_type"),
        ({"resource_type": "run' OR 1=1 --"}, "resource_type"),
        ({"actor": ["a", "b"]}, "actor"),
        ({"page_token": "%%%"}, "page token"),
        ({"page_token": "' OR 1=1; DROP TABLE audit_log; --"}, "page token"),
        ({"page_token": base64.urlsafe_b64encode(b'{"before_seq": "1 OR 1=1", "filter": "x"}').decode()}, "page token"),
        ({"page_token": "A" * 5000}, "page"),
    ],
)
def test_bad_input_is_a_400_in_mlflow_shape(server, filled, params, needle):
    r = requests.get(f"{server.url}/api/2.0/trellis/audit/entries", params=params, timeout=30)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert needle in body["message"]
    # nothing was harmed
    assert verify(server)["ok"]


def test_a_token_is_bound_to_its_filters(server, filled):
    page = entries(server, action="runs.*", max_results=1)
    token = page["next_page_token"]
    r = requests.get(f"{server.url}/api/2.0/trellis/audit/entries",
                     params={"action": "experiments.*", "page_token": token}, timeout=30)
    assert r.status_code == 400
    assert "other filters" in r.json()["message"]
    # a token with the digest made up: refused too
    fake = base64.urlsafe_b64encode(b'{"before_seq":3,"filter":"0123456789abcdef0123456789abcdef"}').decode().rstrip("=")
    r = requests.get(f"{server.url}/api/2.0/trellis/audit/entries", params={"page_token": fake}, timeout=30)
    assert r.status_code == 400


def test_methods_and_paths(server, filled):
    r = requests.post(f"{server.url}/api/2.0/trellis/audit/entries", json={}, timeout=30)
    assert r.status_code == 405 and r.json()["error_code"] == "BAD_REQUEST"
    r = requests.get(f"{server.url}/api/2.0/trellis/audit/nope", timeout=30)
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    r = requests.get(f"{server.url}/api/2.0/trellis/audit/verify", params={"x": "1"}, timeout=30)
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    # the ajax twin used by the UI's origin
    r = requests.get(f"{server.url}/ajax-api/2.0/trellis/audit/entries", params={"max_results": 1}, timeout=30)
    assert r.status_code == 200 and len(r.json()["entries"]) == 1


def test_verify_ok_then_tampering_is_found(server, filled):
    v = verify(server)
    total = len(all_entries(server))
    assert v["ok"] is True and v["count"] == total
    assert "first_bad_seq" not in v and v["checked_at_ms"] > 0
    target = next(e for e in all_entries(server, action="runs.create"))["seq"] - 1  # an older entry
    server.stop()
    db = sqlite3.connect(server.db_path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (target,))
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (target,))
        db.commit()
    finally:
        db.close()
    server.start()
    v = verify(server)
    assert v["ok"] is False
    assert v["first_bad_seq"] == target
    assert v["count"] == target - 1
    assert "altered" in v["message"]
    cli = server.audit_verify()
    assert cli.returncode == 1 and f"entry {target}" in cli.stderr
    # the entries still read, the altered one as it now stands
    assert [e["actor"] for e in all_entries(server, actor="mallory")] == ["mallory"]

    # removing an entry in the middle is found as a gap
    server.stop()
    db = sqlite3.connect(server.db_path)
    try:
        db.execute("DROP TRIGGER audit_log_no_delete")
        db.execute("DELETE FROM audit_log WHERE seq = 2")
        db.commit()
    finally:
        db.close()
    server.start()
    v = verify(server)
    assert v["ok"] is False and v["first_bad_seq"] == 2 and "missing" in v["message"]
