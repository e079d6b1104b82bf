// The chat emulator's "model" when tools are in play (/tmp/spec/tools-contract.md, "The chat emulator
// with tools"). Pure: the request's messages and offered tool names in, a reply (text, or one tool
// call) out, or undefined to leave the turn to the rule table in chat-answers.ts.
//
//   caller asks for a slot ("תור", "לקבוע", "פנוי")       -> call find_slots {}
//   a find_slots result                                   -> offer its FIRST slot, quoted from the result
//   caller confirms ("כן", "בבקשה", "תקבעי") that offer   -> call book { slot: that slot, name: said earlier, else "מטופל" }
//   a book result                                         -> confirm the slot the result returned
//   a failed tool                                         -> an apology that names no slot and says nothing was booked
//
// and the core's built-in tools, each only when the request offers it:
//   caller says goodbye ("להתראות", "ביי", "זהו תודה")    -> a short farewell AND end_call {} in the same answer
//   caller asks for a person ("נציג", "בן אדם", ...)      -> transfer_to_staff { reason: the caller's first words }
//   a transfer result with transferred: false             -> nobody answered; a message offered when take_message is
//   caller gives a message after that ("כן, ...", "תגידו ל...") -> take_message { reason: the caller's words, name if given }
//   a take_message result                                 -> the message is taken (or, failed, that it is not)
//
// It never invents a fact a tool should supply: every date and time it says is read from the latest
// tool message's content, which the core sends as exactly `JSON.stringify({ result })` when the
// tool's endpoint answered 200 `{ "result": ... }`, and `JSON.stringify({ error: "<one line>" })`
// when the tool failed (its 4xx/5xx `error`, a timeout, a network error). Content in neither form is
// read as a failure.
import { languageOf, type Language } from "./chat-answers.js";
import { textOf, type ChatMessage } from "./chat-wire.js";

/** A reply the tool rules chose: words to say, or a tool to call with these arguments (after `text`, when given). */
export type ToolReply = { kind: "text"; text: string } | { kind: "toolCall"; name: string; arguments: Record<string, unknown>; text?: string };

/** A tool message's content as the core sends it. */
export type ToolOutcome = { ok: true; result: unknown } | { ok: false; error: string };

/** The reference booking service's slot: "YYYY-MM-DDTHH:MM". */
const SLOT = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

const ASKS_FOR_SLOT = ["תור", "לקבוע", "פנוי", "appointment", "book", "slot"];
const CONFIRMS = new Set(["כן", "בבקשה", "תקבעי", "תקבע", "קבעי", "מתאים", "yes", "yeah", "please", "sure"]);
const DECLINES = new Set(["לא", "no", "not"]);
const DEFAULT_NAME: Record<Language, string> = { he: "מטופל", en: "Patient" };
/** A caller's goodbye: one of these words, or "זהו" with "תודה" ("that's it, thanks"). */
const GOODBYE_WORDS = new Set(["להתראות", "ביי", "bye", "goodbye"]);
/** A caller asking for a person; "להעביר הודעה" (pass on a message) is not one. */
const ASKS_FOR_PERSON = ["נציג", "לדבר עם מישהו", "בן אדם", "להעביר", "representative", "a person", "a human"];
/** A caller giving a message: a yes with words after it, or "tell ... that" / "pass on". */
const GIVES_MESSAGE = ["תגידו ל", "תגידי ל", "תמסרו", "תמסרי", "tell "];
/** Words of the caller's request a transfer's reason quotes. */
const REASON_WORDS = 12;

const SAY = {
  offer: { he: (date: string, time: string) => `יש תור פנוי ב-${date} בשעה ${time}. לקבוע אותו?`, en: (date: string, time: string) => `There is a free slot on ${date} at ${time}. Shall I book it?` },
  noneFree: {
    he: (date: string | undefined) => (date ? `אין תורים פנויים ב-${date}. לבדוק יום אחר?` : "אין תורים פנויים ביום הזה. לבדוק יום אחר?"),
    en: (date: string | undefined) => (date ? `There are no free slots on ${date}. Shall I check another day?` : "There are no free slots that day. Shall I check another day?"),
  },
  booked: { he: (date: string, time: string) => `קבעתי לך תור ל-${date} בשעה ${time}.`, en: (date: string, time: string) => `I booked your appointment for ${date} at ${time}.` },
  slotsFailed: {
    he: "סליחה, לא הצלחתי לבדוק אילו תורים פנויים כרגע, ולא נקבע שום תור. אפשר לנסות שוב בעוד רגע?",
    en: "Sorry, I could not check for free slots just now, and nothing was booked. Could we try again in a moment?",
  },
  bookFailed: {
    he: "סליחה, לא הצלחתי לקבוע את התור, ולא נקבע שום תור. לבדוק שוב אילו תורים פנויים?",
    en: "Sorry, I could not book that slot, so nothing was booked. Shall I check the free slots again?",
  },
  bookUnclear: { he: "סליחה, לא הצלחתי לוודא שהתור נקבע.", en: "Sorry, I could not confirm that the appointment was booked." },
  // The rule table's own goodbye (chat-answers.ts), so a stack that caches it hears the same words.
  farewell: { he: "תודה שהתקשרת, יום נעים ולהתראות!", en: "Thank you for calling, have a nice day and goodbye!" },
  nobodyAnswered: {
    he: "מצטערת, אף אחד מהצוות לא ענה כרגע. אפשר לנסות שוב מאוחר יותר.",
    en: "Sorry, nobody on the staff answered just now. You could try again later.",
  },
  offerMessage: {
    he: "מצטערת, אף אחד מהצוות לא ענה כרגע. אפשר להשאיר לי הודעה ואמסור אותה לצוות. מה למסור?",
    en: "Sorry, nobody on the staff answered just now. You can leave me a message and I will pass it on. What should I tell them?",
  },
  noTransfer: { he: "מצטערת, אי אפשר להעביר אותך לצוות כרגע.", en: "Sorry, I cannot put you through to the staff right now." },
  messageTaken: { he: "רשמתי את ההודעה, והיא תועבר לצוות המרפאה. אפשר לעזור במשהו נוסף?", en: "I took your message and will pass it on to the staff. Anything else?" },
  messageFailed: { he: "סליחה, לא הצלחתי לרשום את ההודעה.", en: "Sorry, I could not take the message." },
  otherDone: { he: "בוצע. במה עוד אפשר לעזור?", en: "Done. Is there anything else?" },
  otherFailed: { he: "סליחה, הפעולה לא הצליחה.", en: "Sorry, that did not work." },
};

/** Reads a tool message's content: `{"result": ...}`, `{"error": "..."}`, or (anything else) a failure. */
export function readToolContent(content: string): ToolOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    return { ok: false, error: "tool content is not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return { ok: false, error: "tool content is not an object" };
  if (typeof (parsed as { error?: unknown }).error === "string") return { ok: false, error: (parsed as { error: string }).error };
  if ("result" in parsed) return { ok: true, result: (parsed as { result: unknown }).result };
  return { ok: false, error: "tool content has neither result nor error" };
}

/** The reply to `messages` by the tool rules, given the tools the request offers; undefined: not theirs. */
export function toolReply(messages: readonly ChatMessage[], offered: readonly string[]): ToolReply | undefined {
  const last = messages.at(-1);
  if (!last) return undefined;
  const language = conversationLanguage(messages);
  if (last.role === "tool") return { kind: "text", text: answerToolMessage(messages, messages.length - 1, language, offered) };
  if (last.role !== "user" || offered.length === 0) return undefined;
  const text = textOf(last);
  const words = text.toLowerCase().split(/[^\p{L}]+/u).filter(Boolean);
  if (offered.includes("take_message") && messageOffered(messages) && (((words[0] === "כן" || words[0] === "yes") && words.length > 1) || GIVES_MESSAGE.some((cue) => text.includes(cue)))) {
    const name = callerName(messages);
    return { kind: "toolCall", name: "take_message", arguments: { reason: text.trim(), ...(name !== undefined && { name }) } };
  }
  if (offered.includes("end_call") && (words.some((word) => GOODBYE_WORDS.has(word)) || (words.includes("זהו") && words.includes("תודה")))) {
    return { kind: "toolCall", name: "end_call", arguments: {}, text: SAY.farewell[language] };
  }
  const lowerText = text.toLowerCase();
  if (offered.includes("transfer_to_staff") && ASKS_FOR_PERSON.some((cue) => lowerText.includes(cue)) && !text.includes("הודעה")) {
    return { kind: "toolCall", name: "transfer_to_staff", arguments: { reason: text.trim().split(/\s+/).slice(0, REASON_WORDS).join(" ") } };
  }
  const slot = offeredSlot(messages);
  if (slot !== undefined && offered.includes("book") && confirms(text)) {
    return { kind: "toolCall", name: "book", arguments: { slot, name: callerName(messages) ?? DEFAULT_NAME[language] } };
  }
  const lower = text.toLowerCase();
  if (offered.includes("find_slots") && ASKS_FOR_SLOT.some((keyword) => lower.includes(keyword))) return { kind: "toolCall", name: "find_slots", arguments: {} };
  return undefined;
}

/** The tool the message at `index` answers: the name in the assistant tool call with its id. */
function toolNameOf(messages: readonly ChatMessage[], index: number): string | undefined {
  const id = messages[index]?.tool_call_id;
  for (let i = index - 1; i >= 0; i--) {
    const call = messages[i]!.tool_calls?.find((candidate) => candidate.id === id);
    if (call) return call.function.name;
  }
  return undefined;
}

function answerToolMessage(messages: readonly ChatMessage[], index: number, language: Language, offered: readonly string[]): string {
  const outcome = readToolContent(textOf(messages[index]!));
  switch (toolNameOf(messages, index)) {
    case "transfer_to_staff":
      if (!outcome.ok) return SAY.noTransfer[language];
      return offered.includes("take_message") ? SAY.offerMessage[language] : SAY.nobodyAnswered[language];
    case "take_message":
      return outcome.ok ? SAY.messageTaken[language] : SAY.messageFailed[language];
    case "find_slots": {
      if (!outcome.ok) return SAY.slotsFailed[language];
      const slot = firstSlot(outcome.result);
      if (slot) return SAY.offer[language](slot.date, slot.time);
      const { slots, date } = (outcome.result ?? {}) as { slots?: unknown; date?: unknown };
      if (Array.isArray(slots) && slots.length === 0) return SAY.noneFree[language](typeof date === "string" && DATE.test(date) ? date : undefined);
      return SAY.slotsFailed[language];
    }
    case "book": {
      if (!outcome.ok) return SAY.bookFailed[language];
      const slot = splitSlot((outcome.result as { appointment?: { slot?: unknown } } | null)?.appointment?.slot);
      return slot ? SAY.booked[language](slot.date, slot.time) : SAY.bookUnclear[language];
    }
    default:
      return outcome.ok ? SAY.otherDone[language] : SAY.otherFailed[language];
  }
}

function splitSlot(value: unknown): { slot: string; date: string; time: string } | undefined {
  const match = typeof value === "string" ? SLOT.exec(value) : null;
  return match ? { slot: value as string, date: match[1]!, time: match[2]! } : undefined;
}

/** The first slot of a find_slots result ({ date, slots: [...] }), if it is one. */
function firstSlot(result: unknown): { slot: string; date: string; time: string } | undefined {
  const slots = (result as { slots?: unknown } | null)?.slots;
  return Array.isArray(slots) ? splitSlot(slots[0]) : undefined;
}

/**
 * The slot on offer: the first one of the latest tool message when that is find_slots' result, the
 * offer has been said since (an assistant message with text), and no tool was called after it.
 */
function offeredSlot(messages: readonly ChatMessage[]): string | undefined {
  const index = messages.findLastIndex((message) => message.role === "tool");
  if (index < 0 || toolNameOf(messages, index) !== "find_slots") return undefined;
  const since = messages.slice(index + 1).filter((message) => message.role === "assistant");
  if (since.some((message) => message.tool_calls?.length) || !since.some((message) => textOf(message).trim())) return undefined;
  const outcome = readToolContent(textOf(messages[index]!));
  return outcome.ok ? firstSlot(outcome.result)?.slot : undefined;
}

/** The latest tool message is a transfer nobody took, the message offer was said since, and no tool was called after it. */
function messageOffered(messages: readonly ChatMessage[]): boolean {
  const index = messages.findLastIndex((message) => message.role === "tool");
  if (index < 0 || toolNameOf(messages, index) !== "transfer_to_staff") return false;
  const since = messages.slice(index + 1).filter((message) => message.role === "assistant");
  if (since.some((message) => message.tool_calls?.length) || !since.some((message) => textOf(message).trim())) return false;
  const outcome = readToolContent(textOf(messages[index]!));
  return outcome.ok && (outcome.result as { transferred?: unknown } | null)?.transferred === false;
}

function confirms(text: string): boolean {
  const words = text.toLowerCase().split(/[^\p{L}]+/u);
  return words.some((word) => CONFIRMS.has(word)) && !words.some((word) => DECLINES.has(word));
}

/** The name the caller last gave ("שמי דנה", "קוראים לי דנה כהן.", "my name is Dana"): a word, or two that end the sentence. */
function callerName(messages: readonly ChatMessage[]): string | undefined {
  const patterns = [
    /(?:שמי|קוראים לי|השם שלי הוא|השם שלי)\s+([\u05d0-\u05ea׳״'"-]+(?:\s+[\u05d0-\u05ea׳״'"-]+(?=\s*(?:[.,!?]|$)))?)/u,
    /\bmy name is\s+([a-z][a-z'-]*(?:\s+[a-z][a-z'-]*(?=\s*(?:[.,!?]|$)))?)/i,
  ];
  for (const message of messages.toReversed()) {
    if (message.role !== "user") continue;
    for (const pattern of patterns) {
      const name = pattern.exec(textOf(message))?.[1];
      if (name) return name;
    }
  }
  return undefined;
}

/** The language of the caller's latest message with letters; Hebrew by default. */
function conversationLanguage(messages: readonly ChatMessage[]): Language {
  for (const message of messages.toReversed()) {
    if (message.role !== "user") continue;
    const language = languageOf(textOf(message).replace(/^\s*\[keypad\]/i, ""));
    if (language) return language;
  }
  return "he";
}
