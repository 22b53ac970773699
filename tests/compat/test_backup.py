"""`trellis backup DEST`: a consistent copy of the store and the artifacts, taken while the
server keeps writing, on which a new server runs with everything that was there."""

from __future__ import annotations

import subprocess
import threading

import requests

from helpers import API, Rest, uniq
from trellis_proc import TrellisServer, trellis_bin

ART = "/api/2.0/mlflow-artifacts/artifacts"


def test_backup_while_writing_and_restore(make_server, tmp_path):
    srv = make_server("src")
    rest = Rest(srv.url)
    eid = rest.create_experiment(uniq("backup"))
    rid = rest.create_run(eid)
    rest.ok("POST", API + "/runs/log-batch",
            {"run_id": rid, "params": [{"key": "lr", "value": "0.1"}],
             "metrics": [{"key": "m", "value": float(i), "timestamp": 1, "step": i} for i in range(100)]})
    assert requests.put(f"{srv.url}{ART}/{eid}/{rid}/artifacts/model/weights.bin", data=b"w" * 5000).status_code == 200

    stop = threading.Event()

    def keep_writing():
        s = requests.Session()
        step = 1000
        while not stop.is_set():
            s.post(srv.url + API + "/runs/log-metric",
                   json={"run_id": rid, "key": "live", "value": 1.0, "timestamp": 1, "step": step})
            step += 1

    t = threading.Thread(target=keep_writing)
    t.start()
    dest = tmp_path / "bk"
    try:
        out = subprocess.run([trellis_bin(), "backup", str(dest), "--backend-store-uri", srv.backend_store_uri,
                              "--artifacts-destination", str(srv.artifacts_dir)],
                             capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        t.join()
    assert out.returncode == 0, out.stderr
    assert "1 artifact files" in out.stdout or "artifact files" in out.stdout
    # a second backup into the same folder is refused rather than mixed in
    again = subprocess.run([trellis_bin(), "backup", str(dest), "--backend-store-uri", srv.backend_store_uri,
                            "--artifacts-destination", str(srv.artifacts_dir)], capture_output=True, text=True)
    assert again.returncode != 0

    restored = TrellisServer(tmp_path / "restored")
    restored.db_path = dest / "trellis.db"
    restored.artifacts_dir = dest / "artifacts"
    restored.start()
    try:
        r = Rest(restored.url)
        run = r.get_run(rid)
        assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"lr": "0.1"}
        hist = r.ok("GET", API + "/metrics/get-history", params={"run_id": rid, "metric_key": "m"})
        assert [m["step"] for m in hist["metrics"]] == list(range(100))
        got = requests.get(f"{restored.url}{ART}/{eid}/{rid}/artifacts/model/weights.bin")
        assert got.status_code == 200 and got.content == b"w" * 5000
        assert restored.audit_verify().returncode == 0
    finally:
        restored.stop()
