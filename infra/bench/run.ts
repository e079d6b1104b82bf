// `npm run bench [-- suite ...] [--minutes N]`: runs the benchmark suites (all by default), prints
// each result, and writes them to bench/results.json. Benchmarks are not tests: they report numbers,
// except that a suite whose result says `verdict: "fail"` (the soak, on a leak) makes the run exit 1.
// --minutes: how long the soak places calls (default 10).
// Each suite is one file in suites/ (their shared helpers in lib/), registered by name in SUITES below;
// vad is the exception, a script beside the VAD it measures.
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { runCapacityBench } from "./suites/capacity.js";
import { runColdBench } from "./suites/cold.js";
import { runEdgeRelayBench } from "./suites/edge-relay.js";
import { runLatencyBench } from "./suites/latency.js";
import { runOverheadBench } from "./suites/overhead.js";
import { runReliabilityBench } from "./suites/reliability.js";
import { runSoakBench } from "./suites/soak.js";
import { runSpeculationBench } from "./suites/speculation.js";
import { runToolsBench } from "./suites/tools.js";
import { runTurnTakingBench } from "./suites/turn-taking.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const RESULTS = fileURLToPath(new URL("../../bench/results.json", import.meta.url));

/** Runs a suite that lives beside the code it measures, as its own process, and reads its JSON line. */
function runScript(path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const last = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0) return reject(new Error(`${path} exited with ${code}`));
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${path} printed no JSON result: ${last.slice(0, 200)}`));
      }
    });
  });
}

/** `--minutes N` (or `--minutes=N`) taken out of the arguments; the rest name suites. */
function parseArguments(args: string[]): { suites: string[]; minutes: number | undefined } {
  const suites: string[] = [];
  let minutes: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--minutes") minutes = args[++i] ?? "";
    else if (arg.startsWith("--minutes=")) minutes = arg.slice("--minutes=".length);
    else suites.push(arg);
  }
  if (minutes === undefined) return { suites, minutes: undefined };
  const value = Number(minutes);
  if (!(value > 0)) {
    console.error(`--minutes takes a positive number, not "${minutes}"`);
    process.exit(2);
  }
  return { suites, minutes: value };
}

const { suites: requested, minutes } = parseArguments(process.argv.slice(2));

const SUITES: Record<string, () => Promise<unknown>> = {
  vad: () => runScript("core-node/src/eou/vad.bench.ts"),
  latency: () => runLatencyBench(),
  reliability: () => runReliabilityBench(),
  edge: () => runEdgeRelayBench(),
  overhead: () => runOverheadBench(),
  capacity: () => runCapacityBench(),
  cold: () => runColdBench(),
  speculation: () => runSpeculationBench(),
  tools: () => runToolsBench(),
  "turn-taking": () => runTurnTakingBench(),
  soak: () => runSoakBench({ minutes }),
};

const unknown = requested.filter((name) => !(name in SUITES));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(", ")}; known: ${Object.keys(SUITES).join(", ")}`);
  process.exit(2);
}

type Results = { suites?: Record<string, unknown> };
const previous: Results = await readFile(RESULTS, "utf8").then((text) => JSON.parse(text) as Results, () => ({}));
const suites: Record<string, unknown> = { ...previous.suites };
const failures: string[] = [];
for (const name of requested.length > 0 ? requested : Object.keys(SUITES)) {
  const started = Date.now();
  console.error(`bench: ${name} ...`);
  const result = await SUITES[name]!();
  suites[name] = { ...(result as object), seconds: Math.round((Date.now() - started) / 1000) };
  console.log(JSON.stringify(suites[name]));
  const verdict = result as { verdict?: string; fail_reasons?: string[] };
  if (verdict.verdict === "fail") failures.push(`${name}: ${(verdict.fail_reasons ?? []).join("; ") || "failed"}`);
}
const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, platform: process.platform };
await mkdir(new URL("../../bench/", import.meta.url), { recursive: true });
await writeFile(RESULTS, `${JSON.stringify({ written_at: new Date().toISOString(), machine, suites }, null, 2)}\n`);
console.error(`bench: results in ${RESULTS}`);
if (failures.length > 0) {
  for (const failure of failures) console.error(`bench: FAILED ${failure}`);
  process.exit(1);
}
