"""The official mlflow client, unchanged, against trellis server.

Runs under both mlflow 3.17 and 2.22. Every test reads back through the client
what it wrote and compares values, not only that no exception was raised.
"""

from __future__ import annotations

import math
import random
import re
import time

import pytest

import mlflow
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType
from mlflow.exceptions import MlflowException

from helpers import uniq

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])
RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_DOUBLE = 1.7976931348623157e308


def _code(exc: MlflowException) -> str:
    return getattr(exc, "error_code", None) or ""


def _new_experiment(client, prefix="exp", **kw) -> str:
    eid = client.create_experiment(uniq(prefix), **kw)
    assert isinstance(eid, str) and eid
    return eid


def _tags(run) -> dict:
    return dict(run.data.tags)


# --------------------------------------------------------------------------- experiments


def test_default_experiment_exists(mlflow_client):
    exp = mlflow_client.get_experiment("0")
    assert exp.experiment_id == "0"
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location == "mlflow-artifacts:/0"
    assert mlflow_client.get_experiment_by_name("Default").experiment_id == "0"


def test_set_experiment_creates_then_reuses(mlflow_client):
    name = uniq("setexp")
    assert mlflow_client.get_experiment_by_name(name) is None
    exp1 = mlflow.set_experiment(name)
    assert exp1.name == name
    assert exp1.lifecycle_stage == "active"
    assert exp1.artifact_location == f"mlflow-artifacts:/{exp1.experiment_id}"
    assert exp1.creation_time and exp1.creation_time > 1_600_000_000_000
    exp2 = mlflow.set_experiment(name)
    assert exp2.experiment_id == exp1.experiment_id
    exp3 = mlflow.set_experiment(experiment_id=exp1.experiment_id)
    assert exp3.name == name
    with mlflow.start_run() as run:
        assert run.info.experiment_id == exp1.experiment_id


def test_create_experiment_duplicate_name(mlflow_client):
    name = uniq("dup")
    mlflow_client.create_experiment(name)
    with pytest.raises(MlflowException) as ei:
        mlflow_client.create_experiment(name)
    assert _code(ei.value) == "RESOURCE_ALREADY_EXISTS"


def test_create_experiment_with_tags(mlflow_client):
    eid = _new_experiment(mlflow_client, tags={"team": "ml", "k2": "v2"})
    exp = mlflow_client.get_experiment(eid)
    assert exp.tags.get("team") == "ml"
    assert exp.tags.get("k2") == "v2"


def test_get_experiment_missing(mlflow_client):
    assert mlflow_client.get_experiment_by_name(uniq("nope")) is None
    with pytest.raises(MlflowException) as ei:
        mlflow_client.get_experiment("987654321")
    assert _code(ei.value) == "RESOURCE_DOES_NOT_EXIST"


def test_rename_experiment(mlflow_client):
    old, new = uniq("old"), uniq("new")
    eid = mlflow_client.create_experiment(old)
    before = mlflow_client.get_experiment(eid)
    time.sleep(0.01)
    mlflow_client.rename_experiment(eid, new)
    exp = mlflow_client.get_experiment(eid)
    assert exp.name == new
    assert mlflow_client.get_experiment_by_name(new).experiment_id == eid
    assert mlflow_client.get_experiment_by_name(old) is None
    if before.last_update_time and exp.last_update_time:
        assert exp.last_update_time >= before.last_update_time


def test_delete_restore_experiment(mlflow_client):
    name = uniq("delexp")
    eid = mlflow_client.create_experiment(name)
    run = mlflow_client.create_run(eid)
    mlflow_client.delete_experiment(eid)
    exp = mlflow_client.get_experiment(eid)
    assert exp.lifecycle_stage == "deleted"
    # Runs of a deleted experiment are soft-deleted with it.
    assert mlflow_client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    # set_experiment refuses a deleted experiment.
    with pytest.raises(MlflowException):
        mlflow.set_experiment(name)
    # The name stays taken while deleted.
    with pytest.raises(MlflowException) as ei:
        mlflow_client.create_experiment(name)
    assert _code(ei.value) == "RESOURCE_ALREADY_EXISTS"
    # Hidden from ACTIVE_ONLY, visible in DELETED_ONLY / ALL.
    flt = f"name = '{name}'"
    assert [e.experiment_id for e in mlflow_client.search_experiments(filter_string=flt)] == []
    assert [
        e.experiment_id for e in mlflow_client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=flt)
    ] == [eid]
    assert [e.experiment_id for e in mlflow_client.search_experiments(view_type=ViewType.ALL, filter_string=flt)] == [
        eid
    ]
    mlflow_client.restore_experiment(eid)
    assert mlflow_client.get_experiment(eid).lifecycle_stage == "active"
    assert mlflow_client.get_run(run.info.run_id).info.lifecycle_stage == "active"
    assert mlflow.set_experiment(name).experiment_id == eid


def test_experiment_tags_set_and_delete(mlflow_client):
    eid = _new_experiment(mlflow_client)
    mlflow_client.set_experiment_tag(eid, "a", "1")
    mlflow_client.set_experiment_tag(eid, "b", "2")
    mlflow_client.set_experiment_tag(eid, "a", "overwritten")
    tags = mlflow_client.get_experiment(eid).tags
    assert tags.get("a") == "overwritten"
    assert tags.get("b") == "2"
    if not hasattr(mlflow_client, "delete_experiment_tag"):
        return  # mlflow 2.22's client has no delete_experiment_tag
    mlflow_client.delete_experiment_tag(eid, "a")
    tags = mlflow_client.get_experiment(eid).tags
    assert "a" not in tags
    assert tags.get("b") == "2"


def test_fluent_set_experiment_tags(mlflow_client):
    exp = mlflow.set_experiment(uniq("fluenttags"))
    mlflow.set_experiment_tags({"x": "1", "y": "two"})
    tags = mlflow_client.get_experiment(exp.experiment_id).tags
    assert tags.get("x") == "1" and tags.get("y") == "two"


def test_search_experiments_filter_order_paging(mlflow_client):
    prefix = uniq("sx")
    ids = {}
    for suffix in ["c", "a", "d", "b", "e"]:
        ids[suffix] = mlflow_client.create_experiment(
            f"{prefix}-{suffix}", tags={"grp": prefix, "parity": "even" if suffix in "bd" else "odd"}
        )
        time.sleep(0.002)
    flt = f"name LIKE '{prefix}-%'"

    # order_by name, both directions
    names = [e.name for e in mlflow_client.search_experiments(filter_string=flt, order_by=["name ASC"])]
    assert names == [f"{prefix}-{s}" for s in "abcde"]
    names = [e.name for e in mlflow_client.search_experiments(filter_string=flt, order_by=["name DESC"])]
    assert names == [f"{prefix}-{s}" for s in "edcba"]

    # default order: creation_time DESC
    default = [e.experiment_id for e in mlflow_client.search_experiments(filter_string=flt)]
    assert default == [ids[s] for s in reversed("cadbe")]

    # ILIKE and tag filters
    got = {e.name for e in mlflow_client.search_experiments(filter_string=f"name ILIKE '{prefix.upper()}-%'")}
    assert got == {f"{prefix}-{s}" for s in "abcde"}
    got = {e.name for e in mlflow_client.search_experiments(filter_string=f"{flt} AND tags.parity = 'even'")}
    assert got == {f"{prefix}-b", f"{prefix}-d"}
    got = {e.name for e in mlflow_client.search_experiments(filter_string=f"tags.grp = '{prefix}' AND name != '{prefix}-a'")}
    assert got == {f"{prefix}-{s}" for s in "bcde"}
    # creation_time is numeric
    t0 = mlflow_client.get_experiment(ids["d"]).creation_time
    got = {e.name for e in mlflow_client.search_experiments(filter_string=f"{flt} AND creation_time >= {t0}")}
    assert got == {f"{prefix}-d", f"{prefix}-b", f"{prefix}-e"}

    # paging with max_results=2
    seen, token, pages = [], None, 0
    while True:
        page = mlflow_client.search_experiments(filter_string=flt, order_by=["name ASC"], max_results=2, page_token=token)
        pages += 1
        assert len(page) <= 2
        seen += [e.name for e in page]
        token = page.token
        if not token:
            break
        assert pages < 10, "paging does not terminate"
    assert seen == [f"{prefix}-{s}" for s in "abcde"]
    assert pages == 3

    # view_type
    mlflow_client.delete_experiment(ids["e"])
    active = {e.name for e in mlflow_client.search_experiments(filter_string=flt)}
    assert f"{prefix}-e" not in active and len(active) == 4
    deleted = {e.name for e in mlflow_client.search_experiments(filter_string=flt, view_type=ViewType.DELETED_ONLY)}
    assert deleted == {f"{prefix}-e"}
    every = {e.name for e in mlflow_client.search_experiments(filter_string=flt, view_type=ViewType.ALL)}
    assert len(every) == 5

    # fluent wrapper as well
    got = [e.name for e in mlflow.search_experiments(filter_string=flt, order_by=["name DESC"])]
    assert got == [f"{prefix}-{s}" for s in "dcba"]


# --------------------------------------------------------------------------- runs


def test_start_end_run_generated_name(mlflow_client):
    mlflow.set_experiment(uniq("runs"))
    t_before = int(time.time() * 1000) - 5
    with mlflow.start_run() as active:
        rid = active.info.run_id
        assert RUN_ID_RE.match(rid), rid
        assert active.info.status == "RUNNING"
    run = mlflow_client.get_run(rid)
    assert run.info.run_id == rid
    assert run.info.status == "FINISHED"
    assert run.info.lifecycle_stage == "active"
    assert run.info.start_time >= t_before
    assert run.info.end_time is not None and run.info.end_time >= run.info.start_time
    assert run.info.run_name, "server must generate a run name"
    assert _tags(run).get("mlflow.runName") == run.info.run_name
    assert run.info.artifact_uri == f"mlflow-artifacts:/{run.info.experiment_id}/{rid}/artifacts"


def test_run_name_given(mlflow_client):
    mlflow.set_experiment(uniq("runs"))
    with mlflow.start_run(run_name="my-named-run") as active:
        pass
    run = mlflow_client.get_run(active.info.run_id)
    assert run.info.run_name == "my-named-run"
    assert _tags(run)["mlflow.runName"] == "my-named-run"


def test_run_failed_status(mlflow_client):
    mlflow.set_experiment(uniq("runs"))
    with pytest.raises(ZeroDivisionError):
        with mlflow.start_run() as active:
            1 / 0
    assert mlflow_client.get_run(active.info.run_id).info.status == "FAILED"


def test_update_run_name_and_status(mlflow_client):
    eid = _new_experiment(mlflow_client)
    run = mlflow_client.create_run(eid, run_name="before")
    mlflow_client.update_run(run.info.run_id, status="KILLED", name="after")
    got = mlflow_client.get_run(run.info.run_id)
    assert got.info.status == "KILLED"
    assert got.info.run_name == "after"
    assert _tags(got)["mlflow.runName"] == "after"
    mlflow_client.set_terminated(run.info.run_id, status="FINISHED", end_time=1_700_000_123_456)
    got = mlflow_client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.end_time == 1_700_000_123_456


def test_nested_runs(mlflow_client):
    mlflow.set_experiment(uniq("nested"))
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            with mlflow.start_run(nested=True) as grandchild:
                pass
    c = mlflow_client.get_run(child.info.run_id)
    g = mlflow_client.get_run(grandchild.info.run_id)
    assert _tags(c)["mlflow.parentRunId"] == parent.info.run_id
    assert _tags(g)["mlflow.parentRunId"] == child.info.run_id
    assert "mlflow.parentRunId" not in _tags(mlflow_client.get_run(parent.info.run_id))
    # all three finished
    for rid in (parent.info.run_id, child.info.run_id, grandchild.info.run_id):
        assert mlflow_client.get_run(rid).info.status == "FINISHED"
    # children can be found by tag
    found = mlflow_client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in found] == [child.info.run_id]


def test_resume_run(mlflow_client):
    mlflow.set_experiment(uniq("resume"))
    with mlflow.start_run() as first:
        mlflow.log_param("p", "1")
        mlflow.log_metric("m", 1.0, step=0)
    rid = first.info.run_id
    assert mlflow_client.get_run(rid).info.status == "FINISHED"
    with mlflow.start_run(run_id=rid) as again:
        assert again.info.run_id == rid
        assert mlflow_client.get_run(rid).info.status == "RUNNING"
        mlflow.log_metric("m", 2.0, step=1)
        mlflow.log_param("q", "2")
    run = mlflow_client.get_run(rid)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"p": "1", "q": "2"}
    assert run.data.metrics["m"] == 2.0
    assert [m.value for m in mlflow_client.get_metric_history(rid, "m")] == [1.0, 2.0]


def test_delete_restore_run(mlflow_client):
    eid = _new_experiment(mlflow_client)
    keep = mlflow_client.create_run(eid).info.run_id
    gone = mlflow_client.create_run(eid).info.run_id
    mlflow_client.delete_run(gone)
    assert mlflow_client.get_run(gone).info.lifecycle_stage == "deleted"
    active = {r.info.run_id for r in mlflow_client.search_runs([eid])}
    assert active == {keep}
    deleted = {r.info.run_id for r in mlflow_client.search_runs([eid], run_view_type=ViewType.DELETED_ONLY)}
    assert deleted == {gone}
    every = {r.info.run_id for r in mlflow_client.search_runs([eid], run_view_type=ViewType.ALL)}
    assert every == {keep, gone}
    # writes to a deleted run are refused
    with pytest.raises(MlflowException) as ei:
        mlflow_client.log_param(gone, "p", "v")
    assert _code(ei.value) == "INVALID_PARAMETER_VALUE"
    # resuming a deleted run is refused by the client
    with pytest.raises(MlflowException):
        mlflow.start_run(run_id=gone)
    mlflow_client.restore_run(gone)
    assert mlflow_client.get_run(gone).info.lifecycle_stage == "active"
    assert {r.info.run_id for r in mlflow_client.search_runs([eid])} == {keep, gone}


def test_get_run_missing(mlflow_client):
    with pytest.raises(MlflowException) as ei:
        mlflow_client.get_run("0123456789abcdef0123456789abcdef")
    assert _code(ei.value) == "RESOURCE_DOES_NOT_EXIST"


# --------------------------------------------------------------------------- params / tags


def test_params_write_once(mlflow_client):
    mlflow.set_experiment(uniq("params"))
    with mlflow.start_run() as active:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"layers": 3, "opt": "adam", "empty": ""})
        mlflow.log_param("lr", 0.1)  # same value: fine
        mlflow.log_params({"opt": "adam"})  # same value in batch: fine
        with pytest.raises(MlflowException) as ei:
            mlflow.log_param("lr", 0.2)
        assert _code(ei.value) == "INVALID_PARAMETER_VALUE"
        with pytest.raises(MlflowException) as ei:
            mlflow.log_params({"opt": "sgd", "new_one": "x"})
        assert _code(ei.value) == "INVALID_PARAMETER_VALUE"
    run = mlflow_client.get_run(active.info.run_id)
    assert run.data.params == {"lr": "0.1", "layers": "3", "opt": "adam", "empty": ""}


def test_param_unicode_and_long_value(mlflow_client):
    eid = _new_experiment(mlflow_client)
    rid = mlflow_client.create_run(eid).info.run_id
    value = "äöü ✓ 日本語 " + "x" * 5000
    mlflow_client.log_param(rid, "unicode key ok", value)
    mlflow_client.log_param(rid, "path/like.key-1:2", "v")
    params = mlflow_client.get_run(rid).data.params
    assert params["unicode key ok"] == value
    assert params["path/like.key-1:2"] == "v"


def test_tags_set_and_delete(mlflow_client):
    mlflow.set_experiment(uniq("tags"))
    with mlflow.start_run() as active:
        mlflow.set_tag("single", "1")
        mlflow.set_tags({"a": "x", "b": "y", "single": "overwritten"})
        mlflow.set_tag("num", 5)
    rid = active.info.run_id
    tags = _tags(mlflow_client.get_run(rid))
    assert tags["single"] == "overwritten"
    assert tags["a"] == "x" and tags["b"] == "y" and tags["num"] == "5"
    mlflow_client.delete_tag(rid, "a")
    tags = _tags(mlflow_client.get_run(rid))
    assert "a" not in tags and tags["b"] == "y"
    with pytest.raises(MlflowException) as ei:
        mlflow_client.delete_tag(rid, "never-set")
    assert _code(ei.value) == "RESOURCE_DOES_NOT_EXIST"


def test_system_tags_from_client(mlflow_client):
    mlflow.set_experiment(uniq("systags"))
    with mlflow.start_run() as active:
        pass
    tags = _tags(mlflow_client.get_run(active.info.run_id))
    assert "mlflow.user" in tags
    assert tags.get("mlflow.source.type") in {"LOCAL", "NOTEBOOK", "JOB", "PROJECT", "UNKNOWN"}
    assert "mlflow.source.name" in tags


# --------------------------------------------------------------------------- metrics


def test_metrics_steps_timestamps_latest(mlflow_client):
    mlflow.set_experiment(uniq("metrics"))
    with mlflow.start_run() as active:
        rid = active.info.run_id
        mlflow.log_metric("loss", 1.0, step=5, timestamp=1000)
        mlflow.log_metric("loss", 2.0, step=3, timestamp=5000)  # later time, lower step
        mlflow.log_metric("loss", 3.0, step=5, timestamp=2000)  # same step, later time: latest
        mlflow.log_metric("loss", 0.5, step=4, timestamp=9000)
        mlflow.log_metrics({"acc": 0.5, "f1": 0.25}, step=1, timestamp=1111)
        mlflow.log_metrics({"acc": 0.75}, step=2, timestamp=1112)
        mlflow.log_metric("zero", 0.0)
        mlflow.log_metric("neg", -12.5, step=7)
        mlflow.log_metric("big", 1.23456789012345e300, step=0)
        mlflow.log_metric("int", 42)
    run = mlflow_client.get_run(rid)
    m = run.data.metrics
    assert m["loss"] == 3.0
    assert m["acc"] == 0.75
    assert m["f1"] == 0.25
    assert m["zero"] == 0.0
    assert m["neg"] == -12.5
    assert m["big"] == 1.23456789012345e300
    assert m["int"] == 42.0

    hist = mlflow_client.get_metric_history(rid, "loss")
    # ordered by timestamp, then step, then value
    assert [(h.timestamp, h.step, h.value) for h in hist] == [
        (1000, 5, 1.0),
        (2000, 5, 3.0),
        (5000, 3, 2.0),
        (9000, 4, 0.5),
    ]
    assert all(h.key == "loss" for h in hist)
    acc = mlflow_client.get_metric_history(rid, "acc")
    assert [(h.step, h.timestamp, h.value) for h in acc] == [(1, 1111, 0.5), (2, 1112, 0.75)]
    assert mlflow_client.get_metric_history(rid, "no-such-metric") == []


def test_metric_latest_ties(mlflow_client):
    eid = _new_experiment(mlflow_client)
    rid = mlflow_client.create_run(eid).info.run_id
    # same (step, timestamp): the larger value is the latest (MLflow's max of (step, ts, value))
    mlflow_client.log_batch(
        rid,
        metrics=[Metric("t", 5.0, 100, 1), Metric("t", 7.0, 100, 1), Metric("t", 6.0, 100, 1), Metric("t", 1.0, 99, 1)],
    )
    assert mlflow_client.get_run(rid).data.metrics["t"] == 7.0
    assert len(mlflow_client.get_metric_history(rid, "t")) == 4


def test_metric_nan_inf(mlflow_client):
    eid = _new_experiment(mlflow_client)
    rid = mlflow_client.create_run(eid).info.run_id
    mlflow_client.log_metric(rid, "nan", float("nan"), timestamp=1, step=0)
    mlflow_client.log_metric(rid, "pinf", float("inf"), timestamp=1, step=0)
    mlflow_client.log_metric(rid, "ninf", float("-inf"), timestamp=1, step=0)
    mlflow_client.log_batch(
        rid,
        metrics=[
            Metric("bnan", float("nan"), 2, 0),
            Metric("bnan", 1.5, 3, 1),
            Metric("bnan", float("nan"), 4, 2),
        ],
    )
    m = mlflow_client.get_run(rid).data.metrics
    assert math.isnan(m["nan"])
    assert m["pinf"] in (math.inf, MAX_DOUBLE)
    assert m["ninf"] in (-math.inf, -MAX_DOUBLE)
    assert math.isnan(m["bnan"])  # step 2 is the latest
    hist = mlflow_client.get_metric_history(rid, "bnan")
    assert len(hist) == 3
    assert math.isnan(hist[0].value) and hist[1].value == 1.5 and math.isnan(hist[2].value)
    pinf = mlflow_client.get_metric_history(rid, "pinf")
    assert len(pinf) == 1 and pinf[0].value in (math.inf, MAX_DOUBLE)


def test_log_batch_client(mlflow_client):
    eid = _new_experiment(mlflow_client)
    rid = mlflow_client.create_run(eid).info.run_id
    ts = int(time.time() * 1000)
    metrics = [Metric(f"m{i % 7}", float(i), ts + i, i) for i in range(1500)]  # split in 2 requests
    params = [Param(f"p{i}", str(i)) for i in range(150)]  # split in 2 requests
    tags = [RunTag(f"t{i}", f"v{i}") for i in range(120)]
    mlflow_client.log_batch(rid, metrics=metrics, params=params, tags=tags)
    run = mlflow_client.get_run(rid)
    assert run.data.params == {f"p{i}": str(i) for i in range(150)}
    for i in range(120):
        assert run.data.tags[f"t{i}"] == f"v{i}"
    for k in range(7):
        last = max(i for i in range(1500) if i % 7 == k)
        assert run.data.metrics[f"m{k}"] == float(last)
    hist = mlflow_client.get_metric_history(rid, "m3")
    assert [h.step for h in hist] == [i for i in range(1500) if i % 7 == 3]
    assert [h.timestamp for h in hist] == [ts + i for i in range(1500) if i % 7 == 3]


def test_metric_history_paging_30000(mlflow_client):
    eid = _new_experiment(mlflow_client)
    rid = mlflow_client.create_run(eid).info.run_id
    n = 30_000
    base = 1_700_000_000_000
    order = list(range(n))
    random.Random(7).shuffle(order)  # logged out of order; read back sorted
    t0 = time.monotonic()
    mlflow_client.log_batch(rid, metrics=[Metric("long", i * 0.5, base + i, i) for i in order])
    t_write = time.monotonic() - t0
    t0 = time.monotonic()
    hist = mlflow_client.get_metric_history(rid, "long")  # client pages at 25000
    t_read = time.monotonic() - t0
    assert len(hist) == n, f"expected {n} points, got {len(hist)}"
    assert [h.step for h in hist] == list(range(n))
    assert hist[12345].value == 12345 * 0.5 and hist[12345].timestamp == base + 12345
    assert mlflow_client.get_run(rid).data.metrics["long"] == (n - 1) * 0.5
    # generous bounds: the point is to catch pathological slowness, not to benchmark
    assert t_write < 60 and t_read < 30, (t_write, t_read)


# --------------------------------------------------------------------------- search_runs


@pytest.fixture
def search_fixture(mlflow_client):
    """Five runs in a fresh experiment with metrics/params/tags; returns (eid, {name: run_id})."""
    eid = _new_experiment(mlflow_client, "search")
    spec = {
        "r1": dict(metrics={"acc": 0.9, "loss": 0.1}, params={"model": "cnn", "lr": "0.1"}, tags={"team": "ml-core"}),
        "r2": dict(metrics={"acc": 0.5, "loss": 0.4}, params={"model": "rnn", "lr": "0.01"}, tags={"team": "ML-ops"}),
        "r3": dict(metrics={"acc": 0.7}, params={"model": "cnn"}, tags={"team": "data"}),
        "r4": dict(metrics={"loss": 0.9}, params={"model": "mlp", "only4": "yes"}, tags={}),
        "r5": dict(metrics={"acc": 0.2, "loss": 0.2}, params={}, tags={"team": "ml-core"}),
    }
    ids = {}
    start = 1_700_000_000_000
    for i, (name, s) in enumerate(spec.items()):
        run = mlflow_client.create_run(eid, run_name=name, start_time=start + i * 1000)
        rid = run.info.run_id
        ids[name] = rid
        mlflow_client.log_batch(
            rid,
            metrics=[Metric(k, v, start + i, 0) for k, v in s["metrics"].items()],
            params=[Param(k, v) for k, v in s["params"].items()],
            tags=[RunTag(k, v) for k, v in s["tags"].items()],
        )
        if name in ("r1", "r2"):
            mlflow_client.set_terminated(rid, "FINISHED")
    return eid, ids


def _names(runs, ids):
    rev = {v: k for k, v in ids.items()}
    return [rev[r.info.run_id] for r in runs]


@pytest.mark.parametrize(
    "flt, expected",
    [
        ("", {"r1", "r2", "r3", "r4", "r5"}),
        ("metrics.acc > 0.5", {"r1", "r3"}),
        ("metrics.acc >= 0.5", {"r1", "r2", "r3"}),
        ("metrics.acc < 0.5", {"r5"}),
        ("metrics.acc <= 0.5", {"r2", "r5"}),
        ("metrics.acc = 0.7", {"r3"}),
        ("metrics.acc != 0.7", {"r1", "r2", "r5"}),
        ("metric.loss > 0.15 and metrics.acc < 0.6", {"r2", "r5"}),
        ("params.model = 'cnn'", {"r1", "r3"}),
        ("params.model != 'cnn'", {"r2", "r4"}),
        ("param.model LIKE '%nn'", {"r1", "r2", "r3"}),
        ("params.model LIKE 'C%'", set()),
        ("params.model ILIKE 'C%'", {"r1", "r3"}),
        ("params.only4 = 'yes'", {"r4"}),
        ("params.lr = '0.1' AND params.model = 'cnn'", {"r1"}),
        ("tags.team = 'ml-core'", {"r1", "r5"}),
        ("tags.team LIKE 'ml%'", {"r1", "r5"}),
        ("tags.team ILIKE 'ml%'", {"r1", "r2", "r5"}),
        ("tags.team != 'data'", {"r1", "r2", "r5"}),
        ("tags.`team` = 'data'", {"r3"}),
        ('tags."team" = "data"', {"r3"}),
        ("attributes.status = 'FINISHED'", {"r1", "r2"}),
        ("attributes.status != 'FINISHED'", {"r3", "r4", "r5"}),
        ("attributes.run_name = 'r3'", {"r3"}),
        ("run_name LIKE 'r%' AND run_name != 'r1'", {"r2", "r3", "r4", "r5"}),
        ("attributes.start_time >= 1700000002000", {"r3", "r4", "r5"}),
        ("attributes.start_time < 1700000001000", {"r1"}),
        ("tags.mlflow.runName = 'r2'", {"r2"}),
        ("metrics.acc > 0.1 AND params.model = 'cnn' AND tags.team = 'data'", {"r3"}),
        ("metrics.nonexistent > 0", set()),
    ],
)
def test_search_runs_filters(mlflow_client, search_fixture, flt, expected):
    eid, ids = search_fixture
    runs = mlflow_client.search_runs([eid], flt)
    assert set(_names(runs, ids)) == expected


def test_search_runs_run_id_in(mlflow_client, search_fixture):
    eid, ids = search_fixture
    flt = f"attributes.run_id IN ('{ids['r2']}', '{ids['r4']}')"
    assert set(_names(mlflow_client.search_runs([eid], flt), ids)) == {"r2", "r4"}
    flt = f"attributes.run_id NOT IN ('{ids['r2']}', '{ids['r4']}')"
    assert set(_names(mlflow_client.search_runs([eid], flt), ids)) == {"r1", "r3", "r5"}
    flt = f"attributes.run_id = '{ids['r5']}'"
    assert _names(mlflow_client.search_runs([eid], flt), ids) == ["r5"]


def test_search_runs_bad_filter(mlflow_client, search_fixture):
    eid, _ = search_fixture
    for flt in ["metrics.acc >", "params.model = cnn", "foo.bar = 'x'", "metrics.acc > 'abc'"]:
        with pytest.raises(MlflowException) as ei:
            mlflow_client.search_runs([eid], flt)
        assert _code(ei.value) == "INVALID_PARAMETER_VALUE", flt


def test_search_runs_order_by(mlflow_client, search_fixture):
    eid, ids = search_fixture
    s = lambda order: _names(mlflow_client.search_runs([eid], "", order_by=order), ids)  # noqa: E731
    # default: start_time DESC
    assert s(None) == ["r5", "r4", "r3", "r2", "r1"]
    assert s(["attributes.start_time ASC"]) == ["r1", "r2", "r3", "r4", "r5"]
    assert s(["start_time DESC"]) == ["r5", "r4", "r3", "r2", "r1"]
    # missing values sort last in both directions (r4 has no acc)
    assert s(["metrics.acc DESC"]) == ["r1", "r3", "r2", "r5", "r4"]
    assert s(["metrics.acc ASC"]) == ["r5", "r2", "r3", "r1", "r4"]
    assert s(["metrics.acc"]) == ["r5", "r2", "r3", "r1", "r4"]
    # r3 has no loss
    assert s(["metrics.loss ASC"]) == ["r1", "r5", "r2", "r4", "r3"]
    # params: strings; r5 has no model -> last; tie cnn broken by start_time DESC
    assert s(["params.model ASC"]) == ["r3", "r1", "r4", "r2", "r5"]
    assert s(["params.model DESC"]) == ["r2", "r4", "r3", "r1", "r5"]
    # two keys
    assert s(["params.model ASC", "metrics.acc DESC"]) == ["r1", "r3", "r4", "r2", "r5"]
    assert s(["tags.team ASC", "attributes.start_time ASC"]) == ["r2", "r3", "r1", "r5", "r4"]
    assert s(["attributes.run_name DESC"]) == ["r5", "r4", "r3", "r2", "r1"]
    assert s(["attributes.status ASC", "attributes.run_name ASC"]) == ["r1", "r2", "r3", "r4", "r5"]


def test_search_runs_paging(mlflow_client, search_fixture):
    eid, ids = search_fixture
    order = ["attributes.start_time ASC"]
    seen, token, pages = [], None, 0
    while True:
        page = mlflow_client.search_runs([eid], "", order_by=order, max_results=2, page_token=token)
        pages += 1
        assert len(page) <= 2
        seen += _names(page, ids)
        token = page.token
        if not token:
            break
        assert pages < 10
    assert seen == ["r1", "r2", "r3", "r4", "r5"]
    assert pages in (3, 4)  # a full last page may hand out one extra (empty) page token
    # filtered paging
    first = mlflow_client.search_runs([eid], "metrics.acc > 0", order_by=["metrics.acc DESC"], max_results=3)
    assert _names(first, ids) == ["r1", "r3", "r2"]
    assert first.token
    rest_page = mlflow_client.search_runs(
        [eid], "metrics.acc > 0", order_by=["metrics.acc DESC"], max_results=3, page_token=first.token
    )
    assert _names(rest_page, ids) == ["r5"]
    assert not rest_page.token


def test_search_runs_multiple_experiments(mlflow_client, search_fixture):
    eid, ids = search_fixture
    other = _new_experiment(mlflow_client, "search-other")
    extra = mlflow_client.create_run(other, run_name="x1").info.run_id
    runs = mlflow_client.search_runs([eid, other], "")
    assert {r.info.run_id for r in runs} == set(ids.values()) | {extra}
    assert mlflow_client.search_runs([], "") == []


def test_search_runs_pandas(mlflow_client, search_fixture):
    pytest.importorskip("pandas")
    eid, ids = search_fixture
    df = mlflow.search_runs(experiment_ids=[eid], filter_string="params.model = 'cnn'", order_by=["metrics.acc DESC"])
    assert list(df["run_id"]) == [ids["r1"], ids["r3"]]
    assert list(df["metrics.acc"]) == [0.9, 0.7]
    assert list(df["params.model"]) == ["cnn", "cnn"]
    assert list(df["tags.team"]) == ["ml-core", "data"]
    assert set(df["status"]) == {"FINISHED", "RUNNING"}
    df_all = mlflow.search_runs(experiment_ids=[eid])
    assert len(df_all) == 5
    exp_name = mlflow_client.get_experiment(eid).name
    df_by_name = mlflow.search_runs(experiment_names=[exp_name])
    assert set(df_by_name["run_id"]) == set(ids.values())


# --------------------------------------------------------------------------- datasets


def test_log_input_dataset(mlflow_client):
    pd = pytest.importorskip("pandas")
    mlflow.set_experiment(uniq("datasets"))
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 0.25, 0.125], "label": [0, 1, 0]})
    ds = mlflow.data.from_pandas(df, name="train-ds", targets="label")
    with mlflow.start_run() as active:
        mlflow.log_input(ds, context="training", tags={"extra": "t"})
        mlflow.log_input(ds, context="training")  # same dataset again: not duplicated
    run = mlflow_client.get_run(active.info.run_id)
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    got = inputs[0].dataset
    want = ds._to_mlflow_entity()
    assert got.name == "train-ds"
    assert got.digest == ds.digest == want.digest
    assert got.source_type == want.source_type
    assert got.source == want.source
    assert got.schema and "label" in got.schema
    assert got.profile
    itags = {t.key: t.value for t in inputs[0].tags}
    assert itags.get("mlflow.data.context") == "training"
    assert itags.get("extra") == "t"


def test_log_input_numpy(mlflow_client):
    np = pytest.importorskip("numpy")
    if not hasattr(mlflow.data, "from_numpy"):
        pytest.skip("mlflow.data.from_numpy not available")
    mlflow.set_experiment(uniq("datasets"))
    arr = np.arange(12, dtype="float64").reshape(4, 3)
    ds_train = mlflow.data.from_numpy(arr, name="np-train")
    ds_eval = mlflow.data.from_numpy(arr * 2, name="np-eval")
    with mlflow.start_run() as active:
        mlflow.log_input(ds_train, context="training")
        mlflow.log_input(ds_eval, context="eval")
    inputs = mlflow_client.get_run(active.info.run_id).inputs.dataset_inputs
    by_name = {i.dataset.name: i for i in inputs}
    assert set(by_name) == {"np-train", "np-eval"}
    assert by_name["np-train"].dataset.digest == ds_train.digest
    assert by_name["np-eval"].dataset.digest == ds_eval.digest
    ctx = {n: {t.key: t.value for t in i.tags}.get("mlflow.data.context") for n, i in by_name.items()}
    assert ctx == {"np-train": "training", "np-eval": "eval"}


# --------------------------------------------------------------------------- misc


def test_run_without_experiment_goes_to_default(mlflow_client):
    with mlflow.start_run() as active:
        mlflow.log_metric("in_default", 1.0)
    run = mlflow_client.get_run(active.info.run_id)
    assert run.info.experiment_id == "0"
    assert run.data.metrics["in_default"] == 1.0
    mlflow_client.delete_run(active.info.run_id)  # keep Default tidy for other tests


def test_status_enum_round_trip(mlflow_client):
    eid = _new_experiment(mlflow_client)
    for status in ("FINISHED", "FAILED", "KILLED", "SCHEDULED", "RUNNING"):
        rid = mlflow_client.create_run(eid).info.run_id
        mlflow_client.update_run(rid, status=status)
        assert mlflow_client.get_run(rid).info.status == status
        assert RunStatus.from_string(status) == RunStatus.from_string(mlflow_client.get_run(rid).info.status)
