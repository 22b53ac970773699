"""A real flavour round trip: scikit-learn models logged, registered and loaded back through
the official client, as a user does it.

mlflow 3.x logs a model as a LoggedModel (models:/m-<id>, files under
mlflow-artifacts:/<exp>/models/<id>/artifacts) and registers it with source models:/<id>;
mlflow 2.x logs the files under the run (artifact_path=) and registers <run artifact uri>/model.
The logged-model checks (get_logged_model, search_logged_models, run outputs, the
mlflow.modelVersions tag) exist in 3.x only.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import sklearn.linear_model as sklearn_linear

import mlflow
import mlflow.sklearn

from helpers import uniq

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])
needs_mlflow3 = pytest.mark.skipif(MLFLOW_MAJOR < 3, reason="logged models (LoggedModel) exist in mlflow 3.x only")


def _data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(int)
    return X, y


def _registrations(logged_model) -> list:
    """The (name, version) pairs of the mlflow.modelVersions tag, in order, without repeats
    (an MLflow 3.17 server adds its own entry, with an int version, next to the client's)."""
    out = []
    for e in json.loads(logged_model.tags["mlflow.modelVersions"]):
        key = (e["name"], str(e["version"]))
        if key not in out:
            out.append(key)
    return out


def _log_model(model, registered_model_name=None):
    kw = {"pip_requirements": ["scikit-learn"]}  # skip requirement inference (a subprocess): keeps it quick
    if registered_model_name:
        kw["registered_model_name"] = registered_model_name
    if MLFLOW_MAJOR >= 3:
        return mlflow.sklearn.log_model(model, name="model", **kw)
    return mlflow.sklearn.log_model(model, artifact_path="model", **kw)


@pytest.fixture
def trained(mlflow_client):
    """A fitted LogisticRegression logged in a fresh run and registered as clf-*/1."""
    X, y = _data()
    model = sklearn_linear.LogisticRegression(C=1.0, max_iter=200).fit(X, y)
    exp = mlflow.set_experiment(uniq("models"))
    clf = uniq("clf")
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        mlflow.log_metric("train_acc", float(model.score(X, y)))
        info = _log_model(model, registered_model_name=clf)
    return {"model": model, "X": X, "info": info, "run_id": run.info.run_id, "clf": clf,
            "experiment_id": exp.experiment_id}


def test_log_register_and_load(mlflow_client, trained):
    model, X, info, clf, rid = trained["model"], trained["X"], trained["info"], trained["clf"], trained["run_id"]
    want = model.predict(X)

    mv = mlflow_client.get_model_version(clf, "1")
    assert mv.status == "READY"
    assert mv.run_id == rid
    if MLFLOW_MAJOR >= 3:
        assert info.model_uri == f"models:/{info.model_id}"
        assert mv.source == f"models:/{info.model_id}"
        assert str(info.registered_model_version) == "1"
    else:
        assert info.model_uri == f"runs:/{rid}/model"
        assert mv.source == mlflow_client.get_run(rid).info.artifact_uri + "/model"

    by_version = mlflow.pyfunc.load_model(f"models:/{clf}/1")
    assert np.array_equal(by_version.predict(X), want)
    by_info = mlflow.pyfunc.load_model(info.model_uri)
    assert np.array_equal(by_info.predict(X), want)
    # the flavour's own loader gives back an equivalent estimator
    native = mlflow.sklearn.load_model(f"models:/{clf}/1")
    assert np.array_equal(native.predict(X), want)
    assert np.allclose(native.coef_, model.coef_)

    # an alias and "latest" lead to the same model
    mlflow_client.set_registered_model_alias(clf, "champion", "1")
    assert np.array_equal(mlflow.pyfunc.load_model(f"models:/{clf}@champion").predict(X), want)
    assert np.array_equal(mlflow.pyfunc.load_model(f"models:/{clf}/latest").predict(X), want)


def test_register_model_from_run_uri(mlflow_client, trained):
    X, rid = trained["X"], trained["run_id"]
    clf2 = uniq("clf2")
    mv = mlflow.register_model(f"runs:/{rid}/model", clf2)
    assert (mv.name, mv.version, mv.status) == (clf2, "1", "READY")
    got = mlflow_client.get_model_version(clf2, "1")
    assert got.run_id == rid
    if MLFLOW_MAJOR >= 3:
        # no MLmodel under the run's artifacts: the client finds the logged model by name
        assert got.source == f"models:/{trained['info'].model_id}"
    else:
        assert got.source == mlflow_client.get_run(rid).info.artifact_uri + "/model"
    loaded = mlflow.pyfunc.load_model(f"models:/{clf2}/1")
    assert np.array_equal(loaded.predict(X), trained["model"].predict(X))
    # registering again gives version 2 of the same registered model
    assert mlflow.register_model(f"runs:/{rid}/model", clf2).version == "2"


@needs_mlflow3
def test_logged_model_entity(mlflow_client, trained):
    from mlflow.entities import LoggedModelStatus

    info, rid, eid = trained["info"], trained["run_id"], trained["experiment_id"]
    lm = mlflow.get_logged_model(info.model_id)
    assert lm.model_id == info.model_id
    assert lm.name == "model"
    assert lm.experiment_id == eid
    assert lm.source_run_id == rid
    assert lm.status == LoggedModelStatus.READY
    assert lm.artifact_location == f"mlflow-artifacts:/{eid}/models/{info.model_id}/artifacts"
    assert lm.params == {"C": "1.0"}
    assert "train_acc" in {m.key for m in lm.metrics}
    assert lm.creation_timestamp > 0 and lm.last_updated_timestamp >= lm.creation_timestamp
    # the run lists the model among its outputs
    outputs = mlflow_client.get_run(rid).outputs
    assert outputs is not None
    assert [(o.model_id, o.step) for o in outputs.model_outputs] == [(info.model_id, 0)]
    # the registration is recorded on the logged model
    assert _registrations(lm) == [(trained["clf"], "1")]


@needs_mlflow3
def test_model_versions_tag_accumulates(mlflow_client, trained):
    info, rid = trained["info"], trained["run_id"]
    clf2 = uniq("clf2")
    mlflow.register_model(f"runs:/{rid}/model", clf2)
    mlflow.register_model(info.model_uri, clf2)
    assert _registrations(mlflow.get_logged_model(info.model_id)) == [
        (trained["clf"], "1"), (clf2, "1"), (clf2, "2")]


@needs_mlflow3
def test_search_logged_models(mlflow_client, trained):
    eid, info = trained["experiment_id"], trained["info"]
    X, y = _data()
    other = sklearn_linear.LogisticRegression(C=0.1, max_iter=200).fit(X, y)
    with mlflow.start_run():
        second = mlflow.sklearn.log_model(other, name="other", pip_requirements=["scikit-learn"])
    found = mlflow.search_logged_models(experiment_ids=[eid], filter_string="name = 'model'", output_format="list")
    assert [m.model_id for m in found] == [info.model_id]
    found = mlflow.search_logged_models(experiment_ids=[eid], filter_string="name = 'other'", output_format="list")
    assert [m.model_id for m in found] == [second.model_id]
    every = mlflow.search_logged_models(experiment_ids=[eid], output_format="list")
    # default order: creation_timestamp DESC
    assert [m.model_id for m in every] == [second.model_id, info.model_id]
    found = mlflow.search_logged_models(
        experiment_ids=[eid], filter_string=f"source_run_id = '{trained['run_id']}'", output_format="list"
    )
    assert [m.model_id for m in found] == [info.model_id]
    df = mlflow.search_logged_models(experiment_ids=[eid], filter_string="name = 'model'")
    assert list(df["model_id"]) == [info.model_id]
    assert mlflow.search_logged_models(experiment_ids=[eid], filter_string="name = 'none'", output_format="list") == []
    # loading by the logged model's URI works for the second model as well
    assert np.array_equal(mlflow.pyfunc.load_model(second.model_uri).predict(X), other.predict(X))
