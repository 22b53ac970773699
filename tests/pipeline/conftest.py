# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the end-to-end pipeline tests.

There is no fallback: without TRELLIS_BIN the session aborts (pytest usage error),
because skipping everything would make a broken build look green.

- `trellis`: a pipeline_helpers.Trellis whose runs go to a private artifact folder.
- `work`: a fresh folder every user can traverse (steps run as `nobody`).
- `compiled`: compiles a kfp pipeline function into the test's folder.
- `local_root`: a fresh pipeline_root for kfp.local.

TRELLIS_KEEP=1 keeps the session's folders (printed in the header) for a look after.
"""

from __future__ import annotations

import os

import pytest

from pipeline_helpers import KFP_PYTHON, Trellis, compile_pipeline, open_dir, rmtree, trellis_bin


def pytest_configure(config):
    try:
        trellis_bin()
    except RuntimeError as e:
        raise pytest.UsageError(str(e))
    if not os.access(KFP_PYTHON, os.X_OK):
        raise pytest.UsageError(f"{KFP_PYTHON} is missing: run scripts/install-deps.sh --test")


def pytest_report_header(config):
    import kfp

    return [f"TRELLIS_BIN={os.environ.get('TRELLIS_BIN')}", f"kfp {kfp.__version__} ({KFP_PYTHON})"]


@pytest.fixture(scope="session")
def session_dir():
    d = open_dir("trellis-ptests-")
    yield d
    if os.environ.get("TRELLIS_KEEP"):
        print(f"\nkept {d}")
    else:
        rmtree(d)


@pytest.fixture
def work(session_dir, request):
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)[:80]
    d = os.path.join(session_dir, name)
    os.makedirs(d)
    os.chmod(d, 0o755)
    return d


@pytest.fixture
def trellis(work) -> Trellis:
    dest = os.path.join(work, "artifacts")
    os.makedirs(dest)
    return Trellis(dest)


@pytest.fixture
def compiled(work):
    def compile_(func, name=None):
        return compile_pipeline(func, os.path.join(work, (name or func.name) + ".yaml"))

    return compile_


@pytest.fixture
def local_root(work):
    d = os.path.join(work, "kfp-local")
    os.makedirs(d)
    return d
