"""Races that a correct server resolves inside its write transaction, plus paging under ties."""

from __future__ import annotations

import threading

import requests

from helpers import API, assert_error, by_key, uniq

N = 8


def _race(fn, n=N):
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_param_write_once_race(rest):
    eid = rest.create_experiment()
    rid = rest.create_run(eid)
    url = rest.url(API + "/runs/log-parameter")
    results = _race(lambda i: requests.post(url, json={"run_id": rid, "key": "race", "value": str(i)}, timeout=30))
    winners = [i for i, r in enumerate(results) if r.status_code == 200]
    assert len(winners) == 1, [(r.status_code, r.text[:100]) for r in results]
    for r in results:
        if r.status_code != 200:
            assert_error(r, 400, "INVALID_PARAMETER_VALUE")
    assert by_key(rest.get_run(rid)["data"]["params"]) == {"race": str(winners[0])}


def test_experiment_name_race(rest):
    name = uniq("race")
    url = rest.url(API + "/experiments/create")
    results = _race(lambda i: requests.post(url, json={"name": name}, timeout=30))
    ok = [r for r in results if r.status_code == 200]
    assert len(ok) == 1, [(r.status_code, r.text[:100]) for r in results]
    for r in results:
        if r.status_code != 200:
            assert_error(r, 400, "RESOURCE_ALREADY_EXISTS")
    got = rest.ok("GET", API + "/experiments/get-by-name", params={"experiment_name": name})
    assert got["experiment"]["experiment_id"] == ok[0].json()["experiment_id"]


def test_set_experiment_race_with_client(mlflow_client):
    import mlflow

    name = uniq("setrace")
    errors = []

    def go(i):
        try:
            return mlflow.MlflowClient().get_experiment_by_name(name) or mlflow.set_experiment(name)
        except Exception as e:  # recorded, asserted below
            errors.append(repr(e))
            return None

    exps = _race(go)
    assert not errors, errors[:3]
    assert len({e.experiment_id for e in exps}) == 1


def test_concurrent_batches_same_run(rest):
    eid = rest.create_experiment()
    rid = rest.create_run(eid)
    url = rest.url(API + "/runs/log-batch")

    def go(i):
        metrics = [{"key": "shared", "value": i * 100 + j, "timestamp": 1000 + j, "step": i * 100 + j} for j in range(100)]
        return requests.post(url, json={"run_id": rid, "metrics": metrics, "tags": [{"key": "t", "value": str(i)}]}, timeout=30)

    results = _race(go)
    assert all(r.status_code == 200 for r in results), [(r.status_code, r.text[:100]) for r in results]
    hist = rest.history(rid, "shared")
    assert sorted(m["step"] for m in hist) == list(range(N * 100))
    run = rest.get_run(rid)
    assert by_key(run["data"]["metrics"])["shared"] == (N - 1) * 100 + 99  # max step wins
    assert by_key(run["data"]["tags"])["t"] in {str(i) for i in range(N)}


def test_paging_with_ties_is_stable(rest):
    """Many runs with identical sort keys: pages must neither repeat nor skip a run."""
    eid = rest.create_experiment()
    ids = set()
    for i in range(23):
        rid = rest.create_run(eid, start_time=1_700_000_000_000)  # all the same start_time
        rest.log_batch(rid, metrics=[{"key": "m", "value": i % 3, "timestamp": 1, "step": 0}] if i % 4 else [])
        ids.add(rid)
    for order in ([], ["metrics.m DESC"], ["attributes.start_time ASC"], ["params.none ASC"]):
        seen, token, pages = [], None, 0
        while True:
            body = {"experiment_ids": [eid], "max_results": 5, "order_by": order}
            if token:
                body["page_token"] = token
            data = rest.ok("POST", API + "/runs/search", body)
            seen += [r["info"]["run_id"] for r in data.get("runs", [])]
            token = data.get("next_page_token")
            pages += 1
            if not token:
                break
            assert pages < 20
        assert len(seen) == len(set(seen)) == 23, (order, len(seen), len(set(seen)))
        assert set(seen) == ids
        if order == ["metrics.m DESC"]:
            # values 2,1,0 first, runs without the metric (i % 4 == 0) last
            vals = [by_key(rest.get_run(r)["data"].get("metrics")).get("m") for r in seen]
            present = [v for v in vals if v is not None]
            assert present == sorted(present, reverse=True)
            assert all(v is None for v in vals[len(present):])
