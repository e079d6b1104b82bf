// npm run call -- [--url URL] [--auth-token T] [--script FILE] [--json] [--wav FILE] [--timeout MS]
// Places one simulated Twilio call against the edge and reports what the caller heard.
// Exit code 0 when the call had no errors, 1 when it had, 2 on bad usage.
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { DEFAULT_TIMEOUT_MS, runCall } from "./call.js";
import { stereoCallWav } from "./recording.js";
import { formatReport, summarize } from "./report.js";
import { DEFAULT_SCRIPT_PATH, loadCallerScript } from "./script.js";

/** The auth token `npm start` gives the local edge. */
const LOCAL_AUTH_TOKEN = "local-twilio-auth-token";

const USAGE = `usage: npm run call -- [options]
  --url URL          edge base URL (default http://127.0.0.1:8787)
  --auth-token T     Twilio auth token (default $TWILIO_AUTH_TOKEN or ${LOCAL_AUTH_TOKEN})
  --script FILE      caller script JSON {language, voice, lines} (default infra/caller-scripts/default.he.json);
                     a line is a string to say, or {text | noiseMs | dtmf, pauseMs?, interruptAfterMs?, expectAnswer?}
  --json             print the report as one JSON object on the last line
  --wav FILE         write the call as a stereo WAV (caller left, agent right)
  --timeout MS       wait this long for the greeting and for each answer (default ${DEFAULT_TIMEOUT_MS})`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: "string", default: "http://127.0.0.1:8787" },
        "auth-token": { type: "string", default: process.env.TWILIO_AUTH_TOKEN || LOCAL_AUTH_TOKEN },
        script: { type: "string", default: DEFAULT_SCRIPT_PATH },
        json: { type: "boolean", default: false },
        wav: { type: "string" },
        timeout: { type: "string", default: String(DEFAULT_TIMEOUT_MS) },
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

  let script;
  try {
    script = await loadCallerScript(values.script);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }

  const report = await runCall({
    url: values.url,
    authToken: values["auth-token"],
    script,
    timeoutMs,
    log: values.json ? undefined : (line) => console.error(line),
  });

  if (values.wav) {
    try {
      await writeFile(values.wav, stereoCallWav(report.recording));
    } catch (error) {
      report.errors.push(`cannot write ${values.wav}: ${(error as Error).message}`);
    }
  }
  console.log(values.json ? JSON.stringify(summarize(report)) : formatReport(report));
  return report.errors.length ? 1 : 0;
}

process.exitCode = await main();
