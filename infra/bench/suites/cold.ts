// Cold paths: how long a new core process takes to be ready, how fast the first turn of a fresh
// process gets a cached phrase, and how soon a caller hears the greeting after `start`.
//
// "Warm cache" here means what a Cloud Run instance that starts has, and no more: the machine's file
// cache is warm (the stack already started once), the TTS service answers as fast as it can (the
// emulator's eSpeak, latency 0), and each new process runs its own full warmup before it listens:
// it synthesizes the greeting and every fixed phrase into its (empty, in-memory) TTS cache, opens the
// gRPC channels and warms the LLM client. So start-to-ready includes that warmup, with the emulator's
// synthesis time in it (reported separately: APP_START's warmup.tts_warmup_ms).
//
// - start: the production bundle run with plain node (as the image runs it), stopped and started
//   again on the same port behind the same edge; spawn -> APP_START line received, spawn -> first
//   /health 200 (polled every 5 ms), and APP_START's own startup_ms (main() to listening).
//   Also the dev path (main.ts through tsx, as `npm start` runs it).
// - first turn: after each start, one simulated call through the edge says a line whose answer (the
//   chat emulator's) is a FIXED_PHRASE, so warmup cached it: TURN 1's TTS_READY_MS.
// - greeting: 30 calls, one after another, through the edge: `start` sent -> first greeting media
//   frame received (the edge plays it from KV).
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { turnLine, twilioSignature } from "@voice/protocol";
import { WebSocket } from "ws";
import { buildCore } from "../../cloudrun/build.js";
import { startCore } from "../../local/core-process.js";
import { freePort } from "../../local/edge.js";
import { answerFor } from "../../local/emulators/chat-answers.js";
import { LOCAL_SECRETS, startStack, type Stack } from "../../local/stack.js";
import { runCall } from "../../sim/call.js";
import { connectedMessage, stopMessage, type StreamIds } from "../../twilio/media-stream-frames.js";
import { signedStart, streamIds } from "../../twilio/stream-start.js";
import { distribution, type Distribution } from "../../stats/distribution.js";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const STARTS = 10;
const DEV_STARTS = 5;
const GREETING_CALLS = 30;
const LINE = "תודה רבה, להתראות";

export interface StartTimes {
  starts: number;
  /** spawn -> the APP_START line read from the core's stdout. */
  spawn_to_app_start_ms: Distribution;
  /** spawn -> first GET /health answered 200. */
  spawn_to_health_ms: Distribution;
  /** APP_START.startup_ms: main() -> listening (config, app, warmup). */
  startup_ms: Distribution;
  /** APP_START.warmup.total_ms and its TTS step (greeting + fixed phrases synthesized). */
  warmup_ms: Distribution;
  tts_warmup_ms: Distribution;
  tts_cached_phrases: number;
}

export interface ColdResult {
  suite: "cold";
  /** The production bundle with plain node, as the image runs it. */
  bundle_start: StartTimes;
  /** main.ts through tsx, as `npm start` runs it (no warmup timings: the same as the bundle's). */
  dev_start: { starts: number; spawn_to_app_start_ms: Distribution };
  first_turn: {
    calls: number;
    /** TURN 1 of a fresh process, on a phrase warmup cached. */
    tts_ready_ms: Distribution;
    cache_hits: number;
    total_latency_ms: Distribution;
  };
  greeting: {
    calls: number;
    /** `start` sent -> first greeting media frame received, one call at a time through the edge. */
    first_frame_ms: Distribution;
  };
  errors: string[];
}

export async function runColdBench(): Promise<ColdResult> {
  await mkdir(path.join(REPO_ROOT, "infra/.build"), { recursive: true });
  // Inside the repository (infra/.build is git-ignored), so the bundle finds node_modules as it does in the image.
  const outdir = await mkdtemp(path.join(REPO_ROOT, "infra/.build/bench-core-"));
  let stack: Stack | undefined;
  try {
    const bundle = await buildCore(outdir);
    stack = await startStack({
      emulators: { script: [LINE], speech: { log: () => {} }, tts: { log: () => {} }, openai: { log: () => {} } },
      coreEnv: { FIXED_PHRASES: JSON.stringify({ bench_answer: answerFor(LINE) }) },
      coreProcess: { entry: bundle.outfile },
      corePort: await freePort(),
      onEdgeLine: () => {},
    });
    const errors: string[] = [];
    const starts: StartSample[] = [];
    const firstTurns: { tts: number; total: number; hit: boolean }[] = [];
    for (let i = 0; i < STARTS; i++) {
      await stack.core.stop();
      starts.push(await timedStart(stack));
      const report = await runCall({
        url: stack.edge.url,
        authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN,
        script: { language: "he-IL", voice: "he", lines: [LINE] },
      });
      errors.push(...report.errors);
      // The core writes TURN before the answer's audio has played; the call ends after that.
      const turn = stack.core.lines.map((line) => turnLine.safeParse(line.json)).find((parsed) => parsed.success && parsed.data.call_id === report.call_sid);
      const fields = turn?.success ? turn.data : undefined;
      if (fields?.TTS_READY_MS === undefined || fields.TOTAL_LATENCY_MS === undefined) errors.push(`start ${i + 1}: no TURN line with TTS_READY_MS`);
      else firstTurns.push({ tts: fields.TTS_READY_MS, total: fields.TOTAL_LATENCY_MS, hit: fields.tts_cache_hit === true });
    }
    const greetings: number[] = [];
    for (let i = 0; i < GREETING_CALLS; i++) greetings.push(await greetingFirstFrameMs(stack.edge.url, i));
    const devStarts = await timeDevStarts(stack);
    return {
      suite: "cold",
      bundle_start: summarizeStarts(starts),
      dev_start: { starts: devStarts.length, spawn_to_app_start_ms: distribution(devStarts) },
      first_turn: {
        calls: firstTurns.length,
        tts_ready_ms: distribution(firstTurns.map((t) => t.tts)),
        cache_hits: firstTurns.filter((t) => t.hit).length,
        total_latency_ms: distribution(firstTurns.map((t) => t.total)),
      },
      greeting: { calls: greetings.length, first_frame_ms: distribution(greetings) },
      errors,
    };
  } finally {
    await stack?.stop();
    await rm(outdir, { recursive: true, force: true });
  }
}

interface StartSample {
  appStartMs: number;
  healthMs: number;
  startupMs: number;
  warmupMs: number;
  ttsWarmupMs: number;
  cachedPhrases: number;
}

/** Restarts the stack's core on its port, timing spawn -> APP_START and spawn -> /health 200. */
async function timedStart(stack: Stack): Promise<StartSample> {
  const port = stack.core.port;
  const spawnedAt = performance.now();
  const health = firstHealthyAt(port, spawnedAt + 30_000);
  const core = await stack.restartCore();
  const appStartMs = performance.now() - spawnedAt;
  const healthMs = (await health) - spawnedAt;
  const appStart = core.lines.find((line) => line.json?.message === "APP_START")!.json!;
  const warmup = appStart.warmup as { total_ms: number; tts_warmup_ms: number; tts_cached_phrases: number };
  return {
    appStartMs,
    healthMs,
    startupMs: Number(appStart.startup_ms),
    warmupMs: warmup.total_ms,
    ttsWarmupMs: warmup.tts_warmup_ms,
    cachedPhrases: warmup.tts_cached_phrases,
  };
}

function summarizeStarts(samples: StartSample[]): StartTimes {
  const of = (pick: (s: StartSample) => number) => distribution(samples.map(pick));
  return {
    starts: samples.length,
    spawn_to_app_start_ms: of((s) => s.appStartMs),
    spawn_to_health_ms: of((s) => s.healthMs),
    startup_ms: of((s) => s.startupMs),
    warmup_ms: of((s) => s.warmupMs),
    tts_warmup_ms: of((s) => s.ttsWarmupMs),
    tts_cached_phrases: samples[0]?.cachedPhrases ?? 0,
  };
}

/** When GET /health on `port` first answers 200, polling every 5 ms (refused until the core listens). */
async function firstHealthyAt(port: number, deadline: number): Promise<number> {
  while (performance.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (response) => (void response.body?.cancel(), response.ok),
      () => false,
    );
    if (ok) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`core on port ${port} never answered /health`);
}

/** spawn -> APP_START for main.ts through tsx, with the stack's emulators (a second core beside the stack's). */
async function timeDevStarts(stack: Stack): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < DEV_STARTS; i++) {
    const spawnedAt = performance.now();
    const core = await startCore({ env: { ...stack.emulators.env, CORE_SHARED_SECRET: LOCAL_SECRETS.CORE_SHARED_SECRET } });
    times.push(performance.now() - spawnedAt);
    await core.stop();
  }
  return times;
}

/** One call through the edge: `start` sent -> its first media frame (the greeting from KV) received; then hangs up. */
async function greetingFirstFrameMs(edgeUrl: string, n: number): Promise<number> {
  const streamUrl = `${edgeUrl.replace(/^http/, "ws")}/twilio/media`;
  const signature = await twilioSignature(LOCAL_SECRETS.TWILIO_AUTH_TOKEN, streamUrl, {});
  const socket = new WebSocket(streamUrl, { headers: { "x-twilio-signature": signature } });
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  const ids: StreamIds = streamIds(n, 0xc01d);
  const start = await signedStart(ids, LOCAL_SECRETS.STREAM_TOKEN_SECRET);
  const firstFrame = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no greeting frame within 5 s")), 5000);
    socket.on("message", (data) => {
      const at = performance.now();
      if ((JSON.parse(String(data)) as { event?: string }).event === "media") (clearTimeout(timer), resolve(at));
    });
  });
  socket.send(JSON.stringify(connectedMessage()));
  const sentAt = performance.now();
  socket.send(JSON.stringify(start));
  try {
    return (await firstFrame) - sentAt;
  } finally {
    socket.send(JSON.stringify(stopMessage(2, ids)));
    await new Promise((resolve) => (socket.once("close", resolve), socket.close(1000)));
  }
}
