# SPDX-License-Identifier: Apache-2.0
"""Helpers for the end-to-end pipeline tests (tests/pipeline/test_run.py).

- `Trellis` runs `trellis run --json` ($TRELLIS_BIN) on a compiled or hand-written
  pipeline, in the background when asked, and returns a `Run` (exit code, the JSON
  summary, stderr, the run folder).
- `run_local()` runs the same pipeline function with the official `kfp.local`
  (SubprocessRunner, use_venv=False) and returns its pipeline outputs and, per task
  folder, the task's output parameters and artifact files.
- `normalize_path()` maps a Trellis task path onto kfp.local's task folder name, so
  the two engines' task outputs can be compared.

Steps run as the unprivileged user `nobody` when the tests run as root, so every
folder a step must reach is made under a world-traversable directory (pytest's own
tmp_path lives in a 0700 folder owned by root).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# The interpreter the steps use: the kfp venv, made with Debian's python3 so that
# `nobody` can run it (scripts/install-deps.sh). Its folder goes first on the steps'
# PATH, and since it imports kfp, Trellis drops the components' `pip install kfp`.
KFP_PYTHON = os.path.join(REPO, ".venv", "kfp", "bin", "python3")

# One run of `trellis run` never takes longer than this in the suite.
RUN_TIMEOUT = 120


def trellis_bin() -> str:
    path = os.environ.get("TRELLIS_BIN")
    if not path:
        raise RuntimeError("TRELLIS_BIN is not set (e.g. TRELLIS_BIN=$PWD/build/trellis)")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"TRELLIS_BIN={path} is not executable")
    return os.path.abspath(path)


def open_dir(prefix: str, mode: int = 0o755) -> str:
    """A fresh folder under the system tmp dir with MODE (steps run as nobody)."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, mode)
    return d


def compile_pipeline(func: Callable, path: str) -> str:
    from kfp import compiler

    compiler.Compiler().compile(func, path)
    return path


@dataclass
class Run:
    """The result of one `trellis run --json`."""

    rc: int
    summary: Optional[dict]
    stdout: str
    stderr: str
    root: str  # DIR/pipelines

    @property
    def state(self) -> Optional[str]:
        return self.summary["state"] if self.summary else None

    @property
    def run_dir(self) -> str:
        return os.path.join(self.root, self.summary["run_id"])

    @property
    def outputs(self) -> dict:
        return self.summary["outputs"]["parameters"]

    @property
    def artifacts(self) -> dict:
        return self.summary["outputs"]["artifacts"]

    @property
    def tasks(self) -> Dict[str, dict]:
        return {t["path"]: t for t in self.summary["tasks"]}

    def task(self, path: str) -> dict:
        tasks = self.tasks
        assert path in tasks, f"no task {path!r} in the run; tasks: {sorted(tasks)}\n{self.describe()}"
        return tasks[path]

    def params(self, path: str) -> dict:
        return self.task(path).get("outputs", {}).get("parameters", {})

    def artifact_uri(self, path: str, name: str, index: int = 0) -> str:
        arts = self.task(path)["outputs"]["artifacts"][name]
        return arts[index]["uri"]

    def artifact_text(self, path: str, name: str, index: int = 0) -> str:
        with open(self.artifact_uri(path, name, index)) as f:
            return f.read()

    def attempt_dir(self, path: str, attempt: int) -> str:
        return os.path.join(self.run_dir, path, str(attempt))

    def status(self, path: str, attempt: int = 1) -> dict:
        with open(os.path.join(self.attempt_dir(path, attempt), "status.json")) as f:
            return json.load(f)

    def log(self, path: str, attempt: int = 1) -> str:
        with open(os.path.join(self.attempt_dir(path, attempt), "log")) as f:
            return f.read()

    def states(self) -> Dict[str, str]:
        return {p: t["state"] for p, t in self.tasks.items()}

    def describe(self) -> str:
        """What a failed assertion shows: exit code, stderr, the tasks and their logs' tails."""
        lines = [f"trellis run exit code {self.rc}", f"stderr:\n{self.stderr[-3000:]}"]
        if self.summary:
            for t in self.summary["tasks"]:
                lines.append(
                    f"  {t['state']:<10} {t['path']}  attempts={t.get('attempts')} {t.get('message') or ''}"
                )
                if t["state"] == "FAILED":
                    try:
                        tail = self.log(t["path"], max(1, t.get("attempts") or 1))[-1500:]
                        lines.append("    log tail:\n" + tail)
                    except OSError:
                        pass
        else:
            lines.append(f"stdout:\n{self.stdout[-3000:]}")
        return "\n".join(lines)


class Pending:
    """A `trellis run` started in the background (runs alongside kfp.local)."""

    def __init__(self, proc: subprocess.Popen, root: str):
        self.proc = proc
        self.root = root

    def wait(self) -> Run:
        try:
            out, err = self.proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"trellis run did not finish in {RUN_TIMEOUT} s; stderr:\n{err}")
        summary = None
        if out.strip():
            try:
                summary = json.loads(out)
            except ValueError:
                summary = None
        return Run(self.proc.returncode, summary, out, err, self.root)


class Trellis:
    """Runs `trellis run --json` with the kfp venv's python and a private artifact folder."""

    def __init__(self, dest: str):
        self.bin = trellis_bin()
        self.dest = dest

    def argv(self, pipeline: str, params: Optional[Dict[str, Any]] = None, *extra: str) -> List[str]:
        # a private store per test, and no task cache (kfp.local, which these tests compare
        # with, caches nothing by default; tests/pipeline/test_run_state.py tests the cache)
        os.makedirs(self.dest, exist_ok=True)
        argv = [self.bin, "run", pipeline, "--json", "--python", KFP_PYTHON, "--artifacts-destination", self.dest,
                "--backend-store-uri", f"sqlite:///{self.dest}/trellis.db", "--no-cache"]
        for k, v in (params or {}).items():
            if not isinstance(v, str):
                v = json.dumps(v) if not isinstance(v, bool) else str(v).lower()
            argv += ["-p", f"{k}={v}"]
        return argv + list(extra)

    def start(self, pipeline: str, params: Optional[Dict[str, Any]] = None, *extra: str) -> Pending:
        proc = subprocess.Popen(
            self.argv(pipeline, params, *extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        return Pending(proc, os.path.join(self.dest, "pipelines"))

    def run(self, pipeline: str, params: Optional[Dict[str, Any]] = None, *extra: str) -> Run:
        return self.start(pipeline, params, *extra).wait()


# --- kfp.local ---------------------------------------------------------------------------


@dataclass
class LocalRun:
    outputs: Dict[str, Any]  # the pipeline's outputs (parameters as values, artifacts as uris)
    tasks: Dict[str, dict] = field(default_factory=dict)  # task folder -> parameterValues
    files: Dict[str, Dict[str, str]] = field(default_factory=dict)  # task folder -> artifact -> text


def run_local(pipeline_func: Callable, root: str, **kwargs) -> LocalRun:
    """Runs PIPELINE_FUNC(**kwargs) with kfp.local and collects what it produced.

    kfp.local runs each Python step's `python -m pip install kfp==2.17.3` with this
    interpreter: kfp is installed, so pip is satisfied without an index. PIP_NO_INDEX
    makes sure it never waits on the network (a missing package fails at once instead).
    """
    from kfp import dsl, local

    os.environ["PIP_NO_INDEX"] = "1"
    os.environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    task = pipeline_func(**kwargs)
    outputs: Dict[str, Any] = {}
    if task is not None:
        for k, v in (task.outputs or {}).items():
            if isinstance(v, dsl.Artifact):
                outputs[k] = v.uri
            elif isinstance(v, list) and v and isinstance(v[0], dsl.Artifact):
                outputs[k] = [a.uri for a in v]
            else:
                outputs[k] = v
    runs = [os.path.join(root, d) for d in os.listdir(root)]
    runs = [d for d in runs if os.path.isdir(d) and not os.path.basename(d).startswith(".")]
    assert len(runs) == 1, f"kfp.local made {len(runs)} run folders in {root}"
    run_dir = runs[0]
    res = LocalRun(outputs=outputs)
    for dirpath, _dirs, files in os.walk(run_dir):
        if "executor_output.json" not in files:
            continue
        rel = os.path.relpath(dirpath, run_dir)
        with open(os.path.join(dirpath, "executor_output.json")) as f:
            eo = json.load(f)
        res.tasks[rel] = eo.get("parameterValues", {})
        res.files[rel] = {}
        for name, lst in eo.get("artifacts", {}).items():
            uri = lst["artifacts"][0]["uri"]
            if os.path.isfile(uri):
                with open(uri) as f:
                    res.files[rel][name] = f.read()
    return res


_CONDITION = re.compile(r"^condition-(branches-)?\d+$")
_LOOP = re.compile(r"^for-loop-\d+$")


def normalize_path(path: str) -> str:
    """A Trellis task path as kfp.local names the task's folder.

    kfp.local keeps no folder for condition groups and writes a loop iteration as
    `for-loop-N-iteration-I/TASK`; Trellis shows `condition-branches-N/condition-M/TASK`
    and `for-loop-N/I/TASK`.
    """
    parts = path.split("/")
    out: List[str] = []
    i = 0
    while i < len(parts):
        p = parts[i]
        if _CONDITION.match(p):
            i += 1
            continue
        if _LOOP.match(p) and i + 1 < len(parts) and parts[i + 1].isdigit():
            out.append(f"{p}-iteration-{parts[i + 1]}")
            i += 2
            continue
        out.append(p)
        i += 1
    return "/".join(out)


def executor_tasks(run: Run) -> Dict[str, dict]:
    """Trellis's tasks that ran a step (not DAG tasks), by kfp.local's folder name."""
    res = {}
    for path, t in run.tasks.items():
        if t["state"] != "SUCCEEDED":
            continue
        if not os.path.exists(os.path.join(run.run_dir, path, "1", "status.json")):
            continue  # a DAG task: no attempt folder of its own
        res[normalize_path(path)] = t
    return res


def compare_with_local(run: Run, local_run: LocalRun) -> None:
    """The same tasks ran, with the same output parameters and artifact file contents."""
    mine = executor_tasks(run)
    assert sorted(mine) == sorted(local_run.tasks), (
        f"tasks that ran differ\ntrellis:    {sorted(mine)}\nkfp.local:  {sorted(local_run.tasks)}"
    )
    for name, t in mine.items():
        assert t["outputs"]["parameters"] == local_run.tasks[name], f"task {name}: output parameters differ"
        texts = {}
        for art, lst in t["outputs"]["artifacts"].items():
            if os.path.isfile(lst[0]["uri"]):
                with open(lst[0]["uri"]) as f:
                    texts[art] = f.read()
        assert texts == local_run.files[name], f"task {name}: artifact files differ"


def compare_values_with_local(run: Run, local_run: LocalRun) -> None:
    """The same task outputs, whatever the tasks' names (kfp.local flattens nested
    pipelines and names some tasks after their component)."""

    def key(params: dict, texts: dict) -> str:
        return json.dumps([params, texts], sort_keys=True)

    mine = []
    for t in executor_tasks(run).values():
        texts = {}
        for art, lst in t["outputs"]["artifacts"].items():
            if os.path.isfile(lst[0]["uri"]):
                with open(lst[0]["uri"]) as f:
                    texts[art] = f.read()
        mine.append(key(t["outputs"]["parameters"], texts))
    theirs = [key(local_run.tasks[n], local_run.files[n]) for n in local_run.tasks]
    assert sorted(mine) == sorted(theirs), "task outputs differ from kfp.local's"


def no_process_with(marker: str) -> List[str]:
    """The command lines of live processes that contain MARKER (should be none)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmd and state != "Z":
            found.append(f"{pid} [{state}] {cmd}")
    return found


def rmtree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
