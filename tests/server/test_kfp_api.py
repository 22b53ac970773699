"""The KFP REST API v2beta1 of `trellis server`, driven by the official
kfp.Client (kfp 2.x): healthz, experiments (which are MLflow experiments),
pipeline and pipeline-version uploads, lists with filters, gets, deletes, and
the error statuses the client sees for bad input."""


import json
import urllib.parse

import pytest
import requests
import yaml
from kfp import compiler, dsl
from kfp_server_api.exceptions import ApiException

API = "/apis/v2beta1"


@dsl.component(base_image="python:3.11")
def add(a: int, b: int) -> int:
    return a + b


@dsl.pipeline(name="adder", description="adds two numbers")
def adder(x: int = 1, y: int = 2):
    first = add(a=x, b=y)
    add(a=first.output, b=3)


@pytest.fixture(scope="module")
def pipeline_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipelines") / "adder.yaml"
    compiler.Compiler().compile(adder, str(path))
    return path


def name_filter(name: str) -> str:
    return json.dumps(
        {"predicates": [{"operation": "EQUALS", "key": "display_name", "string_value": name}]}
    )


def status_of(excinfo) -> int:
    return excinfo.value.status


# ---------------------------------------------------------------- healthz


def test_healthz(server, client):
    h = client.get_kfp_healthz()
    assert h.multi_user is False
    body = requests.get(server.url + API + "/healthz", timeout=5).json()
    assert body["multi_user"] is False
    assert body["pipeline_store"] == "database"
    assert body["tag_name"]


def test_unknown_path_is_kfp_404(server):
    r = requests.get(server.url + API + "/nothing/here", timeout=5)
    assert r.status_code == 404
    assert r.json() == {"code": 5, "message": "Not Found", "details": []}


# ------------------------------------------------------------ experiments


def test_experiment_lifecycle(server, client):
    exp = client.create_experiment("kfp-exp-1", description="made by kfp")
    assert exp.experiment_id
    # create_experiment is get-or-create through the display_name filter
    again = client.create_experiment("kfp-exp-1")
    assert again.experiment_id == exp.experiment_id

    by_id = client.get_experiment(experiment_id=exp.experiment_id)
    assert by_id.display_name == "kfp-exp-1"
    assert by_id.description == "made by kfp"
    assert by_id.storage_state == "AVAILABLE"
    by_name = client.get_experiment(experiment_name="kfp-exp-1")
    assert by_name.experiment_id == exp.experiment_id

    client.archive_experiment(exp.experiment_id)
    assert client.get_experiment(experiment_id=exp.experiment_id).storage_state == "ARCHIVED"
    client.archive_experiment(exp.experiment_id)  # idempotent
    client.unarchive_experiment(exp.experiment_id)
    assert client.get_experiment(experiment_id=exp.experiment_id).storage_state == "AVAILABLE"

    client.delete_experiment(exp.experiment_id)
    assert client.get_experiment(experiment_id=exp.experiment_id).storage_state == "ARCHIVED"


def test_default_experiment(client):
    default = client.get_experiment(experiment_name="Default")
    assert default.experiment_id == "0"
    assert client.create_experiment("Default").experiment_id == "0"


def test_list_experiments_filter_sort_paging(client):
    names = [f"list-exp-{i}" for i in range(5)]
    ids = [client.create_experiment(n).experiment_id for n in names]

    found = client.list_experiments(filter=name_filter("list-exp-3"))
    assert [e.experiment_id for e in found.experiments] == [ids[3]]
    assert found.total_size == 1

    sub = json.dumps(
        {"predicates": [{"operation": 9, "key": "display_name", "stringValue": "list-exp-"}]}
    )
    desc = client.list_experiments(filter=sub, sort_by="display_name desc", page_size=2)
    assert [e.display_name for e in desc.experiments] == ["list-exp-4", "list-exp-3"]
    assert desc.total_size == 5
    seen = [e.display_name for e in desc.experiments]
    token = desc.next_page_token
    while token:
        page = client.list_experiments(
            filter=sub, sort_by="display_name desc", page_size=2, page_token=token
        )
        seen += [e.display_name for e in page.experiments]
        token = page.next_page_token
    assert seen == sorted(names, reverse=True)

    inn = json.dumps(
        {
            "predicates": [
                {
                    "operation": "IN",
                    "key": "display_name",
                    "string_values": {"values": ["list-exp-0", "list-exp-2"]},
                }
            ]
        }
    )
    got = client.list_experiments(filter=inn, sort_by="created_at")
    assert {e.display_name for e in got.experiments} == {"list-exp-0", "list-exp-2"}

    none = client.list_experiments(filter=name_filter("no-such-experiment"))
    assert not none.experiments
    assert not none.total_size


def test_experiment_bad_input(server, client):
    with pytest.raises(ApiException) as e:
        client.get_experiment(experiment_id="987654")
    assert status_of(e) == 404
    with pytest.raises(ApiException) as e:
        client.get_experiment(experiment_id="not-a-number")
    assert status_of(e) == 404
    with pytest.raises(ApiException) as e:
        client.get_experiment(experiment_id="00")  # only the canonical form names "0"
    assert status_of(e) == 404
    with pytest.raises(ApiException) as e:
        client.archive_experiment("987654")
    assert status_of(e) == 404
    with pytest.raises(ApiException) as e:
        client.list_experiments(filter="{not json")
    assert status_of(e) == 400
    with pytest.raises(ApiException) as e:
        client.list_experiments(sort_by="nonsense")
    assert status_of(e) == 400

    client.create_experiment("dup-exp")
    r = requests.post(
        server.url + API + "/experiments", json={"display_name": "dup-exp"}, timeout=5
    )
    assert r.status_code == 409
    assert r.json()["code"] == 6
    r = requests.post(server.url + API + "/experiments", json={"namespace": ""}, timeout=5)
    assert r.status_code == 400
    assert r.json()["code"] == 3
    r = requests.post(
        server.url + API + "/experiments",
        data="{bad",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert r.status_code == 400
    # only the upload paths take multipart
    r = requests.post(
        server.url + API + "/experiments", files={"uploadfile": ("x", b"y")}, timeout=5
    )
    assert r.status_code == 400
    assert r.json()["code"] == 3


def test_experiments_are_mlflow_experiments(server, client):
    exp = client.create_experiment("shared-with-mlflow", description="note")
    r = requests.get(
        server.url + "/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": "shared-with-mlflow"},
        timeout=5,
    )
    assert r.status_code == 200
    mexp = r.json()["experiment"]
    assert mexp["experiment_id"] == exp.experiment_id
    tags = {t["key"]: t["value"] for t in mexp.get("tags", [])}
    assert tags["mlflow.note.content"] == "note"

    r = requests.post(
        server.url + "/api/2.0/mlflow/experiments/create",
        json={"name": "made-by-mlflow"},
        timeout=5,
    )
    assert r.status_code == 200
    mid = r.json()["experiment_id"]
    assert client.get_experiment(experiment_name="made-by-mlflow").experiment_id == mid
    requests.post(
        server.url + "/api/2.0/mlflow/experiments/delete", json={"experiment_id": mid}, timeout=5
    ).raise_for_status()
    assert client.get_experiment(experiment_id=mid).storage_state == "ARCHIVED"


# -------------------------------------------------------------- pipelines


def test_pipeline_upload_and_versions(client, pipeline_file):
    p = client.upload_pipeline(str(pipeline_file), pipeline_name="adder-p", description="d1")
    assert p.pipeline_id
    assert p.display_name == "adder-p"
    assert client.get_pipeline_id("adder-p") == p.pipeline_id
    assert client.get_pipeline(p.pipeline_id).description == "d1"

    listed = client.list_pipelines(filter=name_filter("adder-p"))
    assert [x.pipeline_id for x in listed.pipelines] == [p.pipeline_id]

    v2 = client.upload_pipeline_version(
        str(pipeline_file), pipeline_version_name="v2", pipeline_id=p.pipeline_id
    )
    assert v2.pipeline_id == p.pipeline_id
    v3 = client.upload_pipeline_version(
        str(pipeline_file), pipeline_version_name="v3", pipeline_name="adder-p"
    )
    assert v3.pipeline_id == p.pipeline_id

    versions = client.list_pipeline_versions(p.pipeline_id, page_size=10)
    assert versions.total_size == 3
    assert {v.name for v in versions.pipeline_versions} == {"adder-p", "v2", "v3"}
    first = [v for v in versions.pipeline_versions if v.name == "adder-p"][0]

    got = client.get_pipeline_version(p.pipeline_id, v2.pipeline_version_id)
    assert got.name == "v2"
    compiled = yaml.safe_load(pipeline_file.read_text())
    assert got.pipeline_spec == compiled

    client.delete_pipeline_version(p.pipeline_id, v3.pipeline_version_id)
    with pytest.raises(ApiException) as e:
        client.get_pipeline_version(p.pipeline_id, v3.pipeline_version_id)
    assert status_of(e) == 404

    # delete cascades to the versions
    client.delete_pipeline(p.pipeline_id)
    for vid in (first.pipeline_version_id, v2.pipeline_version_id):
        with pytest.raises(ApiException) as e:
            client.get_pipeline_version(p.pipeline_id, vid)
        assert status_of(e) == 404
    with pytest.raises(ApiException) as e:
        client.get_pipeline(p.pipeline_id)
    assert status_of(e) == 404
    assert client.get_pipeline_id("adder-p") is None
    # the name is free again
    again = client.upload_pipeline(str(pipeline_file), pipeline_name="adder-p")
    client.delete_pipeline(again.pipeline_id)


def test_pipeline_by_name_and_platform_spec(server, client, tmp_path, pipeline_file):
    text = pipeline_file.read_text()
    two_docs = tmp_path / "two.yaml"
    two_docs.write_text(
        text.rstrip("\n") + "\n---\nplatforms:\n  kubernetes:\n    deploymentSpec: {}\n"
    )
    p = client.upload_pipeline(str(two_docs), pipeline_name="two-docs")
    r = requests.get(server.url + API + "/pipelines/names/two-docs", timeout=5)
    assert r.status_code == 200 and r.json()["pipeline_id"] == p.pipeline_id
    vid = client.list_pipeline_versions(p.pipeline_id).pipeline_versions[0].pipeline_version_id
    got = client.get_pipeline_version(p.pipeline_id, vid)
    assert got.pipeline_spec["pipeline_spec"] == yaml.safe_load(text)
    assert got.pipeline_spec["platform_spec"] == {"platforms": {"kubernetes": {"deploymentSpec": {}}}}


def test_upload_name_rules(server, pipeline_file):
    body = pipeline_file.read_bytes()
    url = server.url + API + "/pipelines/upload"
    r = requests.post(url, params={"display_name": "shown"}, files={"uploadfile": ("f.yaml", body)}, timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "shown"
    r = requests.post(url, files={"uploadfile": ("from-file.yaml", body)}, timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "from-file.yaml"
    r = requests.post(
        url,
        params={"name": "tagged", "tags": json.dumps({"team": "ml"})},
        files={"uploadfile": ("f.yaml", body)},
        timeout=5,
    )
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == {"team": "ml"}
    r = requests.post(
        url,
        params={"name": "badtags", "tags": json.dumps({"a.b": "x"})},
        files={"uploadfile": ("f.yaml", body)},
        timeout=5,
    )
    assert r.status_code == 400
    assert set(r.json()) == {"error_message", "error_details"}


def test_upload_bad_input(server, client, tmp_path, pipeline_file):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipelineInfo:\n  name: x\nroot:\n  dag: [\n")
    with pytest.raises(ApiException) as e:
        client.upload_pipeline(str(bad), pipeline_name="bad")
    assert status_of(e) == 400
    err = json.loads(e.value.body)
    assert set(err) == {"error_message", "error_details"}
    assert "bad.yaml:" in err["error_message"]
    assert any(ch.isdigit() for ch in err["error_message"].split("bad.yaml:")[1][:3])

    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("pipelineInfo:\n  name: x\nroot:\n  dag:\n    tasks:\n      t:\n        componentRef:\n          name: missing\n")
    with pytest.raises(ApiException) as e:
        client.upload_pipeline(str(invalid), pipeline_name="invalid")
    assert status_of(e) == 400
    assert "invalid.yaml:" in json.loads(e.value.body)["error_details"]

    client.upload_pipeline(str(pipeline_file), pipeline_name="dup-p")
    with pytest.raises(ApiException) as e:
        client.upload_pipeline(str(pipeline_file), pipeline_name="dup-p")
    assert status_of(e) == 409
    assert "error_message" in json.loads(e.value.body)
    pid = client.get_pipeline_id("dup-p")
    with pytest.raises(ApiException) as e:
        client.upload_pipeline_version(str(pipeline_file), "dup-p", pipeline_id=pid)
    assert status_of(e) == 409

    # unknown pipeline: 404; none at all (the client drops pipelineid): 400
    with pytest.raises(ApiException) as e:
        client.upload_pipeline_version(str(pipeline_file), "v", pipeline_id="no-such-id")
    assert status_of(e) == 404
    with pytest.raises(ApiException) as e:
        client.upload_pipeline_version(str(pipeline_file), "v", pipeline_name="no-such-name")
    assert status_of(e) == 400

    for pid_, vid in (("nope", None), (pid, "nope")):
        with pytest.raises(ApiException) as e:
            if vid:
                client.get_pipeline_version(pid_, vid)
            else:
                client.get_pipeline(pid_)
        assert status_of(e) == 404
    with pytest.raises(ApiException) as e:
        client.delete_pipeline("nope")
    assert status_of(e) == 404
    with pytest.raises(ApiException) as e:
        client.list_pipeline_versions("nope")
    assert status_of(e) == 404

    url = server.url + API + "/pipelines/upload"
    # archives are refused clearly
    r = requests.post(url, params={"name": "zip"}, files={"uploadfile": ("p.zip", b"PK\x03\x04rest")}, timeout=5)
    assert r.status_code == 400 and "zip" in r.json()["error_message"]
    # no file field, not multipart, binary
    r = requests.post(url, params={"name": "x"}, files={"other": ("p.yaml", b"a: 1")}, timeout=5)
    assert r.status_code == 400 and "uploadfile" in r.json()["error_message"]
    r = requests.post(url, params={"name": "x"}, data=b"a: 1", headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 400 and "error_message" in r.json()
    r = requests.post(url, params={"name": "x"}, files={"uploadfile": ("p.yaml", b"\xff\xfe\x00")}, timeout=5)
    assert r.status_code == 400
    r = requests.post(url, params={"name": "x"}, files={"uploadfile": ("p.yaml", b"")}, timeout=5)
    assert r.status_code == 400


def test_large_upload(server, client):
    big = b"a: " + b"x" * (10 * 1024 * 1024) + b"\n"
    r = requests.post(
        server.url + API + "/pipelines/upload",
        params={"name": "big"},
        files={"uploadfile": ("big.yaml", big)},
        timeout=60,
    )
    assert 400 <= r.status_code < 500
    assert "error_message" in r.json()
    huge = b"a: " + b"x" * (17 * 1024 * 1024)
    r = requests.post(
        server.url + API + "/pipelines/upload",
        params={"name": "huge"},
        files={"uploadfile": ("huge.yaml", huge)},
        timeout=60,
    )
    assert r.status_code == 413  # over --max-body-bytes (16 MiB)
    assert "error_message" in r.json()
    # the server still answers
    assert client.get_kfp_healthz().multi_user is False
    assert client.get_pipeline_id("big") is None


def test_list_pipelines_paging(client, pipeline_file):
    ids = [client.upload_pipeline(str(pipeline_file), pipeline_name=f"page-{i}").pipeline_id for i in range(3)]
    sub = json.dumps({"predicates": [{"operation": 9, "key": "name", "string_value": "page-"}]})
    first = client.list_pipelines(filter=sub, page_size=2, sort_by="name desc")
    assert [p.name for p in first.pipelines] == ["page-2", "page-1"]
    assert first.total_size == 3
    rest = client.list_pipelines(filter=sub, page_size=2, sort_by="name desc", page_token=first.next_page_token)
    assert [p.name for p in rest.pipelines] == ["page-0"]
    assert not rest.next_page_token
    with pytest.raises(ApiException) as e:
        client.list_pipelines(filter=sub, page_size=2, sort_by="name", page_token=first.next_page_token)
    assert status_of(e) == 400
    for pid in ids:
        client.delete_pipeline(pid)
