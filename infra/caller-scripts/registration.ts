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

export const ScriptRegistration = z.strictObject({
  callSid: z.string().trim().min(1).max(64),
  lines: z.array(registeredLine).max(1000),
});
export type ScriptRegistration = z.infer<typeof ScriptRegistration>;

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
