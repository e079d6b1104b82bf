// Soak: 50 concurrent simulated calls for 10 minutes (`--minutes N`) through the whole local stack
// (simulator -> edge in workerd -> core process -> emulators). Each of the 50 slots places calls
// back to back, each a few turns over one to two minutes, so calls keep ending and being replaced
// and whatever a call's teardown leaves behind piles up. Answers come from the TTS cache (their
// sentences are FIXED_PHRASES, cached at warmup), so the TTS emulator's eSpeak is never the limit.
//
// Every SAMPLE_MS: the core's and workerd's RSS, open descriptors and CPU, the core's event-loop lag
// (lib/lag-probe.ts), the calls up. The verdict (lib/soak-verdict.ts) compares the steady state after the
// first minute with the last stretch before new calls stop, both with every slot's call up; the
// run fails on a leak, a failed call or a lost frame, and says why.
//
// Frames lost, per completed call:
// - caller -> core: media frames the simulator sent (one per 20 ms tick of the call) against the
//   core's CALL line `frames_in` (media frames it took in);
// - agent -> caller: the greeting's frames (KV audio) and each answer's (the cached audio of its
//   sentences, as the core cuts it into frames) against the frames the caller heard.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { callLine, FRAME_BYTES, turnLine } from "@voice/protocol";
import { buildCore } from "../../cloudrun/build.js";
import { seededRandom } from "../../random/seeded-random.js";
import defaultScript from "../../caller-scripts/default.he.json" with { type: "json" };
import { LOCAL_SECRETS, startStack, type Stack } from "../../local/stack.js";
import { callerLineFrames } from "../../sim/caller-audio.js";
import { runCall } from "../../sim/call.js";
import type { CallReport } from "../../sim/report.js";
import type { CallerScript } from "../../sim/script.js";
import { newSid } from "../../sim/twilio-client.js";
import { answerAudio, answerPhrases, answerSentences } from "../lib/answer-audio.js";
import { LagProbe } from "../lib/lag-probe.js";
import { processFigures, type ProcessFigures } from "../lib/process-figures.js";
import { descendantPids } from "../lib/proc.js";
import { SoakSampler } from "../lib/soak-sampler.js";
import { growth, leaks, leftoverFds, soakWindows, type Growth, type LeakLimits, type SoakSample, type Windows } from "../lib/soak-verdict.js";
import { distribution, type Distribution } from "../../stats/distribution.js";

const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SLOTS = 50;
/** Slots start this far apart, so the 50 calls do not talk in step. */
const SLOT_SPACING_MS = 300;
const SAMPLE_MS = 10_000;
/** A call says this many lines (the default script's, in order, as the speech emulator transcribes them)... */
const TURNS = { min: 3, max: 5 };
/** ...with this much silence before each after the first (a person thinking, being told something). */
const PAUSE_MS = { min: 6_000, max: 18_000 };
const SEED = 8080;
const CALLER_PITCH = 70;

/**
 * Leak limits. In healthy 2-minute runs (50 slots, ~107 calls), with 50 calls up: core RSS 204 -> 206 MB
 * from minute 1 to 2 (the first calls' buffers still filling) and ~1 open descriptor per call
 * (25 idle, 78 at 50 calls, 28 once all had ended); workerd ~258 MB throughout and 2 descriptors per
 * call (28 idle, 125, then 24). A call whose session outlived it would hold ~1-3 MB and ~35 calls end
 * a minute, so a leak of even a tenth of a call's memory climbs past 3 MB/min, and one socket per call
 * passes the descriptor slack within a minute. The 3 MB/min is a judgement to revisit after 10-minute runs.
 */
const LIMITS: Record<"core" | "edge", LeakLimits> = {
  core: { rssSlopeMbPerMin: 3, fdsGrowth: 10, fdsPerCall: 1 },
  edge: { rssSlopeMbPerMin: 3, fdsGrowth: 10, fdsPerCall: 2 },
};
/** Once every call has ended, descriptors must be back to their idle count before the first, within this. */
const IDLE_FDS_SLACK = 10;
/** How long to wait after the last call for sockets to close and counts to settle. */
const SETTLE_MAX_MS = 20_000;

export interface SoakResult {
  suite: "soak";
  minutes: number;
  slots: number;
  calls: { completed: number; failed: number; failures: string[]; turns: number };
  frames: {
    caller_sent: number;
    /** Sent by the simulator, not taken in by the core (CALL frames_in). */
    caller_lost: number;
    agent_expected: number;
    /** Greeting and answer frames the caller did not hear. */
    agent_lost: number;
  };
  /** TTS requests made while the calls ran (0: every answer came from the cache). */
  tts_requests: number;
  core: ProcessReport;
  edge: ProcessReport;
  /** /health round trip minus the idle one, over the steady state. */
  core_event_loop_lag_ms: Distribution | null;
  idle_round_trip_ms: number;
  samples: SoakSample[];
  /** Seconds since the first call: the start and end windows compared, and where the RSS slope is fitted from. */
  windows: Windows;
  verdict: "pass" | "fail";
  /** Why the run failed (a leak, failed calls, lost frames); empty on a pass. */
  fail_reasons: string[];
  /** What the verdict could not judge in a run this short. */
  notes: string[];
}

interface ProcessReport extends Growth {
  idle_before: { rss_mb: number; fds: number };
  /** Once every call had ended. */
  idle_after: { rss_mb: number; fds: number };
}

/** One finished call, reduced at once (a report holds the whole call's audio). */
interface CallOutcome {
  callSid: string;
  problems: string[];
  turns: number;
  callerFramesSent: number;
  agentFramesExpected: number;
  agentFramesHeard: number;
}

/** What the caller should hear, fixed before the first call. */
interface Expected {
  greetingFrames: number;
  /** Per script line: its answer's text as heard (sentences joined) and its frames. */
  answers: Map<string, { text: string; frames: number }>;
}

export async function runSoakBench(options: { minutes?: number; slots?: number } = {}): Promise<SoakResult> {
  const minutes = options.minutes ?? 10;
  const slots = options.slots ?? SLOTS;
  await mkdir(path.join(REPO_ROOT, "infra/.build"), { recursive: true });
  // Inside the repository (infra/.build is git-ignored), so the bundle finds node_modules as it does in the image.
  const outdir = await mkdtemp(path.join(REPO_ROOT, "infra/.build/bench-core-"));
  let stack: Stack | undefined;
  try {
    const bundle = await buildCore(outdir);
    const { lines, language } = defaultScript;
    const edgeTrouble: string[] = [];
    stack = await startStack({
      emulators: { script: lines, speech: { log: () => {} }, tts: { log: () => {} }, openai: { log: () => {} } },
      coreEnv: { NODE_ENV: "production", NODE_OPTIONS: "--enable-source-maps", FIXED_PHRASES: JSON.stringify(answerPhrases(lines, language)) },
      coreProcess: { entry: bundle.outfile },
      // Only errors are kept (a soak's worth of edge lines would grow this process): ERROR lines, and
      // anything on stderr that is not the edge's own JSON (an uncaught exception); its WARNINGs go to stderr too.
      onEdgeLine: (line) => {
        if (line.json?.severity === "ERROR" || (line.level === "error" && !line.json)) edgeTrouble.push(line.text.slice(0, 300));
      },
    });
    return await soak(stack, minutes, slots, edgeTrouble);
  } finally {
    await stack?.stop();
    await rm(outdir, { recursive: true, force: true });
  }
}

async function soak(stack: Stack, minutes: number, slots: number, edgeTrouble: string[]): Promise<SoakResult> {
  const { lines, language, voice } = defaultScript;
  const expected = await expectations(stack, lines, language);
  // The caller's lines spoken once up front: eSpeak must not run on the event loop the calls' clocks share.
  for (const line of lines) await callerLineFrames(line, { voice, pitch: CALLER_PITCH });
  const corePids = [stack.core.pid];
  const edgePids = descendantPids(process.pid, "workerd");
  if (edgePids.length === 0) throw new Error("no workerd process found under this one");
  const probe = new LagProbe({ host: "127.0.0.1", port: stack.core.port });
  try {
    await sleep(500);
    await probe.take();
    await sleep(3000);
    const idleRoundTrip = distribution(await probe.take()).median;
    const idleBefore = { core: processFigures(corePids), edge: processFigures(edgePids) };
    const ttsFrom = stack.emulators.tts.stats.requests;

    const outcomes: CallOutcome[] = [];
    let callsUp = 0;
    const startedAt = performance.now();
    const stopPlacingAt = startedAt + minutes * 60_000;
    const runSlot = async (slot: number) => {
      const random = seededRandom(SEED + slot);
      await sleep(slot * SLOT_SPACING_MS);
      while (performance.now() < stopPlacingAt) {
        const script = callScript(lines, language, voice, random);
        callsUp++;
        const report = await runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script, callerPitch: CALLER_PITCH, callSid: newSid("CA"), timeoutMs: 20_000 });
        callsUp--;
        outcomes.push(callOutcome(report, script, expected));
      }
    };

    const sampler = new SoakSampler({ corePids, edgePids, coreUrl: stack.core.url, coreSecret: LOCAL_SECRETS.CORE_SHARED_SECRET, probe, idleRoundTripMs: idleRoundTrip }, startedAt);
    const takeSample = async () => {
      const sample = await sampler.take(callsUp);
      console.error(
        `soak: ${sample.t_s} s, ${callsUp} calls up, ${outcomes.length} done — core ${sample.core.rss_mb} MB ${sample.core.fds} fds ${sample.core_cpu_percent}% CPU, lag p99 ${sample.core_lag_p99_ms ?? "-"} ms; edge ${sample.edge.rss_mb} MB ${sample.edge.fds} fds ${sample.edge_cpu_percent}% CPU; machine ${sample.machine_cpu_percent}%`,
      );
    };

    let placing = true;
    const calls = Promise.all(Array.from({ length: slots }, (_, slot) => runSlot(slot))).finally(() => (placing = false));
    // Sampled on a fixed grid from the first call, through the last call's end.
    for (let tick = 1; placing; tick++) {
      await Promise.race([sleep(Math.max(0, startedAt + tick * SAMPLE_MS - performance.now())), calls]);
      if (placing) await takeSample();
    }
    await calls;
    const ttsRequests = stack.emulators.tts.stats.requests - ttsFrom;
    await untilCallLines(stack, outcomes.map((o) => o.callSid));
    const idleAfter = await settledIdle(corePids, edgePids, idleBefore);

    const windows = soakWindows(minutes * 60);
    const steady = sampler.samples.filter((s) => s.t_s <= windows.endTo);
    const processReport = (name: "core" | "edge", before: ProcessFigures, after: ProcessFigures): ProcessReport => ({
      idle_before: { rss_mb: before.rssMb, fds: before.fds },
      ...growth(steady.map((s) => s[name]), steady.map((s) => s.t_s), windows, LIMITS[name].fdsPerCall),
      idle_after: { rss_mb: after.rssMb, fds: after.fds },
    });
    const core = processReport("core", idleBefore.core, idleAfter.core);
    const edge = processReport("edge", idleBefore.edge, idleAfter.edge);
    const reconciled = reconcile(stack, outcomes);
    const steadyLag = sampler.lagsBetween(windows.startFrom, windows.endTo);

    const failReasons = [
      ...leaks("core", core, LIMITS.core),
      ...leaks("edge", edge, LIMITS.edge),
      ...leftoverFds("core", core.idle_before.fds, core.idle_after.fds, IDLE_FDS_SLACK),
      ...leftoverFds("edge", edge.idle_before.fds, edge.idle_after.fds, IDLE_FDS_SLACK),
      ...(reconciled.failed.length > 0 ? [`${reconciled.failed.length} of ${outcomes.length} calls failed (first: ${reconciled.failed[0]})`] : []),
      ...(reconciled.callerLost > 0 ? [`${reconciled.callerLost} caller frames lost`] : []),
      ...(reconciled.agentLost !== 0 ? [`${reconciled.agentLost} agent frames lost`] : []),
      ...(edgeTrouble.length > 0 ? [`the edge logged ${edgeTrouble.length} errors (first: ${edgeTrouble[0]})`] : []),
    ];
    return {
      suite: "soak",
      minutes,
      slots,
      calls: { completed: outcomes.length - reconciled.failed.length, failed: reconciled.failed.length, failures: reconciled.failed.slice(0, 10), turns: reconciled.turns },
      frames: { caller_sent: reconciled.callerSent, caller_lost: reconciled.callerLost, agent_expected: reconciled.agentExpected, agent_lost: reconciled.agentLost },
      tts_requests: ttsRequests,
      core,
      edge,
      core_event_loop_lag_ms: steadyLag.length ? distribution(steadyLag) : null,
      idle_round_trip_ms: idleRoundTrip,
      samples: sampler.samples,
      windows,
      verdict: failReasons.length === 0 ? "pass" : "fail",
      fail_reasons: failReasons,
      notes: windows.slopeFrom === null ? ["RSS slope not judged: it needs calls placed for 4 minutes or more (fitted from minute 2 on)"] : [],
    };
  } finally {
    await probe.stop();
  }
}

async function expectations(stack: Stack, lines: string[], language: string): Promise<Expected> {
  const greeting = await stack.edge.kv.get(String(stack.warmup.greeting_key));
  if (!greeting) throw new Error("the greeting is not in KV after warmup");
  const answers = new Map<string, { text: string; frames: number }>();
  for (const line of lines) {
    const audio = await answerAudio(stack.core.url, LOCAL_SECRETS.CORE_SHARED_SECRET, line, language);
    answers.set(line, { text: answerSentences(line, language).join(" "), frames: audio.length / FRAME_BYTES });
  }
  return { greetingFrames: Math.ceil(greeting.length / FRAME_BYTES), answers };
}

/** A call of a few turns: the script's lines in order (as the speech emulator hears them), with pauses. */
function callScript(lines: string[], language: string, voice: string, random: () => number): CallerScript {
  const turns = TURNS.min + Math.floor(random() * (TURNS.max - TURNS.min + 1));
  return {
    language,
    voice,
    lines: Array.from({ length: turns }, (_, k) => ({
      text: lines[k % lines.length]!,
      pauseMs: k === 0 ? 400 + Math.round(random() * 1000) : PAUSE_MS.min + Math.round(random() * (PAUSE_MS.max - PAUSE_MS.min)),
    })),
  };
}

function callOutcome(report: CallReport, script: CallerScript, expected: Expected): CallOutcome {
  const problems = [...report.errors];
  const said = script.lines.map((line) => (typeof line === "string" ? line : line.text!));
  if (report.turns.length !== said.length) problems.push(`${report.turns.length} of ${said.length} lines spoken`);
  let agentFramesExpected = expected.greetingFrames;
  let agentFramesHeard = report.greeting_audio.length / FRAME_BYTES;
  report.turns.forEach((turn, k) => {
    const answer = expected.answers.get(said[k]!)!;
    if (turn.agent_text !== answer.text) problems.push(`turn ${k + 1}: heard "${turn.agent_text.slice(0, 60)}", expected "${answer.text.slice(0, 60)}"`);
    agentFramesExpected += answer.frames;
    agentFramesHeard += turn.agent_audio.length / FRAME_BYTES;
  });
  return {
    callSid: report.call_sid,
    problems,
    turns: report.turns.length,
    callerFramesSent: report.recording.caller.length / FRAME_BYTES,
    agentFramesExpected,
    agentFramesHeard,
  };
}

/** The core writes a call's CALL line once the call has closed: waits for every one (bounded). */
async function untilCallLines(stack: Stack, callSids: string[]): Promise<void> {
  const waiting = new Set(callSids);
  const seen = () => {
    for (const line of stack.core.lines) if (line.json?.message === "CALL") waiting.delete(String(line.json.call_id));
    return waiting.size === 0;
  };
  for (const deadline = performance.now() + 10_000; !seen() && performance.now() < deadline; ) await sleep(200);
}

/** Frames and failures over every call, with the core's own count of each call (its CALL and TURN lines). */
function reconcile(stack: Stack, outcomes: CallOutcome[]) {
  const callLines = new Map<string, number>();
  const turnLines = new Map<string, number>();
  for (const line of stack.core.lines) {
    const call = callLine.safeParse(line.json);
    if (call.success) callLines.set(call.data.call_id, call.data.frames_in);
    const turn = turnLine.safeParse(line.json);
    if (turn.success) turnLines.set(turn.data.call_id, (turnLines.get(turn.data.call_id) ?? 0) + 1);
  }
  const failed: string[] = [];
  let callerSent = 0;
  let callerLost = 0;
  let agentExpected = 0;
  let agentLost = 0;
  let turns = 0;
  for (const outcome of outcomes) {
    const framesIn = callLines.get(outcome.callSid);
    const problems = [...outcome.problems];
    if (framesIn === undefined) problems.push("no CALL line");
    if ((turnLines.get(outcome.callSid) ?? 0) !== outcome.turns) problems.push(`${turnLines.get(outcome.callSid) ?? 0} TURN lines for ${outcome.turns} turns`);
    if (problems.length > 0) {
      failed.push(`${outcome.callSid}: ${problems.join("; ")}`);
      continue;
    }
    turns += outcome.turns;
    callerSent += outcome.callerFramesSent;
    callerLost += outcome.callerFramesSent - framesIn!;
    agentExpected += outcome.agentFramesExpected;
    agentLost += outcome.agentFramesExpected - outcome.agentFramesHeard;
  }
  return { failed, callerSent, callerLost, agentExpected, agentLost, turns };
}

/** Both processes once every call has ended: polled until their descriptors are back near idle, or SETTLE_MAX_MS. */
async function settledIdle(corePids: number[], edgePids: number[], before: { core: ProcessFigures; edge: ProcessFigures }) {
  const deadline = performance.now() + SETTLE_MAX_MS;
  for (;;) {
    const now = { core: processFigures(corePids), edge: processFigures(edgePids) };
    const settled = now.core.fds - before.core.fds <= IDLE_FDS_SLACK && now.edge.fds - before.edge.fds <= IDLE_FDS_SLACK;
    if (settled || performance.now() >= deadline) return now;
    await sleep(1000);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
