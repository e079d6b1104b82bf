// One turn as a waterfall: its moments on one time axis from the caller's speech end (0), each stage a
// bar from where it started to where it ended — speech, the end-of-utterance decision, the final
// transcript, the LLM's first token, the TTS audio ready, the first answer frame sent — and when the
// caller heard it, which the softphone measured itself. A moment the TURN line does not hold is named
// as missing, never guessed. Pure: a TURN line in, bars with positions and labels out.
import type { BargeInLine, TurnLine } from "@voice/protocol/turn-line";

export interface WaterfallRow {
  key: "speech" | "eou" | "stt_final" | "llm" | "tts" | "first_frame" | "heard";
  label: string;
  /** The bar's ends, ms from the speech end. */
  fromMs: number;
  toMs: number;
  /** "+480 ms", or "−1.2 s → 0" for a span that does not start at the speech end. */
  value: string;
  /** The bar on the axis, in % of its width. */
  leftPct: number;
  widthPct: number;
}

export interface WaterfallMarker {
  label: string;
  atMs: number;
  leftPct: number;
}

export interface Waterfall {
  rows: WaterfallRow[];
  /** Moments on the axis that are not stages: barge-ins into this turn's answer. */
  markers: WaterfallMarker[];
  axis: { fromMs: number; toMs: number; zeroPct: number; ticks: { ms: number; pct: number }[] };
  /** What could not be drawn, and why ("LLM first token: not in this core's TURN lines (no timeline)"). */
  missing: string[];
}

type Span = Omit<WaterfallRow, "leftPct" | "widthPct" | "value">;

/** The tick spacing that gives 3 to 8 ticks over the span. */
const TICK_STEPS = [50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000];

/**
 * `heardMs`: when the answer's first frame began to play on the caller's side, ms from the speech
 * end (null: none of it played). `bargeIns`: the BARGE_IN lines that cut this turn's answer.
 */
export function waterfall(turn: TurnLine, heardMs: number | null, bargeIns: readonly BargeInLine[] = []): Waterfall {
  const timeline = turn.timeline;
  const spans: Span[] = [];
  const missing: string[] = [];
  const noTimeline = "not in this core's TURN lines (no timeline)";
  const add = (key: Span["key"], label: string, fromMs: number | undefined, toMs: number | undefined, why: string) => {
    if (fromMs === undefined || toMs === undefined) missing.push(`${label}: ${why}`);
    else spans.push({ key, label, fromMs, toMs });
  };

  add("speech", "caller speaking", timeline?.speech_start ?? turn.speech_start_audio_ms - turn.speech_end_audio_ms, 0, "unknown");
  add("eou", "end of utterance", 0, timeline?.eou ?? turn.EOU_MS, "unknown");
  add("stt_final", "STT final", 0, timeline?.stt_final ?? turn.STT_FINAL_MS, turn.input === "dtmf" ? "keypad turn, no speech" : "no final transcript");
  if (timeline) {
    add("llm", "LLM first token", timeline.llm_request ?? 0, timeline.llm_first_token, "no token came");
    add("tts", "TTS ready", timeline.tts_request ?? 0, timeline.tts_ready, "no answer audio synthesized");
  } else {
    add("llm", "LLM first token", undefined, undefined, noTimeline);
    add("tts", "TTS ready", undefined, undefined, noTimeline);
  }
  add("first_frame", "first frame sent", 0, timeline?.first_frame ?? turn.TOTAL_LATENCY_MS, "no answer audio sent");
  add("heard", "heard by you", 0, heardMs ?? undefined, "none of the answer has played on this page");

  const moments = bargeIns.map((line) => ({ label: `barge-in (${line.reason})`, atMs: line.audio_ms - turn.speech_end_audio_ms }));
  const axis = axisFor([0, ...spans.flatMap((span) => [span.fromMs, span.toMs]), ...moments.map((m) => m.atMs)]);
  const pct = (ms: number) => ((ms - axis.fromMs) / (axis.toMs - axis.fromMs)) * 100;
  return {
    rows: spans.map((span) => ({
      ...span,
      value: span.fromMs === 0 ? signedMs(span.toMs) : `${signedMs(span.fromMs)} → ${signedMs(span.toMs)}`,
      leftPct: pct(Math.min(span.fromMs, span.toMs)),
      widthPct: pct(Math.max(span.fromMs, span.toMs)) - pct(Math.min(span.fromMs, span.toMs)),
    })),
    markers: moments.map((moment) => ({ ...moment, leftPct: pct(moment.atMs) })),
    axis: { ...axis, zeroPct: pct(0), ticks: ticksFor(axis).map((ms) => ({ ms, pct: pct(ms) })) },
    missing,
  };
}

/** "+480 ms", "−1.2 s", "0". */
export function signedMs(ms: number): string {
  if (ms === 0) return "0";
  const sign = ms > 0 ? "+" : "−";
  const size = Math.abs(ms);
  return size < 1000 ? `${sign}${Math.round(size)} ms` : `${sign}${(size / 1000).toFixed(size < 10_000 ? 2 : 1)} s`;
}

/** The axis: every moment on it, with a little room on each side. */
function axisFor(moments: number[]): { fromMs: number; toMs: number } {
  const low = Math.min(...moments);
  const high = Math.max(...moments);
  const pad = Math.max(20, (high - low) * 0.04);
  return { fromMs: low - pad, toMs: high + pad };
}

function ticksFor(axis: { fromMs: number; toMs: number }): number[] {
  const span = axis.toMs - axis.fromMs;
  const step = TICK_STEPS.find((candidate) => span / candidate <= 8) ?? TICK_STEPS.at(-1)!;
  const ticks: number[] = [];
  for (let ms = Math.ceil(axis.fromMs / step) * step; ms <= axis.toMs; ms += step) ticks.push(ms);
  return ticks;
}
