// Turn latency with every emulator latency fixed: what the caller hears (simulator), what the core
// reports (TOTAL_LATENCY_MS), and how far both are from the sum the settings imply. The difference
// is the time our own code and the local transport add.
import { turnLine } from "@voice/protocol";
import { startStack } from "../../local/stack.js";
import { LOCAL_SECRETS } from "../../local/stack.js";
import { runCall } from "../../sim/call.js";
import { DEFAULT_SCRIPT_PATH, loadCallerScript } from "../../sim/script.js";
import { distribution, type Distribution } from "../../stats/distribution.js";
import { FIXED } from "../lib/fixed-latencies.js";

export interface LatencyResult {
  suite: "latency";
  turns: number;
  calls: number;
  concurrency: number;
  implied_total_ms: number;
  total_latency_ms: Distribution;
  caller_heard_ms: Distribution;
  /** |caller-heard − TOTAL_LATENCY_MS| per turn. */
  sim_vs_core_abs_ms: Distribution;
  /** TOTAL_LATENCY_MS − implied sum per turn: our overhead. */
  core_minus_implied_ms: Distribution;
  /** TTS answers the emulator could not hold to the fixed latency (eSpeak was slower). */
  tts_latency_overruns: number;
  errors: string[];
}

export async function runLatencyBench(options: { calls?: number; concurrency?: number } = {}): Promise<LatencyResult> {
  const calls = options.calls ?? 12;
  const concurrency = options.concurrency ?? 3;
  const script = await loadCallerScript(DEFAULT_SCRIPT_PATH);
  const stack = await startStack({
    emulators: {
      speech: { finalSilenceMs: FIXED.sttFinalAfterSpeechEndMs },
      // Tokens all at once after the first-token delay, so the first sentence is complete at once.
      openai: { firstTokenMs: FIXED.llmFirstTokenMs, tokenIntervalMs: 0 },
      tts: { latencyMs: FIXED.ttsMs },
    },
    // A cache that holds nothing: every turn pays the fixed TTS latency.
    coreEnv: { TTS_CACHE_MAX_BYTES: "1" },
  });
  const implied = FIXED.sttFinalAfterSpeechEndMs + FIXED.llmFirstTokenMs + FIXED.ttsMs;
  const totals: number[] = [];
  const heard: number[] = [];
  const diff: number[] = [];
  const overhead: number[] = [];
  const errors: string[] = [];
  let ttsOverruns = 0;
  try {
    for (let done = 0; done < calls; done += concurrency) {
      const batch = Math.min(concurrency, calls - done);
      const reports = await Promise.all(
        Array.from({ length: batch }, () =>
          runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script, timeoutMs: 20_000 }),
        ),
      );
      // The core writes each TURN line before the call ends; give its stdout a moment to arrive.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const report of reports) {
        errors.push(...report.errors);
        const lines = stack.core.lines
          .map((line) => turnLine.safeParse(line.json))
          .flatMap((parsed) => (parsed.success && parsed.data.call_id === report.call_sid ? [parsed.data] : []));
        report.turns.forEach((turn, index) => {
          const line = lines.find((l) => l.turn === index + 1);
          if (!line || turn.caller_latency_ms === null || line.TOTAL_LATENCY_MS === undefined) {
            errors.push(`call ${report.call_sid} turn ${index + 1}: no pair of measurements`);
            return;
          }
          totals.push(line.TOTAL_LATENCY_MS);
          heard.push(turn.caller_latency_ms);
          diff.push(Math.abs(turn.caller_latency_ms - line.TOTAL_LATENCY_MS));
          overhead.push(line.TOTAL_LATENCY_MS - implied);
        });
      }
    }
    ttsOverruns = stack.emulators.tts.stats.latencyOverruns;
  } finally {
    await stack.stop();
  }
  return {
    suite: "latency",
    turns: totals.length,
    calls,
    concurrency,
    implied_total_ms: implied,
    total_latency_ms: distribution(totals),
    caller_heard_ms: distribution(heard),
    sim_vs_core_abs_ms: distribution(diff),
    core_minus_implied_ms: distribution(overhead),
    tts_latency_overruns: ttsOverruns,
    errors,
  };
}
