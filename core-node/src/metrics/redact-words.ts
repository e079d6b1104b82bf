// Callers' words in log lines: what LOG_TRANSCRIPTS lets through. Pure: text or a log call's fields
// in, the same redacted out.
//
// `redactCallerWords` replaces what identifies a person or pays for something: Israeli ID numbers
// (with a valid check digit), phone numbers (Israeli forms and international +E.164), payment card
// numbers (Luhn-valid) and e-mail addresses. Ordinary numbers (prices, times, appointment numbers)
// stay readable: digits are replaced only in a phone's shape or with a check digit that fits.
//
// Digits are read as a recognizer writes them or as the keypad message spells them ("[keypad] 4 5 8
// 0 ..."): groups of ASCII digits joined by a space or a dash. Numbers spoken and written as Hebrew
// words ("אפס חמש אפס ...") or in other scripts' digits are out of scope: nothing here reads them.

export const LOG_TRANSCRIPTS_MODES = ["off", "redacted", "full"] as const;
/** off: callers' words never logged; redacted: logged through redactCallerWords; full: as heard (local debugging only). */
export type LogTranscripts = (typeof LOG_TRANSCRIPTS_MODES)[number];

const REDACTION_MARKERS = { id: "[id]", phone: "[phone]", card: "[card]", email: "[email]" } as const;
type Kind = keyof typeof REDACTION_MARKERS;

/** The longest number any kind can be (a card: 19 digits); longer joins of groups are never tried. */
const MAX_DIGITS = 19;
/** Shorter runs are left alone: an Israeli ID is written with 7 to 9 digits (leading zeros dropped). */
const MIN_DIGITS = 7;

const EMAIL = /[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
/**
 * A run of digit groups: an optional "+", digits, then more digits each after one separator (a
 * space, a no-break space or a dash) or a bracket around an area code: "+1 (415) 555-2671".
 */
const DIGIT_RUN = /\+?\d+(?:(?:[ \u00a0\-\u2010-\u2013]?\(|\)[ \u00a0\-\u2010-\u2013]?|[ \u00a0\-\u2010-\u2013])\d+)*/g;
const GROUP = /\d+/g;

/** `text` with ID, phone and card numbers and e-mail addresses replaced by markers; text without any comes back as it was. */
export function redactCallerWords(text: string): string {
  let out = text;
  if (out.includes("@")) out = out.replace(EMAIL, REDACTION_MARKERS.email);
  if (!hasEnoughDigits(out)) return out;
  return out.replace(DIGIT_RUN, redactRun);
}

/** Cheap pre-check: MIN_DIGITS digits in the whole text at least (most transcripts have none). */
function hasEnoughDigits(text: string): boolean {
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 48 && code <= 57 && ++digits >= MIN_DIGITS) return true;
  }
  return false;
}

interface Group {
  digits: string;
  start: number;
  end: number;
}

/**
 * One run of digit groups. From each group, the longest join of it and the groups after it that is
 * an ID, a phone or a card is replaced; a group that starts none is kept. So "ת"ז 123456782 050-1234567"
 * gives an ID and a phone, and a keypad entry's single digits join into its card number.
 */
function redactRun(run: string): string {
  const groups: Group[] = [];
  for (const match of run.matchAll(GROUP)) groups.push({ digits: match[0], start: match.index, end: match.index + match[0].length });
  const total = groups.reduce((sum, group) => sum + group.digits.length, 0);
  if (total < MIN_DIGITS) return run;
  const plus = run.startsWith("+");
  let out = "";
  let copiedTo = 0;
  for (let i = 0; i < groups.length; ) {
    const found = longestNumberFrom(groups, i, plus && i === 0);
    if (!found) {
      i++;
      continue;
    }
    const from = i === 0 && plus ? 0 : groups[i]!.start;
    out += run.slice(copiedTo, from) + REDACTION_MARKERS[found.kind];
    copiedTo = groups[found.last]!.end;
    i = found.last + 1;
  }
  return copiedTo === 0 ? run : out + run.slice(copiedTo);
}

function longestNumberFrom(groups: Group[], first: number, plus: boolean): { kind: Kind; last: number } | undefined {
  const joins: string[] = [];
  let digits = "";
  for (let j = first; j < groups.length; j++) {
    digits += groups[j]!.digits;
    if (digits.length > MAX_DIGITS) break;
    joins.push(digits);
  }
  for (let j = joins.length - 1; j >= 0; j--) {
    const kind = kindOf(joins[j]!, plus);
    if (kind) return { kind, last: first + j };
  }
  return undefined;
}

function kindOf(digits: string, plus: boolean): Kind | undefined {
  if (digits.length < MIN_DIGITS) return undefined;
  if (isPhone(digits, plus)) return "phone";
  if (digits.length >= 13 && luhnValid(digits)) return "card";
  if (digits.length <= 9 && luhnValid(digits)) return "id";
  return undefined;
}

const ISRAELI_PHONE = /^(?:0|972)(?:[23489]\d{7}|[57]\d{8})$|^1[5-9]00\d{6}$/;
const E164 = /^[1-9]\d{7,14}$/;
const INTERNATIONAL_00 = /^00[1-9]\d{7,14}$/;

/**
 * Israeli numbers: 0 + area 2/3/4/8/9 + 7 digits, 05X/07X + 7 digits, 1-800/1-700/1-599 services;
 * the same with country code 972 (with or without "+") instead of the 0. With "+" (or the "00"
 * international prefix) any E.164 number: a country code and 8 to 15 digits in all.
 */
function isPhone(digits: string, plus: boolean): boolean {
  return ISRAELI_PHONE.test(digits) || (plus ? E164 : INTERNATIONAL_00).test(digits);
}

/**
 * The Luhn check: from the right, every second digit doubled (less 9 when over 9), the sum a
 * multiple of 10. The Israeli ID's check digit is the same sum over its 9 digits, and the zeros an
 * ID written short left out add nothing, so one function serves both.
 */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Log fields that carry words someone on the call said: the caller's (transcripts, partials, keypad
 * entries) or the agent's, which may repeat the caller's (a sentence that reads back a phone number).
 * A new line naming its words with one of these is covered without anyone remembering to.
 */
export const WORD_FIELDS: ReadonlySet<string> = new Set([
  "transcript",
  "text",
  "partial",
  "sentence",
  "sentences",
  "words",
  "caller_text",
  "agent_text",
  "keys",
  "digits",
  "transfer_reason",
  "transferReason",
  "summary",
  "phone",
]);
/** Required strings in the line schemas (protocol/src/turn-line.ts): emptied rather than left out when words are off. */
const REQUIRED_WORD_FIELDS: ReadonlySet<string> = new Set(["transcript"]);
/** One keypad key per line: alone it never looks like a number, but a card typed key by key would be spelled out over the lines. */
const KEY_FIELD = "digit";
const MASKED_KEY = "[digit]";
/** Free text from a client or a business service, which may quote what it was given (an error's stack opens with its message). Redacted in both modes that redact. */
const QUOTING_FIELDS: ReadonlySet<string> = new Set(["error", "stack_trace"]);
/** Deep enough for every line the core writes (TURN's tools list is two levels down). */
const MAX_DEPTH = 4;

const OMIT = Symbol("omit");

interface Policy {
  mode: "off" | "redacted";
  redact(text: string): string;
}

/**
 * What a logger does to a log call's fields and message under a LOG_TRANSCRIPTS mode. `fields`
 * comes back unchanged (the same object) when nothing in it is words; otherwise a copy.
 * `secretsFirst` (the logger's secret redactor) runs on a text before its words are redacted: a
 * number replaced inside a secret or a bearer token would hide it from that redactor, which looks
 * for it whole in the line written.
 */
export function callerWordsFilter(
  mode: LogTranscripts,
  secretsFirst: (text: string) => string = (text) => text,
): { fields(fields: Record<string, unknown>): Record<string, unknown>; message(text: string): string } {
  if (mode === "full") return { fields: (fields) => fields, message: (text) => text };
  const redact = (text: string) => {
    const out = redactCallerWords(secretsFirst(text));
    // The same string when nothing was found, so the fields are not copied for nothing.
    return out === text ? text : out;
  };
  const policy: Policy = { mode, redact };
  return { fields: (fields) => filterObject(fields, policy, 0), message: redact };
}

function filterObject(fields: Record<string, unknown>, policy: Policy, depth: number): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    const next = filterField(key, value, policy, depth);
    if (next === value) continue;
    out ??= { ...fields };
    if (next === OMIT) delete out[key];
    else out[key] = next;
  }
  return out ?? fields;
}

function filterField(key: string, value: unknown, policy: Policy, depth: number): unknown {
  if (WORD_FIELDS.has(key)) {
    if (policy.mode === "off") return REQUIRED_WORD_FIELDS.has(key) ? "" : OMIT;
    return redactValue(value, policy, depth);
  }
  if (key === KEY_FIELD) {
    if (policy.mode === "off") return OMIT;
    return typeof value === "string" || typeof value === "number" ? String(value).replace(/[0-9]/g, MASKED_KEY) : value;
  }
  if (QUOTING_FIELDS.has(key) && typeof value === "string") return policy.redact(value);
  return walk(value, policy, depth);
}

/** Words under a word field: strings (and numbers) redacted, lists item by item. */
function redactValue(value: unknown, policy: Policy, depth: number): unknown {
  if (typeof value === "string") return policy.redact(value);
  if (typeof value === "number") {
    const redacted = policy.redact(String(value));
    return redacted === String(value) ? value : redacted;
  }
  if (Array.isArray(value) && depth < MAX_DEPTH) {
    const items = value.map((item) => redactValue(item, policy, depth + 1));
    return items.some((item, index) => item !== value[index]) ? items : value;
  }
  return walk(value, policy, depth);
}

/** Into plain objects and lists (never class instances such as an Error, whose fields a copy would lose). */
function walk(value: unknown, policy: Policy, depth: number): unknown {
  if (depth >= MAX_DEPTH || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const items = value.map((item) => walk(item, policy, depth + 1));
    return items.some((item, index) => item !== value[index]) ? items : value;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  return filterObject(value as Record<string, unknown>, policy, depth + 1);
}
