// How a simulated caller tells the speech emulator what it is going to say, so that what the caller
// says is what the emulator transcribes: before the call starts, the simulator POSTs its spoken lines
// under the call's CallSid to the script registry that runs with the emulators
// (infra/local/emulators/script-registry.ts); the speech emulator then transcribes that call's
// utterances as those lines, in order; a caller with no words to say registers none (`lines: []`),
// and the emulator then transcribes nothing for it. Shared by both ends, which never import each other.
//
//   POST <registry URL>   content-type: application/json
//   { "callSid": "CA...", "lines": ["first thing said", "second", ...] }
//   a line may also be { "text", "withholdFinal"?, "partials"?, "words"?: [{ "text", "endMs" }, ...] }
//   -> 204 registered; 400 { "error": "<one line>" } for a bad body; 404 elsewhere.
//   "live": true makes the script live (the softphone's): lines are then added while the call runs,
//   each taken by the call's next utterance; an utterance with no line waiting gives no words:
//
//   POST <registry URL>/lines   { "callSid": "CA...", "line": "what the next utterance says" }
//   -> 204 added; 400 for a bad body; 404 when the call has no live script (or the registry serves none).
//   GET <registry URL>/lines?callSid=CA...
//   -> 200 { "taken": 1, "waiting": 0, "wordlessUtterances": 2 }; 404 as above.
import { turnLine } from "@voice/protocol";
import { z } from "zod";

/** The registry's path on its server. */
export const SCRIPT_REGISTRY_PATH = "/caller-scripts";

/** The port `npm start` gives the registry, next to the OpenAI emulator (8090) and booking service (8091). */
export const LOCAL_SCRIPT_REGISTRY_PORT = 8092;

/** Where `npm run call` registers by default when the edge it calls is local. */
export const LOCAL_SCRIPT_REGISTRY_URL = `http://127.0.0.1:${LOCAL_SCRIPT_REGISTRY_PORT}${SCRIPT_REGISTRY_PATH}`;

const text = z.string().trim().min(1);

/** A word of a line and its end: ms from the utterance's detected speech start (see ScriptWord). */
const timedWord = z.strictObject({ text, endMs: z.number().nonnegative() });

/** A line: the words, or the words and how the emulator treats that utterance (see SpeechScriptLine;
 *  the emulator checks that timed words are in order and are the line's). */
const registeredLine = z.union([
  text,
  z.strictObject({ text, withholdFinal: z.boolean().optional(), partials: text.optional(), words: z.array(timedWord).min(1).optional() }),
]);

const callSid = z.string().trim().min(1).max(64);

export const ScriptRegistration = z.strictObject({
  callSid,
  lines: z.array(registeredLine).max(1000),
  live: z.boolean().optional(),
});
export type ScriptRegistration = z.infer<typeof ScriptRegistration>;

/** The live-script path on the registry's server. */
export const LIVE_LINES_PATH = `${SCRIPT_REGISTRY_PATH}/lines`;

/** A line added to a call's live script. */
export const LiveLine = z.strictObject({ callSid, line: text.max(1000) });
export type LiveLine = z.infer<typeof LiveLine>;

/** Where a live script stands: lines taken by utterances, lines still waiting, and utterances that came with none waiting. */
export const LiveScriptStatus = z.strictObject({
  taken: z.number().int().nonnegative(),
  waiting: z.number().int().nonnegative(),
  wordlessUtterances: z.number().int().nonnegative(),
});
export type LiveScriptStatus = z.infer<typeof LiveScriptStatus>;

/** The live-lines URL beside a registry URL. */
export function liveLinesUrl(registryUrl: string, callSid?: string): string {
  const url = new URL(LIVE_LINES_PATH, registryUrl);
  if (callSid !== undefined) url.searchParams.set("callSid", callSid);
  return url.toString();
}

// The registry's second service, for the simulator's report: what the local core logged of a call's
// turns (the tools each answer called live only there; the caller hears audio, not tool calls).
//
//   GET <registry origin>/core-turns?callSid=CA...&waitMs=3000
//   -> 200 { "ended": true, "turns": [<TURN line>, ...] }   once the call's CALL line is logged, or
//      with "ended": false after waitMs (at most 10 s); 404 when the stack serves no core log.

/** The core-turns path on the registry's server. */
export const CORE_TURNS_PATH = "/core-turns";

/** The longest a request may ask to wait for the call's end. */
export const MAX_CORE_TURNS_WAIT_MS = 10_000;

export const CoreTurns = z.object({ ended: z.boolean(), turns: z.array(turnLine) });
export type CoreTurns = z.infer<typeof CoreTurns>;

/** The core-turns URL beside a registry URL. */
export function coreTurnsUrl(registryUrl: string, callSid: string, waitMs: number): string {
  const url = new URL(CORE_TURNS_PATH, registryUrl);
  url.searchParams.set("callSid", callSid);
  url.searchParams.set("waitMs", String(waitMs));
  return url.toString();
}
