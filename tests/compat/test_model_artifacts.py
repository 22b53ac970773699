"""Files of logged models and model versions through the routes the MLflow UI uses:
/api/2.0/mlflow/logged-models/<id>/artifacts/directories and /model-versions/get-artifact,
with the artifact proxy's path rules."""

from __future__ import annotations

import requests

from helpers import API, uniq

ART = "/api/2.0/mlflow-artifacts/artifacts"


def _logged_model_with_files(rest, server):
    eid = rest.create_experiment(uniq("lmart"))
    rid = rest.create_run(eid)
    model = rest.ok("POST", API + "/logged-models",
                    {"experiment_id": eid, "name": "model", "source_run_id": rid})["model"]
    mid = model["info"]["model_id"]
    root = model["info"]["artifact_uri"]
    assert root == f"mlflow-artifacts:/{eid}/models/{mid}/artifacts"
    for rel, body in (("MLmodel", b"flavors: {}\n"), ("sub/weights.bin", b"\x00\x01" * 10)):
        r = requests.put(f"{server.url}{ART}/{eid}/models/{mid}/artifacts/{rel}", data=body)
        assert r.status_code == 200, r.text
    return eid, rid, mid


def test_logged_model_artifact_listing(rest, server):
    eid, _, mid = _logged_model_with_files(rest, server)
    url = API + f"/logged-models/{mid}/artifacts/directories"
    top = rest.ok("GET", url)
    assert top["root_uri"] == f"mlflow-artifacts:/{eid}/models/{mid}/artifacts"
    assert {(f["path"], f["is_dir"]) for f in top["files"]} == {("MLmodel", False), ("sub", True)}
    sub = rest.ok("GET", url, params={"artifact_directory_path": "sub"})
    assert [(f["path"], f.get("file_size")) for f in sub["files"]] == [("sub/weights.bin", 20)]
    for bad in ("../../..", "/etc", "sub/../..", "%2e%2e", ".trellis-upload-x"):
        r = rest.get(url, params={"artifact_directory_path": bad})
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (bad, r.text)
    r = rest.get(API + "/logged-models/m-00000000000000000000000000000000/artifacts/directories")
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_model_version_get_artifact_serves_the_logged_model_files(rest, server):
    _, rid, mid = _logged_model_with_files(rest, server)
    name = uniq("mvart")
    rest.ok("POST", API + "/registered-models/create", {"name": name})
    mv = rest.ok("POST", API + "/model-versions/create",
                 {"name": name, "source": f"models:/{mid}", "model_id": mid})["model_version"]
    assert mv["run_id"] == rid and mv["source"] == f"models:/{mid}"
    for prefix in ("", "/ajax-api/2.0/mlflow"):
        r = rest.get(prefix + "/model-versions/get-artifact",
                     params={"name": name, "version": mv["version"], "path": "sub/weights.bin"})
        assert r.status_code == 200 and r.content == b"\x00\x01" * 10
    r = rest.get("/model-versions/get-artifact", params={"name": name, "version": "1", "path": "../../../etc/passwd"})
    assert r.status_code == 400
    r = rest.get("/model-versions/get-artifact", params={"name": name, "version": "9", "path": "MLmodel"})
    assert r.status_code == 404
