"""The pipeline the UI tests run: two dependent lightweight Python components,
the second printing lines while it sleeps about 4 s. Prints the compiled
spec as kfp.Client puts it in a run body (MessageToDict of the PipelineSpec)."""

import json
import sys
import tempfile
from pathlib import Path

import yaml
from google.protobuf import json_format
from kfp import compiler, dsl
from kfp.pipeline_spec import pipeline_spec_pb2


@dsl.component(base_image="python:3.11")
def make_greeting(name: str) -> str:
    return f"hello {name}"


@dsl.component(base_image="python:3.11")
def slow_echo(text: str) -> str:
    import time

    for i in range(8):
        print(f"line {i}: {text}", flush=True)
        time.sleep(0.5)
    return text.upper()


@dsl.pipeline(name="ui-two-steps")
def two_steps(name: str = "trellis"):
    first = make_greeting(name=name)
    slow_echo(text=first.output)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.yaml"
        compiler.Compiler().compile(two_steps, str(path))
        spec = pipeline_spec_pb2.PipelineSpec()
        json_format.ParseDict(yaml.safe_load(path.read_text()), spec)
        json.dump(json_format.MessageToDict(spec), sys.stdout)
