"""The lineage graph through the official client: a run logs a CSV file, a dataset built from
it (mlflow.log_input) and a scikit-learn model registered with registered_model_name; then
/api/2.0/trellis/lineage/model-version must name the run and the CSV's SHA-256 (computed here
from the file's bytes), and /api/2.0/trellis/lineage/dataset must reach the model version from
the dataset's digest and from the file's SHA-256.

Runs under both mlflow 3.x (model files under a LoggedModel) and 2.x (under the run).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import sklearn.linear_model as sklearn_linear

import mlflow
import mlflow.sklearn

from helpers import assert_error, uniq

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])
LINEAGE = "/api/2.0/trellis/lineage"


def _log_model(model, name):
    kw = {"pip_requirements": ["scikit-learn"], "registered_model_name": name}
    if MLFLOW_MAJOR >= 3:
        return mlflow.sklearn.log_model(model, name="model", **kw)
    return mlflow.sklearn.log_model(model, artifact_path="model", **kw)


def _ids(body, kind):
    return {n["id"].split(":", 1)[1] for n in body["nodes"] if n["kind"] == kind}


@pytest.fixture
def trained(mlflow_client, server, tmp_path):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] - X[:, 2] > 0).astype(int)
    csv = tmp_path / "train.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y}).to_csv(csv, index=False)
    sha = hashlib.sha256(csv.read_bytes()).hexdigest()
    mlflow.set_experiment(uniq("lineage"))
    name = uniq("lin")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(csv))
        df = pd.read_csv(csv)
        # the dataset's source is the logged file, named by the proxy's download URL
        url = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/" + mlflow.get_artifact_uri(
            "train.csv").split("mlflow-artifacts:/", 1)[1]
        ds = mlflow.data.from_pandas(df, source=url, name="train", targets="y")
        mlflow.log_input(ds, context="training")
        model = sklearn_linear.LogisticRegression(max_iter=200).fit(X, y)
        _log_model(model, name)
    return {"run_id": run.info.run_id, "sha": sha, "name": name, "digest": ds.digest}


def test_model_version_upstream_names_run_and_data(trained, rest):
    r = rest.get(f"{LINEAGE}/model-version", params={"name": trained["name"], "version": "1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["root"] == f"model_version:{trained['name']}/1"
    summary = body["summary"]
    assert trained["run_id"] in summary["runs"]
    assert trained["sha"] in summary["artifacts"]
    assert trained["digest"] in summary["input_digests"]
    assert trained["sha"] in _ids(body, "artifact")
    edges = {(e["src"], e["dst"], e["relation"]) for e in body["edges"]}
    run, mv = f"run:{trained['run_id']}", body["root"]
    assert (run, mv, "registered_from") in edges
    assert (f"dataset:{trained['digest']}", run, "consumed") in edges
    assert (f"dataset:{trained['digest']}", f"artifact:{trained['sha']}", "same_content") in edges
    # the model's own files are stored artifacts the version was registered from
    assert any(e[1] == mv and e[0].startswith("artifact:") for e in edges)
    if MLFLOW_MAJOR >= 3:
        assert summary["logged_models"], body
        lm = f"logged_model:{summary['logged_models'][0]}"
        assert (lm, mv, "registered_from") in edges
        assert (run, lm, "logged_model") in edges
    nodes = {n["id"]: n for n in body["nodes"]}
    assert nodes[run]["status"] == "FINISHED"
    art = nodes[f"artifact:{trained['sha']}"]
    assert art["exists"] and any(p.endswith("/artifacts/train.csv") for p in art["paths"])


def test_dataset_downstream_reaches_model_version(trained, rest):
    want = f"{trained['name']}/1"
    for digest in (trained["digest"], trained["sha"]):
        r = rest.get(f"{LINEAGE}/dataset", params={"digest": digest})
        assert r.status_code == 200, r.text
        summary = r.json()["summary"]
        assert trained["run_id"] in summary["runs"]
        assert want in summary["model_versions"]


def test_node_query_directions_and_depth(trained, rest):
    run = f"run:{trained['run_id']}"
    up = rest.get(LINEAGE, params={"node": run, "direction": "upstream", "depth": "1"}).json()
    assert f"dataset:{trained['digest']}" in {n["id"] for n in up["nodes"]}
    assert f"model_version:{trained['name']}/1" not in {n["id"] for n in up["nodes"]}
    down = rest.get(LINEAGE, params={"node": run, "direction": "downstream"}).json()
    assert f"model_version:{trained['name']}/1" in {n["id"] for n in down["nodes"]}
    assert f"artifact:{trained['sha']}" in {n["id"] for n in down["nodes"]}
    alone = rest.get(LINEAGE, params={"node": "run:" + "0" * 32}).json()
    assert alone["edges"] == [] and len(alone["nodes"]) == 1 and not alone["nodes"][0]["exists"]


@pytest.mark.parametrize("params", [
    {"node": "bogus:1"},
    {"node": "run:"},
    {"node": "run"},
    {},
    {"node": "run:x", "depth": "0"},
    {"node": "run:x", "depth": "21"},
    {"node": "run:x", "depth": "two"},
    {"node": "run:x", "direction": "sideways"},
    {"node": "run:" + "x" * 600},
])
def test_bad_node_queries(rest, params):
    assert_error(rest.get(LINEAGE, params=params), 400, "INVALID_PARAMETER_VALUE")


def test_model_version_errors(rest):
    assert_error(rest.get(f"{LINEAGE}/model-version", params={"name": uniq("none"), "version": "1"}),
                 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(rest.get(f"{LINEAGE}/model-version", params={"name": "m", "version": "x"}),
                 400, "INVALID_PARAMETER_VALUE")
    assert_error(rest.get(f"{LINEAGE}/dataset"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(rest.post(LINEAGE, {"node": "run:x"}), 405)
