// The business's hours for transfers (the agent file's `transfer` section), and whether a moment is
// within them. Pure: the moment arrives as epoch milliseconds; the hours are read in the named IANA
// time zone, so a clock change (DST) moves them as it moves the business's wall clocks.
import { z } from "zod";

export const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** "HH:MM", 00:00 to 24:00 (24:00: to the end of the day). */
const HH_MM = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;

function minutesOf(time: string): number {
  const [hours, minutes] = time.split(":");
  return Number(hours) * 60 + Number(minutes);
}

/** Whether `zone` is a time zone this runtime knows (an unknown one must stop the start, not every transfer). */
function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const openRange = z
  .tuple([z.string().regex(HH_MM, 'must be "HH:MM"'), z.string().regex(HH_MM, 'must be "HH:MM"')])
  .refine(([open, close]) => minutesOf(open) < minutesOf(close), "the opening time must come before the closing time");

export const transferSchema = z.strictObject({
  /** IANA time zone the hours are in, e.g. "Asia/Jerusalem". */
  timeZone: z.string().refine(knownTimeZone, "must be an IANA time zone name, e.g. Asia/Jerusalem"),
  /** Per weekday, the hours a transfer is offered: ["08:00", "18:00"]. A day left out: no transfers that day. */
  hours: z.strictObject({
    sun: openRange.optional(),
    mon: openRange.optional(),
    tue: openRange.optional(),
    wed: openRange.optional(),
    thu: openRange.optional(),
    fri: openRange.optional(),
    sat: openRange.optional(),
  }),
});
export type TransferSettings = z.infer<typeof transferSchema>;

/** One formatter per zone: building one is far slower than using it. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", { timeZone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The weekday and the minute of the day at `epochMs` in `timeZone`. */
export function wallClockAt(epochMs: number, timeZone: string): { day: Weekday; minute: number } {
  const parts = formatterFor(timeZone).formatToParts(epochMs);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  const day = part("weekday").toLowerCase().slice(0, 3) as Weekday;
  return { day, minute: Number(part("hour")) * 60 + Number(part("minute")) };
}

/** Whether `epochMs` falls within the day's hours (opening time included, closing time not). */
export function withinBusinessHours(settings: TransferSettings, epochMs: number): boolean {
  const { day, minute } = wallClockAt(epochMs, settings.timeZone);
  const range = settings.hours[day];
  return range !== undefined && minute >= minutesOf(range[0]) && minute < minutesOf(range[1]);
}
