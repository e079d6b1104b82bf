// A process's event-loop lag, measured from outside: a worker thread (its own event loop, so the
// load generator's busy loop does not delay it) asks GET /health every intervalMs over one kept-alive
// connection and times each answer. Handling /health is sub-millisecond work, so a round trip beyond
// the idle one is time the request waited for the event loop (a long task, a GC pause, a burst).
import { Worker } from "node:worker_threads";

const PROBE_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let samples = [];
let stopped = false;
const next = (startedAt) => setTimeout(probe, Math.max(0, startedAt + workerData.intervalMs - performance.now()));
function probe() {
  if (stopped) return;
  const startedAt = performance.now();
  const request = http.get({ host: workerData.host, port: workerData.port, path: "/health", agent }, (response) => {
    response.resume();
    response.on("end", () => {
      samples.push(performance.now() - startedAt);
      next(startedAt);
    });
  });
  request.on("error", () => next(startedAt));
}
parentPort.on("message", (message) => {
  if (message === "take") {
    parentPort.postMessage(samples);
    samples = [];
  } else {
    stopped = true;
    agent.destroy();
    parentPort.close();
  }
});
probe();
`;

export class LagProbe {
  private readonly worker: Worker;

  constructor(target: { host: string; port: number }, intervalMs = 50) {
    this.worker = new Worker(PROBE_WORKER, { eval: true, workerData: { ...target, intervalMs } });
  }

  /** Round trips (ms) since the last take. */
  take(): Promise<number[]> {
    return new Promise((resolve) => {
      this.worker.once("message", (samples: number[]) => resolve(samples));
      this.worker.postMessage("take");
    });
  }

  async stop(): Promise<void> {
    this.worker.postMessage("stop");
    await new Promise((resolve) => this.worker.once("exit", resolve));
  }
}
