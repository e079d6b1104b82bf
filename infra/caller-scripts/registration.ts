// How a simulated caller tells the speech emulator what it is going to say, so that what the caller
// says is what the emulator transcribes: before the call starts, the simulator POSTs its spoken lines
// under the call's CallSid to the script registry that runs with the emulators
// (infra/local/emulators/script-registry.ts); the speech emulator then transcribes that call's
// utterances as those lines, in order. Shared by both ends, which never import each other.
//
//   POST <registry URL>   content-type: application/json
//   { "callSid": "CA...", "lines": ["first thing said", "second", ...] }
//   -> 204 registered; 400 { "error": "<one line>" } for a bad body; 404 elsewhere.
import { z } from "zod";

/** The registry's path on its server. */
export const SCRIPT_REGISTRY_PATH = "/caller-scripts";

/** The port `npm start` gives the registry, next to the OpenAI emulator (8090) and booking service (8091). */
export const LOCAL_SCRIPT_REGISTRY_PORT = 8092;

/** Where `npm run call` registers by default when the edge it calls is local. */
export const LOCAL_SCRIPT_REGISTRY_URL = `http://127.0.0.1:${LOCAL_SCRIPT_REGISTRY_PORT}${SCRIPT_REGISTRY_PATH}`;

const text = z.string().trim().min(1);

/** A line: the words, or the words and how the emulator treats that utterance (see SpeechScriptLine). */
const registeredLine = z.union([text, z.strictObject({ text, withholdFinal: z.boolean().optional(), partials: text.optional() })]);

export const ScriptRegistration = z.strictObject({
  callSid: z.string().trim().min(1).max(64),
  lines: z.array(registeredLine).min(1).max(1000),
});
export type ScriptRegistration = z.infer<typeof ScriptRegistration>;
