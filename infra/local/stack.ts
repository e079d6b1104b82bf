// The whole system on loopback: emulators (in this process), the core (its own Node process) and
// the edge (workerd). Used by `npm start` and by the end-to-end tests, so both run the same stack.
import { startLocalBooking, type LocalBookingOptions } from "./booking.js";
import type { BookingService } from "../booking/service.js";
import { CoreCallLog } from "./core-call-log.js";
import { startCore, type CoreLogLine, type CoreProcess, type StartCoreOptions } from "./core-process.js";
import { readWranglerConfig, startEdge, type EdgeLogLine, type EdgeVarOverrides, type RunningEdge } from "./edge.js";
import { startEmulators, type Emulators, type EmulatorsOptions } from "./emulators/index.js";
import { startLocalRecords, type LocalRecordsOptions } from "./local-records.js";
import type { RecordReceiver } from "./record-receiver.js";
import type { PhonePath, Service } from "./services.js";

/** Local-only secrets; a deployment gets real ones from Secret Manager / `wrangler secret put`. */
export const LOCAL_SECRETS = {
  TWILIO_AUTH_TOKEN: "local-twilio-auth-token",
  CORE_SHARED_SECRET: "local-core-shared-secret",
  DEPLOY_TOKEN: "local-deploy-token",
  STREAM_TOKEN_SECRET: "local-stream-token-secret",
  /** Shared by the core and the booking service (infra/booking/); never the edge's. */
  TOOL_SIGNING_SECRET: "local-tool-signing-secret",
  /** The edge signs call records with it; the record receiver checks them. */
  CALL_RECORD_SECRET: "local-call-record-secret",
} as const;

/** The numbers the local edge dials: the clinic's staff for a transfer, and the human fallback. */
export const LOCAL_NUMBERS = { STAFF_NUMBER: "+97235550100", FALLBACK_NUMBER: "+97235550199" } as const;

export interface StackOptions {
  emulators?: EmulatorsOptions;
  /**
   * Services the core uses for real: it is not pointed at their emulator (which still runs), and its
   * settings for the real one come in coreEnv. Default: every service emulated.
   */
  real?: Partial<Record<Service, boolean>>;
  /** Extra core settings (VAD_HANGOVER_MS, ...) on top of the ones pointing it at the emulators. */
  coreEnv?: Record<string, string>;
  corePort?: number;
  /** How the core process runs: a built bundle, pinned CPUs (benchmarks); default main.ts through tsx, any CPU. */
  coreProcess?: Pick<StartCoreOptions, "entry" | "cpus">;
  edgePort?: number;
  onCoreLine?: (line: CoreLogLine) => void;
  onEdgeLine?: (line: EdgeLogLine) => void;
  /**
   * The reference booking service, and the core given the local agent file (its tools) and
   * TOOL_SIGNING_SECRET. Off by default: a stack that does not need tools does not pay for it.
   */
  booking?: boolean | LocalBookingOptions;
  /**
   * The call-record receiver (record-receiver.ts), and the edge given its URL as CALL_RECORD_URL.
   * Off by default: without it the edge has no CALL_RECORD_URL and delivers no records.
   */
  records?: boolean | LocalRecordsOptions;
  /** Edge vars on top of wrangler.toml's; STAFF_NUMBER and FALLBACK_NUMBER default to LOCAL_NUMBERS. */
  edgeVars?: EdgeVarOverrides;
  /**
   * A real Twilio number through a tunnel: the edge checks signatures over publicUrl with the
   * account's auth token and answers that account only. Default: the local account on loopback.
   */
  phone?: PhonePath;
}

/** The core's settings that point it at each service's emulator. */
const EMULATOR_SETTINGS: Record<Service, (keyof Emulators["env"])[]> = {
  speech: ["SPEECH_ENDPOINT"],
  tts: ["TTS_ENDPOINT"],
  chat: ["OPENAI_BASE_URL", "OPENAI_API_KEY"],
};

export interface Stack {
  emulators: Emulators;
  /** The core now serving; replaced by restartCore(). */
  core: CoreProcess;
  /** Every core's TURN, BARGE_IN and CALL lines per call, restarted cores included (the softphone's view reads it). */
  callLog: CoreCallLog;
  /**
   * Starts a new core process on the same port with the same settings, as Cloud Run brings up a new
   * instance behind the same URL. The previous process must have released the port (crashed, or
   * draining after SIGTERM: a draining core closes its listener first).
   */
  restartCore(): Promise<CoreProcess>;
  edge: RunningEdge;
  /** The booking service, when options.booking asked for it (`GET ${url}/appointments` lists the bookings). */
  booking?: BookingService;
  /** The call-record receiver, when options.records asked for it (`GET ${url}` lists the records). */
  records?: RecordReceiver;
  /** What the edge's /health/warmup answered after start (greeting put in KV, core warmed). */
  warmup: Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => undefined);
  };
  try {
    const emulators = await startEmulators(options.emulators);
    stops.push(() => emulators.close());
    // The greeting's text and voice come from wrangler.toml for both sides, so the key the core
    // computes for the greeting audio is the key the edge looks up.
    const { vars } = await readWranglerConfig();
    const shared = { GREETING_TEXT: vars.GREETING_TEXT, LANGUAGE: vars.LANGUAGE, TTS_VOICE: vars.TTS_VOICE };
    const { TOOL_SIGNING_SECRET, ...edgeSecrets } = LOCAL_SECRETS;
    const booking = options.booking ? await startLocalBooking(options.booking === true ? {} : options.booking, TOOL_SIGNING_SECRET) : undefined;
    if (booking) stops.push(() => booking.stop());
    const records = options.records ? await startLocalRecords(options.records === true ? {} : options.records, LOCAL_SECRETS.CALL_RECORD_SECRET) : undefined;
    if (records) stops.push(() => records.stop());
    const emulated = (Object.keys(EMULATOR_SETTINGS) as Service[]).filter((service) => !options.real?.[service]);
    const emulatorEnv = Object.fromEntries(emulated.flatMap((service) => EMULATOR_SETTINGS[service].map((key) => [key, emulators.env[key]])));
    const coreEnv = { ...emulatorEnv, ...definedOnly(shared), CORE_SHARED_SECRET: LOCAL_SECRETS.CORE_SHARED_SECRET, ...booking?.coreEnv, ...options.coreEnv };
    // What every core logged of each call, served next to the caller scripts (the simulator's tools per turn).
    const callLog = new CoreCallLog();
    emulators.scriptRegistry.serveCoreTurns(callLog);
    const launchCore = async (port: number | undefined) => {
      const started = await startCore({ env: coreEnv, ...options.coreProcess, ...(port !== undefined && { port }) });
      stops.push(() => started.stop());
      for (const line of started.lines) callLog.add(line);
      started.onLine((line) => callLog.add(line));
      if (options.onCoreLine) {
        for (const line of started.lines) options.onCoreLine(line);
        started.onLine(options.onCoreLine);
      }
      return started;
    };
    const core = await launchCore(options.corePort);
    const edgeVars: EdgeVarOverrides = {
      ...LOCAL_NUMBERS,
      ...(records && { CALL_RECORD_URL: records.receiver.url }),
      ...options.edgeVars,
      ...(options.phone && { TWILIO_ACCOUNT_SID: options.phone.accountSid }),
    };
    const edge = await startEdge({
      coreUrl: core.url,
      secrets: { ...edgeSecrets, ...(options.phone && { TWILIO_AUTH_TOKEN: options.phone.authToken }) },
      vars: edgeVars,
      ...(options.phone && { publicUrl: options.phone.publicUrl }),
      ...(options.edgePort !== undefined && { port: options.edgePort }),
      ...(options.onEdgeLine && { onLog: options.onEdgeLine }),
    });
    stops.push(() => edge.close());
    // As the deploy pipeline does after a rollout: the greeting goes into KV, the core warms.
    const response = await fetch(`${edge.url}/health/warmup`, {
      headers: { Authorization: `Bearer ${LOCAL_SECRETS.DEPLOY_TOKEN}` },
    });
    const warmup = (await response.json()) as Record<string, unknown>;
    if (!response.ok || warmup.ok !== true) throw new Error(`edge warmup failed: ${JSON.stringify(warmup)}`);
    const stack: Stack = {
      emulators,
      core,
      callLog,
      edge,
      ...(booking && { booking: booking.service }),
      ...(records && { records: records.receiver }),
      warmup,
      stop,
      async restartCore() {
        stack.core = await launchCore(core.port);
        return stack.core;
      },
    };
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}

function definedOnly(record: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
