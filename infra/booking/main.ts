// The booking service on its own (`npm start` runs it with the rest of the stack):
//   TOOL_SIGNING_SECRET=... node --import tsx infra/booking/main.ts
// BOOKING_PORT (8091), BOOKING_HOST (127.0.0.1), BOOKING_DB (infra/.build/booking/bookings.db).
import { fileURLToPath } from "node:url";
import { DEFAULT_BOOKING_PORT, startBookingService } from "./service.js";

const secret = process.env.TOOL_SIGNING_SECRET ?? "";
if (secret.length < 16) {
  process.stderr.write("TOOL_SIGNING_SECRET (16+ characters, the core's) is required\n");
  process.exit(2);
}
const dbPath = process.env.BOOKING_DB || fileURLToPath(new URL("../.build/booking/bookings.db", import.meta.url));
const service = await startBookingService({
  port: Number(process.env.BOOKING_PORT || DEFAULT_BOOKING_PORT),
  host: process.env.BOOKING_HOST || "127.0.0.1",
  dbPath,
  signingSecret: secret,
  log: (line) => process.stdout.write(`${JSON.stringify(line)}\n`),
});
process.stdout.write(`booking service on ${service.url} (GET ${service.url}/appointments), database ${dbPath}\n`);
const stop = () => void service.close().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
