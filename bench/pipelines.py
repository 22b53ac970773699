"""Pipeline engine benchmark (issue 4): scheduler overhead and wall time of `trellis run` on
a fan-out of N `true` tasks and a chain of 100, and the same small KFP pipeline of lightweight
Python components under `trellis run` and `kfp.local` (SubprocessRunner, use_venv=False).

    .venv/kfp/bin/python bench/pipelines.py [--fanout 1000,10000] [--parallelism 16]

Prints one JSON object per measurement and a summary table. Not part of CI.
"""


import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRELLIS = os.environ.get("TRELLIS_BIN", str(REPO / "build" / "trellis"))
KFP_PY = REPO / ".venv" / "kfp" / "bin" / "python3"


def trellis_run(pipeline, work, *extra):
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([TRELLIS, "run", str(pipeline), "--json", "--backend-store-uri",
                          f"sqlite:///{work}/t.db", "--artifacts-destination", str(work / "art"),
                          *extra], capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit(f"trellis run failed: {out.stderr[-2000:]}")
    summary = json.loads(out.stdout)
    # CPU of trellis, its supervisors and the steps (all reaped below us)
    summary["cpu_s"] = round(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, 2)
    return wall, summary


def fanout_yaml(n: int) -> str:
    return (f"name: fanout\nparams:\n  items: {json.dumps(list(range(n)))}\nsteps:\n  t:\n"
            f"    foreach: \"{{{{ params.items }}}}\"\n    run: [\"true\"]\n    cache: false\n")


def chain_yaml(n: int) -> str:
    steps = []
    for i in range(n):
        s = f"  s{i}:\n    run: [\"true\"]\n    cache: false\n"
        if i:
            s += f"    needs: [s{i - 1}]\n"
        steps.append(s)
    return "name: chain\nsteps:\n" + "".join(steps)


def kfp_pipeline(path: Path):
    from kfp import compiler, dsl

    @dsl.component
    def add(a: int, b: int) -> int:
        return a + b

    @dsl.component
    def double(x: int) -> int:
        return 2 * x

    @dsl.pipeline(name="small")
    def small(a: int = 1, b: int = 2) -> int:
        s = add(a=a, b=b)
        d = double(x=s.output)
        return double(x=d.output).output

    compiler.Compiler().compile(small, str(path))
    return small


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fanout", default="1000")
    ap.add_argument("--chain", type=int, default=100)
    ap.add_argument("--parallelism", type=int, default=16)
    ap.add_argument("--dir", default="/tmp",
                    help="where the store and the artifacts go (e.g. /dev/shm for tmpfs)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="trellis-bench-", dir=args.dir))
    base.chmod(0o755)
    results = []
    try:
        for n in [int(x) for x in args.fanout.split(",") if x]:
            work = base / f"fan{n}"
            work.mkdir()
            p = work / "p.yaml"
            p.write_text(fanout_yaml(n))
            wall, s = trellis_run(p, work, "--parallelism", str(args.parallelism))
            results.append({"workload": f"fan-out {n} x true", "wall_s": round(wall, 2),
                            "per_task_ms": round(1000 * wall / n, 2),
                            "cpu_per_task_ms": round(1000 * s["cpu_s"] / n, 2),
                            **s["scheduler"]})
        work = base / "chain"
        work.mkdir()
        p = work / "p.yaml"
        p.write_text(chain_yaml(args.chain))
        wall, s = trellis_run(p, work)
        results.append({"workload": f"chain {args.chain} x true", "wall_s": round(wall, 2),
                        "per_task_ms": round(1000 * wall / args.chain, 2),
                        "cpu_per_task_ms": round(1000 * s["cpu_s"] / args.chain, 2),
                        **s["scheduler"]})

        # the same KFP pipeline: trellis run vs kfp.local
        work = base / "kfp"
        work.mkdir()
        p = work / "small.yaml"
        small = kfp_pipeline(p)
        wall_t, s = trellis_run(p, work, "--python", str(KFP_PY))
        steps = len([t for t in s["tasks"] if t["attempts"]])
        from kfp import local

        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(work / "local"))
        t0 = time.perf_counter()
        small()
        wall_l = time.perf_counter() - t0
        results.append({"workload": "KFP pipeline, 3 Python steps", "trellis_s": round(wall_t, 2),
                        "kfp_local_s": round(wall_l, 2),
                        "trellis_per_step_s": round(wall_t / steps, 3),
                        "kfp_local_per_step_s": round(wall_l / steps, 3),
                        "ratio": round(wall_l / wall_t, 1)})
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for r in results:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
