// How the corpus is made. `npm run corpus:clips` (build-clips.ts) takes real recordings from two
// Debian packages: Allison Smith's Asterisk prompts (one speaker, recorded to be joined, CC-BY-SA-3.0)
// and pocketsphinx's test data (LibriVox readings, card names, "go forward ten meters"; BSD-2). It
// brings them to 8 kHz, trims each to its voice plus 20 ms, times its words, and vendors them in
// clips/ with clips.json (ATTRIBUTION.md says who made what). This module joins those clips into a
// caller's turns (sentences.ts): CONTINUE items hold a silence of 200 to 1500 ms inside an unfinished
// clause, END items are finished sentences; every item is 400 ms of lead silence, the speech, and
// 2.5 s of trailing silence, at three line conditions, encoded as the 8 kHz mu-law a caller sends.
// The transcript lines are not written by hand: the speech emulator's own utterance tracker is run
// over each item's audio, and each utterance it reports becomes one line holding the words inside it.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FRAME_MS, parseWav, pcmFromBytes, pcmToMulaw, SAMPLE_RATE } from "@voice/protocol";
import { DEFAULT_UTTERANCE_TIMING, UtteranceTracker } from "../../local/emulators/utterances.js";
import { seededRandom } from "../../random/seeded-random.js";
import type { ClipsFile } from "./build-clips.js";
import { CONTINUE_SENTENCES, END_SENTENCES, PAUSE, type SentencePart } from "./sentences.js";
import { activeSpeechDbfs, type Span, type TimedWord } from "./signal.js";

export type GapKind = "continue" | "end";
/** What the caller's words before a "continue" gap end in: the cue the core's end-of-turn hold can know, or none. */
export type ContinueCue = "function_word" | "number" | "none";
export type Condition = "clean" | "noise" | "quiet";
export interface CorpusWord {
  text: string;
  /** ms from the line's speech start (first voiced frame) to the word's end */
  endMs: number;
}
export interface CorpusLine {
  text: string;
  words: CorpusWord[];
}
export interface LabelledGap {
  kind: GapKind;
  /** silence start/end, ms from the item's audio start */
  startMs: number;
  endMs: number;
  cue?: ContinueCue;
}
export interface TurnTakingItem {
  id: string;
  language: "en-US";
  condition: Condition;
  /** The question the agent asked just before the caller spoke (the call's greeting in the bench), when it matters (a number being dictated). */
  agentAsked?: string;
  /** 8 kHz mu-law, from the first frame the caller sends: lead silence, speech, gaps, trailing silence (>= 2 s). */
  audio: Uint8Array;
  /** What the speech emulator should transcribe, one line per utterance ITS energy tracker finds in `audio`, in order; words timed for word-by-word partials. */
  lines: CorpusLine[];
  /** Every pause of 200 ms or more inside the item (continue) and the final one (end), labelled. */
  gaps: LabelledGap[];
  /** End of the caller's last speech, ms from the audio start. */
  speechEndMs: number;
  /** The whole utterance as the agent should receive it in one turn. */
  text: string;
}

export const CONTINUE_GAPS_MS = [200, 300, 500, 800, 1200, 1500] as const;
export const CONDITIONS: readonly Condition[] = ["clean", "noise", "quiet"];
export const LEAD_SILENCE_MS = 400;
export const TRAILING_SILENCE_MS = 2500;
/** Active speech level of a "clean" item: a normal talker on a phone line. */
export const CLEAN_SPEECH_DBFS = -20;
/**
 * "quiet" is a soft talker or a weak line: the clean item 6 dB down. Further down, the speech
 * emulator's energy tracker (-40 dBFS) loses weak word endings and splits finished sentences into
 * several utterances, which no real recognizer does; that would measure the stand-in, not the core.
 */
export const QUIET_DROP_DB = 6;
/** RMS of the line noise under the whole "noise" item. */
export const LINE_NOISE_DBFS = -52;

const CORPUS_DIR = path.dirname(fileURLToPath(import.meta.url));
const msToSamples = (ms: number) => Math.round((ms * SAMPLE_RATE) / 1000);

/** Short silences between the clips of a sentence, as between words of fluent speech; fixed per join so both forms of a sentence match. */
const joinMs = (join: number) => 60 + ((join * 23) % 61);

const FUNCTION_WORDS = new Set(["a", "an", "and", "at", "for", "from", "in", "is", "of", "on", "or", "the", "to", "with", "your", "my", "than", "but"]);
const NUMBER_WORD = /^(\d+|zero|one|two|three|four|five|six|seven|eight|nine|ten)$/;
/** The cue of a pause inside a recording (the sentences table names its own). */
const cueAfter = (word: string | undefined): ContinueCue =>
  word === undefined ? "none" : FUNCTION_WORDS.has(word) ? "function_word" : NUMBER_WORD.test(word) ? "number" : "none";

interface LoadedClip {
  words: TimedWord[];
  pauses: Span[];
  pcm: Float64Array;
}

let loaded: Map<string, LoadedClip> | undefined;

function clips(): Map<string, LoadedClip> {
  if (loaded) return loaded;
  const file = JSON.parse(readFileSync(path.join(CORPUS_DIR, "clips.json"), "utf8")) as ClipsFile;
  loaded = new Map(
    file.clips.map((c) => {
      const wav = parseWav(new Uint8Array(readFileSync(path.join(CORPUS_DIR, c.file))));
      return [c.id, { words: c.words, pauses: c.pauses, pcm: Float64Array.from(pcmFromBytes(wav.data)) }];
    }),
  );
  return loaded;
}

/** A sentence laid out on the item's timeline at the clean level, before the line condition. */
interface Layout {
  speech: Float64Array;
  words: TimedWord[];
  gaps: LabelledGap[];
  speechEndMs: number;
}

/** Places each clip so its voice starts where the previous one's ended plus a join, or the pause (none: the sentence said through). */
function layOut(parts: SentencePart[], pause: { ms: number; cue: ContinueCue } | undefined): Layout {
  const library = clips();
  const placed: { clip: LoadedClip; offsetMs: number; say?: string }[] = [];
  const gaps: LabelledGap[] = [];
  let voiceAtMs = LEAD_SILENCE_MS;
  let previousEndMs: number | undefined;
  let joins = 0;
  let pauseNext = false;
  for (const part of parts) {
    if (part === PAUSE) {
      pauseNext = true;
      continue;
    }
    const id = typeof part === "string" ? part : part.clip;
    const clip = library.get(id);
    if (!clip) throw new Error(`corpus sentence names an unknown clip: ${id}`);
    if (previousEndMs !== undefined) {
      const join = joinMs(joins++);
      const paused = pauseNext && pause !== undefined;
      voiceAtMs = previousEndMs + (paused ? pause.ms : join);
      if (paused) gaps.push({ kind: "continue", startMs: previousEndMs, endMs: voiceAtMs, cue: pause.cue });
    }
    pauseNext = false;
    const offsetMs = voiceAtMs - clip.words[0]!.startMs;
    placed.push({ clip, offsetMs, ...(typeof part === "string" ? {} : { say: part.say }) });
    previousEndMs = offsetMs + clip.words.at(-1)!.endMs;
  }
  const speechEndMs = previousEndMs!;
  const totalSamples = Math.ceil(msToSamples(speechEndMs + TRAILING_SILENCE_MS) / msToSamples(FRAME_MS)) * msToSamples(FRAME_MS);
  const speech = new Float64Array(totalSamples);
  const words: TimedWord[] = [];
  for (const { clip, offsetMs, say } of placed) {
    const at = msToSamples(offsetMs);
    clip.pcm.forEach((s, i) => (speech[at + i]! += s));
    const clipWords = clip.words.map((w) => ({ text: say ?? w.text, startMs: offsetMs + w.startMs, endMs: offsetMs + w.endMs }));
    for (const pause of clip.pauses) {
      const before = clipWords.filter((w) => w.endMs <= offsetMs + pause.startMs).at(-1);
      gaps.push({ kind: "continue", startMs: offsetMs + pause.startMs, endMs: offsetMs + pause.endMs, cue: cueAfter(before?.text) });
    }
    words.push(...clipWords);
  }
  gaps.push({ kind: "end", startMs: speechEndMs, endMs: (totalSamples * 1000) / SAMPLE_RATE });
  gaps.sort((a, b) => a.startMs - b.startMs);
  return { speech, words, gaps, speechEndMs };
}

/** FNV-1a of the item id: each item's noise is its own, and the same on every build. */
function seedOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** A second-order section (RBJ cookbook), run in place. */
function biquad(signal: Float64Array, kind: "lowpass" | "highpass", cutoffHz: number): void {
  const w = (2 * Math.PI * cutoffHz) / SAMPLE_RATE;
  const alpha = Math.sin(w) / Math.SQRT2;
  const cos = Math.cos(w);
  const b1 = kind === "lowpass" ? 1 - cos : -(1 + cos);
  const [b0, a0] = [Math.abs(b1) / 2, 1 + alpha];
  let [x1, x2, y1, y2] = [0, 0, 0, 0];
  for (let i = 0; i < signal.length; i++) {
    const x = signal[i]!;
    const y = (b0 * x + b1 * x1 + b0 * x2 + 2 * cos * y1 - (1 - alpha) * y2) / a0;
    [x2, x1, y2, y1] = [x1, x, y1, y];
    signal[i] = y;
  }
}

/** Hiss in the phone band (300-3400 Hz), seeded, at LINE_NOISE_DBFS RMS. */
function lineNoise(samples: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const noise = new Float64Array(samples);
  for (let i = 0; i < samples; i++) noise[i] = random() + random() + random() + random() - 2;
  biquad(noise, "highpass", 300);
  biquad(noise, "lowpass", 3400);
  const rms = Math.sqrt(noise.reduce((sum, s) => sum + s * s, 0) / samples);
  const scale = (32768 * 10 ** (LINE_NOISE_DBFS / 20)) / rms;
  return noise.map((s) => s * scale);
}

function encode(layout: Layout, condition: Condition, id: string): Uint8Array {
  const targetDbfs = CLEAN_SPEECH_DBFS - (condition === "quiet" ? QUIET_DROP_DB : 0);
  const gain = 10 ** ((targetDbfs - activeSpeechDbfs(layout.speech, SAMPLE_RATE)) / 20);
  const noise = condition === "noise" ? lineNoise(layout.speech.length, seedOf(id)) : undefined;
  const pcm = new Int16Array(layout.speech.length);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(layout.speech[i]! * gain + (noise?.[i] ?? 0))));
  return pcmToMulaw(pcm);
}

/** The utterances the speech emulator's tracker finds in `audio` (start at its first speech frame, end at its last). */
export function trackedUtterances(audio: Uint8Array): Span[] {
  const tracker = new UtteranceTracker(DEFAULT_UTTERANCE_TIMING);
  const starts = new Map<number, number>();
  const utterances: Span[] = [];
  for (const event of [...tracker.push(audio), ...tracker.flush()]) {
    if (event.kind === "partial" && !starts.has(event.utterance)) starts.set(event.utterance, event.atMs - event.speechMs);
    if (event.kind === "final") utterances.push({ startMs: starts.get(event.utterance)!, endMs: event.endMs });
  }
  return utterances;
}

/** One line per tracked utterance, holding the words whose middle falls in it (a word the tracker missed goes to the nearest). */
function linesFor(audio: Uint8Array, words: TimedWord[]): CorpusLine[] {
  const utterances = trackedUtterances(audio);
  const distance = (u: Span, at: number) => Math.max(0, u.startMs - at, at - u.endMs);
  const held: CorpusWord[][] = utterances.map(() => []);
  for (const word of words) {
    const middle = (word.startMs + word.endMs) / 2;
    const nearest = utterances.reduce((best, u, i) => (distance(u, middle) < distance(utterances[best]!, middle) ? i : best), 0);
    const utterance = utterances[nearest]!;
    const endMs = Math.min(utterance.endMs, Math.max(word.endMs, utterance.startMs + FRAME_MS)) - utterance.startMs;
    held[nearest]!.push({ text: word.text, endMs });
  }
  return held.filter((w) => w.length > 0).map((w) => ({ text: w.map((x) => x.text).join(" "), words: w }));
}

function item(id: string, layout: Layout, condition: Condition, agentAsked: string | undefined): TurnTakingItem {
  const audio = encode(layout, condition, id);
  const lines = linesFor(audio, layout.words);
  return {
    id,
    language: "en-US",
    condition,
    ...(agentAsked ? { agentAsked } : {}),
    audio,
    lines,
    gaps: layout.gaps,
    speechEndMs: layout.speechEndMs,
    text: lines.map((l) => l.text).join(" "),
  };
}

/** Every corpus item: each continue sentence at each gap length, each finished sentence, at each condition. */
export function turnTakingItems(): TurnTakingItem[] {
  const items: TurnTakingItem[] = [];
  const wholes = new Map<string, { layout: Layout; agentAsked: string | undefined }>();
  const wordings = new Set<string>();
  for (const sentence of CONTINUE_SENTENCES) {
    for (const gapMs of CONTINUE_GAPS_MS) {
      const layout = layOut(sentence.parts, { ms: gapMs, cue: sentence.cue });
      for (const condition of CONDITIONS) items.push(item(`${sentence.id}/${gapMs}ms/${condition}`, layout, condition, sentence.agentAsked));
    }
    // Said without its pauses, the same words are a finished sentence (once per wording).
    const whole = layOut(sentence.parts, undefined);
    const wording = whole.words.map((w) => w.text).join(" ");
    if (!wordings.has(wording)) wholes.set(sentence.id, { layout: whole, agentAsked: sentence.agentAsked });
    wordings.add(wording);
  }
  for (const sentence of END_SENTENCES) wholes.set(sentence.id, { layout: layOut(sentence.parts, undefined), agentAsked: undefined });
  for (const [id, { layout, agentAsked }] of wholes) for (const condition of CONDITIONS) items.push(item(`${id}/end/${condition}`, layout, condition, agentAsked));
  return items;
}
