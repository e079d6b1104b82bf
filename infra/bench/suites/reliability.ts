// Calls under fire: many concurrent calls while the emulators fail at random (gRPC errors and resets
// on recognition streams, a short stream-duration limit, TTS errors, LLM 503s and cut streams).
// Reports whether calls completed, how many utterances got an answer, and the latency of the turns
// the faults touched.
import * as grpc from "@grpc/grpc-js";
import { turnLine, type TurnLine } from "@voice/protocol";
import { LOCAL_SECRETS, startStack } from "../../local/stack.js";
import { runCall } from "../../sim/call.js";
import type { CallReport } from "../../sim/report.js";
import { DEFAULT_SCRIPT_PATH, loadCallerScript } from "../../sim/script.js";
import { distribution, type Distribution } from "../../stats/distribution.js";

export interface ReliabilityResult {
  suite: "reliability";
  calls: number;
  calls_completed: number;
  utterances_sent: number;
  utterances_answered: number;
  /** Turns whose TURN line counts a retry or a fallback. */
  affected_turns: number;
  affected_caller_latency_ms: Distribution | null;
  all_caller_latency_ms: Distribution;
  faults_injected: { speech: number; tts: number; chat: number };
  errors: string[];
}

const SEED = 20261121;

export async function runReliabilityBench(options: { calls?: number } = {}): Promise<ReliabilityResult> {
  const calls = options.calls ?? 20;
  const script = await loadCallerScript(DEFAULT_SCRIPT_PATH);
  // A 10 s stream limit (on audio time) makes every call of ~30 s rotate or lose its stream twice.
  const stack = await startStack({ emulators: { speech: { maxStreamMs: 10_000 } } });
  const { speech, tts, openai } = stack.emulators;
  speech.injectFault({ code: grpc.status.UNAVAILABLE, afterAudioMs: 2_500 }, { probability: 0.15, seed: SEED });
  speech.injectFault({ kind: "reset", afterAudioMs: 5_000 }, { probability: 0.1, seed: SEED + 1 });
  tts.injectFault({ code: grpc.status.UNAVAILABLE }, { probability: 0.05, seed: SEED + 2 });
  openai.injectChatFault({ kind: "http", status: 503 }, { probability: 0.05, seed: SEED + 3 });
  openai.injectChatFault({ kind: "cut", afterTokens: 3 }, { probability: 0.05, seed: SEED + 4 });

  let reports: CallReport[];
  try {
    reports = await Promise.all(
      Array.from({ length: calls }, () =>
        runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script, timeoutMs: 30_000 }),
      ),
    );
    // The CALL line is the core's last word on a call; wait for all of them.
    await new Promise<void>((resolve) => {
      const ended = () =>
        reports.every((r) => stack.core.lines.some((l) => l.json?.message === "CALL" && l.json.call_id === r.call_sid));
      if (ended()) return resolve();
      const timer = setTimeout(resolve, 10_000);
      stack.core.onLine(() => ended() && (clearTimeout(timer), resolve()));
    });
  } finally {
    await stack.stop();
  }

  const turnLines = stack.core.lines.flatMap((line) => {
    const parsed = turnLine.safeParse(line.json);
    return parsed.success ? [parsed.data] : [];
  });
  const linesOf = (callSid: string): TurnLine[] => turnLines.filter((l) => l.call_id === callSid);
  const affected: number[] = [];
  const all: number[] = [];
  let answered = 0;
  for (const report of reports) {
    const lines = linesOf(report.call_sid);
    report.turns.forEach((turn, index) => {
      if (turn.agent_audio_ms > 0) answered++;
      if (turn.caller_latency_ms === null) return;
      all.push(turn.caller_latency_ms);
      const line = lines.find((l) => l.turn === index + 1);
      if (line && (line.retries > 0 || line.fallbacks > 0)) affected.push(turn.caller_latency_ms);
    });
  }
  return {
    suite: "reliability",
    calls,
    calls_completed: reports.filter((r) => r.errors.length === 0).length,
    utterances_sent: reports.reduce((sum, r) => sum + r.turns.length, 0),
    utterances_answered: answered,
    affected_turns: affected.length,
    affected_caller_latency_ms: affected.length > 0 ? distribution(affected) : null,
    all_caller_latency_ms: distribution(all),
    faults_injected: {
      speech: speech.stats.faultsInjected,
      tts: tts.stats.faultsInjected,
      chat: openai.stats.chatFaults,
    },
    errors: [...new Set(reports.flatMap((r) => r.errors))],
  };
}
