"""Helpers shared by the server tests: a real `trellis server` whose pipeline
steps can run (its folders reachable by the unprivileged step user, the kfp
venv's Python for lightweight components), and folders steps can write to."""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compat"))
from trellis_proc import TrellisServer  # noqa: E402

PYTHON = str(Path(sys.executable))


def shared_dir(prefix):
    """A folder the step user (nobody) can reach and write: steps count their
    side effects there."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o777)
    return d


def start_server(*extra):
    work = Path(tempfile.mkdtemp(prefix="trellis-srv-", dir="/tmp"))
    work.chmod(0o755)
    srv = TrellisServer(work, extra_args=["--step-python", PYTHON, *extra])
    srv.artifacts_dir.chmod(0o755)
    srv.start()
    return srv
