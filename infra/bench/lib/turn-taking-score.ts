// Scores one call of the turn-taking bench against its corpus item's labelled pauses, and sums the
// scores of many. Pure: what the core wrote (TURN and BARGE_IN lines) and the agent audio the
// caller's line received, on the caller's audio clock, in; figures out.
//
// A false cut-off is the core ending the caller's utterance inside a pause that the labels say goes
// on ("continue"). It shows two ways: a TURN line whose speech ends inside the pause, or a BARGE_IN
// line whose speech starts at the pause's end (the caller spoke on over an answer in progress, or,
// reason "resumed", before hearing it: the answer is taken back and has no TURN line). Either way the
// core took the turn; a "resumed" one is also counted as recovered. The VAD's speech end usually
// trails the labelled end of speech (by a frame or two on a clean line, 60-130 ms under line noise,
// which keeps a decaying word voiced longer), so a speech end belongs to the pause it falls in, not
// to a window around the pause's start.
import type { Condition, ContinueCue, LabelledGap } from "../../speech/corpus/items.js";
import { distribution, type Distribution } from "../../stats/distribution.js";

/** The pause lengths the corpus is built with; a measured pause is reported under the nearest. */
export const GAP_BUCKETS_MS = [200, 300, 500, 800, 1200, 1500] as const;
/**
 * How far before a pause's start a VAD speech end, and after its end a VAD speech start, may sit and
 * still belong to it. The VAD hears no voice in an unvoiced word end ("meters"): its speech end comes
 * up to ~110 ms before the label's, which is set by energy.
 */
export const DEFAULT_TOLERANCE_MS = 120;

/** What a TURN line says about the turn. */
export interface ObservedTurn {
  speechStartAudioMs: number;
  speechEndAudioMs: number;
  eouMs: number;
  /** Absent from a core without the end-of-utterance hold. */
  eouHoldMs?: number;
  eouHold?: string;
  transcript: string;
}

/** What a BARGE_IN line says about the caller's speech that stopped the agent. */
export interface ObservedBargeIn {
  reason: string;
  speechStartAudioMs?: number;
}

/** Agent audio as the caller's line received it, on the caller's audio clock. */
export type AgentAudioEvent = { kind: "media"; atMs: number; durationMs: number } | { kind: "clear"; atMs: number };

export interface CallObservation {
  turns: ObservedTurn[];
  bargeIns: ObservedBargeIn[];
  agentAudio: AgentAudioEvent[];
  /** The CALL line's recovered_cutoffs; absent from a core without the recovery. */
  recoveredCutoffs?: number;
}

/** The parts of a corpus item the score reads. */
export interface ScoredItem {
  id: string;
  condition: Condition;
  gaps: LabelledGap[];
  speechEndMs: number;
  text: string;
}

export interface Span {
  startMs: number;
  endMs: number;
}

/**
 * Twilio's playout: audio plays in arrival order, each frame once the one before has played (or at
 * its arrival when the line was idle); `clear` drops what has not played yet. Also tells the caller
 * shell when a mark is due (the end of the audio queued before it).
 */
export class Playout {
  private readonly spans: Span[] = [];

  /** Where the queued audio runs out (the caller's clock), or `atMs` if it already has. */
  endAt(atMs: number): number {
    return Math.max(atMs, this.spans.at(-1)?.endMs ?? atMs);
  }

  media(atMs: number, durationMs: number): void {
    const startMs = this.endAt(atMs);
    const last = this.spans.at(-1);
    if (last && last.endMs === startMs) last.endMs += durationMs;
    else this.spans.push({ startMs, endMs: startMs + durationMs });
  }

  clear(atMs: number): void {
    while (this.spans.length > 0 && this.spans.at(-1)!.startMs >= atMs) this.spans.pop();
    const last = this.spans.at(-1);
    if (last && last.endMs > atMs) last.endMs = atMs;
  }

  /** The stretches of the caller's clock during which agent audio played. */
  played(): Span[] {
    return this.spans.map((span) => ({ ...span }));
  }
}

export function playedSpans(events: AgentAudioEvent[]): Span[] {
  const playout = new Playout();
  for (const event of events) {
    if (event.kind === "media") playout.media(event.atMs, event.durationMs);
    else playout.clear(event.atMs);
  }
  return playout.played();
}

/** Total length of the overlap of two sets of spans (each set without overlaps of its own). */
export function overlapMs(a: Span[], b: Span[]): number {
  let total = 0;
  for (const x of a) for (const y of b) total += Math.max(0, Math.min(x.endMs, y.endMs) - Math.max(x.startMs, y.startMs));
  return total;
}

export function gapBucketMs(lengthMs: number): number {
  return GAP_BUCKETS_MS.reduce((best, bucket) => (Math.abs(bucket - lengthMs) < Math.abs(best - lengthMs) ? bucket : best));
}

/** Lower case, words only: a recognizer's punctuation and spacing are not what is compared. */
export function normalisedText(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}\s']/gu, " ").replace(/\s+/g, " ").trim();
}

export interface GapScore {
  lengthMs: number;
  lengthBucketMs: number;
  cue: ContinueCue;
  cutOff: boolean;
  /** The cut-off was taken back (BARGE_IN "resumed" at the pause's end). */
  recovered: boolean;
}

export interface ItemScore {
  id: string;
  condition: Condition;
  /** The item's continue pauses, in order. */
  gaps: GapScore[];
  /** Agent audio that played while the caller spoke after the first pause cut off; null without a cut-off. */
  agentOverCallerMs: number | null;
  /** The turn at the true end of the caller's speech; null when none ended there. */
  end: { eouMs: number; eouHoldMs: number | null; eouHold: string | null } | null;
  /** The caller's clock from the end of speech to the first answer audio heard; only for an item
   *  without a cut-off (else an earlier answer's audio would be taken for this one). */
  answerAfterSpeechEndMs: number | null;
  turns: number;
  /** The last turn's transcript is the item's whole text. */
  finalTranscriptMatches: boolean;
  /** Per turn that ended in a labelled pause: its VAD speech end minus the pause's start. */
  speechEndOffsetsMs: number[];
  /** Turns whose speech end is in no labelled pause: the core ended an utterance in speech, or the VAD and the labels disagree. */
  offBoundaryTurns: number;
  /** Agent audio arrived before the caller finished although no cut-off was found (should not happen). */
  unexplainedEarlyAudio: boolean;
  recoveredByCallLine: number | null;
}

export function scoreItem(item: ScoredItem, call: CallObservation, toleranceMs = DEFAULT_TOLERANCE_MS): ItemScore {
  const endsIn = (ms: number, gap: Span) => ms >= gap.startMs - toleranceMs && ms < gap.endMs;
  const resumesAfter = (ms: number | undefined, gap: Span) => ms !== undefined && ms > gap.startMs && ms <= gap.endMs + toleranceMs;
  const pauses = item.gaps.filter((gap) => gap.kind === "continue").sort((a, b) => a.startMs - b.startMs);
  const finalPause = item.gaps.find((gap) => gap.kind === "end") ?? { startMs: item.speechEndMs, endMs: Infinity };
  const gaps: GapScore[] = pauses.map((gap) => {
    const turnEnded = call.turns.some((turn) => endsIn(turn.speechEndAudioMs, gap));
    const spokeOver = call.bargeIns.filter((bargeIn) => resumesAfter(bargeIn.speechStartAudioMs, gap));
    const lengthMs = gap.endMs - gap.startMs;
    return {
      lengthMs,
      lengthBucketMs: gapBucketMs(lengthMs),
      cue: gap.cue ?? "none",
      cutOff: turnEnded || spokeOver.length > 0,
      recovered: spokeOver.some((bargeIn) => bargeIn.reason === "resumed"),
    };
  });
  const played = playedSpans(call.agentAudio);
  const firstCut = gaps.findIndex((gap) => gap.cutOff);
  const callerAfterCut: Span[] =
    firstCut < 0 ? [] : pauses.slice(firstCut).map((gap, i) => ({ startMs: gap.endMs, endMs: pauses[firstCut + i + 1]?.startMs ?? item.speechEndMs }));
  const endTurn = call.turns.findLast((turn) => endsIn(turn.speechEndAudioMs, finalPause));
  const pauseOf = (turn: ObservedTurn) => [...pauses, finalPause].find((gap) => endsIn(turn.speechEndAudioMs, gap));
  const firstAudio = call.agentAudio.find((event) => event.kind === "media");
  return {
    id: item.id,
    condition: item.condition,
    gaps,
    agentOverCallerMs: firstCut < 0 ? null : overlapMs(played, callerAfterCut),
    end: endTurn ? { eouMs: endTurn.eouMs, eouHoldMs: endTurn.eouHoldMs ?? null, eouHold: endTurn.eouHold ?? null } : null,
    answerAfterSpeechEndMs: firstCut < 0 && firstAudio && firstAudio.atMs >= item.speechEndMs ? firstAudio.atMs - item.speechEndMs : null,
    turns: call.turns.length,
    finalTranscriptMatches: normalisedText(call.turns.at(-1)?.transcript ?? "") === normalisedText(item.text),
    speechEndOffsetsMs: call.turns.flatMap((turn) => {
      const pause = pauseOf(turn);
      return pause ? [turn.speechEndAudioMs - pause.startMs] : [];
    }),
    offBoundaryTurns: call.turns.filter((turn) => !pauseOf(turn)).length,
    unexplainedEarlyAudio: firstCut < 0 && firstAudio !== undefined && firstAudio.atMs < item.speechEndMs,
    recoveredByCallLine: call.recoveredCutoffs ?? null,
  };
}

export interface CutoffRate {
  /** Continue pauses the core cut, of all continue pauses in the group. */
  cut: number;
  pauses: number;
  rate: number | null;
  recovered: number;
}

export interface TurnTakingSummary {
  items: number;
  false_cutoffs: CutoffRate;
  /** Items with at least one false cut-off, of the items that have a continue pause. */
  items_cut: { items: number; of: number; rate: number | null };
  by_gap_ms: Record<string, CutoffRate>;
  by_cue: Record<string, CutoffRate>;
  /** The target window: pauses of TARGET_PAUSES_MS, by cue. */
  target_pauses_by_cue: Record<string, CutoffRate>;
  by_condition: Record<string, CutoffRate & { end_eou_ms: Distribution | null }>;
  /** The CALL lines' recovered_cutoffs summed (null when no line had the field): a cross-check of `false_cutoffs.recovered`. */
  recovered_by_call_lines: number | null;
  /** Per cut-off item: agent audio played over the caller's speech after the first cut pause. */
  agent_over_caller_ms: Distribution | null;
  /** EOU_MS of the turn at each item's true end. */
  end_eou_ms: Distribution | null;
  /** The same, for ends the hold waited at (EOU_HOLD_MS > 0): what a wrong hold costs. */
  end_eou_ms_held: Distribution | null;
  /** Why the end was held, counted over true ends. */
  end_holds: Record<string, number>;
  /** Items with no turn at their true end. */
  end_missed: number;
  /** Caller's clock, end of speech to the first answer audio, over items without a cut-off. */
  answer_after_speech_end_ms: Distribution | null;
  turns_per_item: Distribution | null;
  /** Items answered in exactly the one turn expected. */
  one_turn_rate: number | null;
  /** Items whose last turn's transcript is the whole item text. */
  final_transcript_rate: number | null;
  /** VAD speech end minus the labelled start of the pause it fell in, over the turns that ended in one. */
  speech_end_offset_ms: Distribution | null;
  off_boundary_turns: number;
  unexplained_early_audio_items: number;
}

/** The pause lengths the false cut-off target is set on (300-1200 ms). */
export const TARGET_PAUSES_MS = { from: 300, to: 1200 } as const;

const ratio = (part: number, whole: number) => (whole === 0 ? null : Math.round((part / whole) * 1000) / 1000);
const orNull = (values: number[]) => (values.length === 0 ? null : distribution(values));

function cutoffRate(gaps: GapScore[]): CutoffRate {
  const cut = gaps.filter((gap) => gap.cutOff).length;
  return { cut, pauses: gaps.length, rate: ratio(cut, gaps.length), recovered: gaps.filter((gap) => gap.recovered).length };
}

function groupBy<T>(values: T[], key: (value: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const value of values) groups.set(key(value), [...(groups.get(key(value)) ?? []), value]);
  return groups;
}

export function summarise(scores: ItemScore[]): TurnTakingSummary {
  const gaps = scores.flatMap((score) => score.gaps);
  const withPauses = scores.filter((score) => score.gaps.length > 0);
  const cutItems = withPauses.filter((score) => score.gaps.some((gap) => gap.cutOff));
  const ends = scores.flatMap((score) => (score.end ? [score.end] : []));
  const byGap = [...groupBy(gaps, (gap) => String(gap.lengthBucketMs))].sort(([a], [b]) => Number(a) - Number(b));
  const recoveredLines = scores.flatMap((score) => (score.recoveredByCallLine === null ? [] : [score.recoveredByCallLine]));
  return {
    items: scores.length,
    false_cutoffs: cutoffRate(gaps),
    items_cut: { items: cutItems.length, of: withPauses.length, rate: ratio(cutItems.length, withPauses.length) },
    by_gap_ms: Object.fromEntries(byGap.map(([bucket, group]) => [bucket, cutoffRate(group)])),
    by_cue: Object.fromEntries([...groupBy(gaps, (gap) => gap.cue)].map(([cue, group]) => [cue, cutoffRate(group)])),
    target_pauses_by_cue: Object.fromEntries(
      [...groupBy(
        gaps.filter((gap) => gap.lengthBucketMs >= TARGET_PAUSES_MS.from && gap.lengthBucketMs <= TARGET_PAUSES_MS.to),
        (gap) => gap.cue,
      )].map(([cue, group]) => [cue, cutoffRate(group)]),
    ),
    by_condition: Object.fromEntries(
      [...groupBy(scores, (score) => score.condition)].map(([condition, group]) => [
        condition,
        { ...cutoffRate(group.flatMap((score) => score.gaps)), end_eou_ms: orNull(group.flatMap((score) => (score.end ? [score.end.eouMs] : []))) },
      ]),
    ),
    recovered_by_call_lines: recoveredLines.length === 0 ? null : recoveredLines.reduce((a, b) => a + b, 0),
    agent_over_caller_ms: orNull(cutItems.map((score) => score.agentOverCallerMs ?? 0)),
    end_eou_ms: orNull(ends.map((end) => end.eouMs)),
    end_eou_ms_held: orNull(ends.filter((end) => (end.eouHoldMs ?? 0) > 0).map((end) => end.eouMs)),
    end_holds: Object.fromEntries([...groupBy(ends, (end) => end.eouHold ?? "none")].map(([reason, group]) => [reason, group.length])),
    end_missed: scores.length - ends.length,
    answer_after_speech_end_ms: orNull(scores.flatMap((score) => (score.answerAfterSpeechEndMs === null ? [] : [score.answerAfterSpeechEndMs]))),
    turns_per_item: orNull(scores.map((score) => score.turns)),
    one_turn_rate: ratio(scores.filter((score) => score.turns === 1).length, scores.length),
    final_transcript_rate: ratio(scores.filter((score) => score.finalTranscriptMatches).length, scores.length),
    speech_end_offset_ms: orNull(scores.flatMap((score) => score.speechEndOffsetsMs)),
    off_boundary_turns: scores.reduce((sum, score) => sum + score.offBoundaryTurns, 0),
    unexplained_early_audio_items: scores.filter((score) => score.unexplainedEarlyAudio).length,
  };
}
