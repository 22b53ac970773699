"""Fixtures for the client-compatibility suite.

The suite talks to a real `trellis server` started from $TRELLIS_BIN. There is no
fallback: without TRELLIS_BIN the session aborts (pytest usage error), because
skipping everything would make a broken build look green.

Fixtures:
- `server`: one server for the whole session (fresh tmp db + artifact folder).
  If a test kills it (a crash), the test is failed in teardown with the server's
  stderr and the server is restarted on the same db for the tests that follow.
- `rest`: a helpers.Rest bound to `server`.
- `mlflow_client`: configures the official mlflow client (tracking URI, no
  telemetry, no retries, 10 s timeout) and returns an MlflowClient; ends any
  run left active and forgets the active experiment afterwards.
- `make_server`: a factory for private servers (crash/restart tests, flags).
"""

from __future__ import annotations

import os

import pytest

from helpers import Rest
from trellis_proc import TrellisServer, trellis_bin

ALLOWED_ORIGIN = "http://allowed.example"


def pytest_configure(config):
    try:
        trellis_bin()
    except RuntimeError as e:
        raise pytest.UsageError(str(e))


def pytest_report_header(config):
    lines = [f"TRELLIS_BIN={os.environ.get('TRELLIS_BIN')}"]
    try:
        import mlflow

        lines.append(f"mlflow client {mlflow.__version__}")
    except Exception as e:  # pragma: no cover - reported, not hidden
        lines.append(f"mlflow import failed: {e!r}")
    return lines


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = TrellisServer(tmp_path_factory.mktemp("trellis-session"), cors_allowed_origins=[ALLOWED_ORIGIN])
    srv.start()
    yield srv
    if srv.is_running():
        srv.stop()  # asserts exit status 0 after SIGTERM


@pytest.fixture(autouse=True)
def _server_survives(request):
    """Fail the test during which the shared server died, then bring it back."""
    yield
    if "server" not in request.fixturenames:
        return
    srv = request.getfixturevalue("server")
    if not srv.is_running():
        rc = srv.proc.returncode if srv.proc else None
        tail = srv.stderr_text()
        srv.start()
        pytest.fail(f"trellis server died during this test (exit status {rc}); stderr tail:\n{tail}")


@pytest.fixture
def rest(server) -> Rest:
    return Rest(server.url)


@pytest.fixture
def mlflow_client(server, monkeypatch):
    import mlflow
    import mlflow.tracking.fluent as fluent
    from mlflow.tracking import MlflowClient

    env = {
        "MLFLOW_TRACKING_URI": server.url,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for k in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    mlflow.set_tracking_uri(server.url)
    fluent._active_experiment_id = None
    yield MlflowClient(tracking_uri=server.url)
    # Leave no active run or experiment behind for the next test.
    for _ in range(10):
        if not mlflow.active_run():
            break
        try:
            mlflow.end_run()
        except Exception:
            # If the server cannot end it, drop it from the client's stack.
            try:
                fluent._active_run_stack.get().pop()
            except Exception:
                break
    fluent._active_experiment_id = None


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(**TrellisServer kwargs) -> started private server."""
    made = []

    def _make(name: str = "srv", start: bool = True, **kw) -> TrellisServer:
        srv = TrellisServer(tmp_path / f"{name}-{len(made)}", **kw)
        made.append(srv)
        return srv.start() if start else srv

    yield _make
    for srv in made:
        srv.kill9()
