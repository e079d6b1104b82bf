// `npm start` with a .env holding an OpenAI key only: the chat is real, speech and TTS stay emulated.
// "Real" here is a loopback OpenAI-compatible server standing in for OpenAI (the OpenAI emulator on
// a port of its own, behind a recorder of each request's path and Authorization), so nothing leaves
// the machine. The .env goes through the same module npm start uses (env-file.ts, services.ts), and
// one call is placed as Twilio would.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EdgeLogLine } from "../local/edge.js";
import { loadServicePlan } from "../local/env-file.js";
import { startOpenAiEmulator, type OpenAiEmulator } from "../local/emulators/index.js";
import { serviceLines, stackOptionsOf, type ServicePlan } from "../local/services.js";
import { LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import { runCall } from "../sim/call.js";
import { DEFAULT_SCRIPT_PATH, loadCallerScript } from "../sim/script.js";

const FAKE_KEY = "sk-test-dotenv-0123456789";

interface Forwarded {
  method: string;
  path: string;
  authorization: string | undefined;
}

/** Forwards every request to `target`, streaming the answer back, and notes what came in. */
async function recordingProxy(target: OpenAiEmulator, seen: Forwarded[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization });
    const upstream = request({ host: "127.0.0.1", port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let standIn: OpenAiEmulator;
let proxy: { server: Server; url: string };
const forwarded: Forwarded[] = [];
let services: ServicePlan;
let stack: Stack;
const edgeLines: EdgeLogLine[] = [];
const scratch = mkdtempSync(path.join(tmpdir(), "voice-dotenv-"));

beforeAll(async () => {
  standIn = await startOpenAiEmulator({ log: () => undefined });
  proxy = await recordingProxy(standIn, forwarded);
  const envFile = path.join(scratch, ".env");
  writeFileSync(envFile, `# only the chat is real\nOPENAI_API_KEY=${FAKE_KEY}\nOPENAI_BASE_URL=${proxy.url}/v1\n`);
  services = loadServicePlan(envFile);
  stack = await startStack({ ...stackOptionsOf(services), onEdgeLine: (line) => edgeLines.push(line) });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => proxy?.server.close(resolve));
  await standIn?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("a .env with an OpenAI key only", () => {
  it("makes the chat real and keeps speech and TTS emulated: the call's answer came from the stand-in, with the key", async () => {
    const script = await loadCallerScript(DEFAULT_SCRIPT_PATH);
    const lines = script.lines.slice(0, 1);
    const report = await runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script: { ...script, lines }, timeoutMs: 20_000 });

    expect(report.errors).toEqual([]);
    expect(edgeLines.filter((l) => l.level === "error").map((l) => l.text)).toEqual([]);
    expect(report.turns.map((t) => t.caller_text)).toEqual(lines);
    // The caller heard the answer the stand-in gave for this call.
    const answers = standIn.stats.completions.filter((c) => c.callId === report.call_sid && c.answer !== "" && !c.cancelled).map((c) => c.answer);
    expect(answers.length).toBeGreaterThan(0);
    expect(report.turns[0]!.agent_audio_ms).toBeGreaterThan(500);
    expect(answers.map((a) => a.replace(/\s+/g, " ").trim())).toContain(report.turns[0]!.agent_text);

    // Every chat request reached the stand-in with the .env's key; the stack's own emulator got none.
    const chats = forwarded.filter((r) => r.method === "POST" && r.path.endsWith("/chat/completions"));
    expect(chats.length).toBeGreaterThan(0);
    expect(new Set(forwarded.map((r) => r.authorization))).toEqual(new Set([`Bearer ${FAKE_KEY}`]));
    expect(stack.emulators.openai.stats.requests).toBe(0);

    // Speech and TTS were the stack's emulators.
    expect(stack.emulators.speech.stats.streamsOpened).toBeGreaterThan(0);
    expect(stack.emulators.tts.stats.requests).toBeGreaterThan(0);

    // And the banner says which is which.
    const banner = serviceLines(services, { speech: stack.emulators.speech.address, tts: stack.emulators.tts.address, openai: stack.emulators.openai.baseURL });
    expect(banner.slice(1, 4)).toEqual([
      `  speech  emulator ${stack.emulators.speech.address}`,
      `  tts     emulator ${stack.emulators.tts.address}`,
      `  chat    OpenAI-compatible server ${proxy.url} (real, OPENAI_API_KEY and OPENAI_BASE_URL from .env)`,
    ]);
  });
});
