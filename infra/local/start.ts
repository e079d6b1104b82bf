// `npm start`: the whole stack on loopback, on fixed ports so `npm run call` finds the edge, with the
// real services a .env has credentials for (services.ts decides). Prints the URLs and which service
// is which, streams the core's TURN/CALL lines and any warning, and stops everything on Ctrl-C.
import { fileURLToPath } from "node:url";
import { LOCAL_NUMBERS, startStack, type Stack } from "./stack.js";
import type { CoreLogLine } from "./core-process.js";
import type { BookingLogLine } from "../booking/service.js";
import { LOCAL_SCRIPT_REGISTRY_PORT } from "../caller-scripts/registration.js";
import { envFilePath, loadServicePlan } from "./env-file.js";
import { LOCAL_RECORD_RECEIVER_PORT } from "./record-receiver.js";
import { serviceLines, stackOptionsOf } from "./services.js";
import type { Softphone } from "../softphone/server.js";
import { startSoftphoneForStack } from "../softphone/stack-softphone.js";

const PORTS = { edge: 8787, core: 8080, speech: 50051, tts: 50052, openai: 8090, booking: 8091 };
/** The bookings made through `npm start` outlive it (BOOKING_DB to put them elsewhere). */
const BOOKING_DB = process.env.BOOKING_DB || fileURLToPath(new URL("../.build/booking/bookings.db", import.meta.url));
/** So do the call records (RECORDS_DB to put them elsewhere). */
const RECORDS_DB = process.env.RECORDS_DB || fileURLToPath(new URL("../.build/records/records.db", import.meta.url));

function showCoreLine(line: CoreLogLine): void {
  const { json } = line;
  if (!json) return void process.stderr.write(`core: ${line.text}\n`);
  const important = json.message === "TURN" || json.message === "CALL" || json.message === "APP_START";
  const severity = String(json.severity ?? "INFO");
  if (important || !["DEBUG", "INFO"].includes(severity)) process.stdout.write(`core: ${line.text}\n`);
}

/** Every tool call the booking service answers: what the core asked and how it went. */
function showBookingLine(line: BookingLogLine): void {
  if (line.path === "/appointments") return;
  const replayed = line.replayed ? " (replayed)" : "";
  process.stdout.write(`booking: ${line.method} ${line.path} ${line.status}${replayed} ${line.ms} ms${line.error ? ` ${line.error}` : ""}\n`);
}

let stack: Stack | undefined;
let softphone: Softphone | undefined;
let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (stack) process.stdout.write("\nstopping...\n");
  await softphone?.close();
  await stack?.stop();
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  const envFile = envFilePath(process.env);
  const services = loadServicePlan(envFile.file, envFile.required);
  stack = await startStack({
    ...stackOptionsOf(services),
    emulators: {
      speech: { port: PORTS.speech },
      tts: { port: PORTS.tts },
      openai: { port: PORTS.openai },
      scriptRegistry: { port: LOCAL_SCRIPT_REGISTRY_PORT },
    },
    corePort: PORTS.core,
    edgePort: PORTS.edge,
    onCoreLine: showCoreLine,
    booking: { port: PORTS.booking, dbPath: BOOKING_DB, log: showBookingLine },
    records: { port: LOCAL_RECORD_RECEIVER_PORT, dbPath: RECORDS_DB, log: (line) => process.stdout.write(`records: ${line}\n`) },
  });
  // With a real number through a tunnel, the edge checks signatures over the public URL: the softphone calls through it too.
  softphone = await startSoftphoneForStack(stack, {
    speechEmulated: !services.real.speech,
    ...(services.phone && { edgeUrl: services.phone.publicUrl, accountSid: services.phone.accountSid, authToken: services.phone.authToken }),
    log: (line) => process.stdout.write(`softphone: ${line}\n`),
  });
  process.stdout.write(
    [
      "",
      "voice agent running on loopback:",
      `  edge  ${stack.edge.url}   (Twilio webhook: POST ${stack.edge.url}/twilio/voice)`,
      `  core  ${stack.core.url}`,
      ...serviceLines(services, { speech: stack.emulators.speech.address, tts: stack.emulators.tts.address, openai: stack.emulators.openai.baseURL }),
      `  caller-script registry ${stack.emulators.scriptRegistry.url}   (npm run call registers its caller's lines here)`,
      `  booking service ${stack.booking?.url}   (bookings: GET ${stack.booking?.url}/appointments; database ${BOOKING_DB})`,
      `  call records: GET ${stack.records?.url}   (what the edge delivers to CALL_RECORD_URL after each call; database ${RECORDS_DB})`,
      `  transfers ring STAFF_NUMBER ${services.edgeVars.STAFF_NUMBER ?? LOCAL_NUMBERS.STAFF_NUMBER}; the human fallback is FALLBACK_NUMBER ${services.edgeVars.FALLBACK_NUMBER ?? LOCAL_NUMBERS.FALLBACK_NUMBER}`,
      `  greeting in KV: ${String(stack.warmup.greeting_key)}`,
      "",
      `talk to the agent: ${softphone.url}   (a browser softphone, and each turn's timings as they happen)`,
      "place a call:  npm run call        (or: npm run call -- --json, npm run call -- --wav call.wav)",
      "               npm run call -- --script infra/local/scripts/transfer.he.json   (also silent.he.json, goodbye.he.json, booking.he.json)",
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
} catch (error) {
  process.stderr.write(`npm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  await shutdown(1);
}
