// The caller's script: what the caller says, in which language and eSpeak voice.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { z } from "zod";

export const callerScript = z.object({
  /** BCP-47 language of the lines (the agent's STT language). */
  language: z.string().min(1),
  /** eSpeak voice that speaks the lines, e.g. "he". */
  voice: z.string().min(1),
  lines: z.array(z.string().trim().min(1)).min(1),
});

export type CallerScript = z.infer<typeof callerScript>;

export const DEFAULT_SCRIPT_PATH = fileURLToPath(new URL("../local/scripts/default.he.json", import.meta.url));

/** Reads and checks a script file; throws an Error with a one-line reason. */
export async function loadCallerScript(path: string): Promise<CallerScript> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new Error(`cannot read script ${path}: ${(error as Error).message}`);
  }
  const parsed = callerScript.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`script ${path} is invalid: ${issue?.path.join(".") || "script"}: ${issue?.message}`);
  }
  return parsed.data;
}
