// Speculative answers against the sequential bound, on the whole stack (simulator -> edge in workerd
// -> core process -> emulators) with fixed emulator latencies: the same calls with LLM_SPECULATE=false
// (the sequential answer: final, then LLM, then TTS) and =true (the LLM started on a stable partial).
//
// The recognizer's partials are right for lines 1 and 3 of the default script (they hold the whole
// sentence before its end, at the speech emulator's default pace) and wrong for line 2: they read the
// hours question while the caller asks for an appointment, and only the final says so. Line 2 is
// where a speculation must be discarded without the caller hearing a word of it; lines 1 and 3 are
// where it should win.
import { turnLine, type TurnLine } from "@voice/protocol";
import { answerFor } from "../../local/emulators/chat-answers.js";
import type { SpeechScriptLine } from "../../local/emulators/index.js";
import { LOCAL_SECRETS, startStack } from "../../local/stack.js";
import { runCall } from "../../sim/call.js";
import type { CallReport } from "../../sim/report.js";
import { DEFAULT_SCRIPT_PATH, loadCallerScript } from "../../sim/script.js";
import { distribution, type Distribution } from "../../stats/distribution.js";

/** STT final 300 ms after speech end, LLM first token 400 ms (all tokens at once), TTS 400 ms, no TTS cache. */
const FIXED = { sttFinalAfterSpeechEndMs: 300, llmFirstTokenMs: 400, ttsMs: 400 } as const;
const SEQUENTIAL_SUM_MS = FIXED.sttFinalAfterSpeechEndMs + FIXED.llmFirstTokenMs + FIXED.ttsMs;
/** The script line (0-based) whose partials mislead. */
const REVISED_LINE = 1;

type Outcome = "used" | "discarded" | "none";

export interface SpeculationModeResult {
  turns: number;
  total_latency_ms: Distribution | null;
  caller_heard_ms: Distribution | null;
  /** Turns whose partials were right (lines 1 and 3). */
  stable_partial_total_latency_ms: Distribution | null;
  /** Turns whose partials misled (line 2). */
  revised_partial_total_latency_ms: Distribution | null;
  /** Per script line: its TOTAL_LATENCY_MS and what became of its speculations. */
  by_line: { line: number; partials: "right" | "misleading"; total_latency_ms: Distribution | null; outcomes: Record<Outcome, number> }[];
  outcomes: Record<Outcome, number>;
  /** Chat completions requested per turn (each speculation is one; a used one is the turn's only). */
  llm_requests_per_turn: number;
  /** Chat completions cancelled before their end (discarded speculations, barge-ins). */
  llm_requests_cancelled: number;
}

export interface SpeculationResult {
  suite: "speculation";
  calls: number;
  concurrency: number;
  sequential_sum_ms: number;
  sequential: SpeculationModeResult;
  speculative: SpeculationModeResult;
  /** Speculative median TOTAL_LATENCY_MS of the stable-partial turns / the sequential sum (target <= 0.75). */
  ratio_to_sequential_sum: number | null;
  /** ... / the measured sequential median of the same lines. */
  ratio_to_sequential_measured: number | null;
  /** Turns whose caller heard anything but the answer to their final transcript (must be 0). */
  wrong_speculations_played: number;
  errors: string[];
}

export async function runSpeculationBench(options: { calls?: number; concurrency?: number } = {}): Promise<SpeculationResult> {
  const calls = options.calls ?? 9;
  const concurrency = options.concurrency ?? 3;
  const errors: string[] = [];
  const sequential = await runMode(false, calls, concurrency, errors);
  const speculative = await runMode(true, calls, concurrency, errors);
  const median = (mode: ModeRun) => mode.summary.stable_partial_total_latency_ms?.median;
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : Math.round((a / b) * 1000) / 1000);
  return {
    suite: "speculation",
    calls,
    concurrency,
    sequential_sum_ms: SEQUENTIAL_SUM_MS,
    sequential: sequential.summary,
    speculative: speculative.summary,
    ratio_to_sequential_sum: ratio(median(speculative), SEQUENTIAL_SUM_MS),
    ratio_to_sequential_measured: ratio(median(speculative), median(sequential)),
    wrong_speculations_played: sequential.wrongPlayed + speculative.wrongPlayed,
    errors,
  };
}

interface ModeRun {
  summary: SpeculationModeResult;
  wrongPlayed: number;
}

async function runMode(speculate: boolean, calls: number, concurrency: number, errors: string[]): Promise<ModeRun> {
  const script = await loadCallerScript(DEFAULT_SCRIPT_PATH);
  const spoken = script.lines.map((line) => (typeof line === "string" ? line : (line.text ?? "")));
  const recognized: SpeechScriptLine[] = spoken.map((text, i) => (i === REVISED_LINE ? { text, partials: spoken[0]! } : text));
  const stack = await startStack({
    emulators: {
      script: recognized,
      speech: { finalSilenceMs: FIXED.sttFinalAfterSpeechEndMs },
      openai: { firstTokenMs: FIXED.llmFirstTokenMs, tokenIntervalMs: 0 },
      tts: { latencyMs: FIXED.ttsMs },
    },
    coreEnv: { TTS_CACHE_MAX_BYTES: "1", LLM_SPECULATE: String(speculate) },
  });
  const label = speculate ? "speculative" : "sequential";
  const totals: number[] = [];
  const heard: number[] = [];
  const stable: number[] = [];
  const revised: number[] = [];
  const noOutcomes = (): Record<Outcome, number> => ({ used: 0, discarded: 0, none: 0 });
  const outcomes = noOutcomes();
  const byLine = spoken.map(() => ({ totals: [] as number[], outcomes: noOutcomes() }));
  let turns = 0;
  let wrongPlayed = 0;
  try {
    for (let done = 0; done < calls; done += concurrency) {
      const batch = Math.min(concurrency, calls - done);
      const reports = await Promise.all(
        Array.from({ length: batch }, () => runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script, timeoutMs: 20_000 })),
      );
      // The core writes each TURN line before the call ends; give its stdout a moment to arrive.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const report of reports) {
        errors.push(...report.errors.map((error) => `${label}: ${error}`));
        const lines = stack.core.lines
          .map((line) => turnLine.safeParse(line.json))
          .flatMap((parsed) => (parsed.success && parsed.data.call_id === report.call_sid ? [parsed.data] : []));
        wrongPlayed += wrongAnswersHeard(report, lines);
        report.turns.forEach((turn, index) => {
          const line = lines.find((l) => l.turn === index + 1);
          if (!line || turn.caller_latency_ms === null || line.TOTAL_LATENCY_MS === undefined) {
            errors.push(`${label}: call ${report.call_sid} turn ${index + 1}: no pair of measurements`);
            return;
          }
          turns++;
          const lineIndex = index % spoken.length;
          const outcome = line.speculation ?? "none";
          outcomes[outcome]++;
          byLine[lineIndex]!.outcomes[outcome]++;
          byLine[lineIndex]!.totals.push(line.TOTAL_LATENCY_MS);
          totals.push(line.TOTAL_LATENCY_MS);
          heard.push(turn.caller_latency_ms);
          (lineIndex === REVISED_LINE ? revised : stable).push(line.TOTAL_LATENCY_MS);
        });
      }
    }
    const { completions, cancelled } = stack.emulators.openai.stats;
    // Warmup asks once too; it has no call id.
    const requests = completions.filter((completion) => completion.callId !== undefined).length;
    return {
      wrongPlayed,
      summary: {
        turns,
        total_latency_ms: orNull(totals),
        caller_heard_ms: orNull(heard),
        stable_partial_total_latency_ms: orNull(stable),
        revised_partial_total_latency_ms: orNull(revised),
        by_line: byLine.map((line, i) => ({
          line: i + 1,
          partials: i === REVISED_LINE ? ("misleading" as const) : ("right" as const),
          total_latency_ms: orNull(line.totals),
          outcomes: line.outcomes,
        })),
        outcomes,
        llm_requests_per_turn: turns === 0 ? 0 : Math.round((requests / turns) * 100) / 100,
        llm_requests_cancelled: cancelled,
      },
    };
  } finally {
    await stack.stop();
  }
}

function orNull(values: number[]): Distribution | null {
  return values.length === 0 ? null : distribution(values);
}

/**
 * Turns of one call whose caller heard something else than (the start of) the answer to the turn's
 * final transcript: a sentence of an answer the LLM gave to a partial (a speculation) that must never
 * have played. What the caller heard is the simulator's: the sentences whose audio played in full.
 */
function wrongAnswersHeard(report: CallReport, lines: TurnLine[]): number {
  const spaced = (text: string) => text.replace(/\s+/g, " ").trim();
  return report.turns.filter((turn, index) => {
    const line = lines.find((l) => l.turn === index + 1);
    return line !== undefined && !spaced(answerFor(line.transcript)).startsWith(spaced(turn.agent_text));
  }).length;
}
