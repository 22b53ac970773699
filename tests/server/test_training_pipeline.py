"""A training pipeline in the server, end to end through the official clients.

A kfp-compiled pipeline (a step makes a CSV, a step trains scikit-learn on it and
logs with the mlflow client, a step registers the model) is uploaded and run with
`kfp.Client`, watched through the KFP API, then checked through MLflow's REST API
and Trellis' lineage API: the task runs are children of the pipeline run with
their metrics, the last step registered a model version, and lineage links the
model version back to the data file's SHA-256 and every task in between (and the
data file forward to the model version).
"""

import hashlib
import sys
import tempfile
from pathlib import Path

import kfp
import pytest
import requests
from kfp import compiler, dsl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pipeline_runs import mlflow_runs, start_server, tags_of  # noqa: E402


@dsl.component
def make_data(rows: int, data: dsl.Output[dsl.Dataset]):
    import random

    rnd = random.Random(7)
    with open(data.path, "w") as f:
        f.write("x1,x2,label\n")
        for _ in range(rows):
            label = rnd.randint(0, 1)
            f.write(f"{rnd.gauss(label * 2.0, 1.0):.4f},{rnd.gauss(-label, 1.0):.4f},{label}\n")


@dsl.component
def train(data: dsl.Input[dsl.Dataset], c: float) -> str:
    import csv

    import mlflow
    from sklearn.linear_model import LogisticRegression

    import pandas as pd

    # the data file, logged as the run's input dataset (its MLflow digest is
    # linked to the file's SHA-256, which Trellis recorded when make-data wrote it)
    mlflow.log_input(mlflow.data.from_pandas(pd.read_csv(data.path), source=data.path),
                     context="training")
    rows = list(csv.DictReader(open(data.path)))
    x = [[float(r["x1"]), float(r["x2"])] for r in rows]
    y = [int(r["label"]) for r in rows]
    clf = LogisticRegression(C=c).fit(x, y)
    acc = clf.score(x, y)
    mlflow.log_metric("accuracy", acc)
    mlflow.log_param("c", c)
    info = mlflow.sklearn.log_model(clf, name="model")
    return info.model_uri


@dsl.component
def register(model_uri: str, name: str) -> str:
    import mlflow

    mv = mlflow.register_model(model_uri, name)
    return mv.version


@dsl.pipeline(name="train-and-register")
def training(rows: int = 200, c: float = 1.0, model_name: str = "clf"):
    d = make_data(rows=rows)
    t = train(data=d.outputs["data"], c=c)
    register(model_uri=t.output, name=model_name)


def test_training_pipeline_tracked_registered_and_traced(server):
    work = Path(tempfile.mkdtemp(prefix="trellis-train-", dir="/tmp"))
    package = work / "training.yaml"
    compiler.Compiler().compile(training, str(package))
    client = kfp.Client(host=server.url)
    pipeline = client.upload_pipeline(str(package), pipeline_name="training")
    versions = client.list_pipeline_versions(pipeline.pipeline_id).pipeline_versions
    assert len(versions) == 1
    exp = client.create_experiment("training-exp")
    run = client.run_pipeline(experiment_id=exp.experiment_id, job_name="train-1",
                              pipeline_id=pipeline.pipeline_id,
                              version_id=versions[0].pipeline_version_id,
                              params={"rows": 150, "c": 0.5, "model_name": "clf-e2e"})
    done = client.wait_for_run_completion(run.run_id, timeout=300, sleep_duration=1)
    assert done.state == "SUCCEEDED", done.error
    # the task runs are children of the pipeline run, in the KFP experiment,
    # which is the MLflow experiment of the same id
    runs = mlflow_runs(server, exp.experiment_id)
    children = {tags_of(r)["trellis.task_path"]: r for r in runs
                if tags_of(r).get("mlflow.parentRunId") == run.run_id}
    assert set(children) == {"make-data", "train", "register"}
    tm = {m["key"]: m["value"] for m in children["train"]["data"]["metrics"]}
    assert tm["accuracy"] > 0.7
    assert tm["system/exit_code"] == 0
    tp = {p["key"]: p["value"] for p in children["train"]["data"]["params"]}
    assert tp["c"] == "0.5"
    # the last step registered a version of the model
    r = requests.get(f"{server.url}/api/2.0/mlflow/model-versions/get",
                     params={"name": "clf-e2e", "version": "1"})
    assert r.status_code == 200, r.text
    mv = r.json()["model_version"]
    assert mv["run_id"] == children["train"]["info"]["run_id"]
    # the data file, where the step wrote it in the artifact store
    data_files = list(server.artifacts_dir.glob(f"pipelines/{run.run_id}/make-data/*/out/data"))
    assert len(data_files) == 1
    digest = hashlib.sha256(data_files[0].read_bytes()).hexdigest()
    # lineage: from the model version back to the data file, through every task
    r = requests.get(f"{server.url}/api/2.0/trellis/lineage/model-version",
                     params={"name": "clf-e2e", "version": "1"})
    assert r.status_code == 200, r.text
    graph = r.json()
    ids = {n["id"] for n in graph["nodes"]}
    assert f"artifact:{digest}" in ids
    for task in ("make-data", "train"):
        assert f"task:{run.run_id}/{task}" in ids
    assert f"run:{children['train']['info']['run_id']}" in ids
    # with each task's parameters, through the task's run
    by_id = {n["id"]: n for n in graph["nodes"]}
    train_run = by_id[f"run:{children['train']['info']['run_id']}"]
    assert train_run["params"]["c"] == "0.5"
    assert f"pipeline_run:{run.run_id}" in ids or any(
        p == run.run_id for p in graph.get("pipeline_runs", []))
    # MLflow's short dataset digest is the same content as the file
    r = requests.get(f"{server.url}/api/2.0/mlflow/runs/get",
                     params={"run_id": children["train"]["info"]["run_id"]})
    ds = r.json()["run"]["inputs"]["dataset_inputs"][0]["dataset"]
    r = requests.get(f"{server.url}/api/2.0/trellis/lineage/dataset", params={"digest": ds["digest"]})
    assert r.status_code == 200, r.text
    by_mlflow_digest = {n["id"] for n in r.json()["nodes"]}
    assert f"artifact:{digest}" in by_mlflow_digest
    assert "model_version:clf-e2e/1" in by_mlflow_digest
    # and forward from the data file to the model version
    r = requests.get(f"{server.url}/api/2.0/trellis/lineage/dataset", params={"digest": digest})
    assert r.status_code == 200, r.text
    down = {n["id"] for n in r.json()["nodes"]}
    assert "model_version:clf-e2e/1" in down
