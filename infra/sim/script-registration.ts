// The simulated caller tells the speech emulator what it is going to say, before the call: the
// spoken lines of its script, under its CallSid, to the emulators' caller-script registry (wire format
// in infra/caller-scripts/registration.ts). The emulator then transcribes the call's utterances as
// those lines, in order, rather than as its default script: what the caller says is what is heard.
// Only words are registered: a dtmf line sends keys, and noise, tones and silence are not words
// (noise long enough to pass for speech, 200 ms or more at speech level, still takes the next line
// when there are words). A script without words registers an empty list, so that the emulator
// transcribes nothing for that call rather than its default script.
import type { ScriptRegistration } from "../caller-scripts/registration.js";
import { spokenLines, type CallerScript } from "./script.js";

/** Registration failed; `unreachable`: nothing listens at the URL (connection refused, or no answer in time). */
export class RegistrationError extends Error {
  constructor(
    message: string,
    readonly unreachable: boolean,
  ) {
    super(message);
  }
}

/**
 * Registers the script's spoken lines for call `callSid` at `registryUrl` (none for a script without
 * words). Throws a RegistrationError with a one-line reason when the registry cannot be reached or refuses.
 * Returns how many lines were registered.
 */
export async function registerCallerLines(registryUrl: string, callSid: string, script: CallerScript, timeoutMs: number): Promise<number> {
  const lines = spokenLines(script);
  const registration: ScriptRegistration = { callSid, lines };
  let response: Response;
  try {
    response = await fetch(registryUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(registration),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new RegistrationError(`cannot register the caller's lines with the speech emulator at ${registryUrl}: ${reason}`, true);
  }
  if (response.status !== 204) {
    const body = await response.text().catch(() => "");
    throw new RegistrationError(`the caller-script registry ${registryUrl} answered ${response.status}: ${body.slice(0, 200)}`, false);
  }
  return lines.length;
}
