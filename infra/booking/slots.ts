// The clinic's calendar: which days are working days, which slots a day has, which are free, and what
// "today" is in Israel. Pure: an instant arrives as a number (ms since the epoch), calendar dates as
// "YYYY-MM-DD" strings, and slots as local wall-clock "YYYY-MM-DDTHH:MM" strings, so daylight saving
// time matters only where an instant becomes a local date and time (localClock, through Intl).

export const TIME_ZONE = "Asia/Jerusalem";
/** Israel's working week: Sunday (0) to Thursday (4). */
export const WORKING_DAYS: readonly number[] = [0, 1, 2, 3, 4];
/** 30-minute slots from 09:00; the last starts at 16:30 and ends at 17:00. */
export const FIRST_SLOT_MINUTE = 9 * 60;
export const LAST_SLOT_MINUTE = 16 * 60 + 30;
export const SLOT_MINUTES = 30;
/** How many free slots find_slots offers: few enough to be read out on the phone. */
export const SLOTS_OFFERED = 3;

const MS_PER_DAY = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const SLOT = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})$/;

/** The local date and time of an instant in the clinic's time zone. `stamp` compares as a slot does. */
export interface LocalClock {
  date: string;
  time: string;
  /** "YYYY-MM-DDTHH:MM": a slot is in the past when it is <= this. */
  stamp: string;
}

const localFormat = new Intl.DateTimeFormat("en-CA", {
  timeZone: TIME_ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

export function localClock(nowMs: number): LocalClock {
  const parts: Record<string, string> = {};
  for (const part of localFormat.formatToParts(nowMs)) parts[part.type] = part.value;
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  const time = `${parts.hour}:${parts.minute}`;
  return { date, time, stamp: `${date}T${time}` };
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  return [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

/** Whether the text is a real calendar date "YYYY-MM-DD" (no 2026-02-30). */
export function isDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return year >= 1970 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/** Days since 1970-01-01 of a valid date. */
function dayNumber(date: string): number {
  const [year, month, day] = date.split("-").map(Number) as [number, number, number];
  return Math.round(Date.UTC(year, month - 1, day) / MS_PER_DAY);
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** The date `days` after (or before) a date, across months and years. */
export function addDays(date: string, days: number): string {
  // Days since the epoch back to a civil date (H. Hinnant's civil_from_days).
  const z = dayNumber(date) + days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
}

/** 0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday). */
export function weekday(date: string): number {
  return (((dayNumber(date) + 4) % 7) + 7) % 7;
}

export function isWorkingDay(date: string): boolean {
  return WORKING_DAYS.includes(weekday(date));
}

/** The first working day strictly after `date`. */
export function nextWorkingDay(date: string): string {
  let next = addDays(date, 1);
  while (!isWorkingDay(next)) next = addDays(next, 1);
  return next;
}

/** Every slot of a day, in order; none on a Friday or Saturday. */
export function daySlots(date: string): string[] {
  if (!isDate(date) || !isWorkingDay(date)) return [];
  const slots: string[] = [];
  for (let minute = FIRST_SLOT_MINUTE; minute <= LAST_SLOT_MINUTE; minute += SLOT_MINUTES) {
    slots.push(`${date}T${pad(Math.floor(minute / 60))}:${pad(minute % 60)}`);
  }
  return slots;
}

/** Whether the text names one of the clinic's slots (any day, past or future). */
export function isSlot(text: string): boolean {
  const match = SLOT.exec(text);
  return match !== null && daySlots(match[1]!).includes(text);
}

/** The date part of a slot. */
export function slotDate(slot: string): string {
  return slot.slice(0, 10);
}

/** The first `limit` slots of the day that are neither taken nor already begun at `now`. */
export function freeSlots(date: string, taken: ReadonlySet<string>, now: LocalClock, limit = SLOTS_OFFERED): string[] {
  return daySlots(date)
    .filter((slot) => slot > now.stamp && !taken.has(slot))
    .slice(0, limit);
}

/** The day find_slots looks at: the one asked for, or else the next working day after today. */
export function dayToSearch(asked: string | undefined, now: LocalClock): string {
  return asked ?? nextWorkingDay(now.date);
}
