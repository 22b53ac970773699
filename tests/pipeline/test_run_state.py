"""`trellis run` and the store: the task cache (second run all cached, a changed input re-runs
only what depends on it, --no-cache, `trellis cache purge`) and resume after kill -9 (no task
that succeeded runs again, proved by side effects counted in files)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRELLIS = os.environ.get("TRELLIS_BIN", str(REPO / "build" / "trellis"))

# Each step appends its name to a shared log the unprivileged step user can write, so the test
# counts how often each one really ran.
CHAIN = """
name: chain
params:
  n: 2
  label: x
steps:
  count:
    run: sh -c 'echo count >> {log}/ran; echo $(( $0 * 10 )) > "$1"' "{{{{ params.n }}}}" "{{{{ outputs.total }}}}"
    outputs:
      total: int
  tag:
    run: sh -c 'echo tag >> {log}/ran; printf "%s" "$0" > "$1"' "{{{{ params.label }}}}" "{{{{ outputs.name }}}}"
    outputs:
      name: string
  combine:
    run: sh -c 'echo combine >> {log}/ran; sleep {sleep}; echo "$0-$1" > "$2"' "{{{{ steps.count.outputs.total }}}}" "{{{{ steps.tag.outputs.name }}}}" "{{{{ outputs.both }}}}"
    outputs:
      both: string
  last:
    needs: [combine]
    run: sh -c 'echo last >> {log}/ran'
"""


@pytest.fixture
def tmp_path():
    """Steps run as an unprivileged user when the tests run as root: their folders must be
    reachable by it, which pytest's own (0700) temporary folders are not."""
    d = Path(tempfile.mkdtemp(prefix="trellis-ptest-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def env(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    log.chmod(0o777)
    (log / "ran").touch()
    (log / "ran").chmod(0o666)

    class Env:
        store = f"sqlite:///{tmp_path}/t.db"
        db = tmp_path / "t.db"
        art = tmp_path / "art"

        def pipeline(self, sleep=0):
            p = tmp_path / f"chain-{sleep}.yaml"
            p.write_text(CHAIN.format(log=log, sleep=sleep))
            return p

        def ran(self):
            return (log / "ran").read_text().split()

        def reset(self):
            (log / "ran").write_text("")

        def run(self, *args, check=True):
            cmd = [TRELLIS, "run", *map(str, args), "--json", "--backend-store-uri", self.store,
                   "--artifacts-destination", str(self.art)]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if check:
                assert out.returncode == 0, out.stderr
            return out

    return Env()


def _summary(out):
    s = json.loads(out.stdout)
    return s, {t["path"]: t for t in s["tasks"]}


def test_second_run_is_all_cached_and_a_changed_input_reruns_its_dependents(env):
    p = env.pipeline()
    s, tasks = _summary(env.run(p))
    assert s["state"] == "SUCCEEDED" and not any(t["cached"] for t in tasks.values())
    assert tasks["combine"]["outputs"]["parameters"]["both"].strip() == "20-x"
    assert sorted(env.ran()) == ["combine", "count", "last", "tag"]

    env.reset()
    s, tasks = _summary(env.run(p))
    assert all(t["cached"] for t in tasks.values()), tasks
    assert env.ran() == []  # nothing executed
    assert tasks["combine"]["outputs"]["parameters"]["both"].strip() == "20-x"

    # a new label: tag and what reads its output run again; count stays cached, and so does
    # last, which only runs after combine (an order, not a data dependency: as in KFP, its
    # fingerprint holds its own inputs)
    env.reset()
    s, tasks = _summary(env.run(p, "-p", "label=y"))
    assert tasks["count"]["cached"] and not tasks["tag"]["cached"] and not tasks["combine"]["cached"]
    assert tasks["last"]["cached"]
    assert sorted(env.ran()) == ["combine", "tag"]
    assert tasks["combine"]["outputs"]["parameters"]["both"].strip() == "20-y"

    # --no-cache runs everything
    env.reset()
    s, tasks = _summary(env.run(p, "--no-cache"))
    assert sorted(env.ran()) == ["combine", "count", "last", "tag"]

    # purge: the next run executes again
    out = subprocess.run([TRELLIS, "cache", "purge", "--backend-store-uri", env.store],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "removed" in out.stdout, out.stderr
    env.reset()
    env.run(p)
    assert sorted(env.ran()) == ["combine", "count", "last", "tag"]
    audit = subprocess.run([TRELLIS, "audit", "verify", "--backend-store-uri", env.store],
                           capture_output=True, text=True, timeout=60)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_a_missing_cached_file_is_a_miss(env, tmp_path):
    out_file = tmp_path / "shared"
    out_file.mkdir()
    out_file.chmod(0o777)
    p = tmp_path / "art.yaml"
    p.write_text(f"""
name: arts
steps:
  make:
    run: sh -c 'echo make >> {tmp_path}/log/ran; echo hello > "$0"' "{{{{ outputs.data }}}}"
    outputs:
      data: dataset
  use:
    run: sh -c 'echo use >> {tmp_path}/log/ran; cat "$0"' "{{{{ steps.make.outputs.data }}}}"
""")
    s, tasks = _summary(env.run(p))
    uri = tasks["make"]["outputs"]["artifacts"]["data"][0]["uri"]
    assert Path(uri).read_text() == "hello\n"
    os.unlink(uri)  # the cached artifact is gone: the cache must not hand it out
    env.reset()
    s, tasks = _summary(env.run(p))
    assert not tasks["make"]["cached"] and "make" in env.ran()


def test_resume_after_kill_9_does_not_rerun_a_success(env):
    p = env.pipeline(sleep=3)
    proc = subprocess.Popen([TRELLIS, "run", str(p), "--run-id", "r-kill", "--no-cache",
                             "--backend-store-uri", env.store, "--artifacts-destination",
                             str(env.art)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # wait until combine (the slow one) is running, then kill -9 the scheduler
    deadline = time.time() + 30
    while "combine" not in env.ran():
        assert time.time() < deadline, proc.stderr.read().decode() if proc.poll() is not None else "no start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(env.db) as db:
        states = dict(db.execute("SELECT path, state FROM pipeline_tasks WHERE run_id = 'r-kill'"))
    assert states["count"] == "SUCCEEDED" and states["tag"] == "SUCCEEDED"
    assert states["combine"] == "RUNNING"  # recorded before the spawn
    out = subprocess.run([TRELLIS, "run", "--resume", "r-kill", "--json", "--backend-store-uri",
                          env.store], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    s, tasks = _summary(out)
    assert s["state"] == "SUCCEEDED"
    # each step ran exactly once: the successes were kept, combine was re-adopted, not rerun
    assert sorted(env.ran()) == ["combine", "count", "last", "tag"]
    assert tasks["combine"]["outputs"]["parameters"]["both"].strip() == "20-x"
    with sqlite3.connect(env.db) as db:
        (state,) = db.execute("SELECT state FROM pipeline_runs WHERE run_id = 'r-kill'").fetchone()
    assert state == "SUCCEEDED"


def test_resume_refuses_a_changed_pipeline(env):
    p = env.pipeline()
    env.run(p, "--run-id", "r-changed")
    p.write_text(p.read_text().replace("label: x", "label: z"))
    out = env.run("--resume", "r-changed", check=False)
    assert out.returncode == 2 and "changed since run r-changed started" in out.stderr


def test_resume_of_an_unknown_run(env):
    out = env.run("--resume", "nope", check=False)
    assert out.returncode == 2 and "no pipeline run 'nope'" in out.stderr


def test_unreachable_run_folder_is_a_clear_error(env, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("steps switch user only when trellis runs as root")
    closed = tmp_path / "closed"
    closed.mkdir()
    closed.chmod(0o700)
    out = subprocess.run([TRELLIS, "run", str(env.pipeline()), "--backend-store-uri", env.store,
                          "--artifacts-destination", str(closed / "art")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert f"folder {closed} is mode 700" in out.stderr and "--step-user" in out.stderr


def test_gpus_are_refused_clearly_and_images_run_on_the_host(env, tmp_path):
    have = any(Path(f"/dev/nvidia{i}").exists() for i in range(64))
    if have:
        pytest.skip("this machine has GPUs")
    p = tmp_path / "gpu.yaml"
    p.write_text("""
name: gpu
steps:
  train:
    run: [sh, -c, 'echo $CUDA_VISIBLE_DEVICES']
    resources: {gpu: 1}
  plain:
    image: python:3.11
    run: [sh, -c, 'echo fine']
""")
    out = env.run(p, "--keep-going", check=False)
    assert out.returncode == 1
    s, tasks = _summary(out)
    assert tasks["train"]["state"] == "FAILED"
    assert "asks for 1 GPU" in tasks["train"]["message"] and "has 0" in tasks["train"]["message"]
    assert tasks["plain"]["state"] == "SUCCEEDED"
    assert "image python:3.11 is not pulled: the step runs on the host" in tasks["plain"]["message"]


def test_a_step_cannot_read_the_store(env, tmp_path):
    """The store (and so the audit log) is created owner-only; steps run as another user."""
    if os.geteuid() != 0:
        pytest.skip("steps switch user only when trellis runs as root")
    p = tmp_path / "peek.yaml"
    p.write_text(f"""
name: peek
steps:
  peek:
    run: [sh, -c, 'head -c 16 {env.db} && echo READ-THE-STORE']
""")
    out = env.run(p, check=False)
    assert out.returncode == 1
    assert oct(env.db.stat().st_mode & 0o777) == "0o600"
    s, tasks = _summary(out)
    assert tasks["peek"]["state"] == "FAILED"
    logs = list(env.art.rglob("peek/1/log"))
    text = logs[0].read_text()
    assert "Permission denied" in text and "READ-THE-STORE" not in text


def test_output_files_are_recorded_with_their_digests(env, tmp_path):
    """Output artifacts are recorded in the store like uploads (path, size, SHA-256), so lineage
    and gc see them."""
    import hashlib

    p = tmp_path / "out.yaml"
    p.write_text("""
name: outs
steps:
  make:
    run: sh -c 'printf "%s" "some bytes" > "$0"' "{{ outputs.data }}"
    outputs:
      data: dataset
""")
    s, tasks = _summary(env.run(p, "--no-cache"))
    uri = tasks["make"]["outputs"]["artifacts"]["data"][0]["uri"]
    rel = os.path.relpath(uri, os.path.realpath(env.art))
    with sqlite3.connect(env.db) as db:
        row = db.execute("SELECT size, sha256 FROM artifacts WHERE path = ?", (rel,)).fetchone()
    assert row == (10, hashlib.sha256(b"some bytes").hexdigest())


def test_an_unprivileged_trellis_runs_pipelines(tmp_path):
    """Not every user runs trellis as root: without root there is no user switch and no mount
    namespace (once every step failed trying to make one)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to become an unprivileged user")
    work = tmp_path / "nr"
    work.mkdir()
    work.chmod(0o777)
    p = work / "p.yaml"
    p.write_text("""
name: plain
steps:
  a:
    run: sh -c 'id -un > "$0"' "{{ outputs.who }}"
    outputs:
      who: string
""")
    p.chmod(0o644)
    out = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", TRELLIS,
                          "run", str(p), "--json", "--backend-store-uri", f"sqlite:///{work}/t.db",
                          "--artifacts-destination", str(work / "art")],
                         capture_output=True, text=True, timeout=120, cwd=work)
    assert out.returncode == 0, out.stderr
    s, tasks = _summary(out)
    assert tasks["a"]["outputs"]["parameters"]["who"].strip() == "nobody"
