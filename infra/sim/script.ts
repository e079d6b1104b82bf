// The caller's script: what the caller says or does, in which language and eSpeak voice. A line is
// words to speak, or an object that can also be noise or keypad digits and says when to start it.
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
    /** Silence before this line, after the previous answer ended (default: the call's pauseMs). Not used with interruptAfterMs. */
    pauseMs: z.number().int().min(0).max(60_000).optional(),
    /** Start this line this long after the previous answer's first frame started playing, over it if it is still playing. */
    interruptAfterMs: z.number().int().min(0).max(60_000).optional(),
    /** Whether the agent should answer this line (default: true for text and dtmf, false for noise). */
    expectAnswer: z.boolean().optional(),
  })
  .refine((line) => [line.text, line.noiseMs, line.dtmf].filter((part) => part !== undefined).length === 1, {
    message: "a line needs exactly one of text, noiseMs or dtmf",
  });

export type CallerAction = z.infer<typeof callerAction>;
/** A line as written in a script: the words, or an action. */
export type CallerLine = string | CallerAction;

export interface CallerScript {
  /** BCP-47 language of the lines (the agent's STT language). */
  language: string;
  /** eSpeak voice that speaks the lines, e.g. "he". */
  voice: string;
  lines: CallerLine[];
}

/** A line with its defaults applied: what the simulator does for it. */
export interface CallerTurn {
  act: { kind: "speech"; text: string } | { kind: "noise"; ms: number } | { kind: "dtmf"; digits: string };
  pauseMs: number | undefined;
  interruptAfterMs: number | undefined;
  expectAnswer: boolean;
}

const scriptShape = z.object({
  language: z.string().min(1),
  voice: z.string().min(1),
  lines: z.array(z.unknown()).min(1),
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
  return { ok: true, script: { language: shape.data.language, voice: shape.data.voice, lines } };
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
        : { kind: "speech", text: action.text ?? "" };
  return {
    act,
    pauseMs: action.pauseMs,
    interruptAfterMs: action.interruptAfterMs,
    expectAnswer: action.expectAnswer ?? act.kind !== "noise",
  };
}

/** The words the caller speaks, in order: what the speech emulator should transcribe. Noise and keys are not words. */
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
