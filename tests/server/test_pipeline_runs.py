"""Pipelines in the server: runs submitted through KFP's REST API (the body
`kfp.Client` sends), executed by `trellis server`, each task an MLflow child
run; terminate, retry, resume after kill -9 and after SIGTERM, run slots, and
bad input.

Runs with the kfp venv (`make server-tests`): the pipelines are compiled here by
the official kfp SDK, and their lightweight Python steps run on the venv's
Python (--step-python), as the unprivileged step user when the tests run as
root.
"""

import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
import yaml
from google.protobuf import json_format
from kfp import compiler, dsl
from kfp.pipeline_spec import pipeline_spec_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_helpers import PYTHON, shared_dir, start_server  # noqa: E402,F401
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"}
JSON = {"Content-Type": "application/json"}  # what kfp's generated client always sends


def spec_dict(pipeline_func, tmp_path):
    """The pipeline as kfp.Client puts it in a run body: MessageToDict of the
    compiled PipelineSpec (camelCase, defaults dropped)."""
    path = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline_func, str(path))
    spec = pipeline_spec_pb2.PipelineSpec()
    json_format.ParseDict(yaml.safe_load(path.read_text()), spec)
    return json_format.MessageToDict(spec)


def create_run(srv, spec, name="run", params=None, experiment_id=None):
    body = {"display_name": name, "pipeline_spec": spec,
            "runtime_config": {"parameters": params or {}}}
    if experiment_id:
        body["experiment_id"] = experiment_id
    r = requests.post(f"{srv.url}/apis/v2beta1/runs", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def get_run(srv, run_id):
    r = requests.get(f"{srv.url}/apis/v2beta1/runs/{run_id}", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def wait_state(srv, run_id, states=TERMINAL, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = get_run(srv, run_id)
        if run["state"] in states:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} still {run['state']} after {timeout} s")


def mlflow_runs(srv, experiment_id="0"):
    r = requests.post(f"{srv.url}/api/2.0/mlflow/runs/search",
                      json={"experiment_ids": [experiment_id], "max_results": 1000}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json().get("runs", [])


def tags_of(run):
    return {t["key"]: t["value"] for t in run.get("data", {}).get("tags", [])}


def task_states(run):
    return {t["display_name"]: t["state"] for t in run["run_details"]["task_details"]}


# ---- pipelines -------------------------------------------------------------------


@dsl.component
def add(a: int, b: int) -> int:
    return a + b


@dsl.component
def double(x: int) -> int:
    return 2 * x


@dsl.component
def report(x: int, metrics: dsl.Output[dsl.Metrics]):
    metrics.log_metric("twice", float(x))


@dsl.pipeline(name="arith")
def arith(a: int = 1, b: int = 2) -> int:
    s = add(a=a, b=b)
    d = double(x=s.output)
    report(x=d.output)
    return d.output


@dsl.component
def sleeper(seconds: int, marker_dir: str, name: str) -> str:
    import os
    import time

    with open(os.path.join(marker_dir, name + ".start"), "a") as f:
        f.write("x")
    time.sleep(seconds)
    with open(os.path.join(marker_dir, name + ".end"), "a") as f:
        f.write("x")
    return name


@dsl.pipeline(name="sleepers")
def sleepers(seconds: int, marker_dir: str):
    for i in range(3):
        sleeper(seconds=seconds, marker_dir=marker_dir, name=f"s{i}").set_caching_options(False)


@dsl.component
def count_and_maybe_fail(marker_dir: str, name: str, fail_first: bool) -> int:
    import os

    path = os.path.join(marker_dir, name)
    with open(path, "a") as f:
        f.write("x")
    n = len(open(path).read())
    if fail_first and n == 1:
        raise SystemExit(3)
    return n


@dsl.pipeline(name="flaky")
def flaky(marker_dir: str):
    first = count_and_maybe_fail(marker_dir=marker_dir, name="first", fail_first=False)
    first.set_caching_options(False)
    second = count_and_maybe_fail(marker_dir=marker_dir, name="second", fail_first=True)
    second.set_caching_options(False)
    second.after(first)


# ---- tests ---------------------------------------------------------------------------


def test_run_executes_and_every_task_is_an_mlflow_child_run(server, tmp_path):
    run = create_run(server, spec_dict(arith, tmp_path), name="arith-1", params={"a": 5})
    assert run["state"] == "PENDING"
    assert run["display_name"] == "arith-1"
    run = wait_state(server, run["run_id"])
    assert run["state"] == "SUCCEEDED", run
    assert task_states(run) == {"add": "SUCCEEDED", "double": "SUCCEEDED",
                                "report": "SUCCEEDED"}
    assert [h["state"] for h in run["state_history"]] == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert run["finished_at"] != "1970-01-01T00:00:00Z"
    # the KFP run id is the parent MLflow run's id
    runs = {r["info"]["run_id"]: r for r in mlflow_runs(server)}
    parent = runs[run["run_id"]]
    assert parent["info"]["run_name"] == "arith-1"
    assert parent["info"]["status"] == "FINISHED"
    children = [r for r in runs.values() if tags_of(r).get("mlflow.parentRunId") == run["run_id"]]
    by_task = {tags_of(c)["trellis.task_path"]: c for c in children}
    assert set(by_task) == {"add", "double", "report"}
    for c in children:
        assert c["info"]["status"] == "FINISHED"
        assert tags_of(c)["trellis.pipeline_run_id"] == run["run_id"]
        metrics = {m["key"]: m["value"] for m in c["data"].get("metrics", [])}
        assert metrics["system/exit_code"] == 0
        assert metrics["system/duration_seconds"] > 0
    params = {p["key"]: p["value"] for p in by_task["add"]["data"]["params"]}
    assert params == {"a": "5", "b": "2"}
    assert {p["key"]: p["value"] for p in by_task["double"]["data"]["params"]} == {"x": "7"}
    # the KFP Metrics artifact, mirrored
    rep = {m["key"]: m["value"] for m in by_task["report"]["data"]["metrics"]}
    assert rep["twice"] == 14.0
    # task ids in run_details are the task runs' ids
    ids = {t["display_name"]: t["task_id"] for t in run["run_details"]["task_details"]}
    assert ids["add"] == by_task["add"]["info"]["run_id"]


def test_terminate_a_long_run(server, tmp_path):
    marks = shared_dir("trellis-term-")
    run = create_run(server, spec_dict(sleepers, tmp_path), name="long",
                     params={"seconds": 60, "marker_dir": str(marks)})
    wait_state(server, run["run_id"], {"RUNNING"})
    deadline = time.time() + 30
    while len(list(marks.glob("*.start"))) < 2 and time.time() < deadline:
        time.sleep(0.1)
    # retrying a running run is refused
    r = requests.post(f"{server.url}/apis/v2beta1/runs/{run['run_id']}:retry", headers=JSON, timeout=30)
    assert r.status_code == 400
    r = requests.post(f"{server.url}/apis/v2beta1/runs/{run['run_id']}:terminate", headers=JSON, timeout=30)
    assert r.status_code == 200, r.text
    t0 = time.time()
    done = wait_state(server, run["run_id"], timeout=30)
    assert done["state"] == "CANCELED"
    assert time.time() - t0 < 15
    assert set(task_states(done).values()) == {"CANCELED"}
    assert "CANCELING" in [h["state"] for h in done["state_history"]]
    assert not list(marks.glob("*.end"))  # the steps were stopped, not finished
    parent = {r["info"]["run_id"]: r for r in mlflow_runs(server)}[run["run_id"]]
    assert parent["info"]["status"] == "KILLED"
    # terminating a finished run is a clear 4xx
    r = requests.post(f"{server.url}/apis/v2beta1/runs/{run['run_id']}:terminate", headers=JSON, timeout=30)
    assert r.status_code == 400
    assert "code" in r.json() and "message" in r.json()


def test_retry_reruns_the_failed_task_only(server, tmp_path):
    marks = shared_dir("trellis-retry-")
    run = create_run(server, spec_dict(flaky, tmp_path), name="flaky",
                     params={"marker_dir": str(marks)})
    failed = wait_state(server, run["run_id"])
    assert failed["state"] == "FAILED"
    assert "count-and-maybe-fail-2" in failed["error"]["message"]
    assert task_states(failed) == {"count-and-maybe-fail": "SUCCEEDED",
                                   "count-and-maybe-fail-2": "FAILED"}
    r = requests.post(f"{server.url}/apis/v2beta1/runs/{run['run_id']}:retry", headers=JSON, timeout=30)
    assert r.status_code == 200, r.text
    done = wait_state(server, run["run_id"])
    assert done["state"] == "SUCCEEDED", done
    assert (marks / "first").read_text() == "x"  # not run again
    assert (marks / "second").read_text() == "xx"
    # retrying a run that succeeded is refused
    r = requests.post(f"{server.url}/apis/v2beta1/runs/{run['run_id']}:retry", headers=JSON, timeout=30)
    assert r.status_code == 400


def test_archive_unarchive_delete(server, tmp_path):
    run = create_run(server, spec_dict(arith, tmp_path), name="to-delete")
    wait_state(server, run["run_id"])
    rid = run["run_id"]
    assert requests.post(f"{server.url}/apis/v2beta1/runs/{rid}:archive", headers=JSON, timeout=30).status_code == 200
    assert get_run(server, rid)["storage_state"] == "ARCHIVED"
    assert requests.post(f"{server.url}/apis/v2beta1/runs/{rid}:unarchive", headers=JSON, timeout=30).status_code == 200
    assert get_run(server, rid)["storage_state"] == "AVAILABLE"
    assert requests.delete(f"{server.url}/apis/v2beta1/runs/{rid}").status_code == 200
    r = requests.get(f"{server.url}/apis/v2beta1/runs/{rid}")
    assert r.status_code == 404
    assert r.json()["code"] == 5
    assert rid not in {x["info"]["run_id"] for x in mlflow_runs(server)}


def test_runs_wait_for_a_free_slot(tmp_path):
    srv = start_server("--max-pipeline-runs", "1")
    try:
        marks = shared_dir("trellis-slots-")
        spec = spec_dict(sleepers, tmp_path)
        first = create_run(srv, spec, name="first", params={"seconds": 3, "marker_dir": str(marks / "")})
        second = create_run(srv, spec, name="second", params={"seconds": 1, "marker_dir": str(marks)})
        wait_state(srv, first["run_id"], {"RUNNING"})
        time.sleep(1)
        assert get_run(srv, second["run_id"])["state"] == "PENDING"
        assert wait_state(srv, first["run_id"])["state"] == "SUCCEEDED"
        assert wait_state(srv, second["run_id"])["state"] == "SUCCEEDED"
    finally:
        srv.stop()


@pytest.mark.parametrize("how", ["kill9", "sigterm"])
def test_runs_survive_the_server(tmp_path, how):
    srv = start_server()
    try:
        marks = shared_dir(f"trellis-{how}-")
        run = create_run(srv, spec_dict(sleepers, tmp_path), name=how,
                         params={"seconds": 4, "marker_dir": str(marks)})
        deadline = time.time() + 60
        while len(list(marks.glob("*.start"))) < 3 and time.time() < deadline:
            time.sleep(0.1)
        assert len(list(marks.glob("*.start"))) == 3
        if how == "kill9":
            srv.kill9()
        else:
            t0 = time.time()
            srv.proc.send_signal(signal.SIGTERM)
            assert srv.proc.wait(timeout=10) == 0
            assert time.time() - t0 < 10
        srv.restart()
        done = wait_state(srv, run["run_id"], timeout=120)
        assert done["state"] == "SUCCEEDED", done
        # every step ran exactly once: re-adopted, not started again
        for i in range(3):
            assert (marks / f"s{i}.start").read_text() == "x"
            assert (marks / f"s{i}.end").read_text() == "x"
    finally:
        if srv.is_running():
            srv.stop()


def test_bad_input(server, tmp_path):
    url = f"{server.url}/apis/v2beta1/runs"
    # a pipeline that does not load: 400 with where
    r = requests.post(url, json={"display_name": "x", "pipeline_spec": {"pipelineInfo": {}}})
    assert r.status_code == 400
    assert r.json()["code"] == 3
    # no name
    r = requests.post(url, json={"pipeline_spec": spec_dict(arith, tmp_path)})
    assert r.status_code == 400
    # unknown parameter
    r = requests.post(url, json={"display_name": "x", "pipeline_spec": spec_dict(arith, tmp_path),
                                 "runtime_config": {"parameters": {"nope": 1}}})
    assert r.status_code == 400
    assert "nope" in r.json()["message"]
    # a cycle
    spec = spec_dict(arith, tmp_path)
    tasks = spec["root"]["dag"]["tasks"]
    tasks["add"]["dependentTasks"] = ["report"]
    r = requests.post(url, json={"display_name": "x", "pipeline_spec": spec})
    assert r.status_code == 400
    assert "cycle" in r.json()["message"]
    # unknown ids
    assert requests.get(f"{url}/0123456789abcdef0123456789abcdef").status_code == 404
    r = requests.post(f"{url}/0123456789abcdef0123456789abcdef:terminate", headers=JSON)
    assert r.status_code == 404
    r = requests.post(f"{url}/0123456789abcdef0123456789abcdef:retry", headers=JSON)
    assert r.status_code == 404
    # malformed JSON and a body over the limit
    r = requests.post(url, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = requests.post(url, data=b"x" * (17 << 20), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    # a DAG over the documented task cap
    big = spec_dict(arith, tmp_path)
    add_task = big["root"]["dag"]["tasks"]["add"]
    big["root"]["dag"]["tasks"] = {f"t{i}": json.loads(json.dumps(add_task)) for i in range(100_000)}
    for t in big["root"]["dag"]["tasks"].values():
        t["inputs"] = {"parameters": {"a": {"runtimeValue": {"constant": 1}},
                                      "b": {"runtimeValue": {"constant": 2}}}}
    body = json.dumps({"display_name": "big", "pipeline_spec": big})
    r = requests.post(url, data=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 413), r.text[:300]
    # the server is unaffected
    assert requests.get(f"{server.url}/health").status_code == 200


def test_every_run_change_is_audited(server, tmp_path):
    import sqlite3
    import subprocess

    run = create_run(server, spec_dict(arith, tmp_path), name="audited")
    rid = run["run_id"]
    wait_state(server, rid)
    requests.post(f"{server.url}/apis/v2beta1/runs/{rid}:archive", headers=JSON, timeout=30)
    requests.delete(f"{server.url}/apis/v2beta1/runs/{rid}", timeout=30)
    db = sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True)
    rows = db.execute("SELECT action, resource, outcome FROM audit_log WHERE resource = ? "
                      "ORDER BY seq", (f"pipeline_run/{rid}",)).fetchall()
    actions = [a for a, _, _ in rows]
    assert actions[0] == "pipelines.runs.create"
    assert actions.count("pipelines.run.state") >= 2  # RUNNING, SUCCEEDED
    assert "data.write" in actions  # task records: data-plane writes, audited in batches
    assert actions[-2:] == ["kfp.runs.archive", "kfp.runs.delete"]
    assert all(o == "ok" for _, _, o in rows)
    # the chain verifies
    out = subprocess.run([server.binary, "audit", "verify", "--backend-store-uri",
                          f"sqlite:///{server.db_path}"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_run_folders_are_read_only_through_the_artifact_proxy(server, tmp_path):
    # inputs of its own: a cached task would have no attempt folder
    run = create_run(server, spec_dict(arith, tmp_path), name="ro",
                     params={"a": int(time.time() * 1000) % 100000})
    rid = run["run_id"]
    assert wait_state(server, rid)["state"] == "SUCCEEDED"
    art = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
    out = f"{art}/pipelines/{rid}/add/1/out/executor_output.json"
    assert requests.get(out, timeout=30).status_code == 200  # readable
    for r in (requests.put(out, data=b"tampered", timeout=30),
              requests.put(f"{art}/pipelines/new.txt", data=b"x", timeout=30),
              requests.delete(out, timeout=30),
              requests.delete(f"{art}/pipelines", timeout=30)):
        assert r.status_code == 403, r.text
        assert r.json()["error_code"] == "PERMISSION_DENIED"
    assert requests.get(out, timeout=30).content != b"tampered"
