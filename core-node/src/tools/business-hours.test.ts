import { describe, expect, it } from "vitest";
import { transferSchema, wallClockAt, withinBusinessHours, type TransferSettings } from "./business-hours.js";

const CLINIC: TransferSettings = { timeZone: "Asia/Jerusalem", hours: { sun: ["08:00", "18:00"], fri: ["08:00", "13:00"] } };
/** Epoch ms of an ISO instant (UTC). */
const at = (iso: string) => Date.parse(iso);

describe("business hours", () => {
  it("reads the weekday and time in the named zone, across a DST change", () => {
    // Sunday 2026-01-04 06:00 UTC is 08:00 in Jerusalem (UTC+2); Sunday 2026-06-07 05:00 UTC is 08:00 (UTC+3).
    expect(wallClockAt(at("2026-01-04T06:00:00Z"), "Asia/Jerusalem")).toEqual({ day: "sun", minute: 8 * 60 });
    expect(wallClockAt(at("2026-06-07T05:00:00Z"), "Asia/Jerusalem")).toEqual({ day: "sun", minute: 8 * 60 });
    expect(wallClockAt(at("2026-01-03T23:30:00Z"), "Asia/Jerusalem")).toEqual({ day: "sun", minute: 90 });
  });

  it("opening time in, closing time out, a day left out closed", () => {
    expect(withinBusinessHours(CLINIC, at("2026-01-04T06:00:00Z"))).toBe(true); // Sun 08:00
    expect(withinBusinessHours(CLINIC, at("2026-01-04T05:59:00Z"))).toBe(false); // Sun 07:59
    expect(withinBusinessHours(CLINIC, at("2026-01-04T15:59:00Z"))).toBe(true); // Sun 17:59
    expect(withinBusinessHours(CLINIC, at("2026-01-04T16:00:00Z"))).toBe(false); // Sun 18:00
    expect(withinBusinessHours(CLINIC, at("2026-01-09T10:59:00Z"))).toBe(true); // Fri 12:59
    expect(withinBusinessHours(CLINIC, at("2026-01-09T11:00:00Z"))).toBe(false); // Fri 13:00
    expect(withinBusinessHours(CLINIC, at("2026-01-05T08:00:00Z"))).toBe(false); // Mon: not listed
    const allDay: TransferSettings = { timeZone: "UTC", hours: { mon: ["00:00", "24:00"] } };
    expect(withinBusinessHours(allDay, at("2026-01-05T23:59:00Z"))).toBe(true);
  });

  it("refuses an unknown zone, a bad time, a range that closes before it opens, an unknown day", () => {
    expect(transferSchema.safeParse(CLINIC).success).toBe(true);
    expect(transferSchema.safeParse({ ...CLINIC, timeZone: "Mars/Olympus" }).success).toBe(false);
    expect(transferSchema.safeParse({ ...CLINIC, hours: { sun: ["8:00", "18:00"] } }).success).toBe(false);
    expect(transferSchema.safeParse({ ...CLINIC, hours: { sun: ["18:00", "08:00"] } }).success).toBe(false);
    expect(transferSchema.safeParse({ ...CLINIC, hours: { sunday: ["08:00", "18:00"] } }).success).toBe(false);
  });
});
