// The reference booking service (infra/booking/) as part of the local stack: started before the core,
// with the agent file the core is given pointing at it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_BOOKING_PORT, startBookingService, type BookingLogLine, type BookingService } from "../booking/service.js";

/** What `npm start` gives the core as AGENT_FILE: a Hebrew clinic receptionist with the booking tools on 127.0.0.1:8091. */
export const LOCAL_AGENT_FILE = fileURLToPath(new URL("./agent.he.json", import.meta.url));
const LOCAL_BOOKING_ORIGIN = `http://127.0.0.1:${DEFAULT_BOOKING_PORT}`;

export interface LocalBookingOptions {
  /**
   * The service's clock, for "today" and for the signature's 300 s window alike: the core signs with
   * the real time, so a clock further than that from it refuses every tool call.
   */
  now?: () => number;
  /** 0 (default) = a free port; `npm start` uses 8091. */
  port?: number;
  /** Default: a temporary folder, removed at stop. */
  dbPath?: string;
  log?: (line: BookingLogLine) => void;
}

export interface LocalBooking {
  service: BookingService;
  /** The core's settings for it: AGENT_FILE and TOOL_SIGNING_SECRET. */
  coreEnv: { AGENT_FILE: string; TOOL_SIGNING_SECRET: string };
  stop(): Promise<void>;
}

export async function startLocalBooking(options: LocalBookingOptions, signingSecret: string): Promise<LocalBooking> {
  let scratch: string | undefined;
  const scratchDir = () => (scratch ??= mkdtempSync(path.join(tmpdir(), "voice-booking-")));
  const removeScratch = () => scratch && rmSync(scratch, { recursive: true, force: true });
  try {
    const service = await startBookingService({
      port: options.port ?? 0,
      host: "127.0.0.1",
      dbPath: options.dbPath ?? path.join(scratchDir(), "booking.db"),
      signingSecret,
      ...(options.now && { now: options.now }),
      ...(options.log && { log: options.log }),
    });
    // On any other port, the core gets a copy of the agent file whose endpoints point at this one.
    let agentFile = LOCAL_AGENT_FILE;
    if (service.url !== LOCAL_BOOKING_ORIGIN) {
      agentFile = path.join(scratchDir(), "agent.json");
      writeFileSync(agentFile, readFileSync(LOCAL_AGENT_FILE, "utf8").replaceAll(`"${LOCAL_BOOKING_ORIGIN}/`, `"${service.url}/`));
    }
    return {
      service,
      coreEnv: { AGENT_FILE: agentFile, TOOL_SIGNING_SECRET: signingSecret },
      async stop() {
        await service.close();
        removeScratch();
      },
    };
  } catch (error) {
    removeScratch();
    throw error;
  }
}
