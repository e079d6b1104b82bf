// The caller's script: what the caller says or does, in which language and eSpeak voice. A line is
// words to speak, or an object that can also be noise, keypad digits, silence or a steady tone and
// says when to start it. The script also says how the staff answer when the call is put through to
// them (`dial`), and how long the caller stays on the line after its last line (`lingerMs`).
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const lineText = z.string().trim().min(1);

const callerAction = z
  .strictObject({
    /** Words the caller speaks (eSpeak). */
    text: lineText.optional(),
    /** Noise at speech level for this long instead of words: a cough, a bump. */
    noiseMs: z.number().int().min(20).max(10_000).optional(),
    /** Keypad digits, sent as Twilio `dtmf` frames about 150 ms apart. */
    dtmf: z.string().regex(/^[0-9*#]+$/, "dtmf takes the keys 0-9, * and #").optional(),
    /** The caller says nothing for this long (silent frames); what the agent says meanwhile (a reprompt) is heard with this line. */
    silenceMs: z.number().int().min(20).max(300_000).optional(),
    /** A steady tone at speech level for this long: music, a radio; it passes for speech but has no words. */
    toneMs: z.number().int().min(20).max(300_000).optional(),
    /** Silence before this line, after the previous answer ended (default: the call's pauseMs). Not used with interruptAfterMs. */
    pauseMs: z.number().int().min(0).max(60_000).optional(),
    /** Start this line this long after the previous answer's first frame started playing, over it if it is still playing. */
    interruptAfterMs: z.number().int().min(0).max(60_000).optional(),
    /** Whether the agent should answer this line (default: true for text and dtmf, false for noise). */
    expectAnswer: z.boolean().optional(),
  })
  .refine((line) => [line.text, line.noiseMs, line.dtmf, line.silenceMs, line.toneMs].filter((part) => part !== undefined).length === 1, {
    message: "a line needs exactly one of text, noiseMs, dtmf, silenceMs or toneMs",
  });

export type CallerAction = z.infer<typeof callerAction>;
/** A line as written in a script: the words, or an action. */
export type CallerLine = string | CallerAction;

/** How a <Dial> the caller is put through is answered: answered by the staff, or not. */
export const DIAL_ANSWERS = ["answered", "no-answer", "busy", "failed"] as const;
export type DialAnswer = (typeof DIAL_ANSWERS)[number];

export interface CallerScript {
  /** BCP-47 language of the lines (the agent's STT language). */
  language: string;
  /** eSpeak voice that speaks the lines, e.g. "he". */
  voice: string;
  lines: CallerLine[];
  /** How each <Dial> of the call is answered, in order (the last repeats); default "answered". */
  dial?: DialAnswer | DialAnswer[];
  /** How long an answered <Dial> lasts (the caller talks with the staff) before it ends; default 1000. */
  dialTalkMs?: number;
  /** After its last line was answered, the caller stays on the line this long before hanging up, so
   *  that the agent may end the call itself (a goodbye); default 0. */
  lingerMs?: number;
}

/** A line with its defaults applied: what the simulator does for it. */
export interface CallerTurn {
  act:
    | { kind: "speech"; text: string }
    | { kind: "noise"; ms: number }
    | { kind: "dtmf"; digits: string }
    | { kind: "silence"; ms: number }
    | { kind: "tone"; ms: number };
  pauseMs: number | undefined;
  interruptAfterMs: number | undefined;
  expectAnswer: boolean;
}

const dialAnswerSchema = z.enum(DIAL_ANSWERS);

const scriptShape = z.object({
  language: z.string().min(1),
  voice: z.string().min(1),
  lines: z.array(z.unknown()).min(1),
  dial: z.union([dialAnswerSchema, z.array(dialAnswerSchema).min(1)]).optional(),
  dialTalkMs: z.number().int().min(0).max(60_000).optional(),
  lingerMs: z.number().int().min(0).max(60_000).optional(),
});

/** Checks a script (parsed JSON or an object built in code); a bad one gets a one-line reason. */
export function checkCallerScript(value: unknown): { ok: true; script: CallerScript } | { ok: false; reason: string } {
  const shape = scriptShape.safeParse(value);
  if (!shape.success) return { ok: false, reason: describeIssue(shape.error, []) };
  const lines: CallerLine[] = [];
  for (const [index, line] of shape.data.lines.entries()) {
    // Checked per kind, so an object with a typo gets its own reason rather than "invalid union".
    const parsed = (typeof line === "string" ? lineText : callerAction).safeParse(line);
    if (!parsed.success) return { ok: false, reason: describeIssue(parsed.error, ["lines", index]) };
    lines.push(parsed.data);
  }
  const { language, voice, dial, dialTalkMs, lingerMs } = shape.data;
  return {
    ok: true,
    script: { language, voice, lines, ...(dial !== undefined && { dial }), ...(dialTalkMs !== undefined && { dialTalkMs }), ...(lingerMs !== undefined && { lingerMs }) },
  };
}

function describeIssue(error: z.ZodError, prefix: PropertyKey[]): string {
  const issue = error.issues[0];
  const path = [...prefix, ...(issue?.path ?? [])].map(String).join(".");
  return `${path || "script"}: ${issue?.message}`;
}

export function callerTurn(line: CallerLine): CallerTurn {
  const action = typeof line === "string" ? { text: line } : line;
  const act: CallerTurn["act"] =
    action.noiseMs !== undefined
      ? { kind: "noise", ms: action.noiseMs }
      : action.dtmf !== undefined
        ? { kind: "dtmf", digits: action.dtmf }
        : action.silenceMs !== undefined
          ? { kind: "silence", ms: action.silenceMs }
          : action.toneMs !== undefined
            ? { kind: "tone", ms: action.toneMs }
            : { kind: "speech", text: action.text ?? "" };
  return {
    act,
    pauseMs: action.pauseMs,
    interruptAfterMs: action.interruptAfterMs,
    expectAnswer: action.expectAnswer ?? (act.kind === "speech" || act.kind === "dtmf"),
  };
}

/** The DialCallStatus-to-be of the call's `n`-th <Dial> (0-based): the script's answers in order, the last repeating. */
export function dialAnswer(script: CallerScript, n: number): DialAnswer {
  const answers = script.dial === undefined ? ["answered" as const] : typeof script.dial === "string" ? [script.dial] : script.dial;
  return answers[Math.min(n, answers.length - 1)]!;
}

/** The words the caller speaks, in order: what the speech emulator should transcribe. Noise, tones, silence and keys are not words. */
export function spokenLines(script: CallerScript): string[] {
  return script.lines.flatMap((line) => {
    const { act } = callerTurn(line);
    return act.kind === "speech" ? [act.text] : [];
  });
}

export const DEFAULT_SCRIPT_PATH = fileURLToPath(new URL("../caller-scripts/default.he.json", import.meta.url));

/** Reads and checks a script file; throws an Error with a one-line reason. */
export async function loadCallerScript(path: string): Promise<CallerScript> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new Error(`cannot read script ${path}: ${(error as Error).message}`);
  }
  const checked = checkCallerScript(json);
  if (!checked.ok) throw new Error(`script ${path} is invalid: ${checked.reason}`);
  return checked.script;
}
