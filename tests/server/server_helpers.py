"""Helpers shared by the server tests: a real `trellis server` whose pipeline
steps can run (its folders reachable by the unprivileged step user, the kfp
venv's Python for lightweight components), and folders steps can write to."""

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))
from trellis_proc import TrellisServer  # noqa: E402

PYTHON = str(Path(sys.executable))

# what this session made, removed by cleanup() at its end (conftest.py)
_servers = []
_folders = []


def shared_dir(prefix):
    """A folder the step user (nobody) can reach and write: steps count their
    side effects there."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o777)
    _folders.append(d)
    return d


def start_server(*extra):
    work = Path(tempfile.mkdtemp(prefix="trellis-srv-", dir="/tmp"))
    work.chmod(0o755)
    srv = TrellisServer(work, extra_args=["--step-python", PYTHON, *extra])
    srv.artifacts_dir.chmod(0o755)
    _folders.append(work)
    _servers.append(srv)
    srv.start()
    return srv


def cleanup():
    """Stops the servers still running and removes every folder made here."""
    for srv in _servers:
        if srv.is_running():
            srv.stop()
    for d in _folders:
        shutil.rmtree(d, ignore_errors=True)
    _servers.clear()
    _folders.clear()
