"""KFP recurring runs through the official `kfp.Client` against `trellis
server`: periodic and cron schedules fire on time and their runs carry
recurring_run_id; disable stops new runs and enable restarts them;
max_concurrency is never exceeded (fires are skipped, not queued); list
(`recurringRuns`), get, delete; bad input answers 400 naming the problem.

Steps run on the kfp venv's Python as the unprivileged step user when the tests
run as root (see test_pipeline_runs.py).
"""

import sys
import tempfile
import time
from pathlib import Path

import kfp
import pytest
import requests
from kfp import compiler, dsl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_pipeline_runs import arith, shared_dir, sleepers, start_server  # noqa: E402

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"}
UNFINISHED = {"PENDING", "RUNNING", "CANCELING"}
ApiException = kfp.client.client.kfp_server_api.ApiException


@dsl.component
def hello(name: str) -> str:
    return "hello " + name


@dsl.pipeline(name="quick")
def quick(name: str = "x"):
    hello(name=name).set_caching_options(False)


@pytest.fixture(scope="module")
def server():
    srv = start_server("--max-pipeline-runs", "8")
    yield srv
    if srv.is_running():
        srv.stop()


@pytest.fixture(scope="module")
def client(server):
    return kfp.Client(host=server.url)


@pytest.fixture(scope="module")
def experiment(client):
    return client.create_experiment("recurring").experiment_id


def package(func):
    d = Path(tempfile.mkdtemp(prefix="trellis-pkg-", dir="/tmp"))
    path = d / f"{func.name}.yaml"
    compiler.Compiler().compile(func, str(path))
    return str(path)


def runs_of(client, rr_id):
    flt = ('{"predicates": [{"key": "recurring_run_id", "operation": "EQUALS", '
           f'"string_value": "{rr_id}"}}]}}')
    return client.list_runs(filter=flt, page_size=100).runs or []


def wait_runs(client, rr_id, n, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = runs_of(client, rr_id)
        if len(runs) >= n:
            return runs
        time.sleep(0.2)
    raise AssertionError(f"{len(runs_of(client, rr_id))} runs of {rr_id}, wanted {n}")


def wait_finished(client, run_ids, timeout=120):
    deadline = time.time() + timeout
    for rid in run_ids:
        while True:
            run = client.get_run(rid)
            if run.state in TERMINAL:
                break
            assert time.time() < deadline, f"run {rid} is {run.state}"
            time.sleep(0.3)


def test_periodic_fires_on_time_and_runs_carry_the_id(client, experiment):
    t0 = time.time()
    rr = client.create_recurring_run(experiment, "every2", interval_second=2,
                                     pipeline_package_path=package(quick),
                                     params={"name": "rr"})
    assert rr.status == "ENABLED"
    assert rr.mode == "ENABLE"
    assert rr.max_concurrency == "1"
    assert rr.trigger.periodic_schedule.interval_second == "2"
    assert rr.created_at and rr.updated_at
    runs = wait_runs(client, rr.recurring_run_id, 3, timeout=7.5)
    assert time.time() - t0 < 8
    ids = [r.run_id for r in runs]
    wait_finished(client, ids)
    for rid in ids:
        run = client.get_run(rid)
        assert run.state == "SUCCEEDED", run.error
        assert run.recurring_run_id == rr.recurring_run_id
        assert run.experiment_id == experiment
        assert run.display_name.startswith("every2-")
        assert run.runtime_config.parameters == {"name": "rr"}

    # disable: no new runs
    client.disable_recurring_run(rr.recurring_run_id)
    got = client.get_recurring_run(rr.recurring_run_id)
    assert got.status == "DISABLED" and got.mode == "DISABLE"
    before = len(runs_of(client, rr.recurring_run_id))
    time.sleep(5)
    assert len(runs_of(client, rr.recurring_run_id)) == before

    # enable again: runs restart (one, from now: nothing missed is caught up)
    client.enable_recurring_run(rr.recurring_run_id)
    assert client.get_recurring_run(rr.recurring_run_id).status == "ENABLED"
    wait_runs(client, rr.recurring_run_id, before + 1, timeout=4)
    assert len(runs_of(client, rr.recurring_run_id)) <= before + 2
    client.disable_recurring_run(rr.recurring_run_id)


def test_max_concurrency_is_never_exceeded(client, experiment):
    marks = shared_dir("trellis-rr-")
    rr = client.create_recurring_run(experiment, "slow", interval_second=1,
                                     max_concurrency=1,
                                     pipeline_package_path=package(sleepers),
                                     params={"seconds": 5, "marker_dir": str(marks)})
    seen_running = False
    for _ in range(16):
        runs = runs_of(client, rr.recurring_run_id)
        unfinished = [r for r in runs if r.state in UNFINISHED]
        assert len(unfinished) <= 1, [(r.run_id, r.state) for r in runs]
        seen_running = seen_running or bool(unfinished)
        time.sleep(0.5)
    assert seen_running
    client.disable_recurring_run(rr.recurring_run_id)
    runs = runs_of(client, rr.recurring_run_id)
    # 8 s of 1 s fires while one 5 s run holds the only slot: at most 2 runs
    assert 1 <= len(runs) <= 3
    for r in runs:
        if r.state in UNFINISHED:
            client.terminate_run(r.run_id)


def test_cron_schedule_fires(client, experiment):
    rr = client.create_recurring_run(experiment, "cron2", cron_expression="*/2 * * * * *",
                                     pipeline_package_path=package(quick), max_concurrency=3)
    assert rr.trigger.cron_schedule.cron == "*/2 * * * * *"
    assert rr.max_concurrency == "3"
    runs = wait_runs(client, rr.recurring_run_id, 2, timeout=6)
    client.disable_recurring_run(rr.recurring_run_id)
    wait_finished(client, [r.run_id for r in runs])
    for r in runs:
        assert client.get_run(r.run_id).state == "SUCCEEDED"


def test_version_reference_and_start_end_times(client, experiment):
    p = client.upload_pipeline(package(arith), pipeline_name="rr-arith")
    versions = client.list_pipeline_versions(p.pipeline_id).pipeline_versions
    # starts in the future: nothing fires yet
    rr = client.create_recurring_run(experiment, "later", interval_second=1,
                                     start_time="2999-01-01T00:00:00Z",
                                     pipeline_id=p.pipeline_id,
                                     version_id=versions[0].pipeline_version_id)
    assert rr.pipeline_version_reference.pipeline_id == p.pipeline_id
    # ended already: never fires
    done = client.create_recurring_run(experiment, "ended", cron_expression="* * * * * *",
                                       end_time="2001-01-01T00:00:00",
                                       pipeline_id=p.pipeline_id,
                                       version_id=versions[0].pipeline_version_id)
    # started in the past (no zone: UTC): fires
    now = client.create_recurring_run(experiment, "now", interval_second=1,
                                      start_time="2001-01-01T00:00:00",
                                      pipeline_id=p.pipeline_id,
                                      version_id=versions[0].pipeline_version_id,
                                      params={"a": 5})
    runs = wait_runs(client, now.recurring_run_id, 1, timeout=4)
    client.disable_recurring_run(now.recurring_run_id)
    time.sleep(1.5)
    assert runs_of(client, rr.recurring_run_id) == []
    assert runs_of(client, done.recurring_run_id) == []
    run = client.get_run(runs[0].run_id)
    assert run.pipeline_version_reference.pipeline_version_id == versions[0].pipeline_version_id
    wait_finished(client, [r.run_id for r in runs_of(client, now.recurring_run_id)])
    # a deleted version: the fire fails clearly and is recorded on the recurring run
    gone = client.create_recurring_run(experiment, "gone", interval_second=1,
                                       pipeline_id=p.pipeline_id,
                                       version_id=versions[0].pipeline_version_id)
    client.delete_pipeline_version(p.pipeline_id, versions[0].pipeline_version_id)
    deadline = time.time() + 5
    while time.time() < deadline:
        got = client.get_recurring_run(gone.recurring_run_id)
        if got.error:
            break
        time.sleep(0.3)
    client.disable_recurring_run(gone.recurring_run_id)
    assert got.error and "not found" in got.error.message


def test_list_get_delete(client, experiment, server):
    other = client.create_experiment("recurring-list").experiment_id
    made = []
    for i in range(3):
        made.append(client.create_recurring_run(other, f"list-{i}", interval_second=3600,
                                                pipeline_package_path=package(quick),
                                                enabled=(i != 1)))
    page = client.list_recurring_runs(experiment_id=other, page_size=2,
                                      sort_by="created_at desc")
    assert page.total_size == 3
    assert [r.display_name for r in page.recurring_runs] == ["list-2", "list-1"]
    assert page.recurring_runs[1].status == "DISABLED"
    assert page.next_page_token
    rest = client.list_recurring_runs(experiment_id=other, page_size=2,
                                      sort_by="created_at desc", page_token=page.next_page_token)
    assert [r.display_name for r in rest.recurring_runs] == ["list-0"]
    flt = '{"predicates": [{"key": "display_name", "operation": "EQUALS", "string_value": "list-1"}]}'
    one = client.list_recurring_runs(filter=flt)
    assert [r.recurring_run_id for r in one.recurring_runs] == [made[1].recurring_run_id]
    # the wire key is camelCase
    raw = requests.get(f"{server.url}/apis/v2beta1/recurringruns",
                       params={"experiment_id": other}).json()
    assert len(raw["recurringRuns"]) == 3 and "recurring_runs" not in raw
    got = client.get_recurring_run(made[0].recurring_run_id)
    assert got.display_name == "list-0" and got.experiment_id == other
    for r in made:
        client.delete_recurring_run(r.recurring_run_id)
        with pytest.raises(ApiException) as e:
            client.get_recurring_run(r.recurring_run_id)
        assert e.value.status == 404
    assert client.list_recurring_runs(experiment_id=other).recurring_runs is None


def test_bad_input(client, experiment, server):
    url = f"{server.url}/apis/v2beta1/recurringruns"
    spec = {"pipelineInfo": {"name": "x"}}
    p = Path(package(quick))
    import yaml
    spec = yaml.safe_load(p.read_text())

    def post(**kw):
        body = {"display_name": "bad", "pipeline_spec": spec, "experiment_id": experiment,
                "max_concurrency": 1, "mode": "ENABLE",
                "trigger": {"periodic_schedule": {"interval_second": 60}}}
        body.update(kw)
        return requests.post(url, json=body)

    assert post().status_code == 200
    cases = [
        (dict(trigger={"periodic_schedule": {"interval_second": 5},
                       "cron_schedule": {"cron": "* * * * * *"}}), "both"),
        (dict(trigger={}), "neither"),
        (dict(trigger={"periodic_schedule": {"interval_second": 0}}), "at least 1"),
        (dict(max_concurrency=11), "max_concurrency"),
        (dict(max_concurrency=0), "max_concurrency"),
        (dict(trigger={"cron_schedule": {"cron": "* * 25 * * *"}}), "'hour'"),
        (dict(trigger={"cron_schedule": {"cron": "every day"}}), "fields"),
        (dict(trigger={"cron_schedule": {"cron": "* * * * *", "start_time": "tomorrow"}}),
         "start_time"),
        (dict(display_name=""), "display_name"),
        (dict(mode="SOMETIMES"), "mode"),
        (dict(pipeline_spec={"pipelineInfo": {}}), "pipeline"),
    ]
    for kw, word in cases:
        r = post(**kw)
        assert r.status_code == 400, (kw, r.text)
        assert r.json()["code"] == 3
        assert word in r.json()["message"], (kw, r.json()["message"])
    r = requests.post(url, json={"display_name": "x", "experiment_id": experiment,
                                 "trigger": {"periodic_schedule": {"interval_second": 5}}})
    assert r.status_code == 400 and "pipeline_spec" in r.json()["message"]
    r = post(experiment_id="987654")
    assert r.status_code == 404
    r = post(pipeline_spec=None, pipeline_version_reference={"pipeline_id": "nope"})
    assert r.status_code == 404
    # unknown ids
    for method, path in [("GET", "/nope"), ("DELETE", "/nope"), ("POST", "/nope:enable"),
                         ("POST", "/nope:disable")]:
        r = requests.request(method, url + path, headers={"Content-Type": "application/json"})
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["code"] == 5
    with pytest.raises(ApiException) as e:
        client.get_recurring_run("0123-nope")
    assert e.value.status == 404
    r = requests.get(url, params={"sort_by": "bogus"})
    assert r.status_code == 400
