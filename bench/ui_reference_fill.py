#!/usr/bin/env python3
"""Fill an MLflow SQLite store with the runs bench/ui_fill.mjs logs to Trellis.

Filling `mlflow server` through its REST API runs at a few dozen runs/s, so
for bench/ui_runs.mjs --reference the store is written directly: MLflow's own
SqlAlchemyStore creates the schema, the experiment and one template run (so
the rows carry exactly the columns and tags MLflow writes), then the runs are
bulk-inserted by copying the template's rows (sqlite3 executemany), as
bench/harness.py does for W3. The values are runValues() of ui_fill.mjs.

usage: ui_reference_fill.py DB_PATH ARTIFACT_DIR N   (prints {"experiment_id": ...})
"""

import json
import logging
import sqlite3
import sys
import uuid

GROUP, CHILDREN = 20, 3


def run_values(i):
    frac = ((i * 7919) % 100003) / 100003
    return {
        "name": f"run-{i:06d}",
        "start": 1_700_000_000_000 + i * 1000,
        "params": {"lr": js_num(((i * 37) % 1000) / 10000), "batch": str(16 << (i % 4)),
                   "optimizer": ["adam", "sgd", "rmsprop"][i % 3]},
        "metrics": {"acc": frac, "loss": 1 - frac, "f1": ((i * 104729) % 99991) / 99991},
        "tags": {"team": f"team-{i % 7}", "seed": str(i % 1000)},
        "status": "RUNNING" if i % 50 == 49 else ("FAILED" if i % 13 == 5 else "FINISHED"),
        "end": None if i % 50 == 49 else 1_700_000_000_000 + i * 1000 + 1000 + (i % 600) * 1000,
    }


def js_num(x):
    # JavaScript's String(number) for the values above (e.g. "0.1", "0", "0.0037")
    s = repr(x)
    return s[:-2] if s.endswith(".0") else s


def main():
    db, art, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{db}", art)
    exp_id = store.create_experiment("bench-ui")
    v0 = run_values(0)
    tmpl = store.create_run(exp_id, "", v0["start"], [RunTag("team", "x"), RunTag("seed", "x")], "template")
    tid = tmpl.info.run_id
    store.log_batch(tid, [Metric(k, 0.5, v0["start"], 0) for k in v0["metrics"]],
                    [Param(k, "x") for k in v0["params"]], [])
    store.engine.dispose()

    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    tables = ["runs", "tags", "params", "metrics", "latest_metrics"]
    tmpl_rows = {t: [dict(r) for r in con.execute(f"SELECT * FROM {t} WHERE run_uuid=?", (tid,))] for t in tables}
    con.row_factory = None
    with con:
        for t in reversed(tables):
            con.execute(f"DELETE FROM {t} WHERE run_uuid=?", (tid,))
    rows = {t: [] for t in tables}
    parent = None
    for i in range(n):
        v = run_values(i)
        rid = uuid.uuid4().hex
        k = i % GROUP
        if k == 0:
            parent = rid
        for t in tables:
            for tr in tmpl_rows[t]:
                row = dict(tr)
                row["run_uuid"] = rid
                if t == "runs":
                    row.update(name=v["name"], start_time=v["start"], end_time=v["end"], status=v["status"])
                    row["artifact_uri"] = (row["artifact_uri"] or "").replace(tid, rid)
                elif t == "tags":
                    key = row["key"]
                    if key == "mlflow.runName":
                        row["value"] = v["name"]
                    elif key in v["tags"]:
                        row["value"] = v["tags"][key]
                elif t == "params":
                    row["value"] = v["params"][row["key"]]
                else:
                    row["value"] = v["metrics"][row["key"]]
                    row["timestamp"] = v["start"]
                rows[t].append(row)
        if 1 <= k <= CHILDREN:
            row = dict(next(r for r in tmpl_rows["tags"] if r["key"] == "team"))
            row.update(run_uuid=rid, key="mlflow.parentRunId", value=parent)
            rows["tags"].append(row)
    with con:
        for t in tables:
            cols = list(rows[t][0].keys())
            con.executemany(f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                            ([r[c] for c in cols] for r in rows[t]))
    con.close()
    print(json.dumps({"experiment_id": exp_id}))


if __name__ == "__main__":
    main()
