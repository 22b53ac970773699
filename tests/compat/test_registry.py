"""The model registry: the official client (MlflowClient and the fluent API) end to end, then
raw REST for what the client cannot send (hostile model-version sources, bad versions, missing
names, traversal in /model-versions/get-artifact), then the audit trail of registry writes.

Runs under both mlflow 3.17 and 2.22. Every name is unique (uniq) because the server is shared
by the whole session. Sources and downloads use real artifacts logged through the proxy, and a
download through models:/ URIs must give back the logged files byte for byte.
"""

from __future__ import annotations

import json
import sqlite3
import time
from types import SimpleNamespace

import pytest
import requests

import mlflow
from mlflow.exceptions import MlflowException

from helpers import API, assert_error, read_tree, uniq

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])
PROMPT_TAG = "mlflow.prompt.is_prompt"
ZERO_RUN = "0" * 32
BAD_CODES_400 = ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")
# Written by the 3.x client into a downloaded models:/ folder; not one of the model's files.
CLIENT_META_FILES = {"registered_model_meta"}


def _code(exc: MlflowException) -> str:
    return getattr(exc, "error_code", None) or ""


def _raises(code, fn, *args, **kw) -> MlflowException:
    with pytest.raises(MlflowException) as ei:
        fn(*args, **kw)
    codes = code if isinstance(code, (tuple, list, set)) else (code,)
    assert _code(ei.value) in codes, f"expected {code}, got {_code(ei.value)}: {ei.value}"
    return ei.value


def _files(seed: str) -> dict:
    """A small model folder whose bytes depend on SEED (so two versions are told apart)."""
    blob = bytes((i * 7 + len(seed)) % 256 for i in range(3000)) + seed.encode()
    return {
        "MLmodel": f"artifact_path: model\nflavors: {{}}\nrun_seed: {seed}\n".encode(),
        "model.bin": blob,
        "sub/data.json": json.dumps({"seed": seed, "k": [1, 2, 3]}).encode(),
        "empty.txt": b"",
    }


def _log_model_folder(client, tmp_path, seed: str | None = None, experiment_id: str | None = None):
    """A finished run with FILES logged under artifact path "model"."""
    seed = seed or uniq("seed")
    files = _files(seed)
    src = tmp_path / f"src-{seed}"
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    eid = experiment_id or client.create_experiment(uniq("reg"))
    run = client.create_run(eid)
    rid = run.info.run_id
    client.log_artifacts(rid, str(src), "model")
    client.set_terminated(rid)
    uri = client.get_run(rid).info.artifact_uri
    return SimpleNamespace(
        run_id=rid, experiment_id=eid, artifact_uri=uri, source=uri + "/model", files=files
    )


@pytest.fixture
def model_run(mlflow_client, tmp_path):
    return _log_model_folder(mlflow_client, tmp_path)


def _download(uri: str, dst) -> dict:
    out = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst))
    got = read_tree(out)
    return {k: v for k, v in got.items() if k not in CLIENT_META_FILES}


def _versions(mvs) -> list[str]:
    return [mv.version for mv in mvs]


def _all_pages(fetch, **kw) -> list:
    out, token = [], None
    for _ in range(200):
        page = fetch(page_token=token, **kw)
        out += list(page)
        token = page.token
        if not token:
            return out
    raise AssertionError("search never stopped returning a page token")


# =========================================================================== registered models


def test_create_and_get_registered_model(mlflow_client):
    name = uniq("rm")
    t0 = int(time.time() * 1000) - 5
    rm = mlflow_client.create_registered_model(name, tags={"team": "ml", "k2": "v2"}, description="first model")
    assert rm.name == name
    assert rm.description == "first model"
    assert rm.tags == {"team": "ml", "k2": "v2"}
    got = mlflow_client.get_registered_model(name)
    assert got.name == name
    assert got.description == "first model"
    assert got.tags == {"team": "ml", "k2": "v2"}
    assert got.creation_timestamp >= t0
    assert got.last_updated_timestamp >= got.creation_timestamp
    assert list(got.latest_versions or []) == []
    assert dict(got.aliases or {}) == {}


def test_create_registered_model_duplicate(mlflow_client):
    name = uniq("dup")
    mlflow_client.create_registered_model(name)
    _raises("RESOURCE_ALREADY_EXISTS", mlflow_client.create_registered_model, name)
    _raises("RESOURCE_ALREADY_EXISTS", mlflow_client.create_registered_model, name, description="again")
    assert mlflow_client.get_registered_model(name).description in ("", None)


def test_get_registered_model_missing(mlflow_client):
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.get_registered_model, uniq("nope"))


def test_update_registered_model_description(mlflow_client):
    name = uniq("upd")
    before = mlflow_client.create_registered_model(name, description="old")
    time.sleep(0.01)
    mlflow_client.update_registered_model(name, description="new description")
    got = mlflow_client.get_registered_model(name)
    assert got.description == "new description"
    assert got.last_updated_timestamp > before.last_updated_timestamp
    assert got.creation_timestamp == before.creation_timestamp


def test_rename_registered_model(mlflow_client, model_run):
    old, new = uniq("old"), uniq("new")
    mlflow_client.create_registered_model(old, tags={"t": "1"})
    mlflow_client.create_model_version(old, model_run.source, model_run.run_id)
    mlflow_client.create_model_version(old, model_run.source, model_run.run_id)
    mlflow_client.set_registered_model_alias(old, "champion", "2")
    mlflow_client.rename_registered_model(old, new)
    got = mlflow_client.get_registered_model(new)
    assert got.name == new and got.tags == {"t": "1"}
    assert dict(got.aliases) == {"champion": "2"}
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.get_registered_model, old)
    # the versions follow the new name
    for v in ("1", "2"):
        mv = mlflow_client.get_model_version(new, v)
        assert mv.name == new and mv.version == v and mv.source == model_run.source
        _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.get_model_version, old, v)
    assert sorted(_versions(mlflow_client.search_model_versions(f"name = '{new}'"))) == ["1", "2"]
    assert mlflow_client.search_model_versions(f"name = '{old}'") == []
    assert mlflow_client.get_model_version_by_alias(new, "champion").version == "2"
    # numbering goes on under the new name
    assert mlflow_client.create_model_version(new, model_run.source, model_run.run_id).version == "3"
    # renaming onto a taken name is refused; the old name can be taken again
    other = uniq("other")
    mlflow_client.create_registered_model(other)
    _raises("RESOURCE_ALREADY_EXISTS", mlflow_client.rename_registered_model, new, other)
    assert mlflow_client.get_registered_model(new).name == new
    mlflow_client.create_registered_model(old)
    assert mlflow_client.search_model_versions(f"name = '{old}'") == []
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.rename_registered_model, uniq("ghost"), uniq("x"))


def test_delete_registered_model(mlflow_client, model_run):
    name = uniq("del")
    mlflow_client.create_registered_model(name, tags={"a": "b"})
    for _ in range(2):
        mlflow_client.create_model_version(name, model_run.source, model_run.run_id)
    mlflow_client.set_registered_model_alias(name, "prod", "1")
    mlflow_client.delete_registered_model(name)
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.get_registered_model, name)
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.get_model_version, name, "1")
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.get_model_version_by_alias, name, "prod")
    assert mlflow_client.search_model_versions(f"name = '{name}'") == []
    assert mlflow_client.search_model_versions(f"run_id = '{model_run.run_id}'") == []
    assert [m.name for m in mlflow_client.search_registered_models(f"name = '{name}'")] == []
    # the name is free again, and a new model starts from version 1 with nothing inherited
    rm = mlflow_client.create_registered_model(name)
    assert rm.tags == {}
    assert mlflow_client.create_model_version(name, model_run.source, model_run.run_id).version == "1"
    assert dict(mlflow_client.get_registered_model(name).aliases) == {}
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.delete_registered_model, uniq("ghost"))


def test_registered_model_tags(mlflow_client):
    name = uniq("tags")
    mlflow_client.create_registered_model(name)
    mlflow_client.set_registered_model_tag(name, "a", "1")
    mlflow_client.set_registered_model_tag(name, "b", "two")
    mlflow_client.set_registered_model_tag(name, "a", "overwritten")
    assert mlflow_client.get_registered_model(name).tags == {"a": "overwritten", "b": "two"}
    mlflow_client.delete_registered_model_tag(name, "a")
    assert mlflow_client.get_registered_model(name).tags == {"b": "two"}
    big = "x" * 5000
    mlflow_client.set_registered_model_tag(name, "big", big)
    assert mlflow_client.get_registered_model(name).tags["big"] == big
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.set_registered_model_tag, uniq("ghost"), "a", "1")


# =========================================================================== model versions


def test_create_model_version_from_run(mlflow_client, model_run):
    name = uniq("mv")
    mlflow_client.create_registered_model(name)
    t0 = int(time.time() * 1000) - 5
    mv = mlflow_client.create_model_version(
        name, model_run.source, run_id=model_run.run_id, tags={"owner": "alice", "k": "v"}, description="v1 desc"
    )
    assert mv.name == name
    assert mv.version == "1"
    assert mv.status == "READY"
    assert mv.source == model_run.source
    assert mv.run_id == model_run.run_id
    assert mv.current_stage == "None"
    assert mv.description == "v1 desc"
    assert mv.tags == {"owner": "alice", "k": "v"}
    assert mv.creation_timestamp >= t0
    got = mlflow_client.get_model_version(name, "1")
    for field in ("name", "version", "status", "source", "run_id", "current_stage", "description", "tags",
                  "creation_timestamp"):
        assert getattr(got, field) == getattr(mv, field), field
    assert got.last_updated_timestamp >= got.creation_timestamp
    assert list(got.aliases or []) == []
    # versions are numbered 1, 2, 3 ... per model; an integer version is accepted too
    mv2 = mlflow_client.create_model_version(name, model_run.source, model_run.run_id)
    mv3 = mlflow_client.create_model_version(name, model_run.source, model_run.run_id)
    assert (mv2.version, mv3.version) == ("2", "3")
    assert mlflow_client.get_model_version(name, 2).version == "2"
    # another model counts on its own
    other = uniq("mv-other")
    mlflow_client.create_registered_model(other)
    assert mlflow_client.create_model_version(other, model_run.source, model_run.run_id).version == "1"
    # the registered model lists its latest version (stage None)
    rm = mlflow_client.get_registered_model(name)
    assert [(v.version, v.current_stage) for v in rm.latest_versions] == [("3", "None")]


def test_create_model_version_unknown_model(mlflow_client, model_run):
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.create_model_version, uniq("ghost"), model_run.source,
            model_run.run_id)


def test_update_model_version(mlflow_client, model_run):
    name = uniq("mvupd")
    mlflow_client.create_registered_model(name)
    before = mlflow_client.create_model_version(name, model_run.source, model_run.run_id, description="before")
    time.sleep(0.01)
    mlflow_client.update_model_version(name, "1", description="after")
    got = mlflow_client.get_model_version(name, "1")
    assert got.description == "after"
    assert got.source == model_run.source and got.run_id == model_run.run_id
    assert got.last_updated_timestamp > before.last_updated_timestamp
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.update_model_version, name, "7", description="x")


def test_delete_model_version_number_not_reused(mlflow_client, model_run):
    name = uniq("mvdel")
    mlflow_client.create_registered_model(name)
    for _ in range(3):
        mlflow_client.create_model_version(name, model_run.source, model_run.run_id)
    mlflow_client.set_registered_model_alias(name, "gone-with-3", "3")
    mlflow_client.delete_model_version(name, "3")
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.get_model_version, name, "3")
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.get_model_version_by_alias, name, "gone-with-3")
    assert dict(mlflow_client.get_registered_model(name).aliases) == {}
    # the highest number was deleted: the next version is still 4, never 3 again
    assert mlflow_client.create_model_version(name, model_run.source, model_run.run_id).version == "4"
    mlflow_client.delete_model_version(name, "2")
    assert sorted(_versions(mlflow_client.search_model_versions(f"name = '{name}'"))) == ["1", "4"]
    assert mlflow_client.create_model_version(name, model_run.source, model_run.run_id).version == "5"
    rm = mlflow_client.get_registered_model(name)
    assert [v.version for v in rm.latest_versions] == ["5"]
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.delete_model_version, name, "2")
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.update_model_version, name, "2", description="x")


def test_model_version_tags(mlflow_client, model_run):
    name = uniq("mvtags")
    mlflow_client.create_registered_model(name)
    mlflow_client.create_model_version(name, model_run.source, model_run.run_id, tags={"keep": "1"})
    mlflow_client.create_model_version(name, model_run.source, model_run.run_id)
    mlflow_client.set_model_version_tag(name, "1", "a", "x")
    mlflow_client.set_model_version_tag(name, "1", "a", "y")
    mlflow_client.set_model_version_tag(name, "2", "only2", "z")
    assert mlflow_client.get_model_version(name, "1").tags == {"keep": "1", "a": "y"}
    assert mlflow_client.get_model_version(name, "2").tags == {"only2": "z"}
    mlflow_client.delete_model_version_tag(name, "1", "a")
    assert mlflow_client.get_model_version(name, "1").tags == {"keep": "1"}
    # model-version tags are not registered-model tags
    assert mlflow_client.get_registered_model(name).tags == {}
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.set_model_version_tag, name, "9", "a", "b")


# =========================================================================== stages


def test_transition_stages_and_latest_versions(mlflow_client, model_run):
    name = uniq("stage")
    mlflow_client.create_registered_model(name)
    for _ in range(5):
        mlflow_client.create_model_version(name, model_run.source, model_run.run_id)

    before = mlflow_client.get_model_version(name, "1")
    time.sleep(0.01)
    mv = mlflow_client.transition_model_version_stage(name, "1", "staging")  # case-insensitive input
    assert mv.current_stage == "Staging"
    got = mlflow_client.get_model_version(name, "1")
    assert got.current_stage == "Staging"
    assert got.last_updated_timestamp > before.last_updated_timestamp
    assert mlflow_client.transition_model_version_stage(name, "1", "Production").current_stage == "Production"

    # archive_existing_versions=True moves the other Production version to Archived
    mv = mlflow_client.transition_model_version_stage(name, "2", "PRODUCTION", archive_existing_versions=True)
    assert mv.current_stage == "Production"
    assert mlflow_client.get_model_version(name, "1").current_stage == "Archived"
    # without it, versions share the stage
    mlflow_client.transition_model_version_stage(name, "3", "production", archive_existing_versions=False)
    assert mlflow_client.get_model_version(name, "2").current_stage == "Production"
    assert mlflow_client.get_model_version(name, "3").current_stage == "Production"
    mlflow_client.transition_model_version_stage(name, "5", "Staging")
    # archiving applies to the target stage only: Production versions stay when 4 goes to Staging
    mlflow_client.transition_model_version_stage(name, "4", "Staging", archive_existing_versions=True)
    assert mlflow_client.get_model_version(name, "5").current_stage == "Archived"
    assert mlflow_client.get_model_version(name, "4").current_stage == "Staging"
    assert mlflow_client.get_model_version(name, "3").current_stage == "Production"
    # back to None, spelled in lower case
    mlflow_client.transition_model_version_stage(name, "5", "none")
    assert mlflow_client.get_model_version(name, "5").current_stage == "None"

    stages = {mv.version: mv.current_stage for mv in mlflow_client.search_model_versions(f"name = '{name}'")}
    assert stages == {"1": "Archived", "2": "Production", "3": "Production", "4": "Staging", "5": "None"}

    # get_latest_versions: the latest version per stage
    assert _versions(mlflow_client.get_latest_versions(name, stages=["Production"])) == ["3"]
    assert _versions(mlflow_client.get_latest_versions(name, stages=["production"])) == ["3"]
    assert _versions(mlflow_client.get_latest_versions(name, stages=["Staging"])) == ["4"]
    assert sorted(_versions(mlflow_client.get_latest_versions(name, stages=["Staging", "Archived"]))) == ["1", "4"]
    latest = {mv.current_stage: mv.version for mv in mlflow_client.get_latest_versions(name)}
    assert latest == {"Archived": "1", "Production": "3", "Staging": "4", "None": "5"}
    rm = mlflow_client.get_registered_model(name)
    assert {v.current_stage: v.version for v in rm.latest_versions} == latest

    # an unknown stage is refused and changes nothing
    _raises("INVALID_PARAMETER_VALUE", mlflow_client.transition_model_version_stage, name, "5", "Deployed")
    assert mlflow_client.get_model_version(name, "5").current_stage == "None"
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.transition_model_version_stage, name, "42", "Staging")


def test_archive_existing_only_for_active_stages(rest, mlflow_client, model_run):
    """archive_existing_versions is valid for Staging and Production only. MLflow answers 500
    (INTERNAL_ERROR, retried by the client); a 4xx is what we need."""
    name = uniq("archv")
    mlflow_client.create_registered_model(name)
    for _ in range(2):
        mlflow_client.create_model_version(name, model_run.source, model_run.run_id)
    mlflow_client.transition_model_version_stage(name, "1", "Archived")
    body = {"name": name, "version": "2", "stage": "Archived", "archive_existing_versions": True}
    assert_error(rest.post(API + "/model-versions/transition-stage", body), 400, "INVALID_PARAMETER_VALUE")
    assert mlflow_client.get_model_version(name, "2").current_stage == "None"
    assert mlflow_client.get_model_version(name, "1").current_stage == "Archived"
    body = {"name": name, "version": "2", "stage": "Nowhere", "archive_existing_versions": False}
    assert_error(rest.post(API + "/model-versions/transition-stage", body), 400, "INVALID_PARAMETER_VALUE")


# =========================================================================== aliases


def test_aliases(mlflow_client, model_run):
    name = uniq("alias")
    mlflow_client.create_registered_model(name)
    for _ in range(3):
        mlflow_client.create_model_version(name, model_run.source, model_run.run_id)
    mlflow_client.set_registered_model_alias(name, "champion", "1")
    mlflow_client.set_registered_model_alias(name, "challenger", "2")
    mv = mlflow_client.get_model_version_by_alias(name, "champion")
    assert mv.version == "1" and mv.name == name and mv.source == model_run.source
    assert list(mv.aliases) == ["champion"]
    assert dict(mlflow_client.get_registered_model(name).aliases) == {"champion": "1", "challenger": "2"}

    # re-setting an alias moves it
    mlflow_client.set_registered_model_alias(name, "champion", "2")
    assert mlflow_client.get_model_version_by_alias(name, "champion").version == "2"
    assert list(mlflow_client.get_model_version(name, "1").aliases or []) == []
    assert sorted(mlflow_client.get_model_version(name, "2").aliases) == ["challenger", "champion"]
    assert dict(mlflow_client.get_registered_model(name).aliases) == {"champion": "2", "challenger": "2"}

    mlflow_client.delete_registered_model_alias(name, "challenger")
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.get_model_version_by_alias, name, "challenger")
    assert dict(mlflow_client.get_registered_model(name).aliases) == {"champion": "2"}

    # unknown alias, alias to a missing version, reserved names
    _raises("RESOURCE_DOES_NOT_EXIST", mlflow_client.get_model_version_by_alias, name, "never-set")
    _raises(("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"), mlflow_client.set_registered_model_alias, name,
            "far", "99")
    for reserved in ("latest", "LATEST", "Latest", "v1", "V2", "v10"):
        _raises("INVALID_PARAMETER_VALUE", mlflow_client.set_registered_model_alias, name, reserved, "1")
    assert dict(mlflow_client.get_registered_model(name).aliases) == {"champion": "2"}
    # a name like v1x is not a version name
    mlflow_client.set_registered_model_alias(name, "v1x", "3")
    assert mlflow_client.get_model_version_by_alias(name, "v1x").version == "3"


@pytest.mark.parametrize("alias", ["latest", "LaTeSt", "v1", "V7", "v0001", "", "bad alias", "a/b", "x" * 256])
def test_bad_alias_refused_by_server(rest, mlflow_client, model_run, alias):
    name = uniq("badalias")
    mlflow_client.create_registered_model(name)
    mlflow_client.create_model_version(name, model_run.source, model_run.run_id)
    r = rest.post(API + "/registered-models/alias", {"name": name, "alias": alias, "version": "1"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert dict(mlflow_client.get_registered_model(name).aliases) == {}


# =========================================================================== search


@pytest.fixture
def rm_search(mlflow_client):
    """Five registered models prefix-a..e, created in the order c a d b e, then b updated last."""
    prefix = uniq("srm")
    for s in "cadbe":
        mlflow_client.create_registered_model(
            f"{prefix}-{s}", tags={"grp": prefix, "parity": "even" if s in "bd" else "odd"}
        )
        time.sleep(0.01)
    mlflow_client.update_registered_model(f"{prefix}-b", description="touched last")
    return prefix


def test_search_registered_models_filters(mlflow_client, rm_search):
    p = rm_search
    s = lambda flt, **kw: sorted(m.name for m in mlflow_client.search_registered_models(flt, **kw))  # noqa: E731
    every = [f"{p}-{x}" for x in "abcde"]
    assert s(f"name LIKE '{p}-%'") == every
    assert s(f"name ILIKE '{p.upper()}-%'") == every
    assert s(f"name = '{p}-c'") == [f"{p}-c"]
    assert s(f"name != '{p}-c' AND name LIKE '{p}%'") == [f"{p}-{x}" for x in "abde"]
    assert s(f"tags.grp = '{p}'") == every
    assert s(f"tags.grp = '{p}' AND tags.parity = 'even'") == [f"{p}-b", f"{p}-d"]
    assert s(f"name LIKE '{p}-%' AND tag.parity = 'odd'") == [f"{p}-{x}" for x in "ace"]
    assert s(f"tags.`parity` != 'odd' AND tags.grp = '{p}'") == [f"{p}-b", f"{p}-d"]
    assert s(f"tags.grp LIKE '{p[:-3]}%' AND name LIKE '{p}-%'") == every
    assert s(f"name = '{p}-zzz'") == []
    # the fluent wrapper as well
    assert sorted(m.name for m in mlflow.search_registered_models(filter_string=f"name LIKE '{p}-%'")) == every


def test_search_registered_models_order_and_paging(mlflow_client, rm_search):
    p = rm_search
    flt = f"name LIKE '{p}-%'"
    names = lambda order: [m.name for m in mlflow_client.search_registered_models(flt, order_by=order)]  # noqa: E731
    assert names(None) == [f"{p}-{x}" for x in "abcde"]  # default: name ASC
    assert names(["name DESC"]) == [f"{p}-{x}" for x in "edcba"]
    assert names(["name ASC"]) == [f"{p}-{x}" for x in "abcde"]
    assert names(["last_updated_timestamp DESC"]) == [f"{p}-{x}" for x in "bedac"]
    assert names(["last_updated_timestamp"]) == [f"{p}-{x}" for x in "cadeb"]
    assert names(["last_updated_timestamp ASC", "name DESC"]) == [f"{p}-{x}" for x in "cadeb"]

    seen, token, pages = [], None, 0
    while True:
        page = mlflow_client.search_registered_models(flt, max_results=2, order_by=["name DESC"], page_token=token)
        pages += 1
        assert len(page) <= 2
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
        assert pages < 10, "paging does not terminate"
    assert seen == names(["name DESC"])
    assert pages == 3  # registry searches hand out a token only when more rows remain
    full = mlflow_client.search_registered_models(flt, max_results=5)
    assert len(full) == 5 and not full.token


def test_search_registered_models_rest_limits(rest, rm_search):
    r = rest.get(API + "/registered-models/search", params={"filter": f"name LIKE '{rm_search}-%'", "max_results": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [m["name"] for m in body["registered_models"]] == [f"{rm_search}-a", f"{rm_search}-b"]
    assert body.get("next_page_token")
    r2 = rest.get(API + "/registered-models/search",
                  params={"filter": f"name LIKE '{rm_search}-%'", "max_results": 2, "page_token": body["next_page_token"]})
    assert [m["name"] for m in r2.json()["registered_models"]] == [f"{rm_search}-c", f"{rm_search}-d"]
    for bad in ({"max_results": 1001}, {"page_token": "not a token!"},
                {"order_by": "bogus_column"}, {"order_by": ["name", "name"]}, {"filter": "name = "},
                {"filter": "params.x = 'y'"}):
        assert_error(rest.get(API + "/registered-models/search", params=bad), 400, "INVALID_PARAMETER_VALUE")


def test_prompts_excluded_from_client_search(rest, mlflow_client):
    p = uniq("prm")
    rest.create_registered_model(f"{p}-prompt", tags=[{"key": PROMPT_TAG, "value": "true"}])
    rest.create_registered_model(f"{p}-false", tags=[{"key": PROMPT_TAG, "value": "false"}])
    mlflow_client.create_registered_model(f"{p}-plain", tags={"x": "1"})
    # the client appends "AND tag.`mlflow.prompt.is_prompt` != 'true'"
    got = sorted(m.name for m in mlflow_client.search_registered_models(f"name LIKE '{p}-%'"))
    assert got == [f"{p}-false", f"{p}-plain"]
    got = sorted(m.name for m in mlflow_client.search_registered_models(f"tags.x = '1' AND name LIKE '{p}%'"))
    assert got == [f"{p}-plain"]
    # no filter at all: the client still sends the prompt exclusion; page through everything
    every = {m.name for m in _all_pages(mlflow_client.search_registered_models, max_results=1000)}
    assert {f"{p}-plain", f"{p}-false"} <= every and f"{p}-prompt" not in every
    # asked for explicitly, the server finds the prompt (and a model without the tag is not one)
    r = rest.ok("GET", API + "/registered-models/search",
                params={"filter": f"name LIKE '{p}-%' AND tags.`{PROMPT_TAG}` = 'true'"})
    assert [m["name"] for m in r["registered_models"]] == [f"{p}-prompt"]
    r = rest.ok("GET", API + "/registered-models/search",
                params={"filter": f"name LIKE '{p}-%' AND tags.`{PROMPT_TAG}` = 'false'"})
    assert sorted(m["name"] for m in r["registered_models"]) == [f"{p}-false", f"{p}-plain"]


def test_search_model_versions(mlflow_client, tmp_path):
    a = _log_model_folder(mlflow_client, tmp_path, "sa")
    b = _log_model_folder(mlflow_client, tmp_path, "sb", experiment_id=a.experiment_id)
    p = uniq("smv")
    m, other = f"{p}-m", f"{p}-other"
    mlflow_client.create_registered_model(m)
    mlflow_client.create_registered_model(other)
    mlflow_client.create_model_version(m, a.source, a.run_id)
    time.sleep(0.01)
    mlflow_client.create_model_version(m, a.source, a.run_id, tags={"k": "v"})
    time.sleep(0.01)
    mlflow_client.create_model_version(m, b.source, b.run_id, tags={"k": "w"})
    time.sleep(0.01)
    mlflow_client.create_model_version(other, b.source, b.run_id, tags={"k": "v"})

    def s(flt, **kw):
        return [(mv.name, mv.version) for mv in mlflow_client.search_model_versions(flt, **kw)]

    assert sorted(s(f"name = '{m}'")) == [(m, "1"), (m, "2"), (m, "3")]
    assert sorted(s(f"name='{m}'")) == [(m, "1"), (m, "2"), (m, "3")]
    assert sorted(s(f"run_id = '{a.run_id}'")) == [(m, "1"), (m, "2")]
    assert sorted(s(f"run_id = '{b.run_id}'")) == [(m, "3"), (other, "1")]
    assert sorted(s(f"run_id IN ('{a.run_id}', '{b.run_id}')")) == [(m, "1"), (m, "2"), (m, "3"), (other, "1")]
    assert sorted(s(f"name = '{m}' AND version_number > 1")) == [(m, "2"), (m, "3")]
    assert sorted(s(f"name = '{m}' AND version_number <= 2")) == [(m, "1"), (m, "2")]
    assert sorted(s(f"name = '{m}' AND tags.k = 'v'")) == [(m, "2")]
    assert sorted(s(f"name LIKE '{p}-%' AND tags.k = 'v'")) == [(m, "2"), (other, "1")]
    assert sorted(s(f"name LIKE '{p}-%' AND tags.k != 'v'")) == [(m, "3")]
    assert sorted(s(f"source_path = '{b.source}'")) == [(m, "3"), (other, "1")]
    assert s(f"name = '{p}-nothing'") == []
    # order_by
    assert s(f"name = '{m}'", order_by=["version_number DESC"]) == [(m, "3"), (m, "2"), (m, "1")]
    assert s(f"name = '{m}'", order_by=["version_number ASC"]) == [(m, "1"), (m, "2"), (m, "3")]
    assert s(f"name LIKE '{p}-%'", order_by=["name DESC", "version_number ASC"]) == [
        (other, "1"), (m, "1"), (m, "2"), (m, "3")]
    assert s(f"name LIKE '{p}-%'", order_by=["creation_timestamp ASC"]) == [
        (m, "1"), (m, "2"), (m, "3"), (other, "1")]
    # default: last_updated_timestamp DESC
    assert s(f"name LIKE '{p}-%'") == [(other, "1"), (m, "3"), (m, "2"), (m, "1")]
    # paging
    got, token, pages = [], None, 0
    while True:
        page = mlflow_client.search_model_versions(f"name = '{m}'", max_results=2, order_by=["version_number ASC"],
                                                   page_token=token)
        pages += 1
        got += [mv.version for mv in page]
        token = page.token
        if not token:
            break
        assert pages < 10
    assert got == ["1", "2", "3"] and pages == 2
    # the fluent wrapper as well
    assert sorted(mv.version for mv in mlflow.search_model_versions(filter_string=f"name = '{m}'")) == ["1", "2", "3"]
    # bad filters are 400
    for bad in ("version_number > 'x'", "metrics.a > 1", "name = ", "run_id LIKE"):
        _raises("INVALID_PARAMETER_VALUE", mlflow_client.search_model_versions, bad)


# =========================================================================== downloads


def test_download_through_models_uris(mlflow_client, tmp_path):
    one = _log_model_folder(mlflow_client, tmp_path, "dl-one")
    two = _log_model_folder(mlflow_client, tmp_path, "dl-two", experiment_id=one.experiment_id)
    assert one.files != two.files
    name = uniq("dl")
    mlflow_client.create_registered_model(name)
    mlflow_client.create_model_version(name, one.source, one.run_id)
    mlflow_client.create_model_version(name, two.source, two.run_id)
    mlflow_client.set_registered_model_alias(name, "champion", "1")
    mlflow_client.transition_model_version_stage(name, "1", "Production")

    assert mlflow_client.get_model_version_download_uri(name, "1") == one.source
    assert mlflow_client.get_model_version_download_uri(name, "2") == two.source
    assert _download(f"models:/{name}/1", tmp_path / "d1") == one.files
    assert _download(f"models:/{name}/2", tmp_path / "d2") == two.files
    assert _download(f"models:/{name}@champion", tmp_path / "d3") == one.files
    assert _download(f"models:/{name}/latest", tmp_path / "d4") == two.files
    assert _download(f"models:/{name}/Production", tmp_path / "d5") == one.files
    # a single file inside the model
    single = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/2/sub/data.json",
                                                 dst_path=str(tmp_path / "d6"))
    assert open(single, "rb").read() == two.files["sub/data.json"]
    # moving the alias moves what it downloads
    mlflow_client.set_registered_model_alias(name, "champion", "2")
    assert _download(f"models:/{name}@champion", tmp_path / "d7") == two.files
    with pytest.raises(MlflowException):
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/9", dst_path=str(tmp_path / "d8"))


def test_copy_model_version(mlflow_client, model_run, tmp_path):
    """MlflowClient.copy_model_version registers source "models:/<src>/<version>"."""
    src, dst = uniq("copysrc"), uniq("copydst")
    mlflow_client.create_registered_model(src)
    mlflow_client.create_model_version(src, model_run.source, model_run.run_id, tags={"t": "1"}, description="d")
    mv = mlflow_client.copy_model_version(f"models:/{src}/1", dst)
    assert (mv.name, mv.version, mv.status) == (dst, "1", "READY")
    assert mv.source == f"models:/{src}/1"
    assert mv.run_id == model_run.run_id
    assert mv.tags == {"t": "1"}
    assert _download(f"models:/{dst}/1", tmp_path / "copy") == model_run.files


# =========================================================================== prompts


def test_prompt_registration_round_trip(rest, mlflow_client):
    """A prompt is a registered model tagged mlflow.prompt.is_prompt whose versions carry the
    client's placeholder source ("dummy-source" from register_prompt, "prompt-template" from the store API)."""
    if MLFLOW_MAJOR >= 3:
        register, load = mlflow.genai.register_prompt, mlflow.genai.load_prompt
    else:
        register, load = mlflow.register_prompt, mlflow.load_prompt
    name = uniq("prompt").replace("-", "_")
    template = "Summarise {{text}} in {{n}} words."
    register(name=name, template=template)
    register(name=name, template=template + " Be brief.")
    assert load(f"prompts:/{name}/1").template == template
    assert load(f"prompts:/{name}/2").template == template + " Be brief."
    mv = rest.ok("GET", API + "/model-versions/get", params={"name": name, "version": "2"})["model_version"]
    assert mv["source"] in ("prompt-template", "dummy-source")  # the client's placeholder, echoed
    assert {t["key"]: t["value"] for t in mv.get("tags", [])}.get(PROMPT_TAG) == "true"
    # the placeholder resolves to no storage: nothing to read through the UI route
    r = rest.get("/model-versions/get-artifact", params={"name": name, "version": "1", "path": "MLmodel"})
    assert_error(r, (400, 404))
    names = {m.name for m in mlflow_client.search_registered_models(f"name = '{name}'")}
    assert names == set(), "a prompt must not show up in search_registered_models"


# =========================================================================== raw REST: sources


@pytest.fixture
def src_ctx(rest):
    """An experiment, a run with a model folder, a registered model and a finished logged model."""
    eid = rest.create_experiment(uniq("src"))
    rid = rest.create_run(eid)
    for rel, data in _files("rest").items():
        rest.put_artifact(f"{eid}/{rid}/artifacts/model/{rel}", data)
    name = uniq("srcm")
    rest.create_registered_model(name)
    return SimpleNamespace(eid=eid, rid=rid, name=name)


def _logged_model(rest, eid, rid) -> dict:
    lm = rest.create_logged_model(eid, "model", rid)
    mid = lm["info"]["model_id"]
    assert mid.startswith("m-") and len(mid) == 34, mid
    assert lm["info"]["artifact_uri"] == f"mlflow-artifacts:/{eid}/models/{mid}/artifacts"
    for rel, data in _files("logged").items():
        rest.put_artifact(f"{eid}/models/{mid}/artifacts/{rel}", data)
    r = rest.request("PATCH", API + f"/logged-models/{mid}", json={"model_id": mid, "status": "LOGGED_MODEL_READY"})
    assert r.status_code == 200, r.text
    return lm["info"]


BAD_SOURCES = [
    "file:///etc/passwd",
    "file:///etc/",
    "file://./etc",
    "file:/etc/passwd",
    "file://localhost/etc/passwd",
    "/etc/passwd",
    "//proc/self/root",
    "../../etc",
    "../../../../../../etc/passwd",
    "./model",
    "model",
    "http://169.254.169.254/latest/meta-data",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "https://example.com/x",
    "http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/",
    "http:///?/../../../../etc/",
    "http:///#/../../../../etc/",
    "ftp://example.com/x",
    "dbfs:/x",
    "dbfs:/{rid}/artifacts/a%3f/../../../../",
    "s3://b/k",
    "gs://b/k",
    "hdfs://namenode/x",
    "mlflow-artifacts:/0/{zero}/artifacts/model",
    "mlflow-artifacts:/{eid}/{zero}/artifacts/model",
    "mlflow-artifacts:/{eid}/{rid}/artifacts/no-such-folder",
    "mlflow-artifacts:/{eid}/models/m-{zero}/artifacts",
    "mlflow-artifacts:/../../etc",
    "mlflow-artifacts:/{eid}/{rid}/artifacts/../../../../etc",
    "mlflow-artifacts:/{eid}/{rid}/artifacts/model/../../../../../etc/passwd",
    "mlflow-artifacts:/{eid}/{rid}/artifacts/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc",
    "mlflow-artifacts:/{eid}/{rid}/artifacts/model/%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc",
    "mlflow-artifacts:/{eid}/{rid}/artifacts/model/%252e%252e/%252e%252e/%252e%252e/etc",
    "mlflow-artifacts:/%2e%2e/%2e%2e/etc",
    "mlflow-artifacts:/{eid}/{rid}/artifacts/model#/../../../../etc",
    "mlflow-artifacts:/{eid}/{rid}/artifacts/model?/../../../../etc",
    "mlflow-artifacts:/{eid}/{rid}/artifacts/model;/../../../../etc",
    "mlflow-artifacts:/{eid}/{rid}/artifacts/model\x00/../../x",
    "mlflow-artifacts://evil.example/{eid}/{rid}/artifacts/model",
    "runs:/{zero}/model",
    "runs:/{rid}/no-such-folder",
    "runs:/{rid}/../../../../etc",
    "runs:/{rid}/%2e%2e/%2e%2e/%2e%2e/etc",
    "runs:/../../etc",
    "models:/m-{zero}",
    "models:/m-{zero}/../../../etc",
    "",
]
# A models:/<name>/<version> source names another version (MlflowClient.copy_model_version);
# one that does not exist is a 404, as in MLflow, or a 400.
MISSING_VERSION_SOURCES = ["models:/{ghost}/1", "models:/{name}/1", "models:/{name}/0"]


def _fill(template: str, ctx) -> str:
    return (template.replace("{eid}", ctx.eid).replace("{rid}", ctx.rid).replace("{zero}", ZERO_RUN)
            .replace("{ghost}", "ghost-" + ZERO_RUN[:8]).replace("{name}", ctx.name))


def _assert_no_versions(rest, name):
    assert rest.model_versions(name) == []
    assert_error(rest.get(API + "/model-versions/get", params={"name": name, "version": "1"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize("with_run_id", [False, True], ids=["no-run-id", "run-id"])
@pytest.mark.parametrize(
    "template, status, code",
    [(t, 400, "INVALID_PARAMETER_VALUE") for t in BAD_SOURCES]
    + [(t, (400, 404), ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")) for t in MISSING_VERSION_SOURCES],
)
def test_model_version_source_refused(rest, src_ctx, template, status, code, with_run_id):
    source = _fill(template, src_ctx)
    body = {"name": src_ctx.name, "source": source}
    if with_run_id:
        body["run_id"] = src_ctx.rid
    r = rest.post(API + "/model-versions/create", body)
    assert_error(r, status, code)
    _assert_no_versions(rest, src_ctx.name)


@pytest.mark.parametrize(
    "tags, source",
    [
        ([{"key": PROMPT_TAG, "value": "true"}], "file:///etc/"),
        ([{"key": PROMPT_TAG, "value": "true"}], "file:///etc/passwd"),
        ([{"key": PROMPT_TAG, "value": "true"}], "../../../etc"),
        ([{"key": PROMPT_TAG, "value": "true"}], "/etc"),
        ([{"key": PROMPT_TAG, "value": "TRUE"}], "file:///etc/"),
        ([{"key": PROMPT_TAG, "value": "true"}, {"key": "mlflow.prompt.text", "value": "hi"}], "file:///etc/"),
        ([{"key": PROMPT_TAG, "value": "true"}], "http://169.254.169.254/latest/meta-data"),
        ([{"key": PROMPT_TAG, "value": "true"}], "mlflow-artifacts:/{eid}/{rid}/artifacts/%2e%2e/%2e%2e/etc"),
        ([{"key": "mlflow.prompt.text", "value": "hi"}], "file:///etc/"),
        ([{"key": "mlflow.source.type", "value": "LOCAL"}], "file:///etc/"),
        ([{"key": "anything", "value": "x"}], "file:///etc/"),
    ],
)
@pytest.mark.parametrize("prompt_model", [False, True], ids=["plain-model", "prompt-model"])
def test_model_version_source_refused_with_tags(rest, src_ctx, tags, source, prompt_model):
    """CVE-2026-2614 (validation skipped for prompt-tagged versions) and CVE-2026-116690
    (schemeless traversal in the prompt branch): tags never switch source validation off."""
    name = src_ctx.name
    if prompt_model:
        name = uniq("prm")
        rest.create_registered_model(name, tags=[{"key": PROMPT_TAG, "value": "true"}])
    for body in (
        {"name": name, "source": _fill(source, src_ctx), "tags": tags},
        {"name": name, "source": _fill(source, src_ctx), "tags": tags, "run_id": src_ctx.rid},
    ):
        assert_error(rest.post(API + "/model-versions/create", body), 400, "INVALID_PARAMETER_VALUE")
    _assert_no_versions(rest, name)
    # CVE-2023-1177's second step finds nothing to read
    r = rest.get("/model-versions/get-artifact", params={"name": name, "version": "1", "path": "passwd"})
    assert_error(r, (400, 404))


def test_model_version_valid_sources(rest, src_ctx):
    eid, rid, name = src_ctx.eid, src_ctx.rid, src_ctx.name
    # runs:/<run>/model
    src = f"runs:/{rid}/model"
    mv = rest.create_model_version(name, src, rid)
    assert (mv["version"], mv["source"], mv["run_id"], mv["status"]) == ("1", src, rid, "READY")
    uri = rest.ok("GET", API + "/model-versions/get-download-uri", params={"name": name, "version": "1"})["artifact_uri"]
    assert uri in (src, f"mlflow-artifacts:/{eid}/{rid}/artifacts/model")
    # mlflow-artifacts:/<exp>/<run>/artifacts/model
    src = f"mlflow-artifacts:/{eid}/{rid}/artifacts/model"
    mv = rest.create_model_version(name, src, rid)
    assert (mv["version"], mv["source"], mv["run_id"], mv["status"]) == ("2", src, rid, "READY")
    assert rest.ok("GET", API + "/model-versions/get-download-uri",
                   params={"name": name, "version": "2"})["artifact_uri"] == src
    # models:/<logged model id>: source echoed, download URI is the logged model's artifact_uri,
    # run_id filled in from the logged model's source_run_id
    lm = _logged_model(rest, eid, rid)
    src = f"models:/{lm['model_id']}"
    mv = rest.create_model_version(name, src, model_id=lm["model_id"])
    assert (mv["version"], mv["source"], mv["status"]) == ("3", src, "READY")
    assert mv.get("run_id") == rid
    assert rest.ok("GET", API + "/model-versions/get-download-uri",
                   params={"name": name, "version": "3"})["artifact_uri"] == lm["artifact_uri"]
    got = rest.ok("GET", API + "/model-versions/get", params={"name": name, "version": "3"})["model_version"]
    assert got["source"] == src
    # the same source may be registered again (a new version)
    assert rest.create_model_version(name, src, model_id=lm["model_id"])["version"] == "4"
    assert [v["version"] for v in sorted(rest.model_versions(name), key=lambda v: int(v["version"]))] == [
        "1", "2", "3", "4"]


def test_model_version_source_must_match_ids(rest, src_ctx):
    """A source that names one run or logged model while run_id / model_id names another is
    refused (as MLflow 3.17 does): the version's lineage must be the run its files came from."""
    eid, rid, name = src_ctx.eid, src_ctx.rid, src_ctx.name
    other_run = rest.create_run(eid)
    lm = _logged_model(rest, eid, rid)
    other_lm = _logged_model(rest, eid, other_run)
    for body in (
        {"source": f"mlflow-artifacts:/{eid}/{rid}/artifacts/model", "run_id": other_run},
        {"source": f"runs:/{rid}/model", "run_id": other_run},
        {"source": f"models:/{lm['model_id']}", "model_id": other_lm["model_id"]},
    ):
        r = rest.post(API + "/model-versions/create", {"name": name, **body})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    _assert_no_versions(rest, name)


def test_model_version_source_deleted_logged_model(rest, src_ctx):
    lm = _logged_model(rest, src_ctx.eid, src_ctx.rid)
    mid = lm["model_id"]
    r = rest.request("DELETE", API + f"/logged-models/{mid}", json={"model_id": mid})
    assert r.status_code == 200, r.text
    r = rest.post(API + "/model-versions/create", {"name": src_ctx.name, "source": f"models:/{mid}", "model_id": mid})
    assert_error(r, (400, 404), ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"))
    _assert_no_versions(rest, src_ctx.name)


def test_model_version_rest_errors(rest, src_ctx):
    name, rid = src_ctx.name, src_ctx.rid
    good = f"runs:/{rid}/model"
    rest.create_model_version(name, good, rid)
    # version not an integer
    for v in ("abc", "1.5", "one", "1; DROP TABLE model_versions", "0x1"):
        for path in ("/model-versions/get", "/model-versions/get-download-uri"):
            assert_error(rest.get(API + path, params={"name": name, "version": v}), 400, "INVALID_PARAMETER_VALUE")
        r = rest.post(API + "/model-versions/transition-stage",
                      {"name": name, "version": v, "stage": "Staging", "archive_existing_versions": False})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
        r = rest.post(API + "/registered-models/alias", {"name": name, "alias": "a", "version": v})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
        r = rest.request("DELETE", API + "/model-versions/delete", json={"name": name, "version": v})
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    # name missing
    for method, path, body in [
        ("POST", "/registered-models/create", {}),
        ("POST", "/registered-models/create", {"name": ""}),
        ("GET", "/registered-models/get", {}),
        ("POST", "/registered-models/rename", {"new_name": uniq("x")}),
        ("PATCH", "/registered-models/update", {"description": "x"}),
        ("DELETE", "/registered-models/delete", {}),
        ("POST", "/registered-models/set-tag", {"key": "k", "value": "v"}),
        ("POST", "/model-versions/create", {"source": good, "run_id": rid}),
        ("GET", "/model-versions/get", {"version": "1"}),
        ("PATCH", "/model-versions/update", {"version": "1", "description": "x"}),
        ("POST", "/model-versions/transition-stage", {"version": "1", "stage": "Staging",
                                                      "archive_existing_versions": False}),
        ("GET", "/model-versions/get-download-uri", {"version": "1"}),
        ("GET", "/registered-models/alias", {"alias": "a"}),
        ("POST", "/model-versions/create", {"name": name}),  # source missing
        ("GET", "/model-versions/get", {"name": name}),  # version missing
    ]:
        r = rest.get(API + path, params=body) if method == "GET" else rest.request(method, API + path, json=body)
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    # unknown model / version
    ghost = uniq("ghost")
    for method, path, body in [
        ("GET", "/registered-models/get", {"name": ghost}),
        ("POST", "/model-versions/create", {"name": ghost, "source": good, "run_id": rid}),
        ("POST", "/registered-models/rename", {"name": ghost, "new_name": uniq("x")}),
        ("PATCH", "/registered-models/update", {"name": ghost, "description": "x"}),
        ("DELETE", "/registered-models/delete", {"name": ghost}),
        ("POST", "/registered-models/set-tag", {"name": ghost, "key": "k", "value": "v"}),
        ("POST", "/registered-models/get-latest-versions", {"name": ghost}),
        ("GET", "/model-versions/get", {"name": ghost, "version": "1"}),
        ("GET", "/model-versions/get", {"name": name, "version": "99"}),
        ("GET", "/model-versions/get-download-uri", {"name": name, "version": "99"}),
        ("PATCH", "/model-versions/update", {"name": name, "version": "99", "description": "x"}),
        ("POST", "/model-versions/set-tag", {"name": name, "version": "99", "key": "k", "value": "v"}),
        ("DELETE", "/model-versions/delete", {"name": name, "version": "99"}),
        ("GET", "/registered-models/alias", {"name": name, "alias": "nope"}),
        ("GET", "/registered-models/alias", {"name": ghost, "alias": "nope"}),
    ]:
        r = rest.get(API + path, params=body) if method == "GET" else rest.request(method, API + path, json=body)
        assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")
    # duplicate registered model through REST: 400 RESOURCE_ALREADY_EXISTS (the client relies on it)
    assert_error(rest.post(API + "/registered-models/create", {"name": name}), 400, "RESOURCE_ALREADY_EXISTS")
    # get-latest-versions answers both POST and GET (repeated stages)
    r = rest.ok("POST", API + "/registered-models/get-latest-versions", {"name": name, "stages": ["None"]})
    assert [v["version"] for v in r["model_versions"]] == ["1"]
    r = rest.ok("GET", API + "/registered-models/get-latest-versions", params={"name": name, "stages": ["None", "Staging"]})
    assert [v["version"] for v in r["model_versions"]] == ["1"]
    # versions are strings and timestamps numbers on the wire
    mv = rest.ok("GET", API + "/model-versions/get", params={"name": name, "version": 1})["model_version"]
    assert mv["version"] == "1" and isinstance(mv["creation_timestamp"], int)
    assert mv["status"] == "READY" and mv["current_stage"] == "None"


def test_registry_under_ajax_prefix(rest, src_ctx):
    """The web UI calls the same RPCs under /ajax-api/2.0/mlflow."""
    from helpers import AJAX

    r = rest.ok("GET", AJAX + "/registered-models/get", params={"name": src_ctx.name})
    assert r["registered_model"]["name"] == src_ctx.name
    mv = rest.ok("POST", AJAX + "/model-versions/create",
                 {"name": src_ctx.name, "source": f"runs:/{src_ctx.rid}/model", "run_id": src_ctx.rid})
    assert mv["model_version"]["version"] == "1"
    r = rest.ok("GET", AJAX + "/model-versions/search", params={"filter": f"name = '{src_ctx.name}'"})
    assert [v["version"] for v in r["model_versions"]] == ["1"]
    assert_error(rest.post(AJAX + "/model-versions/create", {"name": src_ctx.name, "source": "file:///etc/passwd"}),
                 400, "INVALID_PARAMETER_VALUE")


# =========================================================================== get-artifact (UI route)


GET_ARTIFACT = "/model-versions/get-artifact"


@pytest.mark.parametrize(
    "path",
    [
        "../../../../../../etc/passwd",
        "../MLmodel",
        "sub/../../MLmodel",
        "/etc/passwd",
        "//etc/passwd",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "..%2f..%2f..%2fetc%2fpasswd",
        "file:///etc/passwd",
        "C:/Windows/win.ini",
        "sub/#/../../../etc/passwd",
        "..",
        # not traversal on a POSIX server (a backslash is a file-name character, NUL ends
        # nothing in a path we decode), but never a file outside: refused or not found
        pytest.param("..\\..\\etc\\passwd", id="backslashes"),
        pytest.param("MLmodel\x00.txt", id="nul"),
    ],
)
def test_model_version_get_artifact_traversal(rest, server, src_ctx, path):
    name, rid = src_ctx.name, src_ctx.rid
    rest.create_model_version(name, f"mlflow-artifacts:/{src_ctx.eid}/{rid}/artifacts/model", rid)
    r = rest.get(GET_ARTIFACT, params={"name": name, "version": "1", "path": path})
    if "\\" in path or "\x00" in path:
        assert_error(r, (400, 404))
    else:
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert b"root:" not in r.content


def test_model_version_get_artifact_raw_encoded_traversal(rest, server, src_ctx):
    name, rid = src_ctx.name, src_ctx.rid
    rest.create_model_version(name, f"mlflow-artifacts:/{src_ctx.eid}/{rid}/artifacts/model", rid)
    for raw in ("%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2F..%2F..%2Fetc%2Fpasswd",
                "%2E%2E/%2E%2E/%2E%2E/etc/passwd", "%252e%252e/%252e%252e/etc/passwd", "/etc/passwd"):
        r = requests.get(f"{server.url}{GET_ARTIFACT}?name={name}&version=1&path={raw}", timeout=10)
        assert_error(r, 400, "INVALID_PARAMETER_VALUE")
        assert b"root:" not in r.content


def test_model_version_get_artifact_downloads(rest, src_ctx):
    eid, rid = src_ctx.eid, src_ctx.rid
    files = _files("rest")
    rest.create_model_version(src_ctx.name, f"mlflow-artifacts:/{eid}/{rid}/artifacts/model", rid)
    rest.create_model_version(src_ctx.name, f"runs:/{rid}/model", rid)
    lm = _logged_model(rest, eid, rid)
    rest.create_model_version(src_ctx.name, f"models:/{lm['model_id']}", model_id=lm["model_id"])
    for version, want in (("1", files), ("2", files), ("3", _files("logged"))):
        for rel in ("MLmodel", "sub/data.json", "model.bin"):
            r = rest.get(GET_ARTIFACT, params={"name": src_ctx.name, "version": version, "path": rel})
            assert r.status_code == 200, f"v{version} {rel}: {r.status_code} {r.text[:200]}"
            assert r.content == want[rel], f"v{version} {rel}"
    r = rest.get(GET_ARTIFACT, params={"name": src_ctx.name, "version": "1", "path": "no-such-file"})
    assert_error(r, 404)
    r = rest.get(GET_ARTIFACT, params={"name": src_ctx.name, "version": "9", "path": "MLmodel"})
    assert_error(r, 404, "RESOURCE_DOES_NOT_EXIST")


# =========================================================================== audit


def test_registry_writes_are_audited(make_server):
    from helpers import Rest

    srv = make_server("regaudit")
    rest = Rest(srv.url)
    eid = rest.create_experiment(uniq("aud"))
    rid = rest.create_run(eid)
    for rel, data in _files("aud").items():
        rest.put_artifact(f"{eid}/{rid}/artifacts/model/{rel}", data)
    name = uniq("audm")
    rest.create_registered_model(name, tags=[{"key": "t", "value": "1"}])
    rest.create_model_version(name, f"mlflow-artifacts:/{eid}/{rid}/artifacts/model", rid)
    rest.ok("POST", API + "/model-versions/transition-stage",
            {"name": name, "version": "1", "stage": "Production", "archive_existing_versions": False})
    rest.ok("POST", API + "/registered-models/alias", {"name": name, "alias": "champion", "version": "1"})
    lm = _logged_model(rest, eid, rid)
    rest.create_model_version(name, f"models:/{lm['model_id']}", model_id=lm["model_id"])
    assert_error(rest.post(API + "/model-versions/create", {"name": name, "source": "file:///etc/passwd"}), 400)
    rest.ok("DELETE", API + "/registered-models/alias", {"name": name, "alias": "champion"})
    rest.ok("DELETE", API + "/model-versions/delete", {"name": name, "version": "2"})

    res = srv.audit_verify()
    assert res.returncode == 0, f"audit verify failed ({res.returncode}): {res.stdout[-2000:]} {res.stderr[-2000:]}"
    with sqlite3.connect(srv.db_path) as db:
        rows = db.execute("SELECT action, resource, outcome FROM audit_log ORDER BY seq").fetchall()
    ok = [(a, res_) for a, res_, out in rows if out == "ok"]
    mid = lm["model_id"]
    for want in [
        ("registered-models.create", f"registered_model/{name}"),
        ("model-versions.create", f"model_version/{name}/1"),
        ("model-versions.transition-stage", f"model_version/{name}/1"),
        ("registered-models.set-alias", f"registered_model/{name}"),
        ("logged-models.create", f"logged_model/{mid}"),
        ("logged-models.finalize", f"logged_model/{mid}"),
        ("model-versions.create", f"model_version/{name}/2"),
        ("registered-models.delete-alias", f"registered_model/{name}"),
        ("model-versions.delete", f"model_version/{name}/2"),
    ]:
        assert want in ok, f"no audit entry {want}: {[r for r in rows if not r[0].startswith('data.')]}"
    # the order of the log is the order of the writes
    order = [ok.index(w) for w in [("registered-models.create", f"registered_model/{name}"),
                                   ("model-versions.transition-stage", f"model_version/{name}/1"),
                                   ("model-versions.delete", f"model_version/{name}/2")]]
    assert order == sorted(order)
    # the refused source is on record too
    refused = [(a, out) for a, _, out in rows if a == "model-versions.create" and out != "ok"]
    assert refused == [("model-versions.create", "rejected: INVALID_PARAMETER_VALUE")], rows[-5:]
    srv.stop()
    res = srv.audit_verify()
    assert res.returncode == 0, res.stdout + res.stderr
