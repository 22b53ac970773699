"""The artifact proxy (/api/2.0/mlflow-artifacts/artifacts): the official client logs, lists
and downloads artifacts through it; every path is kept beneath the artifact root.

Covers the first part of the artifacts issue (upload, download, list, delete, path safety,
digests, safe download headers). Logged models and the registry come with the rest of it.

Uploads are streamed to disk: a 200 MB artifact goes through with the server's memory flat,
no size limit applies unless --max-artifact-bytes is set, and an upload that fails midway
(client gone, disk full, over the limit) leaves nothing visible.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

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


def test_root_lists_the_same_every_time(make_server):
    srv = make_server("root-list")
    assert requests.put(f"{srv.url}{ART}/top/f.txt", data=b"x").status_code == 200
    for _ in range(3):
        assert requests.get(srv.url + ART, params={"path": ""}).json() == {"files": [{"path": "top", "is_dir": True}]}


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


# ----------------------------------------------------------------------------- streamed uploads

TMP_PREFIX = ".trellis-upload-"
MB = 1 << 20


def _temp_files(root: Path) -> list[str]:
    return [str(p) for p in Path(root).rglob(TMP_PREFIX + "*")]


def _mem_kb(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out


class RssSampler:
    """Samples a process's VmRSS every 10 ms in a thread; peak_kb is the largest seen."""

    def __init__(self, pid: int):
        self.pid, self.peak_kb, self._stop = pid, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, _mem_kb(self.pid)["VmRSS"])
            time.sleep(0.01)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def test_200mb_artifact_streams_with_bounded_memory(mlflow_client, make_server, tmp_path, monkeypatch):
    """Before streaming, the body was buffered whole and refused over --max-body-bytes (16 MiB)."""
    import mlflow

    srv = make_server("big")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    mlflow.set_tracking_uri(srv.url)
    size = 200 * MB
    src = tmp_path / "model.bin"
    want = hashlib.sha256()
    with open(src, "wb") as f:  # written in pieces: never 200 MB in this process either
        for _ in range(size // MB):
            chunk = os.urandom(MB)
            want.update(chunk)
            f.write(chunk)
    mlflow.set_experiment(uniq("big"))
    run = mlflow.start_run()
    mlflow.log_text("warm", "weights/warm.txt")  # the upload path's one-time allocations
    pid = srv.proc.pid
    base = _mem_kb(pid)["VmRSS"]
    t0 = time.monotonic()
    with RssSampler(pid) as sampler:
        mlflow.log_artifact(str(src), artifact_path="weights")
    upload_s = time.monotonic() - t0
    hwm = _mem_kb(pid)["VmHWM"]
    mlflow.end_run()
    growth_mb = (max(sampler.peak_kb, hwm) - base) / 1024
    print(f"200 MB upload: {upload_s:.2f} s, server RSS {base / 1024:.1f} MB before, "
          f"peak {sampler.peak_kb / 1024:.1f} MB (VmHWM {hwm / 1024:.1f} MB), growth {growth_mb:.1f} MB")
    assert growth_mb < 64, f"server memory grew by {growth_mb:.0f} MB during a 200 MB upload"

    out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="weights/model.bin",
                                              dst_path=str(tmp_path / "dl"))
    got = hashlib.sha256()
    with open(out, "rb") as f:
        for chunk in iter(lambda: f.read(MB), b""):
            got.update(chunk)
    assert got.hexdigest() == want.hexdigest()
    assert os.path.getsize(out) == size
    rel = mlflow.get_run(run.info.run_id).info.artifact_uri[len("mlflow-artifacts:/"):]
    with sqlite3.connect(srv.db_path) as db:
        row = db.execute("SELECT size, sha256 FROM artifacts WHERE path = ?", (rel + "/weights/model.bin",)).fetchone()
    assert row == (size, want.hexdigest())
    assert not _temp_files(srv.artifacts_dir)


def test_chunked_and_empty_uploads_stream(server):
    """No Content-Length: a chunked body larger than --max-body-bytes (16 MiB) is fine."""
    base = server.url + ART
    name = uniq("chunked")
    want = hashlib.sha256()

    def body():
        for i in range(20):
            chunk = bytes([i]) * MB
            want.update(chunk)
            yield chunk

    r = requests.put(f"{base}/{name}/c.bin", data=body())
    assert r.status_code == 200, r.text
    r = requests.get(f"{base}/{name}/c.bin")
    assert len(r.content) == 20 * MB and hashlib.sha256(r.content).hexdigest() == want.hexdigest()
    r = requests.put(f"{base}/{name}/zero.bin", data=b"", headers={"Content-Length": "0"})
    assert r.status_code == 200, r.text
    assert requests.get(f"{base}/{name}/zero.bin").content == b""
    with sqlite3.connect(server.db_path) as db:
        rows = dict(db.execute("SELECT path, sha256 FROM artifacts WHERE path LIKE ?", (name + "/%",)))
    assert rows == {f"{name}/c.bin": want.hexdigest(), f"{name}/zero.bin": hashlib.sha256(b"").hexdigest()}


def _wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_client_disconnect_mid_body_leaves_nothing(server, framing):
    base = server.url + ART
    name = uniq("gone")
    length = f"Content-Length: {10 * MB}" if framing == "content-length" else "Transfer-Encoding: chunked"
    head = f"PUT {ART}/{name}/sub/part.bin HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{length}\r\n\r\n"
    data = os.urandom(MB)
    if framing == "chunked":
        data = b"".join(b"%x\r\n%s\r\n" % (64 << 10, data[i:i + (64 << 10)]) for i in range(0, MB, 64 << 10))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(head.encode())
        s.sendall(data)
        # the upload is under way: a hidden temporary file, nothing listed
        assert _wait_for(lambda: _temp_files(server.artifacts_dir / name)), "no temporary file while uploading"
        assert requests.get(base, params={"path": f"{name}/sub"}).json() == {}
    # closed after 1 MB of 10: the temporary file and the folders it made go
    assert _wait_for(lambda: not (server.artifacts_dir / name).exists()), (
        [str(p) for p in (server.artifacts_dir / name).rglob("*")], server.stderr_text(3000))
    assert not _temp_files(server.artifacts_dir)
    assert requests.get(base, params={"path": name}).json() == {}
    assert_error(requests.get(f"{base}/{name}/sub/part.bin"), 404, "RESOURCE_DOES_NOT_EXIST")
    with sqlite3.connect(server.db_path) as db:
        assert db.execute("SELECT count(*) FROM artifacts WHERE path LIKE ?", (name + "/%",)).fetchone()[0] == 0
    # and the server carries on
    assert requests.put(f"{base}/{name}/sub/part.bin", data=b"again").status_code == 200
    assert requests.get(f"{base}/{name}/sub/part.bin").content == b"again"


def test_upload_names_are_never_visible(server):
    base = server.url + ART
    name = uniq("tmpname")
    assert requests.put(f"{base}/{name}/real.txt", data=b"real").status_code == 200
    planted = server.artifacts_dir / name / (TMP_PREFIX + "0123456789abcdef")
    planted.write_bytes(b"partial")
    assert [f["path"] for f in requests.get(base, params={"path": name}).json()["files"]] == ["real.txt"]
    for p in (f"{name}/{planted.name}", f"{name}/%2e{planted.name[1:]}", f"{TMP_PREFIX}x/y"):
        for method in ("GET", "PUT", "DELETE"):
            r = requests.request(method, f"{base}/{p}", data=b"x" if method == "PUT" else None)
            assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert planted.read_bytes() == b"partial"
    planted.unlink()


def test_max_artifact_bytes(make_server):
    limit = 1_000_000
    srv = make_server("limit", extra_args=["--max-artifact-bytes", str(limit)])
    base = srv.url + ART
    assert requests.put(f"{base}/lim/exact.bin", data=b"e" * limit).status_code == 200
    # declared too large: answered at once, before the body
    head = (f"PUT {ART}/lim/declared.bin HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
            f"Content-Length: {50 * limit}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(head)
        resp = s.recv(65536)
    status, _, rest = resp.partition(b"\r\n")[0], None, resp.partition(b"\r\n\r\n")[2]
    assert status.split(b" ")[1] == b"413", resp[:300]
    body = json.loads(rest)
    assert body["error_code"] == "REQUEST_LIMIT_EXCEEDED" and "--max-artifact-bytes" in body["message"]
    # declared, body sent anyway (the client gets the answer), and chunked: found while streaming
    r = requests.put(f"{base}/lim/sent.bin", data=b"s" * (limit + 1))
    assert_error(r, 413, "REQUEST_LIMIT_EXCEEDED")
    r = requests.put(f"{base}/lim/chunked.bin", data=iter([b"c" * 400_000] * 3))
    assert_error(r, 413, "REQUEST_LIMIT_EXCEEDED")
    assert "--max-artifact-bytes (1000000 bytes)" in r.json()["message"]
    # nothing of the refused uploads is visible, listed, recorded or left on disk
    assert [f["path"] for f in requests.get(base, params={"path": "lim"}).json()["files"]] == ["exact.bin"]
    assert sorted(os.listdir(srv.artifacts_dir / "lim")) == ["exact.bin"]
    with sqlite3.connect(srv.db_path) as db:
        assert [p for (p,) in db.execute("SELECT path FROM artifacts")] == ["lim/exact.bin"]
    # JSON bodies keep their own limit (--max-body-bytes) independently
    r = requests.post(srv.url + "/api/2.0/mlflow/experiments/create", json={"name": "x" * (17 * MB)})
    assert_error(r, 413, "REQUEST_LIMIT_EXCEEDED")


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB tmpfs (needs root), unmounted afterwards."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs (not root?)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_mid_upload(make_server, small_disk):
    srv = make_server("full", start=False)
    srv.artifacts_dir = small_disk
    srv.start()
    base = srv.url + ART
    for path, data in (("d/big.bin", os.urandom(12 * MB)), ("d/chunked.bin", iter([os.urandom(MB)] * 12))):
        r = requests.put(f"{base}/{path}", data=data)
        # not the client's mistake: a 5xx, as MLflow's, in MLflow's error format
        assert r.status_code == 500, r.text
        assert r.json()["error_code"] == "IO_ERROR" and "no space left" in r.json()["message"]
    assert not _temp_files(small_disk)
    assert requests.get(base, params={"path": "d"}).json() == {}
    # the space is free again and the server carries on
    data = os.urandom(6 * MB)
    assert requests.put(f"{base}/d/fits.bin", data=data).status_code == 200
    assert requests.get(f"{base}/d/fits.bin").content == data
    srv.stop()
