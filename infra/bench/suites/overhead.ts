// The time our code adds to a turn. Every emulator latency is fixed (STT final 300 ms of audio after
// the speech ends, LLM first token 400 ms with all tokens at once, TTS 400 ms, TTS cache off, no
// speculation), so the latency the settings imply is known for each turn; what the caller waits
// beyond it is what the core, the edge and the local transport add.
//
// The implied latency of a turn, from the caller's last frame (E, on the caller's audio clock):
//   implied = max(v + HANGOVER, e + STT_FINAL) − E + LLM_FIRST_TOKEN + TTS
// The core starts the LLM once it has both the end of utterance (its VAD's speech end v plus the
// hangover) and the transcript (the speech emulator's final, STT_FINAL of audio after *its* speech
// end e): the two run side by side, so the bound is their max, not their sum. v comes from the TURN
// line (speech_end_audio_ms); e from the speech emulator's own detector run over the same caller
// audio (a line's frames are the same in every call); both differ from E by a frame or two of quiet
// trailing audio, so a fixed 300 + 400 + 400 can be a frame or two off for a turn.
// From the core's side (TOTAL_LATENCY_MS is measured from v) the same bound is
//   implied_core = max(HANGOVER, e + STT_FINAL − v) + LLM_FIRST_TOKEN + TTS.
//
// Two loads: one call per core process (eight stacks side by side, so 200 turns fit in minutes),
// and 50 concurrent calls on one stack. The TTS emulator's eSpeak costs ~0.2 s of CPU per answer,
// and the core shares a synthesis already in flight for the same sentence with every turn that asks
// for it; so at 50 calls the answers must not pile up: the calls connect within 5 s, and their
// conversations are phased 450 ms apart and keep that phase (every call says the same lines, each
// line taking each call the same time, with a 19 s pause), so one TTS request is in flight at a
// time. Only turns answered while all 50 calls were up count.
import { FRAME_BYTES, MULAW_SILENCE, turnLine, type TurnLine } from "@voice/protocol";
import { DEFAULT_UTTERANCE_TIMING, UtteranceTracker } from "../../local/emulators/utterances.js";
import { LOCAL_SECRETS, startStack, type Stack } from "../../local/stack.js";
import { callerLineFrames } from "../../sim/caller-audio.js";
import { runCall } from "../../sim/call.js";
import type { CallReport, TurnReport } from "../../sim/report.js";
import { FIXED } from "../lib/fixed-latencies.js";
import { machineCpuMs } from "../lib/proc.js";
import { distribution, type Distribution } from "../../stats/distribution.js";

/** The settings the implied latency is made of. */
export interface ImpliedSettings {
  hangoverMs: number;
  sttFinalMs: number;
  llmFirstTokenMs: number;
  ttsMs: number;
}

export const SETTINGS: ImpliedSettings = {
  hangoverMs: 160,
  sttFinalMs: FIXED.sttFinalAfterSpeechEndMs,
  llmFirstTokenMs: FIXED.llmFirstTokenMs,
  ttsMs: FIXED.ttsMs,
};

/** Where the three detectors put the end of the caller's speech, on the caller's audio clock (ms). */
export interface SpeechEnds {
  /** The simulator: end of the line's last frame. */
  caller: number;
  /** The core's VAD (TURN speech_end_audio_ms). */
  core: number;
  /** The speech emulator's energy detector, which times the final. */
  stt: number;
}

/** The implied latency, from the caller's speech end (simulator) and from the core's (TOTAL_LATENCY_MS). */
export function impliedLatency(settings: ImpliedSettings, ends: SpeechEnds): { fromCaller: number; fromCore: number } {
  const transcriptAt = Math.max(ends.core + settings.hangoverMs, ends.stt + settings.sttFinalMs);
  const answer = settings.llmFirstTokenMs + settings.ttsMs;
  return { fromCaller: transcriptAt - ends.caller + answer, fromCore: transcriptAt - ends.core + answer };
}

/**
 * How much earlier than the line's last frame the speech emulator's detector ends the utterance:
 * its own tracker over the line's frames between silences (the trailing frames may be too quiet to count).
 */
export function sttEndLeadMs(frames: Uint8Array[]): number {
  const silence = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
  const lead = 25;
  const tracker = new UtteranceTracker({ ...DEFAULT_UTTERANCE_TIMING, finalSilenceMs: SETTINGS.sttFinalMs });
  const audio = [...Array<Uint8Array>(lead).fill(silence), ...frames, ...Array<Uint8Array>(SETTINGS.sttFinalMs / 20 + 5).fill(silence)];
  for (const frame of audio) {
    for (const event of tracker.push(frame)) if (event.kind === "final") return (lead + frames.length) * 20 - event.endMs;
  }
  throw new Error("the speech emulator's detector found no utterance in a caller line");
}

/**
 * Short lines with the chat emulator's shortest answer (its recall rule: "you have not asked anything
 * yet", then "you asked earlier: <the first line>"), one sentence each, so a turn takes ~3.7 s.
 */
const LINES = ["מה שאלתי?", "רגע, מה שאלתי?", "מה שאלתי קודם?"];
const CALLER_VOICE = { voice: "he", pitch: 70 };

export interface LoadLevel {
  label: string;
  stacks: number;
  callsPerStack: number;
  linesPerCall: number;
  /** Silence before each line but the first, after the previous answer was heard. */
  pauseMs: number;
  /** Between the connections of consecutive calls (all stacks together). */
  connectSpacingMs: number;
  /** Call k waits 400 + k × this after the greeting before its first line. */
  firstLineSpacingMs: number;
}

export const OVERHEAD_LEVELS: LoadLevel[] = [
  { label: "1 call per core", stacks: 8, callsPerStack: 1, linesPerCall: 25, pauseMs: 400, connectSpacingMs: 500, firstLineSpacingMs: 0 },
  { label: "50 concurrent calls", stacks: 1, callsPerStack: 50, linesPerCall: 6, pauseMs: 19_000, connectSpacingMs: 100, firstLineSpacingMs: 350 },
];

/** A stage this much over its fixed latency was held up (by the stand-in, or our client of it). */
const ON_TIME_MS = 20;

/** Stacks starting at once compete for the CPU; a few at a time start well within their timeouts. */
const STACKS_STARTED_AT_ONCE = 4;

export interface OverheadLevelResult {
  label: string;
  concurrent_calls_per_core: number;
  core_processes: number;
  turns: number;
  /** Turns left out, by reason (speculation used, a retry, a cache hit, outside the all-calls window...). */
  excluded: Record<string, number>;
  implied_ms: Distribution;
  /** Caller-heard latency − implied: the headline overhead (includes the wait for the simulator's 20 ms playout slot). */
  heard_minus_implied_ms: Distribution;
  /** Arrival of the first answer frame at the simulator − implied: the same without the playout-slot wait. */
  received_minus_implied_ms: Distribution;
  /** TOTAL_LATENCY_MS − implied_core: what the core itself reports. */
  core_total_minus_implied_ms: Distribution;
  /**
   * heard − implied over the turns where every emulator kept its fixed latency (each stage within
   * ON_TIME_MS of its setting): what our code adds when the stand-ins are not the ones running late
   * (a loaded machine slows eSpeak and the speech emulator too). A lower bound: a stage late because
   * of our own client is left out with them.
   */
  heard_minus_implied_stages_on_time_ms: Distribution | null;
  /** Where the core's part goes (each: measured − its fixed setting). */
  stt_final_excess_ms: Distribution;
  llm_first_token_excess_ms: Distribution;
  tts_ready_excess_ms: Distribution;
  /** TOTAL − max(EOU, STT final) − LLM first token − TTS ready: time between the stages, in our code. */
  between_stages_ms: Distribution;
  tts_latency_overruns: number;
  /** Machine CPU busy while the calls ran (both cores together = 100%). */
  machine_cpu_busy_percent: number;
  errors: string[];
}

export interface OverheadResult {
  suite: "overhead";
  settings: ImpliedSettings;
  script_lines: string[];
  levels: OverheadLevelResult[];
}

interface TurnSample {
  implied: number;
  heardMinus: number;
  receivedMinus: number;
  coreMinus: number;
  sttExcess: number;
  llmExcess: number;
  ttsExcess: number;
  between: number;
}

export async function runOverheadBench(options: { levels?: LoadLevel[] } = {}): Promise<OverheadResult> {
  const leads = new Map<string, number>();
  for (const line of LINES) leads.set(line, sttEndLeadMs(await callerLineFrames(line, CALLER_VOICE)));
  const levels: OverheadLevelResult[] = [];
  for (const level of options.levels ?? OVERHEAD_LEVELS) levels.push(await runLevel(level, leads));
  return { suite: "overhead", settings: SETTINGS, script_lines: LINES, levels };
}

async function runLevel(level: LoadLevel, leads: Map<string, number>): Promise<OverheadLevelResult> {
  const stacks = await startStacks(level.stacks);
  try {
    const scriptFor = (call: number) => ({
      language: "he-IL",
      voice: CALLER_VOICE.voice,
      lines: Array.from({ length: level.linesPerCall }, (_, i) => ({
        text: LINES[i % LINES.length]!,
        pauseMs: i === 0 ? 400 + call * level.firstLineSpacingMs : level.pauseMs,
      })),
    });
    const cpuFrom = machineCpuMs();
    const overrunsFrom = stacks.map((stack) => stack.emulators.tts.stats.latencyOverruns);
    const calls = stacks.flatMap((stack) => Array.from({ length: level.callsPerStack }, () => stack));
    const started: number[] = [];
    const ended: number[] = [];
    const reports = await Promise.all(
      calls.map(async (stack, index) => {
        await new Promise((resolve) => setTimeout(resolve, index * level.connectSpacingMs));
        started.push(performance.now());
        const report = await runCall({
          url: stack.edge.url,
          authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN,
          script: scriptFor(index),
          callerPitch: CALLER_VOICE.pitch,
          timeoutMs: 20_000,
        });
        ended.push(performance.now());
        return { stack, report };
      }),
    );
    const cpuTo = machineCpuMs();
    // The core writes each TURN line before the call ends; give its stdout a moment to arrive.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const window = { from: Math.max(...started), to: Math.min(...ended) };
    const samples: TurnSample[] = [];
    const excluded: Record<string, number> = {};
    const errors: string[] = [];
    for (const { stack, report } of reports) {
      errors.push(...report.errors.map((error) => `${report.call_sid}: ${error}`));
      const lines = turnLinesOf(stack, report);
      report.turns.forEach((turn, index) => {
        const outcome = sampleTurn(turn, lines.get(index + 1), leads, level.callsPerStack > 1 ? window : undefined);
        if (typeof outcome === "string") excluded[outcome] = (excluded[outcome] ?? 0) + 1;
        else samples.push(outcome);
      });
    }
    if (samples.length === 0) throw new Error(`${level.label}: no turn could be measured (${JSON.stringify(excluded)}; ${errors.slice(0, 3).join("; ")})`);
    const of = (pick: (sample: TurnSample) => number) => distribution(samples.map(pick));
    const onTime = samples.filter((s) => s.sttExcess <= ON_TIME_MS && s.llmExcess <= ON_TIME_MS && s.ttsExcess <= ON_TIME_MS);
    return {
      label: level.label,
      concurrent_calls_per_core: level.callsPerStack,
      core_processes: level.stacks,
      turns: samples.length,
      excluded,
      implied_ms: of((s) => s.implied),
      heard_minus_implied_ms: of((s) => s.heardMinus),
      heard_minus_implied_stages_on_time_ms: onTime.length === 0 ? null : distribution(onTime.map((s) => s.heardMinus)),
      received_minus_implied_ms: of((s) => s.receivedMinus),
      core_total_minus_implied_ms: of((s) => s.coreMinus),
      stt_final_excess_ms: of((s) => s.sttExcess),
      llm_first_token_excess_ms: of((s) => s.llmExcess),
      tts_ready_excess_ms: of((s) => s.ttsExcess),
      between_stages_ms: of((s) => s.between),
      tts_latency_overruns: stacks.reduce((sum, stack, i) => sum + stack.emulators.tts.stats.latencyOverruns - overrunsFrom[i]!, 0),
      machine_cpu_busy_percent: Math.round(((cpuTo.busy - cpuFrom.busy) / (cpuTo.total - cpuFrom.total)) * 100),
      errors,
    };
  } finally {
    await Promise.all(stacks.map((stack) => stack.stop()));
  }
}

async function startStacks(count: number): Promise<Stack[]> {
  const stacks: Stack[] = [];
  try {
    while (stacks.length < count) {
      const batch = Math.min(STACKS_STARTED_AT_ONCE, count - stacks.length);
      const started = await Promise.allSettled(Array.from({ length: batch }, () => startOverheadStack()));
      for (const outcome of started) if (outcome.status === "fulfilled") stacks.push(outcome.value);
      const failed = started.find((outcome) => outcome.status === "rejected");
      if (failed) throw failed.reason;
    }
    return stacks;
  } catch (error) {
    await Promise.all(stacks.map((stack) => stack.stop()));
    throw error;
  }
}

function startOverheadStack(): Promise<Stack> {
  return startStack({
    emulators: {
      script: LINES,
      speech: { finalSilenceMs: SETTINGS.sttFinalMs, log: () => {} },
      // Tokens all at once after the first-token delay, so the first sentence is complete at once.
      openai: { firstTokenMs: SETTINGS.llmFirstTokenMs, tokenIntervalMs: 0, log: () => {} },
      tts: { latencyMs: SETTINGS.ttsMs, log: () => {} },
    },
    coreEnv: {
      // A cache that holds nothing: every answer pays the fixed TTS latency.
      TTS_CACHE_MAX_BYTES: "1",
      VAD_HANGOVER_MS: String(SETTINGS.hangoverMs),
      // The sequential path: no answer started before the end of the utterance.
      LLM_SPECULATE: "false",
    },
    onEdgeLine: () => {},
  });
}

function turnLinesOf(stack: Stack, report: CallReport): Map<number, TurnLine> {
  const lines = new Map<number, TurnLine>();
  for (const line of stack.core.lines) {
    const parsed = turnLine.safeParse(line.json);
    if (parsed.success && parsed.data.call_id === report.call_sid) lines.set(parsed.data.turn, parsed.data);
  }
  return lines;
}

/** The turn's measurements, or why it does not measure the plain sequential path. */
function sampleTurn(turn: TurnReport, line: TurnLine | undefined, leads: Map<string, number>, window?: { from: number; to: number }): TurnSample | string {
  if (!line) return "no TURN line";
  if (turn.caller_latency_ms === null || turn.first_answer_at === null || turn.first_answer_received_at === null) return "no answer heard";
  if (turn.speech_end_audio_ms === null) return "no caller speech end";
  if (window && (turn.first_answer_received_at < window.from || turn.first_answer_received_at > window.to)) return "outside the window with all calls up";
  if (line.speculation === "used") return "speculation used";
  if (line.retries > 0 || line.fallbacks > 0) return "retry or fallback";
  if (line.stt_used_partial) return "final missed, partial used";
  if (line.tts_cache_hit) return "TTS cache hit";
  if (line.TTS_READY_MS !== undefined && line.TTS_READY_MS < SETTINGS.ttsMs) return "TTS shared a synthesis in flight for another call";
  const { TOTAL_LATENCY_MS: total, STT_FINAL_MS: sttFinal, LLM_FIRST_TOKEN_MS: llm, TTS_READY_MS: tts } = line;
  if (total === undefined || sttFinal === undefined || llm === undefined || tts === undefined) return "a TURN metric missing";
  const lead = leads.get(turn.caller_text);
  if (lead === undefined) return "unknown line";
  const ends: SpeechEnds = { caller: turn.speech_end_audio_ms, core: line.speech_end_audio_ms, stt: turn.speech_end_audio_ms - lead };
  const implied = impliedLatency(SETTINGS, ends);
  const callerEndAt = turn.first_answer_at - turn.caller_latency_ms;
  return {
    implied: implied.fromCaller,
    heardMinus: turn.caller_latency_ms - implied.fromCaller,
    receivedMinus: turn.first_answer_received_at - callerEndAt - implied.fromCaller,
    coreMinus: total - implied.fromCore,
    sttExcess: sttFinal - (ends.stt + SETTINGS.sttFinalMs - ends.core),
    llmExcess: llm - SETTINGS.llmFirstTokenMs,
    ttsExcess: tts - SETTINGS.ttsMs,
    between: total - Math.max(line.EOU_MS, sttFinal) - llm - tts,
  };
}
