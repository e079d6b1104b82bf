// The signal work behind the real-speech corpus: decimating 16 kHz recordings to the phone line's
// 8 kHz, finding where a recording's speech starts and ends, timing its words, and measuring how
// loud its speech is. Pure: samples in, numbers out.
import { levelDbfs } from "@voice/protocol/level";

export interface Span {
  startMs: number;
  endMs: number;
}

export interface TimedWord extends Span {
  text: string;
}

/** How a clip's word timings were found (kept in clips.json so a reader knows how far to trust them). */
export type WordTimingMethod = "single" | "valleys" | "letters";

/** 10 ms analysis frames: fine enough for word edges, coarse enough to ride over pitch periods. */
export const ANALYSIS_FRAME_MS = 10;
/** A silence inside a recording at least this long is a pause a listener hears (and the corpus labels). */
export const PAUSE_MIN_MS = 200;

const DECIMATION_TAPS = 127;
/** Pass band edge for 16 -> 8 kHz: the phone band ends near 3.4 kHz and 4 kHz is the new Nyquist. */
const DECIMATION_CUTOFF_HZ = 3500;

/** Low-pass FIR (windowed sinc, Blackman window, unity gain at DC) for halving a 16 kHz rate. */
export function halfBandLowPass(sampleRate = 16000): Float64Array {
  const taps = new Float64Array(DECIMATION_TAPS);
  const middle = (DECIMATION_TAPS - 1) / 2;
  const fc = DECIMATION_CUTOFF_HZ / sampleRate;
  for (let n = 0; n < DECIMATION_TAPS; n++) {
    const x = n - middle;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const phase = (2 * Math.PI * n) / (DECIMATION_TAPS - 1);
    taps[n] = sinc * (0.42 - 0.5 * Math.cos(phase) + 0.08 * Math.cos(2 * phase));
  }
  const sum = taps.reduce((a, b) => a + b, 0);
  return taps.map((t) => t / sum);
}

/** Halves the sample rate: low-pass first (so nothing above 4 kHz folds back into the band), then every second sample. */
export function decimateByTwo(input: Int16Array): Int16Array {
  const taps = halfBandLowPass();
  const middle = (taps.length - 1) / 2;
  const out = new Int16Array(Math.floor(input.length / 2));
  for (let k = 0; k < out.length; k++) {
    let sum = 0;
    for (let j = 0; j < taps.length; j++) {
      const i = 2 * k + j - middle;
      if (i >= 0 && i < input.length) sum += taps[j]! * input[i]!;
    }
    out[k] = Math.max(-32768, Math.min(32767, Math.round(sum)));
  }
  return out;
}

/** RMS level of each 10 ms frame, dBFS (digital silence as -120). */
export function frameLevels(pcm: Int16Array, sampleRate: number): number[] {
  const size = (sampleRate * ANALYSIS_FRAME_MS) / 1000;
  const levels: number[] = [];
  for (let at = 0; at + size <= pcm.length; at += size) levels.push(Math.max(-120, levelDbfs(pcm.subarray(at, at + size))));
  return levels;
}

/**
 * The level above which a 10 ms frame is voice: within 25 dB of the active speech level and 8 dB
 * over the recording's floor (its 5th percentile frame; the LibriVox readings' floor is only some
 * 25 dB under their speech). Judged on the whole recording, before
 * trimming, so the floor is its silence and not the quiet between two words.
 */
export function voicedThreshold(levels: number[], activeDbfs: number): number {
  const floor = [...levels].sort((a, b) => a - b)[Math.floor(levels.length * 0.05)] ?? -120;
  return Math.max(activeDbfs - 25, floor + 8);
}

/** A stretch over the threshold shorter than this is a click or a breath in a pause, not a word. */
const SHORTEST_VOICED_FRAMES = 5;

/** Which frames are voice: over the threshold, in a run of at least SHORTEST_VOICED_FRAMES. */
export function voicedFrames(levels: number[], threshold: number): boolean[] {
  const mask = levels.map((l) => l > threshold);
  for (let i = 0; i < mask.length; ) {
    let end = i;
    while (end < mask.length && mask[end] === mask[i]) end++;
    if (mask[i] && end - i < SHORTEST_VOICED_FRAMES) mask.fill(false, i, end);
    i = end;
  }
  return mask;
}

/** From the first voiced frame to the end of the last (the whole clip when none is voiced). */
export function voicedSpan(voiced: boolean[]): Span {
  const first = voiced.indexOf(true);
  if (first < 0) return { startMs: 0, endMs: voiced.length * ANALYSIS_FRAME_MS };
  return { startMs: first * ANALYSIS_FRAME_MS, endMs: (voiced.lastIndexOf(true) + 1) * ANALYSIS_FRAME_MS };
}

/** Runs of unvoiced frames inside `span`, as long as `minMs` or longer. */
export function silencesWithin(voiced: boolean[], span: Span, minMs = PAUSE_MIN_MS): Span[] {
  const silences: Span[] = [];
  const last = span.endMs / ANALYSIS_FRAME_MS;
  for (let i = span.startMs / ANALYSIS_FRAME_MS; i < last; i++) {
    if (voiced[i]) continue;
    let end = i;
    while (end < last && !voiced[end]) end++;
    if ((end - i) * ANALYSIS_FRAME_MS >= minMs) silences.push({ startMs: i * ANALYSIS_FRAME_MS, endMs: end * ANALYSIS_FRAME_MS });
    i = end;
  }
  return silences;
}

const letterCount = (word: string) => Math.max(1, word.replace(/[^a-z0-9]/gi, "").length);

/** A point where one word may end and the next begin: a silence, or a dip in the level between louder stretches. */
interface Boundary extends Span {
  depthDb: number;
}

/** A dip must be this far under the louder stretches on both sides to count as a word boundary. */
const VALLEY_DEPTH_DB = 12;
const VALLEY_REACH_FRAMES = 20;
const SHORTEST_SILENT_BOUNDARY_FRAMES = 3;
const BOUNDARY_SPACING_FRAMES = 10;

function boundaries(levels: number[], voiced: boolean[], span: Span): Boundary[] {
  const from = span.startMs / ANALYSIS_FRAME_MS + BOUNDARY_SPACING_FRAMES;
  const to = span.endMs / ANALYSIS_FRAME_MS - BOUNDARY_SPACING_FRAMES;
  const smooth = levels.map((_, i) => ((levels[i - 1] ?? levels[i]!) + levels[i]! + (levels[i + 1] ?? levels[i]!)) / 3);
  const found: Boundary[] = silencesWithin(voiced, span, SHORTEST_SILENT_BOUNDARY_FRAMES * ANALYSIS_FRAME_MS).map((s) => ({ ...s, depthDb: Infinity }));
  for (let i = from; i < to; i++) {
    if (!voiced[i] || !(smooth[i]! <= smooth[i - 1]! && smooth[i]! < smooth[i + 1]!)) continue;
    const left = Math.max(...smooth.slice(Math.max(0, i - VALLEY_REACH_FRAMES), i));
    const right = Math.max(...smooth.slice(i + 1, i + 1 + VALLEY_REACH_FRAMES));
    const depthDb = Math.min(left, right) - smooth[i]!;
    if (depthDb >= VALLEY_DEPTH_DB) found.push({ startMs: i * ANALYSIS_FRAME_MS, endMs: i * ANALYSIS_FRAME_MS, depthDb });
  }
  found.sort((x, y) => x.startMs - y.startMs);
  // Two boundaries close together are one (the deeper stands).
  const kept: Boundary[] = [];
  for (const b of found) {
    const previous = kept.at(-1);
    if (previous && b.startMs - previous.endMs < BOUNDARY_SPACING_FRAMES * ANALYSIS_FRAME_MS) {
      if (b.depthDb > previous.depthDb) kept[kept.length - 1] = b;
    } else kept.push(b);
  }
  return kept;
}

/** Spreads `words` over `span` in proportion to their letters. */
function byLetters(words: string[], span: Span): TimedWord[] {
  const total = words.reduce((n, w) => n + letterCount(w), 0);
  let letters = 0;
  return words.map((text) => {
    const startMs = span.startMs + Math.round(((span.endMs - span.startMs) * letters) / total);
    letters += letterCount(text);
    return { text, startMs, endMs: span.startMs + Math.round(((span.endMs - span.startMs) * letters) / total) };
  });
}

/**
 * Times a clip's words inside its voiced span. One word spans it all. Several words take the
 * boundaries the level shows when there are exactly as many as the words need; otherwise they are
 * spread by letters over the stretches between the clip's pauses (a pause falls between words).
 */
export function timeWords(text: string, levels: number[], voiced: boolean[]): { words: TimedWord[]; method: WordTimingMethod } {
  const words = text.split(/\s+/).filter(Boolean);
  const span = voicedSpan(voiced);
  if (words.length === 1) return { words: [{ text: words[0]!, ...span }], method: "single" };
  const found = boundaries(levels, voiced, span);
  if (found.length === words.length - 1) {
    const edges = [span.startMs, ...found.flatMap((b) => [b.startMs, b.endMs]), span.endMs];
    const timed = words.map((w, i) => ({ text: w, startMs: edges[2 * i]!, endMs: edges[2 * i + 1]! }));
    if (agreesWithLetters(timed, span)) return { words: timed, method: "valleys" };
  }
  const phrases = splitAtPauses(span, silencesWithin(voiced, span).slice(0, words.length - 1));
  return { words: assignToPhrases(words, phrases).flatMap((group, i) => byLetters(group, phrases[i]!)), method: "letters" };
}

/** A dip inside a word (the /f/ of "telephone") can pass for a boundary: valleys that make some word
 *  more than twice or less than half its share by letters are not trusted. */
const VALLEY_TRUST_FACTOR = 2;

function agreesWithLetters(timed: TimedWord[], span: Span): boolean {
  const speech = timed.reduce((n, w) => n + w.endMs - w.startMs, 0);
  const total = timed.reduce((n, w) => n + letterCount(w.text), 0);
  return timed.every((w) => {
    const ratio = (w.endMs - w.startMs) / ((speech * letterCount(w.text)) / total);
    return ratio <= VALLEY_TRUST_FACTOR && ratio >= 1 / VALLEY_TRUST_FACTOR;
  }) && speech <= span.endMs - span.startMs;
}

function splitAtPauses(span: Span, pauses: Span[]): Span[] {
  const edges = [span.startMs, ...pauses.flatMap((p) => [p.startMs, p.endMs]), span.endMs];
  return Array.from({ length: pauses.length + 1 }, (_, i) => ({ startMs: edges[2 * i]!, endMs: edges[2 * i + 1]! }));
}

/** Gives each phrase (stretch between pauses) at least one word, breaking where the letters' share best matches the phrases' share of time. */
function assignToPhrases(words: string[], phrases: Span[]): string[][] {
  const total = words.reduce((n, w) => n + letterCount(w), 0);
  const speech = phrases.reduce((n, p) => n + p.endMs - p.startMs, 0);
  const groups: string[][] = [];
  let next = 0;
  let elapsed = 0;
  for (let p = 0; p < phrases.length; p++) {
    elapsed += phrases[p]!.endMs - phrases[p]!.startMs;
    const lastWordAllowed = words.length - (phrases.length - p);
    let end = next;
    let letters = words.slice(0, end + 1).reduce((n, w) => n + letterCount(w), 0);
    while (end < lastWordAllowed && Math.abs((letters + letterCount(words[end + 1]!)) / total - elapsed / speech) < Math.abs(letters / total - elapsed / speech)) {
      end++;
      letters += letterCount(words[end]!);
    }
    if (p === phrases.length - 1) end = words.length - 1;
    groups.push(words.slice(next, end + 1));
    next = end + 1;
  }
  return groups;
}

/** Active speech level (dBFS): the RMS over 20 ms frames within 30 dB of the loudest, so pauses do not dilute it. */
export function activeSpeechDbfs(pcm: Float64Array, sampleRate: number): number {
  const size = (sampleRate * 20) / 1000;
  const energies: number[] = [];
  for (let at = 0; at + size <= pcm.length; at += size) {
    let sum = 0;
    for (let i = at; i < at + size; i++) sum += pcm[i]! * pcm[i]!;
    energies.push(sum / size);
  }
  const loudest = Math.max(...energies);
  const active = energies.filter((e) => e > loudest / 1000);
  return 10 * Math.log10(active.reduce((a, b) => a + b, 0) / Math.max(1, active.length) / (32768 * 32768));
}
