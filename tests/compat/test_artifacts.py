"""The artifact proxy (/api/2.0/mlflow-artifacts/artifacts): the official client logs, lists
and downloads artifacts through it; every path is kept beneath the artifact root.

Covers the first part of the artifacts issue (upload, download, list, delete, path safety,
digests, safe download headers). Logged models and the registry come with the rest of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

import pytest
import requests

from helpers import assert_error, uniq

ART = "/api/2.0/mlflow-artifacts/artifacts"


def _run_uri(mlflow_client, name):
    import mlflow

    mlflow.set_experiment(uniq(name))
    run = mlflow.start_run()
    return run, mlflow_client.get_run(run.info.run_id).info.artifact_uri


def test_client_logs_lists_and_downloads(mlflow_client, tmp_path, server):
    import mlflow

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("hello")
    (src / "sub" / "b.json").write_text('{"x": 1}')
    (src / "empty.bin").write_bytes(b"")
    run, uri = _run_uri(mlflow_client, "art")
    assert uri.startswith("mlflow-artifacts:/") and uri.endswith(f"/{run.info.run_id}/artifacts")
    mlflow.log_artifact(str(src / "a.txt"))
    mlflow.log_artifacts(str(src), artifact_path="dir")
    mlflow.log_dict({"k": [1, 2]}, "conf/params.json")
    mlflow.end_run()

    top = sorted(f.path for f in mlflow_client.list_artifacts(run.info.run_id))
    assert top == ["a.txt", "conf", "dir"]
    inner = sorted((f.path, f.is_dir, f.file_size) for f in mlflow.artifacts.list_artifacts(artifact_uri=uri + "/dir"))
    assert inner == [("dir/a.txt", False, 5), ("dir/empty.bin", False, 0), ("dir/sub", True, None)]

    out = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / "dl"))
    got = {os.path.relpath(os.path.join(r, f), out): open(os.path.join(r, f), "rb").read()
           for r, _, fs in os.walk(out) for f in fs}
    assert got["a.txt"] == b"hello"
    assert got["dir/sub/b.json"] == b'{"x": 1}'
    assert got["dir/empty.bin"] == b""
    assert mlflow.artifacts.load_dict(uri + "/conf/params.json") == {"k": [1, 2]}

    # every stored file has its size and SHA-256 recorded in the store
    rel = uri[len("mlflow-artifacts:/"):]
    with sqlite3.connect(server.db_path) as db:
        rows = dict(db.execute("SELECT path, sha256 FROM artifacts WHERE path LIKE ?", (rel + "/%",)))
    assert rows[rel + "/a.txt"] == hashlib.sha256(b"hello").hexdigest()
    assert rows[rel + "/dir/empty.bin"] == hashlib.sha256(b"").hexdigest()


def test_rest_upload_download_delete(rest, server):
    base = server.url + ART
    path = f"{uniq('rest')}/x/file.bin"
    data = os.urandom(70000)
    r = requests.put(f"{base}/{path}", data=data, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    r = requests.get(f"{base}/{path}")
    assert r.status_code == 200 and r.content == data
    assert r.headers["Content-Length"] == str(len(data))
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    # listing a file or a missing path is an empty list, as the client expects
    assert requests.get(base, params={"path": path}).json() == {}
    assert requests.get(base, params={"path": "no/such/dir"}).json() == {}
    # chunked zero-byte upload
    r = requests.put(f"{base}/{path}.empty", data=iter([b""]))
    assert r.status_code == 200, r.text
    assert requests.get(f"{base}/{path}.empty").content == b""
    # a missing download is a 404 (MLflow's 500 makes the client retry for minutes)
    assert_error(requests.get(f"{base}/{path}.missing"), 404, "RESOURCE_DOES_NOT_EXIST")
    top = path.split("/")[0]
    assert requests.delete(f"{base}/{top}").status_code == 200
    assert_error(requests.get(f"{base}/{path}"), 404, "RESOURCE_DOES_NOT_EXIST")
    with sqlite3.connect(server.db_path) as db:
        assert db.execute("SELECT count(*) FROM artifacts WHERE path LIKE ?", (top + "/%",)).fetchone()[0] == 0


def test_active_content_is_sandboxed(server):
    base = server.url + ART
    name = uniq("xss")
    for fname, body in (("page.html", b"<script>alert(1)</script>"), ("pic.svg", b"<svg onload=alert(1)/>")):
        assert requests.put(f"{base}/{name}/{fname}", data=body).status_code == 200
        r = requests.get(f"{base}/{name}/{fname}")
        assert r.status_code == 200
        assert r.headers["Content-Disposition"].startswith("attachment")
        assert r.headers["Content-Security-Policy"] == "sandbox"
        assert r.headers["X-Content-Type-Options"] == "nosniff"


TRAVERSALS = [
    "../../../../etc/passwd",
    "%2e%2e/%2e%2e/etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%252E%252E%252F%252E%252E%252Fetc%252fpasswd",  # CVE-2023-6831 (double-encoded delete)
    "a/../../../etc/passwd",
    "a/%2e%2e/%2e%2e/x",
    "/etc/passwd",
    "C:/Windows/win.ini",
    "a%5c..%5c..%5cx",
    "a%00b",
    "a;/../../x",
    "a%3f/../../x",
    "a%23/../../x",
]


@pytest.mark.parametrize("p", TRAVERSALS)
def test_traversal_is_refused_everywhere(server, p):
    base = server.url + ART
    s = requests.Session()
    for method in ("PUT", "GET", "DELETE"):
        req = requests.Request(method, f"{base}/{p}", data=b"x" if method == "PUT" else None).prepare()
        req.url = f"{base}/{p}"  # keep the attacker's encoding exactly
        r = s.send(req)
        assert 400 <= r.status_code < 500, f"{method} {p} -> {r.status_code} {r.text[:200]}"
        if r.status_code != 404:
            assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    r = requests.get(base, params={"path": requests.utils.unquote(p)})
    assert 400 <= r.status_code < 500, f"list {p} -> {r.status_code}"
    assert not os.path.exists("/etc/passwd.trellis-test")


def test_listing_outside_the_root_is_refused(server):
    # CVE-2023-3765: ?path=C:/ listed the filesystem root
    for p in ("C:/", "/", "../", "..", "/etc"):
        assert_error(requests.get(server.url + ART, params={"path": p}), 400, "INVALID_PARAMETER_VALUE")


def test_symlink_out_of_the_root_is_not_followed(server):
    link = server.artifacts_dir / "evil-link"
    if not link.exists():
        os.symlink("/etc", link)
    base = server.url + ART
    assert_error(requests.get(f"{base}/evil-link/passwd"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(requests.put(f"{base}/evil-link/x", data=b"x"), 400, "INVALID_PARAMETER_VALUE")
    assert_error(requests.get(base, params={"path": "evil-link"}), 400, "INVALID_PARAMETER_VALUE")
    assert not os.path.exists("/etc/x")


def test_uploads_and_refusals_are_audited(server):
    base = server.url + ART
    requests.put(f"{base}/{uniq('audit')}/f.txt", data=b"1")
    requests.put(f"{base}/../escape", data=b"1")
    with sqlite3.connect(server.db_path) as db:
        rows = db.execute("SELECT resource, outcome FROM audit_log ORDER BY seq DESC LIMIT 20").fetchall()
    # uploads are data-plane writes: summarised per commit, with the artifact as resource
    assert any(res.startswith("artifact/audit") and out == "ok" for res, out in rows), rows
    assert server.audit_verify().returncode == 0


def test_range_requests(server):
    base = server.url + ART
    path = f"{uniq('range')}/blob.bin"
    data = bytes(range(256)) * 10
    assert requests.put(f"{base}/{path}", data=data).status_code == 200
    r = requests.get(f"{base}/{path}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    r = requests.get(f"{base}/{path}", headers={"Range": "bytes=2550-"})
    assert r.status_code == 206 and r.content == data[2550:]
    r = requests.get(f"{base}/{path}", headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = requests.get(f"{base}/{path}", headers={"Range": "bytes=99999-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(data)}"
    r = requests.get(f"{base}/{path}", headers={"Range": "bytes=0-1,5-6"})  # multiple: whole file
    assert r.status_code == 200 and r.content == data


def test_multipart_endpoints_send_the_client_to_a_single_put(server):
    for op in ("create", "complete", "abort"):
        r = requests.post(f"{server.url}/api/2.0/mlflow-artifacts/mpu/{op}/x/y.bin",
                          json={"path": "/tmp/y.bin", "num_parts": 2})
        assert r.status_code == 501
        body = r.json()
        assert body["error_code"] == "NOT_IMPLEMENTED"
        assert body["message"].startswith("Multipart upload is not supported for the current artifact repository")


def test_legacy_run_routes(mlflow_client, tmp_path, server):
    import mlflow

    run, uri = _run_uri(mlflow_client, "legacy")
    mlflow.log_text("hi", "model/MLmodel")
    mlflow.log_text("x", "top.txt")
    mlflow.end_run()
    rid = run.info.run_id
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        r = requests.get(server.url + prefix + "/artifacts/list", params={"run_id": rid, "path": "model"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["root_uri"] == uri
        assert body["files"] == [{"path": "model/MLmodel", "is_dir": False, "file_size": 2}]
        top = requests.get(server.url + prefix + "/artifacts/list", params={"run_uuid": rid}).json()
        assert sorted(f["path"] for f in top["files"]) == ["model", "top.txt"]
    r = requests.get(server.url + "/get-artifact", params={"run_uuid": rid, "path": "model/MLmodel"})
    assert r.status_code == 200 and r.content == b"hi"
    # CVE-2023-30172: get-artifact path traversal
    r = requests.get(server.url + "/get-artifact", params={"run_uuid": rid, "path": "../../../../../../etc/passwd"})
    assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert_error(requests.get(server.url + "/get-artifact", params={"run_id": "nope", "path": "a"}), 404,
                 "RESOURCE_DOES_NOT_EXIST")
