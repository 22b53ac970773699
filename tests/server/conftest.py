"""Fixtures for the KFP API tests: one real `trellis server` ($TRELLIS_BIN) per
test module on a free port with a fresh store and artifact folder, and a
kfp.Client pointed at it.

The server process logic is shared with the compat suite (tests/compat/
trellis_proc.py). HOME is pointed at a temporary folder so that no
~/.config/kfp/context.json of the user changes what kfp.Client sends, and so
that the tests leave none behind.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_helpers import cleanup, start_server  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    os.environ.pop("KF_PIPELINES_ENDPOINT", None)
    yield home
    if old is not None:
        os.environ["HOME"] = old
    cleanup()
    assert not (home / ".config" / "kfp" / "context.json").exists()


@pytest.fixture(scope="module")
def server():
    """A server per module whose pipeline steps can run (server_helpers.py)."""
    srv = start_server()
    yield srv
    if srv.is_running():
        srv.stop()


@pytest.fixture(scope="module")
def client(server):
    import kfp

    return kfp.Client(host=server.url)
