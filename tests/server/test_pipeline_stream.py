"""The multiplexed stream /api/2.0/trellis/pipelines/stream: a run's task and
run events and one task's live log lines on one Server-Sent Events connection,
resumable with Last-Event-ID, ending with the run."""

import json
import signal
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pipeline_runs import start_server  # noqa: E402
from test_trellis_pipeline_api import TALK, api, submit, wait_done  # noqa: E402


def read_events(resp, stop=None, limit=10000):
    """Yields (id, event, data) of an SSE response until STOP(ev) or its end."""
    ev = {"id": None, "event": "message", "data": []}
    out = []
    for raw in resp.iter_lines():
        line = raw.decode()
        if line == "":
            if ev["data"]:
                e = (ev["id"], ev["event"], json.loads("\n".join(ev["data"])))
                out.append(e)
                if (stop and stop(e)) or len(out) >= limit:
                    return out
            ev = {"id": ev["id"], "event": "message", "data": []}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            ev["data"].append(value)
        elif field in ("id", "event"):
            ev[field] = value
    return out


def wait_task_started(srv, rid, path, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = requests.get(api(srv, "runs/get"), params={"run_id": rid}, timeout=30).json()["run"]
        if r["tasks"].get(path, {}).get("attempts"):
            return
        time.sleep(0.05)
    raise AssertionError("the task did not start")


def test_events_and_log_lines_interleave_and_the_stream_ends_with_the_run(server):
    start = requests.get(api(server, "runs/events"), params={"after": 0}).json()["last_seq"]
    rid = submit(server, TALK)
    with requests.get(api(server, "stream"),
                      params={"run_id": rid, "after": start, "log_task": "talk"},
                      stream=True, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        got = read_events(r)  # to the end: the server closes it
    kinds = [e[1] for e in got]
    assert kinds[-1] == "end" and got[-1][2]["state"] == "SUCCEEDED"
    tasks = [(e[2]["path"], e[2]["state"]) for e in got if e[1] == "task"]
    assert tasks == [("talk", "RUNNING"), ("talk", "SUCCEEDED"),
                     ("after", "RUNNING"), ("after", "SUCCEEDED")]
    lines = [e[2]["line"] for e in got if e[1] == "log"]
    for i in range(1, 7):
        assert any(f"line {i}" in x for x in lines), lines
    assert all(e[2]["path"] == "talk" and e[2]["attempt"] == 1 for e in got if e[1] == "log")
    # interleaved: log lines come after talk's RUNNING and before its SUCCEEDED
    idx_running = kinds.index("task")
    idx_log = kinds.index("log")
    idx_succ = next(i for i, e in enumerate(got) if e[1] == "task" and e[2]["state"] == "SUCCEEDED")
    assert idx_running < idx_log < idx_succ
    assert "log_end" in kinds and kinds.index("log_end") > idx_log
    # every event has an id SEQ:OFFSET, never going back
    pos = [tuple(int(x) for x in e[0].split(":")) for e in got]
    assert pos == sorted(pos)
    assert all(e[1] != "run" or e[2]["run_id"] == rid for e in got)


def test_a_reconnect_resumes_after_last_event_id(server):
    start = requests.get(api(server, "runs/events"), params={"after": 0}).json()["last_seq"]
    rid = submit(server, TALK)
    wait_task_started(server, rid, "talk")
    params = {"run_id": rid, "after": start, "log_task": "talk", "log_attempt": 1}
    with requests.get(api(server, "stream"), params=params, stream=True, timeout=60) as r:
        first = read_events(r, stop=lambda e: e[1] == "log" and "line 2" in e[2]["line"])
    last_id = first[-1][0]
    with requests.get(api(server, "stream"), params=params, headers={"Last-Event-ID": last_id},
                      stream=True, timeout=60) as r:
        rest = read_events(r)
    lines = [e[2]["line"] for e in first + rest if e[1] == "log"]
    talk = [x for x in lines if "line " in x and "stdout" in x]
    # each line once: nothing replayed, nothing lost
    assert [x.split("line ")[1].strip() for x in talk] == ["1", "2", "3", "4", "5", "6"], lines
    states = [(e[2]["path"], e[2]["state"]) for e in first + rest if e[1] == "task"]
    assert states.count(("talk", "RUNNING")) == 1
    assert rest[-1][1] == "end"
    # a stream opened after the run ended says so at once
    wait_done(server, rid)
    last = requests.get(api(server, "runs/events"), params={"run_id": rid}).json()["last_seq"]
    t0 = time.time()
    with requests.get(api(server, "stream"), params={"run_id": rid, "after": last},
                      stream=True, timeout=30) as r:
        again = read_events(r)
    assert [e[1] for e in again] == ["end"] and again[0][2]["state"] == "SUCCEEDED"
    assert time.time() - t0 < 5


def test_the_feed_of_every_run_carries_run_states(server):
    start = requests.get(api(server, "runs/events"), params={"after": 0}).json()["last_seq"]
    rid = submit(server, "name: one\nsteps:\n  a:\n    run: [\"true\"]\n")
    with requests.get(api(server, "stream"), params={"after": start}, stream=True,
                      timeout=60) as r:
        got = read_events(r, stop=lambda e: e[1] == "run" and e[2]["state"] == "SUCCEEDED"
                          and e[2]["run_id"] == rid)
    assert {e[1] for e in got} == {"run"}
    assert [e[2]["state"] for e in got if e[2]["run_id"] == rid] == ["PENDING", "RUNNING",
                                                                       "SUCCEEDED"]
    # without `after`: from now on, none of the runs before
    with requests.get(api(server, "stream"), stream=True, timeout=60) as r:
        rid2 = submit(server, "name: two\nsteps:\n  a:\n    run: [\"true\"]\n")
        got = read_events(r, stop=lambda e: e[1] == "run" and e[2]["state"] == "SUCCEEDED"
                          and e[2]["run_id"] == rid2)
    assert {e[2]["run_id"] for e in got} == {rid2}


def test_bad_parameters_get_400_in_mlflows_shape(server):
    for params, headers in [({"after": "abc"}, {}), ({"run_id": "x", "log_attempt": "-1"}, {}),
                            ({"log_task": "a"}, {}), ({"run_id": "x", "log_offset": "1e3"}, {}),
                            ({}, {"Last-Event-ID": "12:zz"})]:
        r = requests.get(api(server, "stream"), params=params, headers=headers, timeout=10)
        assert r.status_code == 400, (params, r.text)
        body = r.json()
        assert body["error_code"] == "INVALID_PARAMETER_VALUE" and body["message"]
    r = requests.get(api(server, "stream"), params={"run_id": "nope"}, timeout=10)
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert requests.post(api(server, "stream"), json={}, timeout=10).status_code == 405


def test_the_stream_ends_when_the_server_stops():
    srv = start_server()
    try:
        rid = submit(srv, TALK)
        s = requests.get(api(srv, "stream"), params={"run_id": rid, "log_task": "talk"},
                         stream=True, timeout=30)
        assert s.status_code == 200
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        read_events(s)  # returns when the server closes it
        assert time.time() - t0 < 15
        assert srv.proc.wait(timeout=15) == 0
        s.close()
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
