"""Runs through the official `kfp.Client`, unchanged, against `trellis server`:
run from a package, wait for completion, list runs with a filter, terminate a
long run, retry a failed one (through the generated client, as kfp.Client has no
retry method), archive and delete."""

import datetime
import sys
import tempfile
import time
from pathlib import Path

import kfp
import pytest
from kfp import compiler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pipeline_runs import arith, flaky, shared_dir, sleepers, start_server  # noqa: E402


def package(func):
    d = Path(tempfile.mkdtemp(prefix="trellis-pkg-", dir="/tmp"))
    path = d / f"{func.name}.yaml"
    compiler.Compiler().compile(func, str(path))
    return str(path)


def wait_until(client, run_id, states, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = client.get_run(run_id)
        if run.state in states:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} is {run.state}")


def test_run_from_package_and_wait(client):
    result = client.create_run_from_pipeline_package(package(arith), arguments={"a": 3, "b": 4},
                                                     run_name="from-package")
    run = result.wait_for_run_completion(timeout=120)
    assert run.state == "SUCCEEDED"
    assert run.display_name == "from-package"
    # the default experiment is MLflow's Default
    exp = client.get_experiment(experiment_name="Default")
    assert run.experiment_id == exp.experiment_id
    names = {t.display_name for t in run.run_details.task_details}
    assert names == {"add", "double", "report"}
    assert isinstance(run.created_at, datetime.datetime)


def test_list_runs_with_filter_sort_and_paging(client):
    exp = client.create_experiment("listing")
    ids = []
    for i in range(3):
        r = client.create_run_from_pipeline_package(package(arith), arguments={"a": i},
                                                    run_name=f"list-{i}",
                                                    experiment_name="listing")
        ids.append(r.run_id)
    for rid in ids:
        client.wait_for_run_completion(rid, timeout=120, sleep_duration=1)
    page = client.list_runs(experiment_id=exp.experiment_id, page_size=2, sort_by="created_at desc")
    assert page.total_size == 3
    assert [r.display_name for r in page.runs] == ["list-2", "list-1"]
    assert page.next_page_token
    rest = client.list_runs(experiment_id=exp.experiment_id, page_size=2,
                            sort_by="created_at desc", page_token=page.next_page_token)
    assert [r.display_name for r in rest.runs] == ["list-0"]
    flt = '{"predicates": [{"key": "display_name", "operation": "EQUALS", "string_value": "list-1"}]}'
    one = client.list_runs(filter=flt)
    assert [r.run_id for r in one.runs] == [ids[1]]
    ok = client.list_runs(experiment_id=exp.experiment_id,
                          filter='{"predicates": [{"key": "state", "operation": 1, '
                                 '"stringValue": "SUCCEEDED"}]}')
    assert ok.total_size == 3


def test_terminate_retry_archive_delete(client):
    marks = shared_dir("trellis-kfpc-")
    long = client.create_run_from_pipeline_package(
        package(sleepers), arguments={"seconds": 60, "marker_dir": str(marks)}, run_name="long")
    wait_until(client, long.run_id, {"RUNNING"})
    client.terminate_run(long.run_id)
    # CANCELED is terminal for the server; kfp.Client's wait_for_run_completion
    # does not count it (docs/pipelines-server.md), so poll get_run
    assert wait_until(client, long.run_id, {"CANCELED"}, timeout=30).state == "CANCELED"

    marks2 = shared_dir("trellis-kfpc-flaky-")
    r = client.create_run_from_pipeline_package(package(flaky),
                                                arguments={"marker_dir": str(marks2)},
                                                run_name="flaky")
    failed = client.wait_for_run_completion(r.run_id, timeout=120, sleep_duration=1)
    assert failed.state == "FAILED"
    client.runs.run_service_retry_run(run_id=r.run_id)
    done = client.wait_for_run_completion(r.run_id, timeout=120, sleep_duration=1)
    assert done.state == "SUCCEEDED"

    client.archive_run(r.run_id)
    assert client.get_run(r.run_id).storage_state == "ARCHIVED"
    client.unarchive_run(r.run_id)
    assert client.get_run(r.run_id).storage_state == "AVAILABLE"
    client.delete_run(r.run_id)
    with pytest.raises(kfp.client.client.kfp_server_api.ApiException) as e:
        client.get_run(r.run_id)
    assert e.value.status == 404


def test_run_an_uploaded_pipeline_version(client):
    p = client.upload_pipeline(package(arith), pipeline_name="arith-uploaded")
    v = client.list_pipeline_versions(p.pipeline_id).pipeline_versions[0]
    exp = client.create_experiment("versions")
    run = client.run_pipeline(experiment_id=exp.experiment_id, job_name="from-version",
                              pipeline_id=p.pipeline_id, version_id=v.pipeline_version_id,
                              params={"a": 10})
    done = client.wait_for_run_completion(run.run_id, timeout=120, sleep_duration=1)
    assert done.state == "SUCCEEDED"
    assert done.pipeline_version_reference.pipeline_id == p.pipeline_id
    assert done.pipeline_version_reference.pipeline_version_id == v.pipeline_version_id
