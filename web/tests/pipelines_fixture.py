"""Compiled pipelines for web/tests/pipelines.test.mjs, written as KFP IR YAML
into the folder given as argv[1]:
  two_steps.yaml     the two-step pipeline of pipeline_fixture.py
  control_flow.yaml  a dsl.If, a dsl.ParallelFor over 3 items and an exit
                     handler (sub-DAGs the UI draws as group boxes)
"""

import sys
from pathlib import Path

from typing import List

from kfp import compiler, dsl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_fixture import two_steps  # noqa: E402


@dsl.component(base_image="python:3.11")
def flip(n: int) -> int:
    return n % 2


@dsl.component(base_image="python:3.11")
def say(text: str) -> str:
    print(f"say: {text}", flush=True)
    return text


@dsl.component(base_image="python:3.11")
def square(x: int) -> int:
    print(f"square {x}", flush=True)
    return x * x


@dsl.component(base_image="python:3.11")
def goodbye() -> str:
    return "bye"


@dsl.pipeline(name="ui-control-flow")
def control_flow(n: int = 3, items: List[int] = [1, 2, 3]):
    bye = goodbye()
    with dsl.ExitHandler(bye, name="cleanup"):
        f = flip(n=n)
        with dsl.If(f.output == 1, name="odd"):
            say(text="odd")
        with dsl.ParallelFor(items, name="each") as item:
            square(x=item)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    compiler.Compiler().compile(two_steps, str(out / "two_steps.yaml"))
    compiler.Compiler().compile(control_flow, str(out / "control_flow.yaml"))
