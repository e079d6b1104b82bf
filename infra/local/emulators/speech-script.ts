// What the caller says, as the speech emulator holds it: the default script, and the scripts
// registered per call (the simulator registers its caller's lines under its CallSid before the call
// starts, through script-registry.ts), each the lines that call's utterances take, in order. A call
// may register no lines: a caller who says no words (silence, music), whose utterances — a tone
// loud enough to pass for speech — are transcribed as nothing, as a real recognizer hears music.
// A live script (the softphone's) grows while the call runs: each line appended is what the call's
// next utterance is heard saying; an utterance with no line waiting gives no words.

/** A script line: what the caller says, or that plus how the emulator treats that utterance. */
export type SpeechScriptLine =
  | string
  | {
      text: string;
      /** Partials only: the final of this utterance never comes (as when Google drops it), so the
       *  agent must fall back to the latest partial. */
      withholdFinal?: boolean;
      /** What the partials show (growing word by word) when it is not `text`: the recognizer revises
       *  its hypothesis at the final, as Google does when the end of a sentence changes its reading. */
      partials?: string;
      /** When each of the partial's words ends in the caller's audio (recorded speech): partials then
       *  come word by word as the audio reaches each end, rather than at a steady pace. Joined by spaces,
       *  the words are `partials` (or `text`). */
      words?: ScriptWord[];
    };

/** A word of a script line and when it ends: ms from the utterance's detected speech start (the
 *  utterance tracker's start) to the end of the word. */
export interface ScriptWord {
  text: string;
  endMs: number;
}

/** A script line as the emulator uses it. */
export interface ScriptLine {
  text: string;
  withholdFinal: boolean;
  /** The text partials grow towards (`text` unless the line says otherwise). */
  partials: string;
  /** The partial's words with their ends, when the line times them. */
  words?: ScriptWord[];
}

export function scriptLines(script: SpeechScriptLine[]): ScriptLine[] {
  if (script.length === 0) throw new Error("speech emulator: script must have at least one line");
  return script.map((line, index) => {
    const { text, withholdFinal, partials, words } = typeof line === "string" ? { text: line, withholdFinal: false, partials: undefined, words: undefined } : line;
    if (typeof text !== "string" || !text.trim()) throw new Error(`speech emulator: script line ${index + 1} has no text`);
    if (partials !== undefined && (typeof partials !== "string" || !partials.trim())) {
      throw new Error(`speech emulator: script line ${index + 1} has empty partials`);
    }
    const checked: ScriptLine = { text, withholdFinal: withholdFinal === true, partials: partials ?? text };
    if (words !== undefined) checked.words = checkedWords(words, checked.partials, `speech emulator: script line ${index + 1}`);
    return checked;
  });
}

/** The words (their text with whitespace collapsed), or an error naming the first thing wrong: a word
 *  without text, an end that is not a number of ms at or after the previous word's, or words that are
 *  not the partial's (so the emulator never shows words the line does not say). */
function checkedWords(words: unknown, partials: string, where: string): ScriptWord[] {
  if (!Array.isArray(words) || words.length === 0) throw new Error(`${where}: words must be a non-empty list`);
  let previousEndMs = 0;
  const checked = words.map((word: Partial<ScriptWord> | null, index): ScriptWord => {
    const which = `${where} word ${index + 1}`;
    if (typeof word?.text !== "string" || !word.text.trim()) throw new Error(`${which} has no text`);
    const { endMs } = word;
    if (typeof endMs !== "number" || !Number.isFinite(endMs) || endMs < 0) throw new Error(`${which} ("${word.text}") has no end (endMs ${String(endMs)})`);
    if (endMs < previousEndMs) throw new Error(`${which} ("${word.text}") ends at ${endMs} ms, before the word ahead of it (${previousEndMs} ms)`);
    previousEndMs = endMs;
    return { text: collapsed(word.text), endMs };
  });
  const spoken = collapsed(checked.map((word) => word.text).join(" "));
  if (spoken !== collapsed(partials)) throw new Error(`${where}: its words "${spoken}" are not its partials' "${collapsed(partials)}"`);
  return checked;
}

const collapsed = (text: string) => text.trim().split(/\s+/).join(" ");

/** The words a partial shows after `speechMs` of speech: a prefix growing at `msPerWord`. */
export function partialTranscript(line: string, speechMs: number, msPerWord: number): string {
  const words = line.split(/\s+/).filter(Boolean);
  const shown = Math.min(words.length, Math.max(1, Math.ceil(speechMs / msPerWord)));
  return words.slice(0, shown).join(" ");
}

/** How many of `words` have ended after `speechMs` of an utterance's audio (0 before the first ends). */
export function wordsEnded(words: readonly ScriptWord[], speechMs: number): number {
  let count = 0;
  while (count < words.length && words[count]!.endMs <= speechMs) count++;
  return count;
}

/**
 * A call's script as its streams read it. Fixed: utterance k of the call takes line k, round and round.
 * Live: lines are appended while the call runs, and each is taken once, in order, by the utterance
 * heard while it is the first line not yet finalised; past the last one, utterances give no words.
 */
export interface CallScript {
  live: boolean;
  lines: ScriptLine[];
}

/** The line the utterance at script position `position` takes; undefined: it gives no words. */
export function scriptLineAt(script: CallScript, position: number): ScriptLine | undefined {
  const { lines } = script;
  if (lines.length === 0) return undefined;
  return script.live ? lines[position] : lines[position % lines.length];
}

/** The scripts of calls that registered one (the latest `maxKept`), and the default for all others. */
export class CallScripts {
  private readonly byCall = new Map<string, CallScript>();
  private readonly fallback: CallScript;

  constructor(
    fallback: ScriptLine[],
    private readonly maxKept: number,
  ) {
    this.fallback = { live: false, lines: fallback };
  }

  /**
   * Gives call `callId` its own lines (replacing any it had), none for a caller without words; `live`:
   * more lines may be appended while the call runs. Throws with a one-line reason on a bad line.
   */
  register(callId: string, lines: SpeechScriptLine[], live = false): void {
    const checked = lines.length === 0 ? [] : scriptLines(lines);
    this.byCall.delete(callId);
    this.byCall.set(callId, { live, lines: checked });
    if (this.byCall.size > this.maxKept) this.byCall.delete(this.byCall.keys().next().value!);
  }

  /** Appends a line to call `callId`'s live script; streams already open see it. Throws with a one-line reason. */
  append(callId: string, line: SpeechScriptLine): void {
    const script = this.byCall.get(callId);
    if (!script?.live) throw new Error(`call ${callId} has no live script to add to (register it with live: true first)`);
    script.lines.push(...scriptLines([line]));
  }

  /** The script of call `callId`: its own when it registered one (maybe empty), else the default. */
  of(callId: string | undefined): CallScript {
    return (callId !== undefined && this.byCall.get(callId)) || this.fallback;
  }
}
