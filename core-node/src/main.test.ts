// The core as a process, as `npm start` and the deploy pipeline run it: it starts against the local
// emulators, logs APP_START once with the port it listens on, serves a call, and on SIGTERM drains:
// the call is handed back to the edge (its state, core.move, close 1012) and the process exits cleanly.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import { CLOSE_CORE_MOVING, coreToEdge, signCoreToken, type CoreToEdge } from "@voice/protocol";
import { coreHealth } from "../../infra/local/core-process.js";
import { startEmulators, type Emulators } from "../../infra/local/emulators/index.js";
import { DEFAULT_FIXED_PHRASES } from "./config.js";

const SECRET = "process-test-secret-0123456789";
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const mainPath = fileURLToPath(new URL("./main.ts", import.meta.url));

let emulators: Emulators;
let core: ChildProcessWithoutNullStreams;
const lines: Array<Record<string, unknown>> = [];
const waiters: Array<{ message: string; resolve: (line: Record<string, unknown>) => void }> = [];

function nextLine(message: string): Promise<Record<string, unknown>> {
  const seen = lines.find((line) => line.message === message);
  return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ message, resolve }));
}

beforeAll(async () => {
  emulators = await startEmulators({ speech: { log: () => {} }, tts: { log: () => {} }, openai: { log: () => {} } });
  core = spawn(process.execPath, ["--import", "tsx", mainPath], {
    cwd: repoRoot,
    env: { ...process.env, ...emulators.env, CORE_SHARED_SECRET: SECRET, HOST: "127.0.0.1", PORT: "0" },
  });
  createInterface({ input: core.stdout }).on("line", (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    lines.push(line);
    for (const waiter of waiters.splice(0)) {
      if (waiter.message === line.message) waiter.resolve(line);
      else waiters.push(waiter);
    }
  });
});

afterAll(async () => {
  if (core.exitCode === null) core.kill("SIGKILL");
  await emulators?.close();
});

it("starts warm, serves a call, and on SIGTERM moves it to another core and exits", async () => {
  const start = await nextLine("APP_START");
  expect(start).toMatchObject({ severity: "INFO", host: "127.0.0.1", language: "he-IL", warmup: { ok: true, tts_cached_phrases: 2 + Object.keys(DEFAULT_FIXED_PHRASES).length }, status: "ok" });
  expect(start.warmup).not.toHaveProperty("tts_warmup_error");
  const port = start.port as number;
  expect(await (await fetch(`http://127.0.0.1:${port}/health`)).json()).toEqual({ status: "ok" });
  expect(await coreHealth(`http://127.0.0.1:${port}`, SECRET)).toMatchObject({ status: "ok", active_calls: 0 });

  const token = await signCoreToken(SECRET, "call", "CA-process", Date.now());
  const ws = new WebSocket(`ws://127.0.0.1:${port}/call`, { headers: { Authorization: `Bearer ${token}` } });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  const received: CoreToEdge[] = [];
  const firstState = new Promise((resolve) =>
    ws.on("message", (data) => {
      received.push(coreToEdge.parse(JSON.parse(String(data))));
      resolve(undefined);
    }),
  );
  ws.send(
    JSON.stringify({
      event: "start",
      sequenceNumber: "1",
      streamSid: "MZ-process",
      start: {
        accountSid: "AC1",
        streamSid: "MZ-process",
        callSid: "CA-process",
        tracks: ["inbound"],
        customParameters: {},
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
    }),
  );
  ws.send(JSON.stringify({ event: "edge.greeting", played: true, text: "שלום", mark: "greeting" }));
  ws.send(JSON.stringify({ event: "mark", sequenceNumber: "2", streamSid: "MZ-process", mark: { name: "greeting" } }));
  await nextLine("CALL_START");
  await firstState;

  // "close" comes after the process exited and its stdout was read to the end.
  const exited = new Promise<number | null>((resolve) => core.once("close", (code) => resolve(code)));
  core.kill("SIGTERM");
  expect(await closed).toBe(CLOSE_CORE_MOVING);
  // The greeting was heard; the edge got the conversation, then the word to move the call.
  expect(received).toEqual([
    { event: "core.state", state: { turns: 0, history: [{ role: "assistant", content: "שלום" }] } },
    { event: "core.move", reason: "draining" },
  ]);
  expect(await exited).toBe(0);
  expect(lines.find((line) => line.message === "CALL")).toMatchObject({ call_id: "CA-process", end_reason: "moved" });
  expect(lines.filter((line) => line.message === "APP_START")).toHaveLength(1);
  expect(lines.find((line) => line.message === "APP_STOP")).toMatchObject({ signal: "SIGTERM", active_calls: 1 });
});
