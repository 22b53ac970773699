"""`trellis gc`: dry run by default; with --yes removes the data and artifacts of runs
deleted longer ago than --older-than, and nothing else."""

from __future__ import annotations

import sqlite3
import subprocess
import time

import requests

from helpers import API, Rest, uniq
from trellis_proc import trellis_bin

ART = "/api/2.0/mlflow-artifacts/artifacts"


def _gc(srv, *args):
    return subprocess.run([trellis_bin(), "gc", "--backend-store-uri", srv.backend_store_uri,
                           "--artifacts-destination", str(srv.artifacts_dir), *args],
                          capture_output=True, text=True, timeout=60)


def test_gc_removes_only_old_deleted_runs(make_server):
    srv = make_server("gc")
    rest = Rest(srv.url)
    eid = rest.create_experiment(uniq("gc"))
    keep, drop = rest.create_run(eid), rest.create_run(eid)
    for rid in (keep, drop):
        rest.ok("POST", API + "/runs/log-batch",
                {"run_id": rid, "params": [{"key": "p", "value": "1"}],
                 "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}]})
        assert requests.put(f"{srv.url}{ART}/{eid}/{rid}/artifacts/f.bin", data=b"x" * 1000).status_code == 200
    rest.ok("POST", API + "/runs/delete", {"run_id": drop})
    time.sleep(1.1)

    # too recent for the default 30 days: nothing to do
    out = _gc(srv)
    assert out.returncode == 0, out.stderr
    assert "0 deleted runs" in out.stdout
    # dry run: reports, removes nothing
    out = _gc(srv, "--older-than", "1s")
    assert out.returncode == 0, out.stderr
    assert f"would remove run {drop}" in out.stdout and "1000 bytes" in out.stdout
    assert rest.get_run(drop)["info"]["lifecycle_stage"] == "deleted"
    assert requests.get(f"{srv.url}{ART}/{eid}/{drop}/artifacts/f.bin").status_code == 200
    # --yes: the deleted run's data and artifacts go; the live run stays whole
    out = _gc(srv, "--older-than", "1s", "--yes")
    assert out.returncode == 0, out.stderr
    assert f"removing run {drop}" in out.stdout and "freed:" in out.stdout
    r = requests.get(srv.url + API + "/runs/get", params={"run_id": drop})
    assert r.status_code == 404
    assert requests.get(f"{srv.url}{ART}/{eid}/{drop}/artifacts/f.bin").status_code == 404
    assert rest.get_run(keep)["data"]["params"] == [{"key": "p", "value": "1"}]
    assert requests.get(f"{srv.url}{ART}/{eid}/{keep}/artifacts/f.bin").content == b"x" * 1000
    with sqlite3.connect(srv.db_path) as db:
        assert db.execute("SELECT count(*) FROM metric_chunks WHERE run_uuid = ?", (drop,)).fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM artifacts WHERE path LIKE ?", (f"%{drop}%",)).fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM artifacts WHERE path LIKE ?", (f"%{keep}%",)).fetchone()[0] == 1
        purges = db.execute("SELECT actor FROM audit_log WHERE action = 'runs.purge'").fetchall()
    assert purges == [("trellis gc",)]
    assert srv.audit_verify().returncode == 0
    assert _gc(srv, "--older-than", "soon").returncode == 2


def test_gc_keeps_runs_that_model_versions_use(make_server):
    """A deleted run whose artifacts (or lineage) a registered model version
    uses is never purged; once the version is deleted, gc may remove it."""
    srv = make_server("gc-mv")
    rest = Rest(srv.url)
    eid = rest.create_experiment(uniq("gcmv"))
    used, linked = rest.create_run(eid), rest.create_run(eid)
    for rid in (used, linked):
        assert requests.put(f"{srv.url}{ART}/{eid}/{rid}/artifacts/model/MLmodel",
                            data=b"flavors: {}\n").status_code == 200
    name = uniq("gcm")
    rest.ok("POST", API + "/registered-models/create", {"name": name})
    # version 1 stored in the run's artifacts; version 2 made from the run (run_id) only
    rest.ok("POST", API + "/model-versions/create",
            {"name": name, "source": f"mlflow-artifacts:/{eid}/{used}/artifacts/model"})
    rest.ok("POST", API + "/model-versions/create",
            {"name": name, "source": f"runs:/{linked}/model", "run_id": linked})
    for rid in (used, linked):
        rest.ok("POST", API + "/runs/delete", {"run_id": rid})
    time.sleep(1.1)
    out = _gc(srv, "--older-than", "1s", "--yes")
    assert out.returncode == 0, out.stderr
    assert f"keeping run {used}: model version {name}/1" in out.stdout
    assert f"keeping run {linked}: model version {name}/2" in out.stdout
    assert "freed: 0 deleted runs" in out.stdout
    for rid in (used, linked):
        assert rest.get_run(rid)["info"]["lifecycle_stage"] == "deleted"
        assert requests.get(f"{srv.url}{ART}/{eid}/{rid}/artifacts/model/MLmodel").status_code == 200
    # the model still downloads
    uri = rest.ok("GET", API + "/model-versions/get-download-uri", params={"name": name, "version": "1"})
    assert uri["artifact_uri"] == f"mlflow-artifacts:/{eid}/{used}/artifacts/model"
    # deleting version 1 releases its run only
    rest.ok("DELETE", API + "/model-versions/delete", {"name": name, "version": "1"})
    out = _gc(srv, "--older-than", "1s", "--yes")
    assert out.returncode == 0, out.stderr
    assert f"removing run {used}" in out.stdout and f"keeping run {linked}" in out.stdout
    assert requests.get(f"{srv.url}{ART}/{eid}/{used}/artifacts/model/MLmodel").status_code == 404
    assert srv.audit_verify().returncode == 0


def test_gc_removes_stale_unfinished_uploads(make_server):
    """Temporary files a crash left (the server's own start removes them too); gc may run beside a
    live server, so only those older than an hour go: an upload in progress is never touched."""
    import os

    srv = make_server("gc-uploads")
    folder = srv.artifacts_dir / "1" / "run" / "artifacts"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".trellis-upload-stale", folder / ".trellis-upload-fresh"
    stale.write_bytes(b"s" * 300)
    fresh.write_bytes(b"f" * 10)
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    out = _gc(srv)
    assert out.returncode == 0, out.stderr
    assert "would remove 1 unfinished uploads (300 bytes)" in out.stdout
    assert stale.exists()
    out = _gc(srv, "--yes")
    assert out.returncode == 0, out.stderr
    assert "removed 1 unfinished uploads (300 bytes)" in out.stdout
    assert not stale.exists() and fresh.exists()
    assert requests.get(srv.url + ART, params={"path": "1/run/artifacts"}).json() == {}
