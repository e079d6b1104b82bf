// The simulator registers its caller's spoken lines for its call before placing it (runCall's
// scriptRegistry, the CLI's --speech-script-url), against a stand-in registry that records what it
// is sent; the registry itself (infra/local/emulators) is tested with the speech emulator.
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { CORE_TURNS_PATH, SCRIPT_REGISTRY_PATH, type CoreTurns } from "../caller-scripts/registration.js";
import { runCall } from "./call.js";
import { registerCallerLines } from "./script-registration.js";
import { startFakeEdge, type FakeEdge } from "./fake-edge.js";
import type { CallSummary } from "./report.js";

const AUTH_TOKEN = "registration-test-token";
const CLI = fileURLToPath(new URL("./cli.ts", import.meta.url));
const SCRIPT = {
  language: "he-IL",
  voice: "he",
  lines: ["שלום", { dtmf: "12#" }, { noiseMs: 300, expectAnswer: true }, { text: "תודה רבה", pauseMs: 200 }],
};

interface Registered {
  body: unknown;
  /** Webhooks the edge had received when the registration arrived. */
  webhooksBefore: number;
}

let edge: FakeEdge | undefined;
let registry: Server | undefined;
let dir: string | undefined;
afterEach(async () => {
  await edge?.close();
  await new Promise((resolve) => (registry ? registry.close(resolve) : resolve(undefined)));
  if (dir) await rm(dir, { recursive: true, force: true });
  edge = registry = dir = undefined;
});

/**
 * A registry that records each registration and answers `status`; asked for a call's core turns, it
 * records the CallSid and answers `coreTurns` (none: 404, as a registry without a core log).
 */
async function startRegistry(status = 204, coreTurns?: CoreTurns): Promise<{ url: string; received: Registered[]; turnsAskedFor: string[] }> {
  const received: Registered[] = [];
  const turnsAskedFor: string[] = [];
  registry = createServer(async (req, res) => {
    const asked = new URL(req.url ?? "/", "http://registry");
    if (req.method === "GET" && asked.pathname === CORE_TURNS_PATH) {
      turnsAskedFor.push(asked.searchParams.get("callSid") ?? "");
      if (!coreTurns) return void res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "no core log here" }));
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(coreTurns));
    }
    let text = "";
    for await (const chunk of req) text += chunk;
    received.push({ body: JSON.parse(text), webhooksBefore: edge?.webhookParams.length ?? -1 });
    res.writeHead(status, { "content-type": "application/json" }).end(status === 204 ? undefined : JSON.stringify({ error: "lines: too many" }));
  });
  await new Promise<void>((resolve) => registry!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(registry.address() as AddressInfo).port}${SCRIPT_REGISTRY_PATH}`, received, turnsAskedFor };
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { env: { ...process.env, TWILIO_AUTH_TOKEN: AUTH_TOKEN } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** `npm run call -- --json` saying "שלום" through `edgeUrl`, registering at `registryUrl`: its summary and stderr. */
async function callWithJson(edgeUrl: string, registryUrl: string): Promise<{ summary: CallSummary; stderr: string }> {
  dir = await mkdtemp(join(tmpdir(), "sim-registration-"));
  const scriptPath = join(dir, "script.json");
  await writeFile(scriptPath, JSON.stringify({ language: "he-IL", voice: "he", lines: ["שלום"] }));
  const { code, stdout, stderr } = await runCli(["--url", edgeUrl, "--script", scriptPath, "--speech-script-url", registryUrl, "--json"]);
  expect(code, stderr).toBe(0);
  return { summary: JSON.parse(stdout.trim().split("\n").at(-1)!) as CallSummary, stderr };
}

describe("registering the caller's lines before the call", () => {
  it("runCall posts the spoken lines (no keys, no noise) under the call's CallSid, before the webhook", async () => {
    edge = await startFakeEdge({ authToken: AUTH_TOKEN });
    const { url, received } = await startRegistry();
    const report = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script: SCRIPT, timeoutMs: 8000, scriptRegistry: url });

    expect(report.errors).toEqual([]);
    expect(received).toEqual([{ body: { callSid: report.call_sid, lines: ["שלום", "תודה רבה"] }, webhooksBefore: 0 }]);
    expect(edge.webhookParams.map((params) => params.CallSid)).toEqual([report.call_sid]);
  });

  it("registers an empty list for a caller with no words, so that the emulator transcribes nothing rather than its default lines", async () => {
    const { url, received } = await startRegistry();
    const wordless = { language: "he-IL", voice: "he", lines: [{ silenceMs: 1000 }, { toneMs: 500 }, { dtmf: "1" }] };
    expect(await registerCallerLines(url, "CA-quiet", wordless, 2000)).toBe(0);
    expect(received.map((r) => r.body)).toEqual([{ callSid: "CA-quiet", lines: [] }]);
  });

  it("does not place the call when the registry refuses or cannot be reached", async () => {
    edge = await startFakeEdge({ authToken: AUTH_TOKEN });
    const { url } = await startRegistry(400);
    const refused = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script: SCRIPT, timeoutMs: 2000, scriptRegistry: url });
    expect(refused.errors).toEqual([`the caller-script registry ${url} answered 400: {"error":"lines: too many"}`]);

    await new Promise((resolve) => registry!.close(resolve));
    registry = undefined;
    const unreachable = await runCall({ url: edge.url, authToken: AUTH_TOKEN, script: SCRIPT, timeoutMs: 2000, scriptRegistry: url });
    expect(unreachable.errors).toEqual([`cannot register the caller's lines with the speech emulator at ${url}: ECONNREFUSED`]);
    expect(edge.webhookParams).toEqual([]);
  });

  it("npm run call -- --speech-script-url URL registers the script's lines for the call it places, and reads the core's turns after it", async () => {
    edge = await startFakeEdge({ authToken: AUTH_TOKEN });
    const { url, received, turnsAskedFor } = await startRegistry(204, { ended: true, turns: [] });
    const { summary, stderr } = await callWithJson(edge.url, url);
    expect(received.map((r) => r.body)).toEqual([{ callSid: summary.call_sid, lines: ["שלום"] }]);
    // The core logged no tool for the call: each turn says so, rather than leaving it unknown.
    expect(turnsAskedFor).toEqual([summary.call_sid]);
    expect(summary.turns.map((turn) => turn.tools)).toEqual([[]]);
  });

  it("npm run call -- --json without a core log: the turns carry no tools, and a warning says why", async () => {
    edge = await startFakeEdge({ authToken: AUTH_TOKEN });
    const { url } = await startRegistry(204);
    const { summary, stderr } = await callWithJson(edge.url, url);
    expect(summary.turns[0]).not.toHaveProperty("tools");
    expect(stderr).toMatch(/warning: no tools in the report: the core's turns at .*: 404/);
  });

  it("npm run call refuses a --speech-script-url that is not an http URL, and stops when an explicit registry is missing", async () => {
    const bad = await runCli(["--speech-script-url", "ftp://example.com/x"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--speech-script-url takes an http\(s\) URL or "none"/);

    // A port nothing listens on: one just freed.
    const { url } = await startRegistry();
    await new Promise((resolve) => registry!.close(resolve));
    registry = undefined;
    const missing = await runCli(["--url", "http://127.0.0.1:8787", "--speech-script-url", url, "--timeout", "1000"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`cannot register the caller's lines with the speech emulator at ${url}: ECONNREFUSED`);
  });
});
