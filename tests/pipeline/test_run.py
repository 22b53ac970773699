# SPDX-License-Identifier: Apache-2.0
"""`trellis run` end to end, with pipelines written with the official kfp SDK.

Each test defines its pipeline with `kfp.dsl`, compiles it with
`kfp.compiler.Compiler()` and runs the compiled file with `trellis run --json`.
The deterministic Python pipelines are also run with `kfp.local` (SubprocessRunner,
use_venv=False) in the same test, alongside Trellis, and the two engines' pipeline
outputs and task outputs (parameters and artifact file contents) are compared;
container components (`sh`) are checked against golden outputs, since kfp.local's
subprocess runner cannot run them.

No `from __future__ import annotations` here: kfp reads the annotations as types.

Steps run as `nobody` (the tests run as root), with .venv/kfp's python first on
their PATH (`--python`), so lightweight components skip their `pip install kfp`.
"""


import glob
import json
import os
import random
import shutil
import signal
import stat
import time
from typing import Dict, List, NamedTuple, Optional

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from pipeline_helpers import (
    compare_values_with_local,
    compare_with_local,
    no_process_with,
    normalize_path,
    run_local,
)


def max_overlap(tasks: List[dict]) -> int:
    """The most of TASKS that were running at one time (from start_ms/end_ms)."""
    events = []
    for t in tasks:
        events.append((t["start_ms"], 1))
        events.append((t["end_ms"], -1))
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same ms
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def subdir(work: str, name: str, mode: int) -> str:
    """WORK/NAME with MODE (chmod: the umask does not apply)."""
    d = os.path.join(work, name)
    os.mkdir(d)
    os.chmod(d, mode)
    return d


def write(path: str, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    return path


# =====================================================================================
# Lightweight Python components: parameters and Dataset/Model artifacts
# =====================================================================================


@dsl.component
def make_data(rows: int, sep: str, data: Output[Dataset]) -> int:
    with open(data.path, "w") as f:
        f.write(sep.join(str(i * i) for i in range(rows)) + "\n")
    data.metadata["rows"] = rows
    return rows


@dsl.component
def train(data: Input[Dataset], sep: str, lr: float, model: Output[Model]) -> float:
    with open(data.path) as f:
        values = [int(v) for v in f.read().strip().split(sep)]
    with open(model.path, "w") as f:
        f.write(f"lr={lr} n={len(values)} sum={sum(values)}\n")
    model.metadata["framework"] = "sums"
    return lr * sum(values)


@dsl.component
def evaluate(data: Input[Dataset], model: Input[Model], score: float) -> str:
    with open(model.path) as f:
        m = f.read().strip()
    with open(data.path) as f:
        d = f.read().strip()
    # int(): kfp.local hands artifact metadata numbers over as floats (a protobuf Struct
    # turned into Python with MessageToDict); the KFP launcher's protojson writes 5 as 5
    return f"{m} | data={d} | score={score:.3f} | rows={int(data.metadata['rows'])}"


@dsl.pipeline(name="params-and-artifacts")
def params_and_artifacts(rows: int = 4, lr: float = 0.5, sep: str = ",") -> Model:
    d = make_data(rows=rows, sep=sep)
    t = train(data=d.outputs["data"], sep=sep, lr=lr)
    evaluate(data=d.outputs["data"], model=t.outputs["model"], score=t.outputs["Output"])
    return t.outputs["model"]


def test_params_and_artifacts(trellis, compiled, local_root):
    spec = compiled(params_and_artifacts)
    args = {"rows": 5, "lr": 0.25, "sep": ";"}
    pending = trellis.start(spec, args)
    local = run_local(params_and_artifacts, local_root, **args)
    run = pending.wait()
    assert run.rc == 0, run.describe()
    assert run.state == "SUCCEEDED"

    # golden values
    assert run.params("make-data") == {"Output": 5}
    assert run.artifact_text("make-data", "data") == "0;1;4;9;16\n"
    assert run.params("train") == {"Output": 7.5}
    assert run.artifact_text("train", "model") == "lr=0.25 n=5 sum=30\n"
    assert run.params("evaluate") == {
        "Output": "lr=0.25 n=5 sum=30 | data=0;1;4;9;16 | score=7.500 | rows=5"
    }
    # artifact metadata set by the step, and the artifact types
    data = run.task("make-data")["outputs"]["artifacts"]["data"][0]
    assert data["metadata"] == {"rows": 5}
    assert data["type"]["schemaTitle"] == "system.Dataset"
    model = run.task("train")["outputs"]["artifacts"]["model"][0]
    assert model["metadata"] == {"framework": "sums"}
    assert model["type"]["schemaTitle"] == "system.Model"
    # the artifacts live in the attempt folders: DIR/pipelines/<run>/<task>/<attempt>/out/
    assert data["uri"] == os.path.join(run.run_dir, "make-data", "1", "out", "data")
    # the pipeline's output artifact is train's model
    assert run.artifacts["Output"][0]["uri"] == model["uri"]

    # the same as kfp.local
    compare_with_local(run, local)
    with open(local.outputs["Output"]) as f:
        assert f.read() == run.artifact_text("train", "model")


def test_output_artifact_path_in_attempt_folder(trellis, compiled):
    """A step sees its output artifact's path inside its own attempt folder."""

    @dsl.component
    def where(out: Output[Dataset]) -> str:
        import os

        with open(out.path, "w") as f:
            f.write("here\n")
        return os.path.dirname(out.path)

    @dsl.pipeline(name="where")
    def where_pipeline() -> str:
        return where().outputs["Output"]

    run = trellis.run(compiled(where_pipeline))
    assert run.rc == 0, run.describe()
    assert run.outputs["Output"] == os.path.join(run.run_dir, "where", "1", "out")


# =====================================================================================
# NamedTuple outputs
# =====================================================================================


@dsl.component
def stats(xs: List[int]) -> NamedTuple(
    "Stats", [("total", int), ("mean", float), ("label", str), ("positive", bool), ("hist", Dict[str, int])]
):
    from collections import namedtuple

    Stats = namedtuple("Stats", ["total", "mean", "label", "positive", "hist"])
    xs = [int(x) for x in xs]  # kfp.local passes a list parameter's integers as floats
    hist = {}
    for x in xs:
        key = "even" if x % 2 == 0 else "odd"
        hist[key] = hist.get(key, 0) + 1
    return Stats(sum(xs), sum(xs) / len(xs), f"n{len(xs)}", all(x > 0 for x in xs), hist)


@dsl.component
def describe(total: int, mean: float, label: str, positive: bool, hist: dict) -> str:
    # int(): kfp.local passes a struct's integers as floats
    return f"{label}: total {total} mean {mean:.2f} positive {positive} odd {int(hist.get('odd', 0))}"


@dsl.pipeline(name="named-tuples")
def named_tuples(xs: List[int] = [3, 1, 2]) -> NamedTuple("Out", [("total", int), ("text", str), ("hist", dict)]):
    s = stats(xs=xs)
    d = describe(
        total=s.outputs["total"],
        mean=s.outputs["mean"],
        label=s.outputs["label"],
        positive=s.outputs["positive"],
        hist=s.outputs["hist"],
    )
    Out = NamedTuple("Out", [("total", int), ("text", str), ("hist", dict)])
    return Out(total=s.outputs["total"], text=d.output, hist=s.outputs["hist"])


def test_named_tuple_outputs(trellis, compiled, local_root):
    spec = compiled(named_tuples)
    args = {"xs": [5, 2, 7, 4, 1]}
    pending = trellis.start(spec, args)
    local = run_local(named_tuples, local_root, **args)
    run = pending.wait()
    assert run.rc == 0, run.describe()
    assert run.params("stats") == {
        "total": 19,
        "mean": 3.8,
        "label": "n5",
        "positive": True,
        "hist": {"odd": 3, "even": 2},
    }
    # typed by the declaration: an int stays an int, a bool a bool
    assert type(run.params("stats")["total"]) is int
    assert run.params("stats")["positive"] is True
    assert run.outputs == {"total": 19, "text": "n5: total 19 mean 3.80 positive True odd 3", "hist": {"odd": 3, "even": 2}}
    compare_with_local(run, local)
    assert run.outputs == local.outputs


# =====================================================================================
# Conditions: If / Elif / Else, nested conditions
# =====================================================================================


@dsl.component
def classify(n: int) -> str:
    return "small" if n < 10 else ("medium" if n < 100 else "large")


@dsl.component
def shout(msg: str) -> str:
    return msg.upper() + "!"


@dsl.component
def square(x: int) -> int:
    return x * x


@dsl.pipeline(name="if-elif-else")
def if_elif_else(n: int) -> str:
    c = classify(n=n)
    with dsl.If(c.output == "small"):
        a = shout(msg="small one")
    with dsl.Elif(c.output == "medium"):
        b = shout(msg="medium one")
    with dsl.Else():
        e = shout(msg="large one")
    with dsl.If(n > 50, name="over-50"):  # a condition on a pipeline parameter
        shout(msg="over fifty")
    return dsl.OneOf(a.output, b.output, e.output)


@pytest.mark.parametrize(
    "n, branch, text, over_50",
    [(4, "shout", "SMALL ONE!", False), (55, "shout-2", "MEDIUM ONE!", True), (500, "shout-3", "LARGE ONE!", True)],
)
def test_if_elif_else(trellis, compiled, local_root, n, branch, text, over_50):
    spec = compiled(if_elif_else)
    pending = trellis.start(spec, {"n": n})
    local = run_local(if_elif_else, local_root, n=n)
    run = pending.wait()
    assert run.rc == 0, run.describe()
    assert run.outputs == {"Output": text}
    ran = {normalize_path(p) for p, t in run.tasks.items() if t["state"] == "SUCCEEDED"}
    shouts = {p for p in ran if p.startswith("shout")}
    assert shouts == ({branch, "shout-4"} if over_50 else {branch})
    # the branches not taken are skipped, not failed
    skipped = [t for t in run.tasks.values() if t["state"] == "SKIPPED"]
    assert skipped and all("condition is false" in t["message"] for t in skipped), run.describe()
    assert not [t for t in run.tasks.values() if t["state"] not in ("SUCCEEDED", "SKIPPED")]
    compare_with_local(run, local)
    assert run.outputs == local.outputs


@dsl.pipeline(name="nested-conditions")
def nested_conditions(n: int, mode: str):
    c = classify(n=n)
    with dsl.If(c.output != "large", name="not-large"):
        sq = square(x=n)
        with dsl.If(sq.output > 50, name="big-square"):
            shout(msg="big square")
            with dsl.If(mode == "loud", name="loud"):
                shout(msg="very loud")
        with dsl.Else(name="small-square"):
            shout(msg="small square")
    with dsl.Else(name="large"):
        shout(msg="too large")


@pytest.mark.parametrize(
    "n, mode, expected",
    [
        (20, "loud", {"classify": "medium", "square": 400, "shout": "BIG SQUARE!", "shout-2": "VERY LOUD!"}),
        (20, "quiet", {"classify": "medium", "square": 400, "shout": "BIG SQUARE!"}),
        (5, "loud", {"classify": "small", "square": 25, "shout-3": "SMALL SQUARE!"}),
        (500, "loud", {"classify": "large", "shout-4": "TOO LARGE!"}),
    ],
)
def test_nested_conditions(trellis, compiled, local_root, n, mode, expected):
    spec = compiled(nested_conditions)
    pending = trellis.start(spec, {"n": n, "mode": mode})
    local = run_local(nested_conditions, local_root, n=n, mode=mode) if mode == "loud" else None
    run = pending.wait()
    assert run.rc == 0, run.describe()
    got = {normalize_path(p): t["outputs"]["parameters"]["Output"] for p, t in run.tasks.items()
           if t["state"] == "SUCCEEDED" and "Output" in t.get("outputs", {}).get("parameters", {})}
    assert got == expected
    assert all(t["state"] in ("SUCCEEDED", "SKIPPED") for t in run.tasks.values()), run.describe()
    if local is not None:
        compare_with_local(run, local)


# =====================================================================================
# ParallelFor: over constants and over a task output, parallelism, Collected fan-in
# =====================================================================================


@dsl.component
def power(x: int, p: int) -> int:
    import time

    time.sleep(0.5)
    return x**p


@dsl.component
def total(xs: List[int]) -> int:
    # kfp.local hands Collected integers over as floats: int() keeps the two comparable
    return int(sum(xs))


@dsl.component
def pair(a: int, b: int) -> str:
    return f"{a}x{b}"


@dsl.pipeline(name="loop-constants")
def loop_constants(p: int = 2) -> NamedTuple("Out", [("total", int), ("powers", List[int]), ("pairs", List[str])]):
    with dsl.ParallelFor([1, 2, 3, 4], parallelism=2) as x:
        pw = power(x=x, p=p)
    t = total(xs=dsl.Collected(pw.output))
    with dsl.ParallelFor([{"a": 1, "b": 10}, {"a": 2, "b": 20}]) as item:
        pr = pair(a=item.a, b=item.b)
    Out = NamedTuple("Out", [("total", int), ("powers", List[int]), ("pairs", List[str])])
    return Out(total=t.output, powers=dsl.Collected(pw.output), pairs=dsl.Collected(pr.output))


def test_parallel_for_constants(trellis, compiled, local_root):
    spec = compiled(loop_constants)
    pending = trellis.start(spec, {"p": 3}, "--parallelism", "8")
    local = run_local(loop_constants, local_root, p=3)
    run = pending.wait()
    assert run.rc == 0, run.describe()
    assert run.outputs == {"total": 100, "powers": [1, 8, 27, 64], "pairs": ["1x10", "2x20"]}
    # Collected integers stay integers, in item order
    assert [type(v) for v in run.outputs["powers"]] == [int] * 4
    iterations = [t for p, t in run.tasks.items() if p.startswith("for-loop-") and p.endswith("/power")]
    assert len(iterations) == 4
    # parallelism=2: never more than 2 at once, though --parallelism allows 8
    assert max_overlap(iterations) == 2, [(t["path"], t["start_ms"], t["end_ms"]) for t in iterations]
    compare_with_local(run, local)
    assert run.outputs["total"] == local.outputs["total"]
    assert run.outputs["pairs"] == local.outputs["pairs"]
    assert run.outputs["powers"] == local.outputs["powers"]  # kfp.local: floats, equal in value


@dsl.component
def make_items(n: int) -> List[dict]:
    # not "name": a loop item's .name is the SDK's own attribute, not a field selector
    return [{"label": f"item{i}", "weight": i + 1} for i in range(n)]


@dsl.component
def weigh(label: str, weight: int) -> str:
    import time

    time.sleep(0.3)
    return f"{label}:{weight * weight}"


@dsl.component
def join(parts: List[str], sep: str) -> str:
    return sep.join(parts)


@dsl.pipeline(name="loop-task-output")
def loop_task_output(n: int = 3) -> str:
    items = make_items(n=n)
    with dsl.ParallelFor(items.output, parallelism=1) as it:
        w = weigh(label=it.label, weight=it.weight)
    j = join(parts=dsl.Collected(w.output), sep="+")
    return j.output


def test_parallel_for_task_output(trellis, compiled, local_root):
    spec = compiled(loop_task_output)
    pending = trellis.start(spec, {"n": 4}, "--parallelism", "8")
    local = run_local(loop_task_output, local_root, n=4)
    run = pending.wait()
    assert run.rc == 0, run.describe()
    assert run.outputs == {"Output": "item0:1+item1:4+item2:9+item3:16"}
    iterations = [t for p, t in run.tasks.items() if p.endswith("/weigh")]
    assert len(iterations) == 4
    assert max_overlap(iterations) == 1  # parallelism=1: one after the other
    compare_with_local(run, local)
    assert run.outputs == local.outputs


@dsl.pipeline(name="loop-untyped-list")
def loop_untyped_list(xs: list = [1, 2, 3]) -> List[int]:
    # a plain `list` parameter: the compiler declares its loop item STRING
    with dsl.ParallelFor(xs) as x:
        pw = power(x=x, p=2)
    return dsl.Collected(pw.output)


def test_parallel_for_over_untyped_list_parameter(trellis, compiled):
    """The loop item of an untyped list feeds an int input: not a type error
    (the check refused this spec, which the kfp compiler makes)."""
    spec = compiled(loop_untyped_list)
    run = trellis.start(spec, {"xs": [2, 5]}, "--parallelism", "4").wait()
    assert run.rc == 0, run.describe()
    assert run.outputs == {"Output": [4, 25]}


def test_parallel_for_over_empty_list(trellis, compiled):
    """Zero iterations: the loop succeeds and the fan-in gets an empty list."""
    run = trellis.run(compiled(loop_task_output), {"n": 0})
    assert run.rc == 0, run.describe()
    assert run.outputs == {"Output": ""}
    assert not [p for p in run.tasks if p.endswith("/weigh")]


# =====================================================================================
# Nested pipelines
# =====================================================================================


@dsl.pipeline(name="prepare-and-train")
def prepare_and_train(rows: int, lr: float) -> NamedTuple("Trained", [("score", float), ("model", Model)]):
    d = make_data(rows=rows, sep=",")
    t = train(data=d.outputs["data"], sep=",", lr=lr)
    Trained = NamedTuple("Trained", [("score", float), ("model", Model)])
    return Trained(score=t.outputs["Output"], model=t.outputs["model"])


@dsl.pipeline(name="square-twice")
def square_twice(x: int) -> int:
    a = square(x=x)
    b = square(x=a.output)
    return b.output


@dsl.pipeline(name="deeper")  # two levels of nesting
def deeper(x: int) -> int:
    sq = square(x=x)
    inner = square_twice(x=sq.output)
    return inner.output


@dsl.component
def grade(score: float) -> str:
    return "high" if score >= 10 else "low"


@dsl.pipeline(name="nested-pipelines")
def nested_pipelines(rows: int = 3) -> NamedTuple("Out", [("report", str), ("big", int)]):
    pt = prepare_and_train(rows=rows, lr=2.0)
    ev = grade(score=pt.outputs["score"])
    s = deeper(x=rows)
    Out = NamedTuple("Out", [("report", str), ("big", int)])
    return Out(report=ev.output, big=s.output)


def test_nested_pipelines(trellis, compiled, local_root):
    spec = compiled(nested_pipelines)
    pending = trellis.start(spec, {"rows": 3})
    local = run_local(nested_pipelines, local_root, rows=3)
    run = pending.wait()
    assert run.rc == 0, run.describe()
    # rows=3: data 0,1,4 -> sum 5, score 10.0 -> "high"; 3 -> 9 -> 81 -> 6561
    assert run.outputs == {"report": "high", "big": 6561}
    assert run.params("prepare-and-train") == {"score": 10.0}
    assert run.params("prepare-and-train/train") == {"Output": 10.0}
    assert run.artifact_text("prepare-and-train/train", "model") == "lr=2.0 n=3 sum=5\n"
    # the nested pipeline re-exports its task's artifact
    assert run.task("prepare-and-train")["outputs"]["artifacts"]["model"][0]["uri"] == run.artifact_uri(
        "prepare-and-train/train", "model"
    )
    assert run.params("deeper/square-twice/square-2") == {"Output": 6561}
    assert run.outputs == local.outputs
    # kfp.local flattens nested pipelines' task folders: compare the tasks' outputs by value
    compare_values_with_local(run, local)


# =====================================================================================
# Exit handler around a failing task
# =====================================================================================


@dsl.component
def maybe_fail(fail: bool, msg: str) -> str:
    if fail:
        raise RuntimeError(msg)
    return "fine"


@dsl.component
def report(status: dsl.PipelineTaskFinalStatus) -> str:
    return f"{status.state} {status.pipeline_task_name}"


@dsl.pipeline(name="exit-handler")
def exit_handler(fail: bool = True):
    r = report()
    with dsl.ExitHandler(r, name="guarded"):
        first = shout(msg="before")
        f = maybe_fail(fail=fail, msg="boom in the middle").after(first)
        shout(msg="after").after(f)


def _one(run, suffix):
    paths = [p for p in run.tasks if p == suffix or p.endswith("/" + suffix)]
    assert len(paths) == 1, (suffix, sorted(run.tasks))
    return paths[0]


def test_exit_handler_runs_after_failure(trellis, compiled):
    run = trellis.run(compiled(exit_handler), {"fail": True})
    assert run.rc == 1, run.describe()
    assert run.state == "FAILED"
    states = run.states()
    assert states[_one(run, "shout")] == "SUCCEEDED"
    fail_path = _one(run, "maybe-fail")
    assert states[fail_path] == "FAILED"
    assert run.task(fail_path)["message"] == "exit code 1"
    assert "RuntimeError: boom in the middle" in run.log(fail_path)
    # the task after the failure never started
    after = _one(run, "shout-2")
    assert states[after] == "SKIPPED"
    assert not os.path.exists(run.attempt_dir(after, 1))
    # the exit task ran, and saw the group fail
    assert states["report"] == "SUCCEEDED", run.describe()
    # PipelineTaskFinalStatus: the state and name of the exit handler's group
    assert run.params("report") == {"Output": "FAILED exit-handler-1"}


def test_exit_handler_after_success(trellis, compiled):
    run = trellis.run(compiled(exit_handler), {"fail": False})
    assert run.rc == 0, run.describe()
    assert run.state == "SUCCEEDED"
    assert run.params("report") == {"Output": "SUCCEEDED exit-handler-1"}
    assert run.task(_one(run, "shout-2"))["state"] == "SUCCEEDED"


# =====================================================================================
# Retries of a flaky task
# =====================================================================================


@dsl.component
def flaky(counter_dir: str, succeed_on: int) -> int:
    import os

    path = os.path.join(counter_dir, "count")
    n = 1
    if os.path.exists(path):
        with open(path) as f:
            n = int(f.read()) + 1
    with open(path, "w") as f:
        f.write(str(n))
    if n < succeed_on:
        raise RuntimeError(f"flaky: attempt {n} fails")
    return n


@dsl.pipeline(name="retry")
def retry_pipeline(counter_dir: str, succeed_on: int) -> int:
    f = flaky(counter_dir=counter_dir, succeed_on=succeed_on)
    f.set_retry(num_retries=3, backoff_duration="1s", backoff_factor=2.0, backoff_max_duration="1s")
    f.set_caching_options(False)
    return f.output


def test_retry_until_success(trellis, compiled, work):
    counter = subdir(work, "counter", 0o777)  # the step (nobody) writes here
    run = trellis.run(compiled(retry_pipeline), {"counter_dir": counter, "succeed_on": 3})
    assert run.rc == 0, run.describe()
    t = run.task("flaky")
    assert t["state"] == "SUCCEEDED"
    assert t["attempts"] == 3
    assert run.outputs == {"Output": 3}
    with open(os.path.join(counter, "count")) as f:
        assert f.read() == "3"
    # one folder per attempt; the first two failed
    for a in (1, 2):
        st = run.status("flaky", a)
        assert st["reason"] == "exited" and st["exit_code"] == 1, st
        assert f"flaky: attempt {a} fails" in run.log("flaky", a)
    assert run.status("flaky", 3)["exit_code"] == 0
    assert not os.path.exists(run.attempt_dir("flaky", 4))
    # backoff 1 s, doubled but capped at 1 s: each retry waits about 1 s
    gaps = [run.status("flaky", a + 1)["start_time_ms"] - run.status("flaky", a)["end_time_ms"] for a in (1, 2)]
    assert all(900 <= g < 1900 for g in gaps), gaps


@dsl.pipeline(name="retry-fast")
def retry_fast(counter_dir: str, succeed_on: int) -> int:
    f = flaky(counter_dir=counter_dir, succeed_on=succeed_on)
    f.set_retry(num_retries=3, backoff_duration="0s")
    return f.output


def test_retry_exhausted(trellis, compiled, work):
    counter = subdir(work, "counter", 0o777)
    run = trellis.run(compiled(retry_fast), {"counter_dir": counter, "succeed_on": 100})
    assert run.rc == 1, run.describe()
    assert run.state == "FAILED"
    t = run.task("flaky")
    assert t["state"] == "FAILED"
    assert t["attempts"] == 4  # 1 + num_retries
    assert t["message"] == "exit code 1"
    with open(os.path.join(counter, "count")) as f:
        assert f.read() == "4"
    assert not os.path.exists(run.attempt_dir("flaky", 5))
    assert "flaky: attempt 4 fails" in run.log("flaky", 4)


# =====================================================================================
# Container components using sh (golden outputs)
# =====================================================================================


@dsl.container_component
def upper(text: str, out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c", 'mkdir -p "$(dirname "$1")" && printf "%s" "$0" | tr a-z A-Z > "$1"'],
        args=[text, out],
    )


@dsl.container_component
def write_lines(n: int, data: Output[Dataset]):
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c"],
        args=[
            'mkdir -p "$(dirname "$1")"; i=1; while [ "$i" -le "$0" ]; do echo "line $i"; i=$((i+1)); done > "$1"',
            n,
            data.path,
        ],
    )


@dsl.container_component
def count_lines(data: Input[Dataset], label: str, count: dsl.OutputPath(int), note: dsl.OutputPath(str),
                prefix: Optional[str] = None):
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c"],
        args=[
            'mkdir -p "$(dirname "$1")" "$(dirname "$2")"; wc -l < "$0" | tr -d " " > "$1"; '
            'printf "%s|%s|%s" "$3" "$4" "$GREETING" > "$2"',
            data.path,
            count,
            note,
            dsl.ConcatPlaceholder(["label=", label]),
            dsl.IfPresentPlaceholder(input_name="prefix", then=dsl.ConcatPlaceholder(["prefix=", prefix]),
                                     else_="no-prefix"),
        ],
    )


@dsl.pipeline(name="containers")
def containers(text: str = "hello trellis", n: int = 3):
    upper(text=text)
    w = write_lines(n=n)
    c1 = count_lines(data=w.outputs["data"], label="first")
    c1.set_env_variable("GREETING", "hi there")
    count_lines(data=w.outputs["data"], label="second", prefix="p").after(c1)


def test_container_components_golden(trellis, compiled):
    run = trellis.run(compiled(containers), {"text": "Shell Out", "n": 3})
    assert run.rc == 0, run.describe()
    assert run.params("upper") == {"out": "SHELL OUT"}
    assert run.artifact_text("write-lines", "data") == "line 1\nline 2\nline 3\n"
    assert run.params("count-lines") == {"count": 3, "note": "label=first|no-prefix|hi there"}
    assert run.params("count-lines-2") == {"count": 3, "note": "label=second|prefix=p|"}
    # dependentTasks (.after) ordered the two counts
    assert run.task("count-lines-2")["start_ms"] >= run.task("count-lines")["end_ms"]


# =====================================================================================
# Fail-fast and --keep-going
# =====================================================================================


@dsl.container_component
def boom(out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine", command=["sh", "-c", "sleep 0.2; echo going down >&2; exit 3", out])


@dsl.container_component
def slow(out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine", command=["sh", "-c", 'sleep 1.5; echo slow > "$0"', out])


@dsl.container_component
def after_slow(out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine", command=["sh", "-c", 'echo after > "$0"', out])


@dsl.container_component
def after_boom(out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine", command=["sh", "-c", 'echo never > "$0"', out])


@dsl.pipeline(name="fail-fast")
def fail_fast():
    b = boom()
    s = slow()
    after_slow().after(s)
    after_boom().after(b)


def test_fail_fast(trellis, compiled):
    run = trellis.run(compiled(fail_fast), None, "--parallelism", "4")
    assert run.rc == 1, run.describe()
    assert run.state == "FAILED"
    states = run.states()
    assert states["boom"] == "FAILED"
    assert run.task("boom")["message"] == "exit code 3"
    assert "going down" in run.log("boom")
    # the task already running when boom failed finishes...
    assert states["slow"] == "SUCCEEDED"
    assert run.params("slow") == {"out": "slow\n"}
    # ...but nothing new starts
    assert states["after-slow"] == "SKIPPED", run.describe()
    assert states["after-boom"] == "SKIPPED"
    assert not os.path.exists(run.attempt_dir("after-slow", 1))
    assert not os.path.exists(run.attempt_dir("after-boom", 1))


def test_keep_going(trellis, compiled):
    run = trellis.run(compiled(fail_fast), None, "--parallelism", "4", "--keep-going")
    assert run.rc == 1, run.describe()
    assert run.state == "FAILED"
    states = run.states()
    assert states["boom"] == "FAILED"
    assert states["slow"] == "SUCCEEDED"
    # independent of the failure: runs
    assert states["after-slow"] == "SUCCEEDED", run.describe()
    assert run.params("after-slow") == {"out": "after\n"}
    # depends on the failed task: never runs
    assert states["after-boom"] == "SKIPPED"
    assert not os.path.exists(run.attempt_dir("after-boom", 1))


# =====================================================================================
# Trellis YAML: the same DAG in both formats
# =====================================================================================

SAME_DAG_YAML = """\
name: same-dag
params:
  rows: 3
  words: [alpha, beta, gamma]
steps:
  prepare:
    run: 'i=1; while [ "$i" -le "{{ params.rows }}" ]; do echo "row $i"; i=$((i+1)); done > "{{ outputs.data }}"; echo "{{ params.rows }}" > "{{ outputs.count }}"'
    outputs:
      data: dataset
      count: int
  tag:
    foreach: "{{ params.words }}"
    parallelism: 2
    inputs:
      data: "{{ steps.prepare.outputs.data }}"
      word: "{{ item }}"
    run: 'printf "%s:%s" "{{ inputs.word }}" "$(wc -l < "{{ inputs.data }}" | tr -d " ")" > "{{ outputs.label }}"'
    outputs:
      label: string
  summary:
    when: steps.prepare.outputs.count > 2
    inputs:
      labels: "{{ steps.tag.outputs.label }}"
    run: 'printf "%s" "{{ inputs.labels }}" > "{{ outputs.text }}"; printf "%s\\n" "{{ inputs.labels }}" > "{{ outputs.report }}"'
    outputs:
      text: string
      report: artifact
  never:
    when: steps.prepare.outputs.count > 100
    run: 'echo never > "{{ outputs.text }}"'
    outputs:
      text: string
"""


@dsl.container_component
def prepare(rows: int, data: Output[Dataset], count: dsl.OutputPath(int)):
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c",
                 'i=1; while [ "$i" -le "$0" ]; do echo "row $i"; i=$((i+1)); done > "$1"; echo "$0" > "$2"',
                 rows, data.path, count],
    )


@dsl.container_component
def tag(data: Input[Dataset], word: str, label: dsl.OutputPath(str)):
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c", 'printf "%s:%s" "$0" "$(wc -l < "$1" | tr -d " ")" > "$2"', word, data.path, label],
    )


@dsl.container_component
def summary(labels: List[str], text: dsl.OutputPath(str), report: Output[dsl.Artifact]):
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c", 'printf "%s" "$0" > "$1"; printf "%s\\n" "$0" > "$2"', labels, text, report.path],
    )


@dsl.container_component
def never(text: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine", command=["sh", "-c", 'echo never > "$0"', text])


@dsl.pipeline(name="same-dag")
def same_dag(rows: int = 3, words: List[str] = ["alpha", "beta", "gamma"]):
    p = prepare(rows=rows)
    with dsl.ParallelFor(words, parallelism=2) as w:
        t = tag(data=p.outputs["data"], word=w)
    with dsl.If(p.outputs["count"] > 2):
        summary(labels=dsl.Collected(t.outputs["label"]))
    with dsl.If(p.outputs["count"] > 100):
        never()


def step_results(run) -> Dict[tuple, dict]:
    """Per step that ran, by (step name, iteration): output parameters and artifact texts."""
    res = {}
    for path, t in run.tasks.items():
        if t["state"] != "SUCCEEDED" or not os.path.exists(os.path.join(run.run_dir, path, "1", "status.json")):
            continue
        parts = path.split("/")
        index = next((int(p) for p in parts if p.isdigit()), None)
        arts = {}
        for name, lst in t["outputs"]["artifacts"].items():
            with open(lst[0]["uri"]) as f:
                arts[name] = f.read()
        res[(parts[-1], index)] = {"parameters": t["outputs"]["parameters"], "artifacts": arts}
    return res


@pytest.mark.parametrize("rows", [3, 2])
def test_trellis_yaml_and_kfp_same_dag(trellis, compiled, work, rows):
    yaml_path = write(os.path.join(work, "same-dag.trellis.yaml"), SAME_DAG_YAML)
    params = {"rows": rows, "words": ["alpha", "beta", "gamma"]}
    a = trellis.start(yaml_path, params)
    b = trellis.start(compiled(same_dag), params)
    ra, rb = a.wait(), b.wait()
    assert ra.rc == 0, ra.describe()
    assert rb.rc == 0, rb.describe()
    ya, yb = step_results(ra), step_results(rb)
    assert ya == yb
    expected = {
        ("prepare", None): {"parameters": {"count": rows}, "artifacts": {"data": "".join(f"row {i}\n" for i in range(1, rows + 1))}},
        ("tag", 0): {"parameters": {"label": f"alpha:{rows}"}, "artifacts": {}},
        ("tag", 1): {"parameters": {"label": f"beta:{rows}"}, "artifacts": {}},
        ("tag", 2): {"parameters": {"label": f"gamma:{rows}"}, "artifacts": {}},
    }
    if rows > 2:
        labels = json.dumps([f"alpha:{rows}", f"beta:{rows}", f"gamma:{rows}"], separators=(",", ":"))
        expected[("summary", None)] = {"parameters": {"text": labels}, "artifacts": {"report": labels + "\n"}}
    assert ya == expected
    # the steps whose condition is false are skipped in both
    for r in (ra, rb):
        skipped = {p.split("/")[-1] for p, t in r.tasks.items() if t["state"] == "SKIPPED"}
        assert "never" in skipped or any(p.startswith("condition") for p in skipped), r.describe()
        assert r.state == "SUCCEEDED"


FEATURES_YAML = """\
name: features
params:
  dir:
  points: [{x: "1", y: two}, {x: "3", y: four}]
steps:
  first:
    run: 'echo "$GREETING from {{ step.name }} of {{ run.name }}" > "{{ outputs.text }}"; echo "{{ run.id }}" > "{{ outputs.id }}"'
    env:
      GREETING: hello
    outputs:
      text: string
      id: string
  each:
    foreach: "{{ params.points }}"
    inputs:
      x: "{{ item.x }}"
      y: "{{ item.y }}"
    run: [sh, -c, 'printf "%s-%s" "$0" "$1" > "$2"', "{{ inputs.x }}", "{{ inputs.y }}", "{{ outputs.pair }}"]
    outputs:
      pair: string
  flaky:
    needs: [first]
    retry: {count: 3, backoff: 200ms}
    run: 'n=$(cat "{{ params.dir }}/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "{{ params.dir }}/n"; [ $n -ge 3 ]'
  last:
    needs: flaky
    run: 'echo "{{ steps.each.outputs.pair }}" > "{{ outputs.all }}"'
    outputs:
      all: string
"""


def test_trellis_yaml_features(trellis, work):
    """env, run and step names, foreach over dict items, retry with backoff, needs, a collected list."""
    counter = subdir(work, "counter", 0o777)
    spec = write(os.path.join(work, "features.yaml"), FEATURES_YAML)
    run = trellis.run(spec, {"dir": counter})
    assert run.rc == 0, run.describe()
    rid = run.summary["run_id"]
    assert run.params("first") == {"text": "hello from first of features\n", "id": rid + "\n"}
    assert run.params("each") == {"pair": ["1-two", "3-four"]}
    assert run.task("flaky")["attempts"] == 3
    with open(os.path.join(counter, "n")) as f:
        assert f.read() == "3\n"
    gaps = [run.status("flaky", a + 1)["start_time_ms"] - run.status("flaky", a)["end_time_ms"] for a in (1, 2)]
    assert gaps[0] >= 180 and gaps[1] >= 380, gaps  # 200 ms, then doubled
    assert run.params("last") == {"all": '["1-two","3-four"]\n'}
    assert run.task("last")["start_ms"] >= run.task("flaky")["end_ms"]


ITEMS_YAML = """\
name: items
params:
  rates: [0.01, 0.1]
  points: [{x: 1, y: two}, {x: 3, y: four}]
steps:
  rate:
    foreach: "{{ params.rates }}"
    inputs:
      lr: "{{ item }}"
      tag: "lr-{{ item }}"
    run: [sh, -c, 'printf "%s %s" "$0" "$1" > "$2"', "{{ inputs.lr }}", "{{ inputs.tag }}", "{{ outputs.o }}"]
    outputs:
      o: string
  point:
    foreach: "{{ params.points }}"
    run: [sh, -c, 'printf "%s/%s" "$0" "$1" > "$2"', "{{ item.x }}", "{{ item.y }}", "{{ outputs.o }}"]
    outputs:
      o: string
  make:
    run: 'echo "[1, 2, 3]" > "{{ outputs.xs }}"'
    outputs:
      xs: list
  fromstep:
    foreach: "{{ steps.make.outputs.xs }}"
    inputs:
      x: "{{ item }}"
    run: [sh, -c, 'printf "x%s" "$0" > "$1"', "{{ inputs.x }}", "{{ outputs.o }}"]
    outputs:
      o: string
"""


def test_trellis_yaml_foreach_non_string_items(trellis, work):
    """foreach over numbers (the docs' own example: learning_rates [0.01, 0.1], lr: "{{ item }}"),
    over dict items with a number field, and over a step's list output of ints."""
    spec = write(os.path.join(work, "items.yaml"), ITEMS_YAML)
    run = trellis.run(spec, None, "--keep-going")
    assert run.rc == 0, run.describe()
    assert run.params("rate") == {"o": ["0.01 lr-0.01", "0.1 lr-0.1"]}
    assert run.params("point") == {"o": ["1/two", "3/four"]}
    assert run.params("fromstep") == {"o": ["x1", "x2", "x3"]}


# =====================================================================================
# Limits: memory, timeouts and process trees, the store
# =====================================================================================

HOG = "b = b'x' * (400 * 1024 * 1024); print(len(b))"


def assert_oom(run, path):
    assert run.rc == 1, run.describe()
    t = run.task(path)
    assert t["state"] == "FAILED"
    assert "out of memory (limit 64M)" in t["message"], run.describe()
    st = run.status(path)
    assert st["reason"] == "oom", st
    # killed through a cgroup (this machine: cgroup v1), not refused by an rlimit
    assert st["limit_mechanism"] in ("cgroup-v1", "cgroup-v2"), st


def test_memory_limit_trellis_yaml(trellis, work):
    spec = write(
        os.path.join(work, "hog.yaml"),
        "name: hog\nsteps:\n  hog:\n    run: [python3, -c, \"%s\"]\n    resources: {memory: 64M}\n" % HOG,
    )
    assert_oom(trellis.run(spec), "hog")


@dsl.container_component
def hog():
    return dsl.ContainerSpec(image="python:3.11", command=["python3", "-c", HOG])


@dsl.pipeline(name="hog")
def hog_pipeline():
    hog().set_memory_limit("64M")


def test_memory_limit_kfp(trellis, compiled):
    assert_oom(trellis.run(compiled(hog_pipeline)), "hog")


def _marker() -> str:
    # `sleep` takes fractional seconds: the marker is in the sleeping processes' argv
    return f"300.{random.randrange(10**8, 10**9)}"


def test_timeout_kills_setsid_tree(trellis, work):
    marker = _marker()
    spec = write(
        os.path.join(work, "timeout.yaml"),
        f"""\
name: timeout
steps:
  sleeper:
    timeout: 2s
    run: "setsid sleep {marker} & sleep {marker}"
""",
    )
    t0 = time.monotonic()
    run = trellis.run(spec)
    elapsed = time.monotonic() - t0
    assert run.rc == 1, run.describe()
    t = run.task("sleeper")
    assert t["state"] == "FAILED"
    assert t["message"] == "timed out after 2 s", t
    assert run.status("sleeper")["reason"] == "timeout"
    assert 2 <= elapsed < 20, elapsed
    assert no_process_with(marker) == []


def test_pipeline_timeout(trellis, work):
    marker = _marker()
    spec = write(
        os.path.join(work, "pipeline-timeout.yaml"),
        f"""\
name: pipeline-timeout
timeout: 2s
steps:
  sleeper:
    run: [sleep, "{marker}"]
  later:
    needs: sleeper
    run: [true]
""",
    )
    t0 = time.monotonic()
    run = trellis.run(spec)
    assert time.monotonic() - t0 < 20
    assert run.rc == 1, run.describe()
    assert run.state in ("FAILED", "CANCELLED")
    assert run.task("later")["state"] in ("SKIPPED", "CANCELLED")
    assert run.task("later")["message"] == "not run: the pipeline timed out"
    assert not os.path.exists(run.attempt_dir("later", 1))
    assert no_process_with(marker) == []
    # the task the timeout stopped says why: "cancelled" alone reads like a Ctrl-C, and
    # with no later step, nothing in the summary would tell that the pipeline timed out
    sleeper = run.task("sleeper")
    assert sleeper["state"] in ("FAILED", "CANCELLED")
    assert "timed out" in sleeper["message"], sleeper


def test_finished_step_leaves_no_process(trellis, work):
    marker = _marker()
    spec = write(
        os.path.join(work, "orphan.yaml"),
        f"""\
name: orphan
steps:
  forker:
    run: "setsid sleep {marker} > /dev/null 2>&1 & sleep {marker} > /dev/null & echo started > \\"{{{{ outputs.said }}}}\\""
    outputs:
      said: string
""",
    )
    t0 = time.monotonic()
    run = trellis.run(spec)
    assert run.rc == 0, run.describe()
    assert run.params("forker") == {"said": "started\n"}
    assert time.monotonic() - t0 < 20
    assert no_process_with(marker) == []


PROBE = """\
import errno, sys
res = []
for path, mode in ((sys.argv[1], "r"), (sys.argv[1], "a"), (sys.argv[2], "r")):
    try:
        with open(path, mode) as f:
            f.read() if mode == "r" else None
        res.append("ok")
    except OSError as e:
        res.append(errno.errorcode[e.errno])
with open(sys.argv[3], "w") as f:
    f.write(" ".join(res))
"""


def test_step_cannot_open_store(trellis, work):
    secret_dir = subdir(work, "store", 0o755)
    store = write(os.path.join(secret_dir, "trellis.db"), "not for steps\n")
    os.chmod(store, 0o600)
    public = write(os.path.join(secret_dir, "public.txt"), "anyone\n")
    os.chmod(public, 0o644)
    st = os.stat(store)
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o600
    code = "\n".join("        " + line for line in PROBE.splitlines())
    text = f"""\
name: probe
params:
  store: {store}
  public: {public}
steps:
  probe:
    run:
      - python3
      - -c
      - |-
{code}
      - "{{{{ params.store }}}}"
      - "{{{{ params.public }}}}"
      - "{{{{ outputs.result }}}}"
    outputs:
      result: string
"""
    spec = write(os.path.join(work, "probe.yaml"), text)
    run = trellis.run(spec)
    assert run.rc == 0, run.describe() + "\n" + text
    # read and append refused; the public file next to it reads fine (so the folder is reachable)
    assert run.params("probe") == {"result": "EACCES EACCES ok"}
    with open(store) as f:
        assert f.read() == "not for steps\n"
    assert run.status("probe")["user"] == "nobody"


# =====================================================================================
# Parameters: -p typed by declaration; unknown and missing parameters
# =====================================================================================


@dsl.component
def echo_types(i: int, f: float, b: bool, l: list, d: dict, s: str) -> str:
    import json

    vals = dict(i=i, f=f, b=b, l=l, d=d, s=s)
    return json.dumps({k: [type(v).__name__, v] for k, v in vals.items()}, sort_keys=True)


@dsl.pipeline(name="typed-params")
def typed_params(i: int, f: float, b: bool, l: list, d: dict, s: str = "default") -> str:
    return echo_types(i=i, f=f, b=b, l=l, d=d, s=s).output


def test_typed_params(trellis, compiled, local_root):
    spec = compiled(typed_params)
    pending = trellis.start(
        spec,
        None,
        "-p", "i=42",
        "-p", "f=2.5",
        "-p", "b=true",
        "-p", 'l=[1, "two", 3.5]',
        "-p", 'd={"k": [1, 2], "n": "x"}',
        "-p", "s=123",
    )
    local = run_local(typed_params, local_root, i=42, f=2.5, b=True, l=[1, "two", 3.5], d={"k": [1, 2], "n": "x"},
                      s="123")
    run = pending.wait()
    assert run.rc == 0, run.describe()
    got = json.loads(run.outputs["Output"])
    assert got == {
        "i": ["int", 42],
        "f": ["float", 2.5],
        "b": ["bool", True],
        "l": ["list", [1, "two", 3.5]],
        "d": ["dict", {"k": [1, 2], "n": "x"}],
        "s": ["str", "123"],
    }
    assert got == json.loads(local.outputs["Output"])


def test_typed_params_defaults_and_spellings(trellis, compiled):
    spec = compiled(typed_params)
    run = trellis.run(spec, None, "-p", "i=-7", "-p", "f=3", "-p", "b=False", "-p", "l=[]", "-p", "d={}")
    assert run.rc == 0, run.describe()
    got = json.loads(run.outputs["Output"])
    assert got["i"] == ["int", -7]
    assert got["f"][1] == 3  # an int is a fine float
    assert got["b"] == ["bool", False]
    assert got["l"] == ["list", []] and got["d"] == ["dict", {}]
    assert got["s"] == ["str", "default"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p", "nope=1"], "the pipeline has no parameter 'nope'"),
        (["-p", "i=forty-two"], "parameter 'i' must be"),
        (["-p", "i=1.5"], "parameter 'i' must be"),
        (["-p", "b=maybe"], "parameter 'b' must be"),
        (["-p", "l={}"], "parameter 'l' must be"),
        (["-p", "d=[1]"], "parameter 'd' must be"),
        (["-p", "noequals"], "NAME=VALUE"),
    ],
)
def test_bad_params(trellis, compiled, args, message):
    spec = compiled(typed_params)
    base = ["-p", "i=1", "-p", "f=1.0", "-p", "b=true", "-p", "l=[]", "-p", "d={}"]
    run = trellis.run(spec, None, *base, *args)
    assert run.rc == 2, run.describe()
    assert message in run.stderr
    assert run.summary is None
    assert os.listdir(trellis.dest) == []  # refused before anything was made


def test_missing_required_param(trellis, compiled):
    spec = compiled(typed_params)
    run = trellis.run(spec, None, "-p", "i=1", "-p", "f=1.0", "-p", "b=true", "-p", "l=[]")
    assert run.rc == 2, run.describe()
    assert "missing value for pipeline parameter 'd' (-p d=...)" in run.stderr, run.stderr
    assert run.summary is None


def test_trellis_yaml_params(trellis, work):
    spec = write(
        os.path.join(work, "params.yaml"),
        """\
name: yaml-params
params:
  rows: 1000
  rate: 0.5
  flag: true
  names: [a, b]
  cfg: {type: dict, default: {k: v}}
  who: {type: string, description: required}
steps:
  show:
    run: 'printf "%s %s %s %s %s %s" "{{ params.rows }}" "{{ params.rate }}" "{{ params.flag }}" "{{ params.names }}" "{{ params.cfg }}" "{{ params.who }}" > "{{ outputs.line }}"'
    outputs:
      line: string
""",
    )
    run = trellis.run(spec, None, "-p", "who=me", "-p", "rows=7", "-p", 'names=["x"]')
    assert run.rc == 0, run.describe()
    assert run.params("show") == {"line": '7 0.5 true ["x"] {"k":"v"} me'}
    bad = trellis.run(spec, None, "-p", "who=me", "-p", "rows=many")
    assert bad.rc == 2 and "parameter 'rows' must be" in bad.stderr, bad.describe()
    missing = trellis.run(spec)
    assert missing.rc == 2 and "missing value for pipeline parameter 'who'" in missing.stderr, missing.describe()
    unknown = trellis.run(spec, None, "-p", "who=me", "-p", "whom=you")
    assert unknown.rc == 2 and "the pipeline has no parameter 'whom'" in unknown.stderr


# =====================================================================================
# Cancel, global parallelism, isolation from other runs
# =====================================================================================


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cancel(trellis, work, sig):
    """Ctrl-C (or SIGTERM) cancels: running steps and their trees are killed, state recorded."""
    marker = _marker()
    spec = write(
        os.path.join(work, "cancel.yaml"),
        f"""\
name: cancel
steps:
  a:
    run: "setsid sleep {marker} & sleep {marker}"
  b:
    run: [sleep, "{marker}"]
  c:
    needs: [a, b]
    run: [echo, never]
""",
    )
    pending = trellis.start(spec, None, "--parallelism", "4")
    deadline = time.monotonic() + 20
    pids = []
    while time.monotonic() < deadline:
        pids = glob.glob(os.path.join(trellis.dest, "pipelines", "*", "[ab]", "1", "pid"))
        if len(pids) == 2 and len(no_process_with(marker)) >= 3:
            break
        time.sleep(0.05)
    assert len(pids) == 2, "the steps did not start"
    pending.proc.send_signal(sig)
    run = pending.wait()
    assert run.rc == 1, run.describe()
    assert run.state == "CANCELLED"
    assert run.task("a")["state"] == "CANCELLED"
    assert run.task("b")["state"] == "CANCELLED"
    assert run.task("c")["state"] == "CANCELLED"
    assert run.status("a")["reason"] == "cancelled"
    assert not os.path.exists(run.attempt_dir("c", 1))
    assert no_process_with(marker) == []


@dsl.container_component
def nap(out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine", command=["sh", "-c", 'sleep 0.4; echo done > "$0"', out])


@dsl.pipeline(name="naps")
def naps():
    for _ in range(4):
        nap()


@pytest.mark.parametrize("parallelism", [1, 3])
def test_global_parallelism(trellis, compiled, parallelism):
    run = trellis.run(compiled(naps), None, "--parallelism", str(parallelism))
    assert run.rc == 0, run.describe()
    tasks = list(run.tasks.values())
    assert len(tasks) == 4
    assert max_overlap(tasks) == parallelism


def test_step_user_root_can_open_store(trellis, work):
    """--step-user "": the step runs as root, and the same probe opens the file: the
    EACCES of test_step_cannot_open_store comes from the unprivileged user."""
    secret_dir = subdir(work, "store", 0o755)
    store = write(os.path.join(secret_dir, "trellis.db"), "not for steps\n")
    os.chmod(store, 0o600)
    spec = write(
        os.path.join(work, "probe.yaml"),
        f"""\
name: probe-root
steps:
  probe:
    run: ['sh', '-c', 'cat "$0" > "$1"', "{store}", "{{{{ outputs.got }}}}"]
    outputs:
      got: string
""",
    )
    run = trellis.run(spec, None, "--step-user", "")
    assert run.rc == 0, run.describe()
    assert run.params("probe") == {"got": "not for steps\n"}
    assert run.status("probe")["user"] == "root"


def test_step_cannot_read_other_runs_folder(trellis, work):
    """Issue 4: a step must not read or write other runs' folders. One run writes an
    artifact; a step of a later run (same artifact root) tries to read and append to it."""
    first = write(
        os.path.join(work, "first.yaml"),
        """\
name: first
steps:
  make:
    run: 'echo "run one secret" > "{{ outputs.data }}"'
    outputs:
      data: artifact
""",
    )
    r1 = trellis.run(first)
    assert r1.rc == 0, r1.describe()
    target = r1.artifact_uri("make", "data")
    snoop = write(
        os.path.join(work, "snoop.yaml"),
        """\
name: snoop
params:
  target:
steps:
  snoop:
    run: [sh, -c, 'if cat "$0" >/dev/null 2>&1; then r=read; else r=no-read; fi; if echo x 2>/dev/null >> "$0"; then w=wrote; else w=no-write; fi; echo "$r $w" > "$1"', "{{ params.target }}", "{{ outputs.got }}"]
    outputs:
      got: string
""",
    )
    r2 = trellis.run(snoop, {"target": target})
    assert r2.rc == 0, r2.describe()
    with open(target) as f:
        assert f.read() == "run one secret\n"
    assert r2.params("snoop") == {"got": "no-read no-write\n"}


def test_image_runs_on_host_and_says_so(trellis, work):
    """Issue 4: `image:` runs on the host by default and says so in the record: the
    task's summary entry, status or log names the image it did not use."""
    spec = write(
        os.path.join(work, "image.yaml"),
        """\
name: image
steps:
  step:
    image: alpine:3.19
    run: 'echo ran > "{{ outputs.o }}"'
    outputs:
      o: string
""",
    )
    run = trellis.run(spec)
    assert run.rc == 0, run.describe()
    assert run.params("step") == {"o": "ran\n"}
    record = json.dumps(run.task("step")) + json.dumps(run.status("step")) + run.log("step")
    assert "alpine:3.19" in record and "host" in record, record


def _has_gpu() -> bool:
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


def test_gpu_request_assigned_or_refused(trellis, work):
    """Issue 4: GPUs are assigned with CUDA_VISIBLE_DEVICES or refused with a clear
    message, never silently ignored."""
    spec = write(
        os.path.join(work, "gpu.yaml"),
        """\
name: gpu
steps:
  g:
    run: 'printf "%s" "${CUDA_VISIBLE_DEVICES-unset}" > "{{ outputs.cuda }}"'
    resources: {gpu: 1}
    outputs:
      cuda: string
""",
    )
    run = trellis.run(spec)
    if _has_gpu():
        assert run.rc == 0, run.describe()
        assert run.params("g")["cuda"] not in ("unset", ""), run.params("g")
    else:
        # no GPU on this machine: the request cannot be met
        assert run.rc in (1, 2), run.describe()
        said = run.stderr + (json.dumps(run.summary) if run.summary else "")
        assert "gpu" in said.lower(), said
