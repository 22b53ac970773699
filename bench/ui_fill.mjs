// Fills a tracking server with N runs in one experiment through MLflow's REST
// API (runs/create with tags, then runs/log-batch with params and metrics),
// CONCURRENCY requests in flight. Every 20th run is a parent of the next 3
// runs (tag mlflow.parentRunId). Used by bench/ui_runs.mjs; run alone:
//   node bench/ui_fill.mjs http://127.0.0.1:5000 100000 [experiment name]
import http from "node:http";

const API = "/api/2.0/mlflow";
// plain node:http with keep-alive: fetch() costs the client more CPU than the server
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function post(base, path, body) {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((ok, fail) => {
    const req = http.request(
      base + API + path,
      { method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": data.length } },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) fail(new Error(`${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
          else ok(JSON.parse(text || "{}"));
        });
      },
    );
    req.on("error", fail);
    req.end(data);
  });
}

// Deterministic values: run i has params lr, batch, optimizer; metrics acc,
// loss, f1; tags team, seed. start_time increases with i.
export function runValues(i) {
  const frac = ((i * 7919) % 100003) / 100003; // a spread that is not the creation order
  return {
    name: `run-${String(i).padStart(6, "0")}`,
    start: 1_700_000_000_000 + i * 1000,
    params: { lr: String(((i * 37) % 1000) / 10000), batch: String(16 << (i % 4)), optimizer: ["adam", "sgd", "rmsprop"][i % 3] },
    metrics: { acc: frac, loss: 1 - frac, f1: ((i * 104729) % 99991) / 99991 },
    tags: { team: `team-${i % 7}`, seed: String(i % 1000) },
  };
}

export const GROUP = 20; // a parent every GROUP runs
export const CHILDREN = 3; // its children: the next CHILDREN runs

async function createRun(base, exp, i, parentId) {
  const v = runValues(i);
  const tags = Object.entries(v.tags).map(([key, value]) => ({ key, value }));
  if (parentId) tags.push({ key: "mlflow.parentRunId", value: parentId });
  const r = await post(base, "/runs/create", { experiment_id: exp, run_name: v.name, start_time: v.start, tags });
  const id = r.run.info.run_id;
  await post(base, "/runs/log-batch", {
    run_id: id,
    params: Object.entries(v.params).map(([key, value]) => ({ key, value })),
    metrics: Object.entries(v.metrics).map(([key, value]) => ({ key, value, timestamp: v.start, step: 0 })),
  });
  if (i % 50 !== 49) // the others stay RUNNING
    await post(base, "/runs/update", {
      run_id: id,
      status: i % 13 === 5 ? "FAILED" : "FINISHED",
      end_time: v.start + 1000 + (i % 600) * 1000,
    });
  return id;
}

// Returns {experiment_id, seconds}.
export async function fillRuns(base, n, { name = "bench-ui", concurrency = 32, log = () => {} } = {}) {
  const t0 = performance.now();
  const exp = (await post(base, "/experiments/create", { name })).experiment_id;
  let next = 0;
  let done = 0;
  // each worker takes whole groups so that a parent exists before its children
  async function worker() {
    for (;;) {
      const g = next;
      next += GROUP;
      if (g >= n) return;
      let parent = null;
      for (let i = g; i < Math.min(g + GROUP, n); i++) {
        const k = i - g;
        const id = await createRun(base, exp, i, k >= 1 && k <= CHILDREN ? parent : null);
        if (k === 0) parent = id;
        done++;
        if (done % 10000 === 0) log(`${done} runs`);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { experiment_id: exp, seconds: (performance.now() - t0) / 1000 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [base, n, name] = process.argv.slice(2);
  const r = await fillRuns(base, Number(n || 1000), { name: name || "bench-ui", log: (m) => console.error(m) });
  console.log(JSON.stringify(r));
}
