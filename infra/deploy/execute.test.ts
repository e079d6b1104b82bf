// The executor running the real deploy plan, with gcloud, npx and npm on PATH replaced by a small
// script that writes down each call and answers as those tools do, and the edge's /health/warmup
// served on 127.0.0.1. What the pipeline's user sees: GO leaves the new revision serving; NO-GO,
// unusable input or a failed warmup moves traffic back to the revision recorded before the deploy;
// a first deploy has nothing to move back to; secrets reach the commands but never the output.
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executePlan } from "./execute.js";
import { buildDeployPlan, type DeploySettings } from "./plan.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SECRETS = { DEPLOY_TOKEN: "dt-5b1e-secret", TWILIO_AUTH_TOKEN: "tw-0c9d-secret" };
const OLD = "voice-core-00005-old";
const NEW = "voice-core-00006-new";

/** What a faked tool prints and exits with, per kind of call. */
interface Answer {
  stdout?: string;
  code?: number;
}
type Scenario = Partial<Record<"secrets" | "list" | "describe" | "logs" | "call" | "verdict", Answer>>;

// Answers by command prefix; anything else (builds submit, replace, wrangler deploy, update-traffic) succeeds quietly.
const FAKE_TOOL = `
import { appendFileSync } from "node:fs";
const [tool, ...args] = process.argv.slice(2);
appendFileSync(process.env.FAKE_CALLS, JSON.stringify({ command: [tool, ...args].join(" "), twilio: process.env.TWILIO_AUTH_TOKEN ?? null }) + "\\n");
const scenario = JSON.parse(process.env.FAKE_SCENARIO);
const line = [tool, ...args].join(" ");
const kinds = [
  ["npx wrangler secret list", "secrets"],
  ["gcloud run services list", "list"],
  ["gcloud run services describe", "describe"],
  ["gcloud logging read", "logs"],
  ["npm run --silent call", "call"],
  ["npm run --silent go-no-go", "verdict"],
];
const kind = kinds.find(([prefix]) => line.startsWith(prefix))?.[1];
const answer = (kind && scenario[kind]) || { stdout: "done\\n" };
process.stdout.write(answer.stdout ?? "");
process.exitCode = answer.code ?? 0;
`;

const json = (value: unknown): Answer => ({ stdout: `${JSON.stringify(value)}\n` });
const serving = (revision: string) => ({ metadata: { name: "voice-core" }, status: { traffic: [{ revisionName: revision, percent: 100 }] } });
const HEALTHY: Scenario = {
  secrets: json([{ name: "TWILIO_AUTH_TOKEN" }, { name: "CORE_SHARED_SECRET" }, { name: "DEPLOY_TOKEN" }, { name: "STREAM_TOKEN_SECRET" }].map((s) => ({ ...s, type: "secret_text" }))),
  list: json([serving(OLD)]),
  describe: json({
    status: {
      conditions: [{ type: "Ready", status: "True" }],
      latestCreatedRevisionName: NEW,
      latestReadyRevisionName: NEW,
      traffic: [{ latestRevision: true, revisionName: NEW, percent: 100 }],
    },
  }),
  logs: json(Array.from({ length: 4 }, (_, i) => ({ jsonPayload: { message: "TURN", turn: i + 1 } }))),
  call: json({ call_sid: "CA1", turns: [], greeting_ms: 150, clears_audio_ms: [], errors: [] }),
  verdict: { stdout: "GO: every metric within its threshold\n", code: 0 },
};
const HEALTHY_WARMUP = { ok: true, greeting_key: "phrase:1", greeting_cached: true, hold_key: "phrase:2", hold_cached: true, tts_warmup_ms: 3, core_warmup_ms: 80 };

let dir: string;
let edge: Server;
let edgeUrl: string;
let warmupAnswer: unknown = HEALTHY_WARMUP;
const warmupAuthorizations: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "deploy-execute-"));
  await writeFile(path.join(dir, "fake-tool.mjs"), FAKE_TOOL);
  for (const tool of ["gcloud", "npx", "npm"]) {
    await writeFile(path.join(dir, tool), `#!/bin/sh\nexec "${process.execPath}" "${path.join(dir, "fake-tool.mjs")}" ${tool} "$@"\n`);
    await chmod(path.join(dir, tool), 0o755);
  }
  edge = createServer((request, response) => {
    warmupAuthorizations.push(request.headers.authorization ?? "");
    response.writeHead(request.url === "/health/warmup" ? 200 : 404, { "content-type": "application/json" });
    response.end(JSON.stringify(warmupAnswer));
  });
  await new Promise<void>((resolve) => edge.listen(0, "127.0.0.1", resolve));
  edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => edge?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

let run = 0;

async function deploy(scenario: Scenario, options: { warmup?: unknown; env?: Record<string, string> } = {}) {
  warmupAnswer = options.warmup ?? HEALTHY_WARMUP;
  warmupAuthorizations.length = 0;
  const outDir = path.join(dir, `run-${++run}`);
  const calls = path.join(dir, `calls-${run}.log`);
  const settings: DeploySettings = {
    env: "staging",
    gcp: { project: "p-test", region: "us-east4", service: "voice-core", buildServiceAccount: "voice-builder@p-test.iam.gserviceaccount.com" },
    image: { ref: "us-east4-docker.pkg.dev/p-test/voice/core:abc", build: true },
    edge: { wranglerEnv: "staging", publicUrl: edgeUrl, accountSid: "AC5e1c0a3b7d9f2e4a6c8b0d1f3e5a7c9b" },
    serviceTemplate: await readFile(path.join(REPO_ROOT, "infra/cloudrun/service.yaml"), "utf8"),
    warmup: { maxTtsWarmupMs: 1000, maxCoreWarmupMs: 5000 },
    smokeCalls: 2,
    expectedTurnLines: 4,
    logExport: { attempts: 2, intervalMs: 1 },
    startedAt: "2026-11-21T10:00:00.000Z",
    outDir,
  };
  const printed: string[] = [];
  const outcome = await executePlan(buildDeployPlan(settings), {
    env: { PATH: `${dir}${path.delimiter}${process.env.PATH ?? ""}`, FAKE_CALLS: calls, FAKE_SCENARIO: JSON.stringify(scenario), ...SECRETS, ...options.env },
    cwd: REPO_ROOT,
    log: (line) => printed.push(line),
    output: (chunk) => printed.push(chunk),
  });
  const log = (await readFile(calls, "utf8").catch(() => ""))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { command: string; twilio: string | null });
  return { outcome, commands: log.map((c) => c.command), calls: log, printed: printed.join("\n"), outDir };
}

const ROLLBACK = `gcloud run services update-traffic voice-core --project p-test --region us-east4 --to-revisions=${OLD}=100`;

describe("executePlan", () => {
  it("GO: runs every step in order, leaves the new revision serving, moves no traffic", async () => {
    const { outcome, commands, printed, outDir } = await deploy(HEALTHY);
    expect(outcome).toEqual({ status: "go", newRevision: NEW });
    expect(commands.map((c) => c.split(" ").slice(0, 4).join(" "))).toEqual([
      "npx wrangler secret list",
      "gcloud builds submit --project",
      "gcloud run services list",
      "gcloud run services replace",
      "gcloud run services describe",
      "npx wrangler deploy --env",
      "npm run --silent call",
      "npm run --silent call",
      "gcloud logging read resource.type=\"cloud_run_revision\"",
      "npm run --silent go-no-go",
    ]);
    // The filter names the revision the ready check captured; the manifest deployed is the rendered one.
    expect(commands[8]).toContain(`resource.labels.revision_name="${NEW}"`);
    expect(commands[3]).toBe(`gcloud run services replace ${outDir}/service.yaml --project p-test --region us-east4`);
    expect(await readFile(path.join(outDir, "service.yaml"), "utf8")).toContain("image: us-east4-docker.pkg.dev/p-test/voice/core:abc");
    expect(await readFile(path.join(outDir, "smoke-call-1.json"), "utf8")).toContain('"call_sid":"CA1"');
    expect(await readFile(path.join(outDir, "verdict.txt"), "utf8")).toBe("GO: every metric within its threshold\n");
    expect(printed).toContain("GO: every metric within its threshold");
  });

  it("NO-GO: moves all traffic back to the revision recorded before the deploy, and says NO-GO", async () => {
    const { outcome, commands } = await deploy({ ...HEALTHY, verdict: { stdout: "NO-GO: TTS_READY_MS p95 1450 > 400 (warmup did not run or the cache key did not match)\n", code: 1 } });
    expect(outcome).toEqual({ status: "failed", step: "go-no-go", reason: "NO-GO", rolledBackTo: OLD });
    expect(commands.at(-1)).toBe(ROLLBACK);
  });

  it("unusable input to the GO/NO-GO tool also moves traffic back", async () => {
    const { outcome, commands } = await deploy({ ...HEALTHY, verdict: { stdout: "no TURN lines in the input\n", code: 2 } });
    expect(outcome).toMatchObject({ status: "failed", reason: "unusable input to the GO/NO-GO tool", rolledBackTo: OLD });
    expect(commands.at(-1)).toBe(ROLLBACK);
  });

  it("a slow warmup stops the deploy before any call and moves traffic back", async () => {
    const { outcome, commands } = await deploy(HEALTHY, { warmup: { ...HEALTHY_WARMUP, tts_warmup_ms: 1650 } });
    expect(outcome).toMatchObject({ status: "failed", step: "warmup", reason: "warmup: tts_warmup_ms 1650 > 1000", rolledBackTo: OLD });
    expect(commands.some((c) => c.startsWith("npm run --silent call"))).toBe(false);
    expect(commands.at(-1)).toBe(ROLLBACK);
  });

  it("a failed smoke call stops the deploy with the call's own errors", async () => {
    const failedCall = { stdout: `${JSON.stringify({ call_sid: "CA9", turns: [], greeting_ms: null, clears_audio_ms: [], errors: ["no greeting within 8000 ms"] })}\n`, code: 1 };
    const { outcome, commands } = await deploy({ ...HEALTHY, call: failedCall });
    expect(outcome).toMatchObject({ status: "failed", step: "smoke-call-1", reason: "call CA9 failed: no greeting within 8000 ms", rolledBackTo: OLD });
    expect(commands.at(-1)).toBe(ROLLBACK);
  });

  it("goes on to the verdict with what Cloud Logging has after the last try", async () => {
    const { outcome, commands, printed } = await deploy({ ...HEALTHY, logs: json([{ jsonPayload: { message: "TURN" } }]) });
    expect(outcome.status).toBe("go");
    expect(commands.filter((c) => c.startsWith("gcloud logging read"))).toHaveLength(2);
    expect(printed).toContain("1 of 4 TURN lines exported so far; going on with what there is");
  });

  it("a first deploy (no revision before) has nothing to move back to", async () => {
    const { outcome, commands, printed } = await deploy({ ...HEALTHY, list: json([]), verdict: { code: 1 } });
    expect(outcome).toEqual({ status: "failed", step: "go-no-go", reason: "NO-GO", rolledBackTo: null });
    expect(commands.some((c) => c.includes("update-traffic"))).toBe(false);
    expect(printed).toContain("nothing to roll back to");
  });

  it("a step before the core deploy stops without touching traffic", async () => {
    const { outcome, commands } = await deploy({ ...HEALTHY, secrets: json([{ name: "CORE_SHARED_SECRET", type: "secret_text" }]) });
    expect(outcome).toMatchObject({ status: "failed", step: "check-edge-secrets", rolledBackTo: null, reason: expect.stringMatching(/TWILIO_AUTH_TOKEN, DEPLOY_TOKEN/) });
    expect(commands).toHaveLength(1);
  });

  it("hands the secrets to the commands that need them, and prints neither", async () => {
    const { calls, printed } = await deploy(HEALTHY);
    expect(calls.filter((c) => c.command.startsWith("npm run --silent call")).map((c) => c.twilio)).toEqual([SECRETS.TWILIO_AUTH_TOKEN, SECRETS.TWILIO_AUTH_TOKEN]);
    expect(warmupAuthorizations).toEqual([`Bearer ${SECRETS.DEPLOY_TOKEN}`]);
    for (const value of Object.values(SECRETS)) expect(printed).not.toContain(value);
  });

  it("refuses to start when a secret is not set", async () => {
    const { outcome, commands } = await deploy(HEALTHY, { env: { DEPLOY_TOKEN: "" } });
    expect(outcome).toEqual({ status: "refused", reason: "not set in the environment: DEPLOY_TOKEN" });
    expect(commands).toEqual([]);
  });
});
