// Bad credentials and unreachable services at start: warmup names each failing step and why, GET
// /health says "degraded" (with HTTP 200, see server.ts; which steps fail, and why, only to a health
// token), and the process keeps serving instead of
// exiting (which Cloud Run would turn into a crash loop). Nothing here may reach the network: every
// endpoint is a closed loopback port or a local emulator.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { signCoreToken } from "@voice/protocol";
import { coreHealth } from "../../infra/local/core-process.js";
import { TEST_SECRET, startCore, type CoreUnderTest } from "../testing/core-harness.js";

const SECRET = "startup-test-secret-0123456789";
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const mainPath = fileURLToPath(new URL("./main.ts", import.meta.url));

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let core: ChildProcessWithoutNullStreams | undefined;
let inProcess: CoreUnderTest | undefined;

afterAll(async () => {
  if (core && core.exitCode === null) core.kill("SIGKILL");
  await inProcess?.close();
});

describe("starting with bad credentials and unreachable services", () => {
  it("reports each failing warmup step, says degraded on /health, and keeps serving", async () => {
    const nowhere = await closedPort();
    const missingKey = join(tmpdir(), "no-such-dir-for-credentials", "key.json");
    core = spawn(process.execPath, ["--import", "tsx", mainPath], {
      cwd: repoRoot,
      env: {
        ...process.env,
        CORE_SHARED_SECRET: SECRET,
        HOST: "127.0.0.1",
        PORT: "0",
        GOOGLE_APPLICATION_CREDENTIALS: missingKey,
        SPEECH_ENDPOINT: `127.0.0.1:${nowhere}`,
        TTS_ENDPOINT: `127.0.0.1:${nowhere}`,
        OPENAI_BASE_URL: `http://127.0.0.1:${nowhere}/v1`,
        OPENAI_API_KEY: "",
      },
    });
    const lines: Array<Record<string, unknown>> = [];
    const waiters: Array<{ message: string; resolve: (line: Record<string, unknown>) => void }> = [];
    createInterface({ input: core.stdout }).on("line", (text) => {
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      for (const waiter of waiters.splice(0)) (waiter.message === line.message ? waiter.resolve(line) : waiters.push(waiter));
    });
    const next = (message: string) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const seen = lines.find((line) => line.message === message);
        if (seen) resolve(seen);
        else waiters.push({ message, resolve });
      });

    const start = await next("APP_START");
    expect(start).toMatchObject({ status: "degraded", warmup: { ok: false } });
    const warmup = start.warmup as Record<string, string>;
    expect(warmup.credentials_warmup_error).toBe(`GOOGLE_APPLICATION_CREDENTIALS: cannot read ${missingKey}: ENOENT; OPENAI_API_KEY: not set`);
    expect(warmup.llm_warmup_error).toBe("OPENAI_API_KEY is not set");
    expect(warmup.stt_warmup_error).toMatch(/UNAVAILABLE/);
    expect(warmup.tts_warmup_error).toMatch(/UNAVAILABLE/);
    const failed = lines.filter((line) => line.message === "warmup step failed");
    expect(failed.map((line) => [line.severity, line.step]).sort()).toEqual([
      ["ERROR", "credentials"],
      ["ERROR", "llm"],
      ["ERROR", "stt"],
      ["ERROR", "tts"],
    ]);

    const base = `http://127.0.0.1:${start.port as number}`;
    // To anyone: the status alone; what fails (error texts naming files and endpoints) is for a token holder.
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "degraded" });
    expect(await coreHealth(base, SECRET)).toMatchObject({
      status: "degraded",
      failing: {
        credentials: warmup.credentials_warmup_error,
        tts: expect.stringMatching(/UNAVAILABLE/),
        stt: expect.stringMatching(/UNAVAILABLE/),
        llm: "OPENAI_API_KEY is not set",
      },
    });
    const warmupToken = await signCoreToken(SECRET, "warmup", "warmup", Date.now());
    const again = await fetch(`${base}/health/warmup`, { headers: { Authorization: `Bearer ${warmupToken}` } });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ ok: false, credentials_warmup_error: expect.any(String) });

    // Still serving: a call is accepted (it would fall back to fixed phrases where services are missing).
    const token = await signCoreToken(SECRET, "call", "CA-degraded", Date.now());
    const ws = new WebSocket(`ws://127.0.0.1:${start.port as number}/call`, { headers: { Authorization: `Bearer ${token}` } });
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    ws.send(
      JSON.stringify({
        event: "start",
        sequenceNumber: "1",
        streamSid: "MZ-degraded",
        start: {
          accountSid: "AC1",
          streamSid: "MZ-degraded",
          callSid: "CA-degraded",
          tracks: ["inbound"],
          customParameters: {},
          mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
        },
      }),
    );
    await next("CALL_START");
    expect(core.exitCode).toBeNull();

    const exited = new Promise<number | null>((resolve) => core!.once("close", (code) => resolve(code)));
    core.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("names a key file whose private key is broken, while the services themselves answer", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "startup-test-")), "key.json");
    const brokenKey = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
    writeFileSync(path, JSON.stringify({ type: "service_account", client_email: "core@p.iam.gserviceaccount.com", private_key: brokenKey }), { mode: 0o600 });
    // The emulators take no credentials; the check is the core's own, before any request.
    inProcess = await startCore({ env: { GOOGLE_APPLICATION_CREDENTIALS: path } });
    expect(await coreHealth(`http://127.0.0.1:${inProcess.server.port}`, TEST_SECRET)).toMatchObject({
      status: "degraded",
      failing: { credentials: `GOOGLE_APPLICATION_CREDENTIALS: private_key in ${path} is not a valid PEM private key` },
    });
    const report = await inProcess.app.warmup();
    expect(Object.keys(report).filter((key) => key.endsWith("_error"))).toEqual(["credentials_warmup_error"]);
  });
});

describe("refusing to start on a bad agent file", () => {
  /** Runs the core process to its exit: exit code and the lines it wrote. */
  async function refusal(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string[] }> {
    const child = spawn(process.execPath, ["--import", "tsx", mainPath], {
      cwd: repoRoot,
      env: { ...process.env, CORE_SHARED_SECRET: SECRET, HOST: "127.0.0.1", PORT: "0", TTS_PREWARM: "false", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    return { code, stdout, stderr: stderr.split("\n").filter((line) => line !== "") };
  }
  const dir = mkdtempSync(join(tmpdir(), "startup-agent-"));
  const tool = { name: "find_slots", description: "Free slots", parameters: { type: "object" }, endpoint: "http://127.0.0.1:8091/t", sideEffects: false, timeoutMs: 3000 };
  const SIGNING = "tool-signing-secret-never-logged";

  it("exits 1 with one CRITICAL line naming the field, before listening", async () => {
    const path = join(dir, "agent.json");
    writeFileSync(path, JSON.stringify({ prompt: "p", tools: [tool, { ...tool, name: "book", endpoint: "http://10.1.2.3/book" }] }));
    const { code, stdout, stderr } = await refusal({ AGENT_FILE: path, TOOL_SIGNING_SECRET: SIGNING });
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toHaveLength(1);
    expect(JSON.parse(stderr[0]!)).toMatchObject({
      severity: "CRITICAL",
      message: `invalid configuration: AGENT_FILE ${path}: tools[1].endpoint: must be https:// (http:// only to 127.0.0.1/localhost)`,
    });
    expect(stderr[0]).not.toContain(SIGNING);
  });

  it("exits 1 with one line when the file has tools and TOOL_SIGNING_SECRET is not set", async () => {
    const path = join(dir, "tools.json");
    writeFileSync(path, JSON.stringify({ prompt: "p", tools: [tool] }));
    const { code, stderr } = await refusal({ AGENT_FILE: path });
    expect(code).toBe(1);
    expect(stderr.map((line) => (JSON.parse(line) as { message: string }).message)).toEqual([
      `invalid configuration: TOOL_SIGNING_SECRET: required (16+ characters) because ${path} has tools`,
    ]);
  });
});
