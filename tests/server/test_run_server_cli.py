"""`trellis run --server URL FILE`: the pipeline is checked locally, submitted
to a running `trellis server` through /api/2.0/trellis/pipelines, and followed
through the run's event stream into the same progress view and summary as a
local run; Ctrl-C stops the run on the server."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pipeline_runs import start_server  # noqa: E402

TRELLIS = os.environ.get("TRELLIS_BIN", str(Path(__file__).resolve().parents[2] / "build/trellis"))

TWO_STEPS = """name: greet
params:
  who: {type: string}
  times: {type: int, default: 2}
steps:
  hello:
    run: ["sh", "-c", "echo hello {{ params.who }} {{ params.times }}"]
    cache: false
  bye:
    needs: [hello]
    run: ["true"]
    cache: false
"""

FAILING = """name: broken
steps:
  boom:
    run: ["sh", "-c", "echo going down; exit 3"]
    cache: false
"""

SLEEPY = """name: sleepy
steps:
  nap:
    run: ["sleep", "60"]
    cache: false
"""

INVALID = """name: bad
steps:
  a:
    run: ["true"]
    bogus: 1
"""


@pytest.fixture(scope="module")
def server():
    srv = start_server()
    yield srv
    if srv.is_running():
        srv.stop()


def write(tmp_path, text, name="p.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def trellis_run(*args, timeout=120):
    return subprocess.run([TRELLIS, "run", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def server_run(srv, rid):
    r = requests.get(f"{srv.url}/api/2.0/trellis/pipelines/runs/get", params={"run_id": rid},
                     timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["run"]


def run_count(srv):
    r = requests.get(f"{srv.url}/apis/v2beta1/runs", params={"page_size": 1000}, timeout=30)
    assert r.status_code == 200, r.text
    return len(r.json().get("runs", []))


def test_two_steps_with_a_parameter_succeed(server, tmp_path):
    f = write(tmp_path, TWO_STEPS)
    p = trellis_run("--server", server.url, f, "-p", "who=world", "-p", "times=3",
                    "--run-name", "cli-greet")
    assert p.returncode == 0, p.stderr
    assert f"of greet on {server.url}" in p.stderr
    # the progress lines (stderr is not a terminal) and the summary
    assert "SUCCEEDED  hello" in p.stderr and "SUCCEEDED  bye" in p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("run ") and lines[0].endswith(": SUCCEEDED")
    assert any(line.split()[:2] == ["SUCCEEDED", "hello"] for line in lines[1:])
    assert any(line.split()[:2] == ["SUCCEEDED", "bye"] for line in lines[1:])
    rid = lines[0].split()[1].rstrip(":")
    run = server_run(server, rid)
    assert run["state"] == "SUCCEEDED"
    assert run["params"]["times"] == 3 and run["params"]["who"] == "world"
    assert run["display_name"] == "cli-greet"


def test_json_summary_names_the_run_and_its_tasks(server, tmp_path):
    f = write(tmp_path, TWO_STEPS)
    p = trellis_run("--server", server.url + "/", f, "-p", "who=json", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["state"] == "SUCCEEDED"
    assert {t["path"]: t["state"] for t in out["tasks"]} == {"hello": "SUCCEEDED",
                                                             "bye": "SUCCEEDED"}
    assert [t["path"] for t in out["tasks"]] == ["hello", "bye"]  # start order
    assert all(t["attempts"] == 1 for t in out["tasks"])
    run = server_run(server, out["run_id"])
    assert run["state"] == "SUCCEEDED"
    assert set(run["tasks"]) == {"hello", "bye"}


def test_a_failing_step_exits_1_with_its_message(server, tmp_path):
    f = write(tmp_path, FAILING)
    p = trellis_run("--server", server.url, f)
    assert p.returncode == 1, p.stderr
    assert "FAILED" in p.stdout.splitlines()[0]
    assert "exit code 3" in p.stdout + p.stderr


def test_an_invalid_pipeline_is_not_submitted(server, tmp_path):
    before = run_count(server)
    f = write(tmp_path, INVALID)
    p = trellis_run("--server", server.url, f)
    assert p.returncode == 2
    assert f"{f}:5:5" in p.stderr and "bogus" in p.stderr
    assert run_count(server) == before


def test_a_parameter_of_the_wrong_type_is_refused(server, tmp_path):
    before = run_count(server)
    f = write(tmp_path, TWO_STEPS)
    p = trellis_run("--server", server.url, f, "-p", "who=x", "-p", "times=many")
    assert p.returncode == 2
    assert "parameter 'times' must be" in p.stderr
    p = trellis_run("--server", server.url, f, "-p", "nope=1")
    assert p.returncode == 2 and "no parameter 'nope'" in p.stderr
    assert run_count(server) == before


def test_local_only_options_are_refused(server, tmp_path):
    f = write(tmp_path, TWO_STEPS)
    p = trellis_run("--server", server.url, f, "--parallelism", "2")
    assert p.returncode == 2 and "--parallelism" in p.stderr
    p = trellis_run(f, "--run-name", "x")
    assert p.returncode == 2 and "--server" in p.stderr


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    f = write(tmp_path, TWO_STEPS)
    p = trellis_run("--server", "http://127.0.0.1:9", f, "-p", "who=x", timeout=60)
    assert p.returncode == 2
    assert "cannot reach the server at http://127.0.0.1:9" in p.stderr


def test_ctrl_c_cancels_the_run_on_the_server(server, tmp_path):
    f = write(tmp_path, SLEEPY)
    proc = subprocess.Popen([TRELLIS, "run", "--server", server.url, f], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        # the run id is on the first line of stderr; then wait for the step to run
        first = proc.stderr.readline()
        assert first.startswith("run "), first
        rid = first.split()[1]
        deadline = time.time() + 60
        while time.time() < deadline:
            t = server_run(server, rid)["tasks"].get("nap")
            if t and t["state"] == "RUNNING":
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the step did not start")
        proc.send_signal(signal.SIGINT)
        start = time.time()
        out, err = proc.communicate(timeout=15)
        assert time.time() - start < 15
        assert proc.returncode == 1, err
        assert "stopping run" in err
        assert server_run(server, rid)["state"] == "CANCELED"
        assert "CANCELED" in out.splitlines()[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class FakeServer:
    """A server answering the submit, then MODE for everything else: what a
    broken or hostile server might send."""

    def __init__(self, mode):
        import http.server
        import threading

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, body, status=200):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.mode == "bad-id":
                    self.answer(b'{"run_id": "../../x?y"}')
                else:
                    self.answer(b'{"run_id": "abc123"}')

            def do_GET(self):
                if outer.mode == "garbage":
                    self.answer(b"\x00{not json")
                elif outer.mode == "wrong-shapes":
                    self.answer(b'{"events": [1, "x", {"kind": 5}, {"kind": "task", "path": 7},'
                                b' {"kind": "task", "path": "a\\u001b[2J", "state": "RUNNING"},'
                                b' {"kind": "gap"}], "last_seq": "z"}'
                                if "events" in self.path else
                                b'{"run": {"state": 3, "tasks": []}}')
                elif outer.mode == "huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    chunk = b" " * (1 << 20)
                    try:
                        for _ in range(80):
                            self.wfile.write(chunk)
                    except OSError:
                        pass
                else:
                    self.answer(b'{"error_code": "INTERNAL_ERROR", "message": "no"}', 500)

        self.mode = mode
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("mode", ["garbage", "wrong-shapes", "huge", "error", "bad-id"])
def test_malformed_answers_are_errors_not_crashes(tmp_path, mode):
    fake = FakeServer(mode)
    try:
        f = write(tmp_path, TWO_STEPS)
        p = trellis_run("--server", fake.url, f, "-p", "who=x", timeout=60)
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert "\x1b[2J" not in p.stderr
        assert "trellis run:" in p.stderr
    finally:
        fake.close()
