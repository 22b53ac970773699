"""Trellis' own pipeline API (/api/2.0/trellis/pipelines/...): validation with
line:column problems, runs of Trellis YAML, the run event stream and task logs,
by offset and streamed live (Server-Sent Events) while the task runs."""

import json
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pipeline_runs import start_server  # noqa: E402

TALK = """name: talk
steps:
  talk:
    run: ["sh", "-c", "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.5; done"]
    cache: false
  after:
    needs: [talk]
    run: ["true"]
"""


def api(srv, path):
    return f"{srv.url}/api/2.0/trellis/pipelines/{path}"


def submit(srv, text, **extra):
    r = requests.post(api(srv, "runs"), json={"pipeline_yaml": text, **extra}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["run_id"]


def run_state(srv, rid):
    r = requests.get(api(srv, "runs/get"), params={"run_id": rid}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["run"]


def wait_done(srv, rid, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = run_state(srv, rid)
        if run["state"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            return run
        time.sleep(0.2)
    raise AssertionError("run did not finish")


def test_validate_reports_every_problem_with_its_position(server):
    r = requests.post(api(server, "validate"), json={"pipeline_yaml": TALK})
    assert r.json() == {"valid": True, "problems": [], "name": "talk", "format": "trellis"}
    bad = "name: x\nsteps:\n  a:\n    run: [\"true\"]\n    bogus: 1\n  b:\n    needs: [nope]\n    run: [\"true\"]\n"
    out = requests.post(api(server, "validate"), json={"pipeline_yaml": bad}).json()
    assert out["valid"] is False
    msgs = {(p["line"], p["message"]) for p in out["problems"] if "line" in p}
    assert any(line == 5 and "bogus" in m for line, m in msgs)
    assert any(line == 7 and "nope" in m for line, m in msgs)
    r = requests.post(api(server, "validate"), json={})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_log_lines_arrive_while_the_task_runs(server):
    rid = submit(server, TALK)
    deadline = time.time() + 30
    while time.time() < deadline:  # wait for the attempt to exist
        t = run_state(server, rid)["tasks"].get("talk")
        if t and t.get("attempt_dir"):
            break
        time.sleep(0.1)
    got = []
    with requests.get(api(server, "tasks/log"), params={"run_id": rid, "path": "talk"},
                      headers={"Accept": "text/event-stream"}, stream=True, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        for raw in r.iter_lines():
            line = raw.decode()
            if not line.startswith("data: "):
                continue
            got.append(line)
            if "line 2" in line:
                # the task is still running while its lines arrive
                assert run_state(server, rid)["tasks"]["talk"]["state"] == "RUNNING"
    text = "\n".join(got)
    for i in range(1, 7):
        assert f"stdout line {i}" in text
    assert "exited: exit code 0" in text  # the stream ends with the attempt
    assert wait_done(server, rid)["state"] == "SUCCEEDED"
    # the same log by offset, in two polls
    first = requests.get(api(server, "tasks/log"),
                         params={"run_id": rid, "path": "talk", "max_bytes": 40}).json()
    assert len(first["data"]) == 40 and first["offset"] == 40 and first["done"] is False
    rest = requests.get(api(server, "tasks/log"),
                        params={"run_id": rid, "path": "talk", "offset": 40,
                                "max_bytes": 1 << 20}).json()
    assert rest["done"] is True
    assert "line 6" in first["data"] + rest["data"]


def test_event_stream_shows_every_state_change(server):
    seen = []
    # from now on: earlier runs' events are before this sequence number
    start = requests.get(api(server, "runs/events"), params={"after": 0}).json()["last_seq"]

    def listen():
        with requests.get(api(server, "runs/events"), params={"stream": "true", "after": start},
                          stream=True, timeout=60) as r:
            for raw in r.iter_lines():
                line = raw.decode()
                if line.startswith("data: "):
                    e = json.loads(line[6:])
                    seen.append(e)
                    if e["kind"] == "run" and e["state"] == "SUCCEEDED":
                        return

    th = threading.Thread(target=listen, daemon=True)
    th.start()
    time.sleep(0.5)
    rid = submit(server, "name: two\nsteps:\n  a:\n    run: [\"true\"]\n  b:\n    needs: [a]\n    run: [\"true\"]\n")
    th.join(timeout=60)
    mine = [(e["kind"], e.get("path"), e["state"]) for e in seen if e["run_id"] == rid]
    assert mine == [("run", None, "PENDING"), ("run", None, "RUNNING"),
                    ("task", "a", "RUNNING"), ("task", "a", "SUCCEEDED"),
                    ("task", "b", "RUNNING"), ("task", "b", "SUCCEEDED"),
                    ("run", None, "SUCCEEDED")]
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs)
    # the same as a poll, from a sequence number on
    poll = requests.get(api(server, "runs/events"),
                        params={"run_id": rid, "after": 0}).json()
    assert [e["state"] for e in poll["events"]][-1] == "SUCCEEDED"
    later = requests.get(api(server, "runs/events"),
                         params={"run_id": rid, "after": poll["last_seq"], "wait_ms": 200}).json()
    assert later["events"] == []


def test_bad_requests(server):
    assert requests.get(api(server, "runs/get"), params={"run_id": "nope"}).status_code == 404
    r = requests.get(api(server, "tasks/log"), params={"run_id": "nope", "path": "a"})
    assert r.status_code == 404
    assert requests.get(api(server, "tasks/log"), params={"run_id": "x"}).status_code == 400
    r = requests.get(api(server, "tasks/log"), params={"run_id": "x", "path": "a", "offset": "-1"})
    assert r.status_code == 400
    r = requests.get(api(server, "runs/events"), params={"after": "abc"})
    assert r.status_code == 400
    r = requests.post(api(server, "runs"), json={"pipeline_yaml": "steps: [", "run_name": "x"})
    assert r.status_code == 400
    r = requests.post(api(server, "runs"), json={"pipeline_yaml": TALK, "params": [1]})
    assert r.status_code == 400
    assert requests.get(api(server, "nothing-here")).status_code == 404
    assert requests.delete(api(server, "runs")).status_code == 405


def test_server_stops_promptly_with_streams_open():
    srv = start_server()
    stream = requests.get(api(srv, "runs/events"), params={"stream": "true"}, stream=True,
                          timeout=30)
    assert stream.status_code == 200
    t0 = time.time()
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(timeout=10) == 0
    assert time.time() - t0 < 10
    stream.close()
