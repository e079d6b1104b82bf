// How many concurrent calls one core process sustains on one CPU core. The core (the production
// bundle, plain node) is pinned to CPU 0 with taskset; this process (the callers, the emulators and
// the lag probe) to CPU 1. Calls go straight to the core's /call WebSocket with core tokens (no edge),
// and talk: a line of the default caller script every few seconds, answered from the TTS cache (the
// answers' sentences are FIXED_PHRASES, so warmup caches them and the TTS emulator is never the
// bottleneck). Calls are added in steps; each step is measured over a window once its calls settle.
//
// A step is sustained when, over its window:
// - event-loop lag p99 <= 20 ms: /health round trips from a probe thread, minus the idle round trip
//   (lib/lag-probe.ts);
// - answer-frame gaps p99 <= 20 ms: the core sends each sentence's audio in one burst, so what a
//   caller could hear is a frame arriving after real-time playout (started at the answer's first
//   frame) needed it; per frame, max(0, arrival − (first frame arrival + 20 ms × index));
// - every line was answered and no call dropped.
// The capacity is the largest step sustained along with every smaller one; the steps go on past the
// first miss (to show what limits) until the core is plainly overloaded. Also per step: CPU ms per
// call-second (the core's user + system time from /proc over the window), the core's RSS, turn
// latency, and this process's CPU and clock lateness (if the load generator falls behind, the step
// says so). Memory per call two ways: the slope of RSS over the steps, and RSS with 50 calls held
// past the age (30 s) at which each call's buffers (the STT audio ring, allocated whole at start)
// have all been written.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { turnLine } from "@voice/protocol";
import { SentenceSplitter } from "../../../core-node/src/llm/sentences.js";
import { buildCore } from "../../cloudrun/build.js";
import { startCore, type CoreProcess } from "../../local/core-process.js";
import { readWranglerConfig } from "../../local/edge.js";
import { answerFor } from "../../local/emulators/chat-answers.js";
import { seededRandom } from "../../random/seeded-random.js";
import { startEmulators, type Emulators } from "../../local/emulators/index.js";
import defaultScript from "../../caller-scripts/default.he.json" with { type: "json" };
import { LOCAL_SECRETS } from "../../local/stack.js";
import { callerLineFrames } from "../../sim/caller-audio.js";
import { CoreCallers, type CallerLine } from "../lib/core-caller.js";
import { LagProbe } from "../lib/lag-probe.js";
import { pinProcess, processCpuMs, processCpus, processRssBytes } from "../lib/proc.js";
import { distribution, type Distribution } from "../../stats/distribution.js";
import { linearFit } from "../../stats/linear-fit.js";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const STEPS = [25, 50, 75, 100, 125, 150, 200, 250, 300];
const LIMIT_MS = 20;
/** New calls connect this far apart. */
const CONNECT_SPACING_MS = 20;
/** After a step's calls are connected, before its window: their first lines start within FIRST_LINE_WITHIN_MS. */
const SETTLE_MS = 6000;
const WINDOW_MS = 20_000;
const FIRST_LINE_WITHIN_MS = 8000;
const PAUSE_MS = 1500;
const LLM_FIRST_TOKEN_MS = 400;
/** The steady-memory hold: after the step with this many calls, long enough for every per-call buffer to fill. */
const MEMORY_CALLS = 50;
/** With the calls' SETTLE_MS + WINDOW_MS before it, calls are ~56 s old at the end: past every per-call buffer's fill. */
const MEMORY_HOLD_MS = 30_000;
const MEMORY_TAIL_MS = 20_000;

export interface CapacityStep {
  calls: number;
  window_s: number;
  /** /health round trip minus the idle one. */
  event_loop_lag_ms: Distribution;
  /** Answer frames after real-time playout needed them (0 when on time). */
  answer_frame_gap_ms: Distribution | null;
  /** Mark arrival after the media frame before it. */
  mark_delay_ms: Distribution | null;
  /** Caller's last frame sent -> first answer frame received. */
  turn_latency_ms: Distribution | null;
  turns: number;
  answers_missing: number;
  calls_dropped: number;
  /** TTS requests the core made in the window (0: every answer came from the cache). */
  tts_requests: number;
  speculation: Record<string, number>;
  core_cpu_percent: number;
  core_cpu_ms_per_call_second: number;
  core_rss_mb: number;
  /** This process (callers, emulators, probe) on its own CPU: near 100% the load generator is the limit. */
  load_cpu_percent: number;
  /** How late this process's 20 ms clock ran: above a few ms the load generator itself is the limit. */
  load_clock_lateness_ms: Distribution;
  sustained: boolean;
  /** Why not, when not. */
  failed: string[];
}

export interface CapacityResult {
  suite: "capacity";
  core_cpu: string;
  load_cpu: string;
  idle: { health_round_trip_ms: Distribution; core_rss_mb: number; core_cpu_percent: number };
  steps: CapacityStep[];
  /** The most calls of a step sustained along with every smaller one (a lower bound when every step was sustained). */
  max_sustained_calls: number;
  every_step_sustained: boolean;
  /** Slope of core RSS over the steps not overloaded (calls 6-30 s old, most of them younger than their audio ring). */
  rss_mb_per_call: number | null;
  /**
   * Core RSS per call once calls are old enough for their per-call buffers to be full: MEMORY_CALLS
   * calls held MEMORY_HOLD_MS, (mean RSS over the hold's last MEMORY_TAIL_MS − idle RSS) / calls.
   */
  steady_memory: { calls: number; call_age_s: number; rss_mb: number; mb_per_call: number } | null;
  /** CPU per call-second at the largest sustained step (the idle process's share included). */
  cpu_ms_per_call_second: number | null;
  /** What one more call costs: slope of core CPU over the steps not overloaded. */
  marginal_cpu_ms_per_call_second: number | null;
}

export async function runCapacityBench(options: { steps?: number[]; coreNodeOptions?: string } = {}): Promise<CapacityResult> {
  const ownCpus = processCpus(process.pid);
  pinProcess(process.pid, "1");
  await mkdir(path.join(REPO_ROOT, "infra/.build"), { recursive: true });
  // Inside the repository (infra/.build is git-ignored), so the bundle finds node_modules as it does in the image.
  const outdir = await mkdtemp(path.join(REPO_ROOT, "infra/.build/bench-core-"));
  let emulators: Emulators | undefined;
  let core: CoreProcess | undefined;
  try {
    const bundle = await buildCore(outdir);
    const lines = defaultScript.lines;
    emulators = await startEmulators({
      script: lines,
      speech: { log: () => {} },
      tts: { log: () => {} },
      openai: { firstTokenMs: LLM_FIRST_TOKEN_MS, tokenIntervalMs: 0, log: () => {} },
    });
    const { vars } = await readWranglerConfig();
    core = await startCore({
      entry: bundle.outfile,
      cpus: "0",
      env: {
        ...emulators.env,
        NODE_ENV: "production",
        NODE_OPTIONS: `--enable-source-maps ${options.coreNodeOptions ?? ""}`.trim(),
        CORE_SHARED_SECRET: LOCAL_SECRETS.CORE_SHARED_SECRET,
        GREETING_TEXT: vars.GREETING_TEXT!,
        LANGUAGE: vars.LANGUAGE!,
        TTS_VOICE: vars.TTS_VOICE!,
        FIXED_PHRASES: JSON.stringify(answerSentences(lines, vars.LANGUAGE!)),
        // The steps go past the production limit on purpose: this finds where the limit should be.
        MAX_CALLS: String(Math.max(...(options.steps ?? STEPS)) + 50),
      },
    });
    return await measureSteps(core, emulators, lines, vars.GREETING_TEXT!, options.steps ?? STEPS, ownCpus);
  } finally {
    await core?.stop();
    await emulators?.close();
    await rm(outdir, { recursive: true, force: true });
    pinProcess(process.pid, ownCpus);
  }
}

/** Every sentence the chat emulator answers the lines with, as the core splits them: warmup caches them all. */
function answerSentences(lines: string[], language: string): Record<string, string> {
  const sentences = lines.flatMap((line) => {
    const splitter = new SentenceSplitter(language);
    return [...splitter.push(answerFor(line)), ...splitter.flush()];
  });
  return Object.fromEntries(sentences.map((sentence, i) => [`bench_answer_${i}`, sentence]));
}

async function measureSteps(core: CoreProcess, emulators: Emulators, lines: string[], greetingText: string, steps: number[], loadCpus: string): Promise<CapacityResult> {
  const callerLines: CallerLine[] = await Promise.all(
    lines.map(async (text) => ({
      payloads: (await callerLineFrames(text, { voice: "he", pitch: 70 })).map((frame) => Buffer.from(frame).toString("base64")),
    })),
  );
  const probe = new LagProbe({ host: "127.0.0.1", port: core.port });
  const callers = new CoreCallers();
  const random = seededRandom(7);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  try {
    // Idle: the round trip with no call, the baseline every lag is measured against.
    const idleCpuFrom = processCpuMs(core.pid);
    await sleep(200);
    await probe.take();
    await sleep(4000);
    const idleTrips = await probe.take();
    const idleMedian = distribution(idleTrips).median;
    const idle = {
      health_round_trip_ms: distribution(idleTrips),
      core_rss_mb: mb(processRssBytes(core.pid)),
      core_cpu_percent: Math.round(((processCpuMs(core.pid) - idleCpuFrom) / 4200) * 1000) / 10,
    };

    const results: CapacityStep[] = [];
    let steadyMemory: CapacityResult["steady_memory"] = null;
    for (const target of steps) {
      while (callers.count < target) {
        const call = callers.count;
        await callers.add({
          coreWsUrl: core.url.replace(/^http/, "ws"),
          secret: LOCAL_SECRETS.CORE_SHARED_SECRET,
          callSid: `CAcapacity${call}`,
          lines: callerLines,
          greetingText,
          firstLineAfterMs: 500 + random() * FIRST_LINE_WITHIN_MS,
          pauseMs: PAUSE_MS,
          answerTimeoutMs: 10_000,
        });
        await sleep(CONNECT_SPACING_MS);
      }
      await sleep(SETTLE_MS);
      callers.stats.reset();
      await probe.take();
      const ttsFrom = emulators.tts.stats.requests;
      const linesFrom = core.lines.length;
      const cpuFrom = processCpuMs(core.pid);
      const loadCpuFrom = processCpuMs(process.pid);
      const from = performance.now();
      await sleep(WINDOW_MS);
      const cpuMs = processCpuMs(core.pid) - cpuFrom;
      const loadCpuMs = processCpuMs(process.pid) - loadCpuFrom;
      const seconds = (performance.now() - from) / 1000;
      const trips = await probe.take();
      const stats = callers.stats;
      const turns = core.lines.slice(linesFrom).flatMap((line) => {
        const parsed = turnLine.safeParse(line.json);
        return parsed.success ? [parsed.data] : [];
      });
      const step: CapacityStep = {
        calls: target,
        window_s: Math.round(seconds * 10) / 10,
        event_loop_lag_ms: distribution(trips.map((trip) => Math.max(0, trip - idleMedian))),
        answer_frame_gap_ms: maybeDistribution(stats.frameGapsMs),
        mark_delay_ms: maybeDistribution(stats.markDelaysMs),
        turn_latency_ms: maybeDistribution(stats.latenciesMs),
        turns: stats.latenciesMs.length,
        answers_missing: stats.answersMissing,
        calls_dropped: stats.callsDropped,
        tts_requests: emulators.tts.stats.requests - ttsFrom,
        speculation: countBy(turns.map((turn) => turn.speculation ?? "not reported")),
        core_cpu_percent: Math.round((cpuMs / (seconds * 1000)) * 1000) / 10,
        core_cpu_ms_per_call_second: Math.round((cpuMs / (target * seconds)) * 100) / 100,
        core_rss_mb: mb(processRssBytes(core.pid)),
        load_cpu_percent: Math.round((loadCpuMs / (seconds * 1000)) * 1000) / 10,
        load_clock_lateness_ms: distribution(stats.tickLatenessMs),
        sustained: false,
        failed: [],
      };
      step.failed = failures(step);
      step.sustained = step.failed.length === 0;
      results.push(step);
      console.error(`capacity: ${target} calls: lag p99 ${step.event_loop_lag_ms.p99} ms, gap p99 ${step.answer_frame_gap_ms?.p99 ?? "-"} ms, core CPU ${step.core_cpu_percent}%, load CPU ${step.load_cpu_percent}%, RSS ${step.core_rss_mb} MB${step.sustained ? "" : ` — not sustained: ${step.failed.join("; ")}`}`);
      // Past the first miss the steps go on (the curve shows what limits), until the core is plainly overloaded.
      if (target === MEMORY_CALLS && step.sustained) steadyMemory = await holdForMemory(core.pid, target, idle.core_rss_mb);
      if (overloaded(step)) break;
    }
    const firstMiss = results.findIndex((step) => !step.sustained);
    const sustained = firstMiss < 0 ? results : results.slice(0, firstMiss);
    const largest = sustained.at(-1);
    const loaded = results.filter((step) => !overloaded(step));
    return {
      suite: "capacity",
      core_cpu: "0",
      load_cpu: `1 (was ${loadCpus})`,
      idle,
      steps: results,
      max_sustained_calls: largest?.calls ?? 0,
      every_step_sustained: sustained.length === results.length,
      steady_memory: steadyMemory,
      rss_mb_per_call: loaded.length >= 2 ? round3(linearFit(loaded.map((s) => ({ x: s.calls, y: s.core_rss_mb }))).slope) : null,
      cpu_ms_per_call_second: largest?.core_cpu_ms_per_call_second ?? null,
      // core CPU % is ms per 10 s: the slope in %/call × 10 is ms of CPU per call-second.
      marginal_cpu_ms_per_call_second: loaded.length >= 2 ? round3(linearFit(loaded.map((s) => ({ x: s.calls, y: s.core_cpu_percent }))).slope * 10) : null,
    };
  } finally {
    await callers.stop();
    await probe.stop();
  }
}

function failures(step: CapacityStep): string[] {
  const failed: string[] = [];
  if (step.event_loop_lag_ms.p99 > LIMIT_MS) failed.push(`event-loop lag p99 ${step.event_loop_lag_ms.p99} ms > ${LIMIT_MS}`);
  if (step.answer_frame_gap_ms && step.answer_frame_gap_ms.p99 > LIMIT_MS) failed.push(`answer frame gap p99 ${step.answer_frame_gap_ms.p99} ms > ${LIMIT_MS}`);
  if (step.turns === 0) failed.push("no line answered");
  if (step.answers_missing > 0) failed.push(`${step.answers_missing} lines not answered within 10 s`);
  if (step.calls_dropped > 0) failed.push(`${step.calls_dropped} calls dropped`);
  if (step.load_clock_lateness_ms.p99 > LIMIT_MS) failed.push(`the load generator's clock ran late (p99 ${step.load_clock_lateness_ms.p99} ms): the limit may be the load, not the core`);
  return failed;
}

/** Holds the calls up and samples the core's RSS; the mean over the last MEMORY_TAIL_MS is its steady state. */
async function holdForMemory(pid: number, calls: number, idleRssMb: number): Promise<NonNullable<CapacityResult["steady_memory"]>> {
  const samples: number[] = [];
  const until = performance.now() + MEMORY_HOLD_MS;
  while (performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (until - performance.now() < MEMORY_TAIL_MS) samples.push(mb(processRssBytes(pid)));
  }
  const rss = samples.reduce((sum, sample) => sum + sample, 0) / samples.length;
  return {
    calls,
    call_age_s: Math.round((SETTLE_MS + WINDOW_MS + MEMORY_HOLD_MS) / 1000),
    rss_mb: Math.round(rss * 10) / 10,
    mb_per_call: round3((rss - idleRssMb) / calls),
  };
}

/** Beyond any doubt: a CPU is spent, lines go unanswered, or the event loop stalls for 100 ms at p99. */
function overloaded(step: CapacityStep): boolean {
  return step.core_cpu_percent >= 95 || step.load_cpu_percent >= 90 || step.answers_missing > 0 || step.calls_dropped > 0 || step.event_loop_lag_ms.p99 > 100;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function maybeDistribution(values: number[]): Distribution | null {
  return values.length === 0 ? null : distribution(values);
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function mb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}
