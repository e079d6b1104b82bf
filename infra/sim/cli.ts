// npm run call -- [--url URL] [--auth-token T] [--account-sid AC...] [--script FILE] [--speech-script-url URL|none] [--json] [--wav FILE] [--timeout MS] [--stall LINE:AFTER_MS:MS ...]
// Places one simulated Twilio call against the edge and reports what the caller heard.
// Exit code 0 when the call had no errors, 1 when it had, 2 on bad usage.
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { DEFAULT_TIMEOUT_MS, runCall, type StallOption } from "./call.js";
import { stereoCallWav } from "./recording.js";
import { formatReport, summarize, type CallSummary } from "./report.js";
import { fetchCoreTurns, withCoreTools } from "./core-turns.js";
import { DEFAULT_SCRIPT_PATH, loadCallerScript } from "./script.js";
import { LOCAL_ACCOUNT_SID } from "../twilio/stream-start.js";
import { LOCAL_SCRIPT_REGISTRY_URL } from "../caller-scripts/registration.js";
import { registerCallerLines, type RegistrationError } from "./script-registration.js";
import { newSid } from "./twilio-client.js";

/** How long registering the caller's lines may take. */
const REGISTRATION_TIMEOUT_MS = 5000;

/** The auth token `npm start` gives the local edge. */
const LOCAL_AUTH_TOKEN = "local-twilio-auth-token";

const USAGE = `usage: npm run call -- [options]
  --url URL          edge base URL (default http://127.0.0.1:8787)
  --auth-token T     Twilio auth token (default $TWILIO_AUTH_TOKEN or ${LOCAL_AUTH_TOKEN})
  --account-sid AC   the Twilio account the edge answers (default $TWILIO_ACCOUNT_SID or ${LOCAL_ACCOUNT_SID})
  --script FILE      caller script JSON {language, voice, lines, dial?, dialTalkMs?, lingerMs?}
                     (default infra/caller-scripts/default.he.json; more in infra/local/scripts/);
                     a line is a string to say, or {text | noiseMs | dtmf | silenceMs | toneMs,
                     pauseMs?, interruptAfterMs?, expectAnswer?}; dial: how a <Dial> is answered
                     ("answered" | "no-answer" | "busy" | "failed", or one per dial); lingerMs: how
                     long the caller stays on after its last line, for the agent to end the call
  --speech-script-url URL
                     the speech emulator's caller-script registry: the script's spoken lines are registered
                     there for this call, so the emulator transcribes them (default for a loopback --url:
                     ${LOCAL_SCRIPT_REGISTRY_URL}, which npm start serves; otherwise none). "none": do not register
  --json             print the report as one JSON object on the last line; with a registry, each turn
                     carries the tools its answer called (name, ok, ms), as the local core logged them;
                     how the call ended: ended_by (caller | agent | transfer | fallback | error),
                     transferred_to, dial_outcome, dead_air_ms, returned_to_agent, whisper_text,
                     say_texts, return_answers, unsaid_lines
  --wav FILE         write the call as a stereo WAV (caller left, agent right)
  --timeout MS       wait this long for the greeting and for each answer (default ${DEFAULT_TIMEOUT_MS})
  --stall L:A:MS     a network stall A ms into caller line L (1-based): every frame the caller sends is
                     held MS ms, then the backlog goes at once, as TCP does after a stall (repeatable)`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: "string", default: "http://127.0.0.1:8787" },
        "auth-token": { type: "string", default: process.env.TWILIO_AUTH_TOKEN || LOCAL_AUTH_TOKEN },
        "account-sid": { type: "string", default: process.env.TWILIO_ACCOUNT_SID || LOCAL_ACCOUNT_SID },
        script: { type: "string", default: DEFAULT_SCRIPT_PATH },
        "speech-script-url": { type: "string" },
        json: { type: "boolean", default: false },
        wav: { type: "string" },
        timeout: { type: "string", default: String(DEFAULT_TIMEOUT_MS) },
        stall: { type: "string", multiple: true, default: [] },
        help: { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const timeoutMs = Number(values.timeout);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    console.error(`--timeout must be a positive number of milliseconds, got "${values.timeout}"\n${USAGE}`);
    return 2;
  }

  const stalls = values.stall.map(parseStall);
  const badStall = values.stall.find((_, i) => stalls[i] === undefined);
  if (badStall !== undefined) {
    console.error(`--stall wants LINE:AFTER_MS:MS (whole numbers, LINE from 1), got "${badStall}"\n${USAGE}`);
    return 2;
  }

  const explicitRegistry = values["speech-script-url"];
  const registry = scriptRegistryOf(explicitRegistry, values.url);
  if (registry === null) {
    console.error(`--speech-script-url takes an http(s) URL or "none", got "${values["speech-script-url"]}"\n${USAGE}`);
    return 2;
  }

  let script;
  try {
    script = await loadCallerScript(values.script);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }

  // Registered here rather than by runCall, so that the default registry may be missing (an older
  // stack, or a fake edge): then the speech service hears what it hears, and the caller is told so.
  const callSid = newSid("CA");
  if (registry !== undefined) {
    try {
      await registerCallerLines(registry, callSid, script, REGISTRATION_TIMEOUT_MS);
    } catch (error) {
      const failure = error as RegistrationError;
      if (explicitRegistry !== undefined || !failure.unreachable) {
        console.error(failure.message);
        return 1;
      }
      console.error(`warning: ${failure.message}; the speech emulator will transcribe its default lines (--speech-script-url none silences this)`);
    }
  }

  const report = await runCall({
    url: values.url,
    authToken: values["auth-token"],
    accountSid: values["account-sid"],
    script,
    stalls: stalls as StallOption[],
    timeoutMs,
    callSid,
    log: values.json ? undefined : (line) => console.error(line),
  });

  if (values.wav) {
    try {
      await writeFile(values.wav, stereoCallWav(report.recording));
    } catch (error) {
      report.errors.push(`cannot write ${values.wav}: ${(error as Error).message}`);
    }
  }
  if (values.json) console.log(JSON.stringify(registry === undefined ? summarize(report) : await withToolsIfLogged(summarize(report), registry)));
  else console.log(formatReport(report));
  return report.errors.length ? 1 : 0;
}

/** The tools per turn, from the local core's log; without that log, the summary as heard and a warning. */
async function withToolsIfLogged(summary: CallSummary, registry: string): Promise<CallSummary> {
  try {
    return withCoreTools(summary, await fetchCoreTurns(registry, summary.call_sid));
  } catch (error) {
    console.error(`warning: no tools in the report: ${(error as Error).message}`);
    return summary;
  }
}

/**
 * Where the caller's lines are registered: the option's URL; none for "none"; by default the local
 * registry when the edge is on loopback (npm start), else none. Null: not a URL.
 */
function scriptRegistryOf(option: string | undefined, edgeUrl: string): string | undefined | null {
  if (option === "none") return undefined;
  if (option !== undefined) return URL.canParse(option) && /^https?:$/.test(new URL(option).protocol) ? option : null;
  const host = URL.canParse(edgeUrl) ? new URL(edgeUrl).hostname : "";
  return ["127.0.0.1", "localhost", "[::1]"].includes(host) ? LOCAL_SCRIPT_REGISTRY_URL : undefined;
}

/** "2:800:3000": line 2, 800 ms into it, a 3 s stall. */
function parseStall(text: string): StallOption | undefined {
  const match = /^(\d+):(\d+):(\d+)$/.exec(text);
  if (!match) return undefined;
  const [line, afterMs, ms] = match.slice(1).map(Number) as [number, number, number];
  return line >= 1 && ms >= 1 ? { line, afterMs, ms } : undefined;
}

process.exitCode = await main();
