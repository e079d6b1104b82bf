// The booking service as part of the local stack (startStack's `booking` option, what `npm start`
// runs): the core is given the local agent file with its endpoints on the stack's service and the
// shared secret, and a caller who asks for an appointment hears a slot the service really offered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCall } from "../sim/call.js";
import { newSid } from "../sim/twilio-client.js";
import type { CallReport } from "../sim/report.js";
import { LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import { bookingClient } from "./client.js";
import { DEFAULT_BOOKING_PORT, type BookingLogLine } from "./service.js";

const LINE = "אפשר לקבוע תור למחר בבוקר?";

let stack: Stack;
let report: CallReport;
const callSid = newSid("CA");
const bookingLines: BookingLogLine[] = [];

beforeAll(async () => {
  const quiet = { log: () => {} };
  stack = await startStack({
    emulators: { script: [LINE], speech: quiet, tts: quiet, openai: quiet },
    booking: { log: (line) => bookingLines.push(line) },
    onEdgeLine: () => {},
  });
  report = await runCall({ url: stack.edge.url, authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN, script: { language: "he-IL", voice: "he", lines: [LINE] }, callSid, timeoutMs: 20_000 });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("the stack with the booking service", () => {
  it("runs it on a free loopback port, with no bookings yet", async () => {
    expect(stack.booking?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stack.booking?.port).not.toBe(DEFAULT_BOOKING_PORT);
    expect(await (await fetch(`${stack.booking!.url}/appointments`)).json()).toEqual([]);
  });

  it("the core's signed find_slots is accepted, keyed by the call", () => {
    expect(report.errors).toEqual([]);
    const toolCalls = bookingLines.filter((line) => line.path.startsWith("/tools/"));
    expect(toolCalls.map((line) => [line.path, line.status])).toEqual([["/tools/find_slots", 200]]);
    expect(toolCalls[0]?.key?.startsWith(`${callSid}:`)).toBe(true);
  });

  it("the caller hears the first slot the service offers, and nothing is booked without a yes", async () => {
    const client = bookingClient(stack.booking!.url, { secret: LOCAL_SECRETS.TOOL_SIGNING_SECRET });
    const { date, slots } = (((await client.findSlots()).body as { result: { date: string; slots: string[] } }).result);
    const [, time] = slots[0]!.split("T");
    expect(report.turns[0]?.agent_text).toContain(date);
    expect(report.turns[0]?.agent_text).toContain(time);
    expect(await client.appointments()).toEqual([]);
  });
});
