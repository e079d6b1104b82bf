// Offline, the softphone caller's words reach the speech emulator through its caller-script registry
// (wire format in infra/caller-scripts/registration.ts): the call gets a live script before it
// starts, each line the page types is added to it for the caller's next utterance, and the script's
// state is followed so the page can say what the emulator heard, or that it heard speech with no words.
import { LiveScriptStatus, liveLinesUrl, type LiveLine, type ScriptRegistration } from "../caller-scripts/registration.js";

/** Bounds each request to the registry (loopback, answered at once). */
const REQUEST_TIMEOUT_MS = 5000;
/** How often the script's state is read while a call runs. */
const FOLLOW_EVERY_MS = 250;

export interface LiveScriptClient {
  /** Gives the call an empty live script; call before the call's first stream opens. */
  register(callSid: string): Promise<void>;
  add(callSid: string, line: string): Promise<void>;
  /** Calls `onChange` each time the script's state changes, until the returned stop. */
  follow(callSid: string, onChange: (state: LiveScriptStatus) => void): () => void;
}

export function liveScriptClient(registryUrl: string): LiveScriptClient {
  const post = async (url: string, body: ScriptRegistration | LiveLine) => {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (response.status !== 204) throw new Error(`the caller-script registry answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  };
  const status = async (callSid: string) => {
    const response = await fetch(liveLinesUrl(registryUrl, callSid), { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`the caller-script registry answered ${response.status}`);
    return LiveScriptStatus.parse(await response.json());
  };
  return {
    register: (callSid) => post(registryUrl, { callSid, lines: [], live: true }),
    add: (callSid, line) => post(liveLinesUrl(registryUrl), { callSid, line }),
    follow(callSid, onChange) {
      let last = "";
      let reading = false;
      const timer = setInterval(() => {
        if (reading) return;
        reading = true;
        status(callSid)
          .then((state) => {
            const seen = JSON.stringify(state);
            if (seen !== last) onChange(state);
            last = seen;
          })
          .catch(() => undefined) // the next read tries again; the call goes on without it
          .finally(() => (reading = false));
      }, FOLLOW_EVERY_MS);
      return () => clearInterval(timer);
    },
  };
}
