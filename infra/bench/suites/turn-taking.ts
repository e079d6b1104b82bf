// Turn-taking on real recorded speech (infra/speech/corpus): does the core wait through a caller's
// pause mid-sentence, and how long does it take to answer at a true end? Each corpus item is one call
// straight on the core's /call WebSocket (lib/turn-taking-call.ts), its audio paced in real time; the
// speech emulator transcribes it as the item's lines, word by word at the words' real ends. Two
// variants of the same core (LANGUAGE=en-US): "vad-only" (EOU_HOLD_MAX_MS=0, CUTOFF_RECOVERY_MS=0:
// the end of utterance is the VAD's hangover alone) and "hold+recovery" (the core's defaults). The
// core decides on the caller's audio clock, so running calls side by side changes no decision; the
// result says how many ran at once. Scoring (false cut-offs, agent audio over the caller, end-of-turn
// latency, turns, transcripts) is lib/turn-taking-score.ts.
import { bargeInLine, callLine, turnLine } from "@voice/protocol";
import { startCore, type CoreLogLine } from "../../local/core-process.js";
import { ENGLISH_CORE_ENV } from "../../local/english.js";
import { startEmulators } from "../../local/emulators/index.js";
import { LOCAL_SECRETS } from "../../local/stack.js";
import { turnTakingItems, type TurnTakingItem } from "../../speech/corpus/items.js";
import { FIXED } from "../lib/fixed-latencies.js";
import { callWithItem } from "../lib/turn-taking-call.js";
import { DEFAULT_TOLERANCE_MS, scoreItem, summarise, type CallObservation, type ItemScore, type TurnTakingSummary } from "../lib/turn-taking-score.js";
import { turnTakingTable } from "../lib/turn-taking-table.js";

/** What the agent asked when the item does not say: a question any answer fits. */
const NEUTRAL_QUESTION = "Hello, how can I help you today?";
const VARIANTS: { name: string; coreEnv: Record<string, string> }[] = [
  { name: "vad-only", coreEnv: { EOU_HOLD_MAX_MS: "0", CUTOFF_RECOVERY_MS: "0" } },
  { name: "hold+recovery", coreEnv: {} },
];
/** Silence sent after an item's audio at most, waiting for the core to answer its last words. */
const MAX_EXTRA_MS = 6000;
/** After the caller hangs up, the wait for the core's CALL line (its TURN lines are all in by then). */
const CALL_LINE_WAIT_MS = 5000;

export interface TurnTakingVariantResult {
  core_env: Record<string, string>;
  wall_s: number;
  /** The core wrote EOU_HOLD_MS in its TURN lines (a core without the hold writes none). */
  hold_reported: boolean;
  /** Calls whose last words got no turn within MAX_EXTRA_MS of silence after the audio. */
  unanswered_calls: number;
  /** Items whose call the core ended before the caller hung up (the agent may end a call on "goodbye"). */
  closed_by_core: string[];
  /** Items with no turn at the true end of speech. */
  no_end_turn: string[];
  /** How late this process's 20 ms clock ran at worst: above a few tens of ms the pacing itself was off. */
  max_tick_lateness_ms: number;
  summary: TurnTakingSummary;
  /** Items with a false cut-off (the first 40). */
  cut_items: string[];
}

export interface TurnTakingResult {
  suite: "turn-taking";
  items: number;
  items_by_condition: Record<string, number>;
  concurrency: number;
  tolerance_ms: number;
  llm_first_token_ms: number;
  variants: Record<string, TurnTakingVariantResult>;
  errors: string[];
}

export async function runTurnTakingBench(options: { items?: TurnTakingItem[]; concurrency?: number } = {}): Promise<TurnTakingResult> {
  const items = options.items ?? turnTakingItems();
  const concurrency = options.concurrency ?? 8;
  const errors: string[] = [];
  const variants: Record<string, TurnTakingVariantResult> = {};
  for (const [index, variant] of VARIANTS.entries()) {
    console.error(`turn-taking: ${variant.name}, ${items.length} items, ${concurrency} at a time ...`);
    variants[variant.name] = await runVariant(items, variant.coreEnv, concurrency, `CAturn${index}x`, (error) => errors.push(`${variant.name}: ${error}`));
  }
  console.error(turnTakingTable(Object.fromEntries(Object.entries(variants).map(([name, result]) => [name, result.summary]))));
  const byCondition: Record<string, number> = {};
  for (const item of items) byCondition[item.condition] = (byCondition[item.condition] ?? 0) + 1;
  return {
    suite: "turn-taking",
    items: items.length,
    items_by_condition: byCondition,
    concurrency,
    tolerance_ms: DEFAULT_TOLERANCE_MS,
    llm_first_token_ms: FIXED.llmFirstTokenMs,
    variants,
    errors,
  };
}

async function runVariant(
  items: TurnTakingItem[],
  coreEnv: Record<string, string>,
  concurrency: number,
  sidPrefix: string,
  error: (text: string) => void,
): Promise<TurnTakingVariantResult> {
  const started = performance.now();
  const quiet = { log: () => {} };
  const emulators = await startEmulators({ speech: quiet, tts: quiet, openai: { ...quiet, firstTokenMs: FIXED.llmFirstTokenMs, tokenIntervalMs: 0 } });
  try {
    const core = await startCore({
      env: {
        ...emulators.env,
        CORE_SHARED_SECRET: LOCAL_SECRETS.CORE_SHARED_SECRET,
        ...ENGLISH_CORE_ENV,
        GREETING_TEXT: NEUTRAL_QUESTION,
        // Local only: the transcripts are compared with the items' text (a dictated number would be "[phone]").
        LOG_TRANSCRIPTS: "full",
        ...coreEnv,
      },
    });
    const lines = new CallLines();
    core.onLine((line) => lines.add(line));
    try {
      const scores: ItemScore[] = [];
      let unanswered = 0;
      const closedByCore: string[] = [];
      let maxLateness = 0;
      await eachAtMost(concurrency, items, async (item, i) => {
        const callSid = `${sidPrefix}${i}`;
        const lastSegmentStartMs = Math.max(0, ...item.gaps.filter((gap) => gap.kind === "continue").map((gap) => gap.endMs));
        try {
          emulators.speech.registerScript(callSid, item.lines.map((line) => ({ text: line.text, ...(line.words.length > 0 && { words: line.words }) })));
          const report = await callWithItem({
            coreWsUrl: core.url.replace(/^http/, "ws"),
            secret: LOCAL_SECRETS.CORE_SHARED_SECRET,
            callSid,
            audio: item.audio,
            greetingText: item.agentAsked ?? NEUTRAL_QUESTION,
            answered: () => lines.of(callSid).turns.some((turn) => turn.speechEndAudioMs > lastSegmentStartMs),
            maxExtraMs: MAX_EXTRA_MS,
          });
          if (!(await lines.ended(callSid, CALL_LINE_WAIT_MS))) error(`${item.id}: no CALL line within ${CALL_LINE_WAIT_MS} ms of hanging up`);
          unanswered += report.unanswered ? 1 : 0;
          if (report.closedByCore) closedByCore.push(item.id);
          maxLateness = Math.max(maxLateness, report.maxTickLatenessMs);
          scores.push(scoreItem(item, { ...lines.of(callSid), agentAudio: report.agentAudio }));
        } catch (failure) {
          error(`${item.id}: ${String(failure)}`);
        }
      });
      const summary = summarise(scores);
      return {
        core_env: coreEnv,
        wall_s: Math.round((performance.now() - started) / 1000),
        hold_reported: lines.holdReported,
        unanswered_calls: unanswered,
        closed_by_core: closedByCore.sort(),
        no_end_turn: scores.flatMap((score) => (score.end === null ? [score.id] : [])).sort(),
        max_tick_lateness_ms: maxLateness,
        summary,
        cut_items: scores.flatMap((score) => (score.gaps.some((gap) => gap.cutOff) ? [score.id] : [])).sort().slice(0, 40),
      };
    } finally {
      await core.stop();
    }
  } finally {
    await emulators.close();
  }
}

/** Runs `work` over `inputs`, at most `limit` at once, in order of the inputs. */
async function eachAtMost<T>(limit: number, inputs: T[], work: (input: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const index = next++;
      await work(inputs[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, inputs.length) }, worker));
}

/** The core's TURN, BARGE_IN and CALL lines, call by call, as the scoring reads them. */
class CallLines {
  private readonly calls = new Map<string, Omit<CallObservation, "agentAudio"> & { ended: boolean; waiters: (() => void)[] }>();
  holdReported = false;

  add(line: CoreLogLine): void {
    const json = line.json;
    if (json?.message === "TURN") {
      const parsed = turnLine.safeParse(json);
      if (!parsed.success) return;
      const { data } = parsed;
      if (data.EOU_HOLD_MS !== undefined) this.holdReported = true;
      this.entry(data.call_id).turns.push({
        speechStartAudioMs: data.speech_start_audio_ms,
        speechEndAudioMs: data.speech_end_audio_ms,
        eouMs: data.EOU_MS,
        ...(data.EOU_HOLD_MS !== undefined && { eouHoldMs: data.EOU_HOLD_MS }),
        ...(data.eou_hold !== undefined && { eouHold: data.eou_hold }),
        transcript: data.transcript,
      });
    } else if (json?.message === "BARGE_IN") {
      const parsed = bargeInLine.safeParse(json);
      if (!parsed.success) return;
      const { reason, speech_start_audio_ms } = parsed.data;
      this.entry(parsed.data.call_id).bargeIns.push({ reason, ...(speech_start_audio_ms !== undefined && { speechStartAudioMs: speech_start_audio_ms }) });
    } else if (json?.message === "CALL") {
      const parsed = callLine.safeParse(json);
      if (!parsed.success) return;
      const entry = this.entry(parsed.data.call_id);
      if (parsed.data.recovered_cutoffs !== undefined) entry.recoveredCutoffs = parsed.data.recovered_cutoffs;
      entry.ended = true;
      for (const wake of entry.waiters.splice(0)) wake();
    }
  }

  of(callSid: string): Omit<CallObservation, "agentAudio"> {
    const { turns, bargeIns, recoveredCutoffs } = this.entry(callSid);
    return { turns, bargeIns, ...(recoveredCutoffs !== undefined && { recoveredCutoffs }) };
  }

  /** Whether the call's CALL line came, waiting up to `waitMs` for it. */
  async ended(callSid: string, waitMs: number): Promise<boolean> {
    const entry = this.entry(callSid);
    if (!entry.ended) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        entry.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return entry.ended;
  }

  private entry(callSid: string) {
    let entry = this.calls.get(callSid);
    if (!entry) this.calls.set(callSid, (entry = { turns: [], bargeIns: [], ended: false, waiters: [] }));
    return entry;
  }
}
