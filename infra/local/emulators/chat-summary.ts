// The chat emulator's "model" for a call summary (core-node/src/record/summary.ts): a request asking
// for a JSON answer whose system prompt names the outcome's `callbackRequested` field. The answer is
// made only of what the transcript holds, as the prompt demands of a real model: the intent from
// keywords of the caller's lines, the name only when the caller said "קוראים לי X", "שמי X" or "my
// name is X", a call back when take_message was called or the caller asked to be called back. Pure:
// the request in, the JSON text out (or undefined: not a summary request).
import { languageOf, type Language } from "./chat-answers.js";
import { textOf, type ChatRequest } from "./chat-wire.js";

/** The transcript's line prefixes, as summary.ts writes them. */
const CALLER = "caller:";
const TOOL = "tool:";

interface Transcript {
  callerLines: string[];
  tools: { name: string; arguments: unknown }[];
}

/** First match wins; matched as lower-case substrings of the caller's lines. */
const INTENTS: { keywords: string[]; he: string; en: string }[] = [
  { keywords: ["לבטל", "ביטול", "cancel"], he: "ביטול תור", en: "cancel an appointment" },
  { keywords: ["תור", "לקבוע", "appointment", "book"], he: "קביעת תור", en: "book an appointment" },
  { keywords: ["שעות", "פתוחים", "hours", "open"], he: "שעות הפתיחה", en: "opening hours" },
  { keywords: ["נציג", "מישהו מהצוות", "staff", "a person", "human"], he: "לדבר עם הצוות", en: "speak with the staff" },
  { keywords: ["הודעה", "שיחזרו", "תחזרו", "message", "call me back"], he: "שיחזרו אליו", en: "a call back" },
];
const UNCLEAR = { he: "לא ברור", en: "unclear" };

const ASKS_CALL_BACK = ["שיחזרו אלי", "תחזרו אלי", "לחזור אלי", "call me back", "call back"];
const NAME_PHRASES = ["קוראים לי", "שמי", "my name is"];
const TAKE_MESSAGE = "take_message";

/** Whether these are the messages of the core's summary request (its system prompt names the outcome's fields). */
export function isSummaryRequest(messages: ChatRequest["messages"]): boolean {
  const system = messages.find((message) => message.role === "system");
  return system !== undefined && textOf(system).includes('"callbackRequested"');
}

/** The JSON answer to a summary request, or undefined when `request` is not one. */
export function summaryReply(request: ChatRequest): string | undefined {
  const format = request.response_format as { type?: unknown } | undefined;
  if (format?.type !== "json_object" || !isSummaryRequest(request.messages)) return undefined;
  const user = request.messages.findLast((message) => message.role === "user");
  const transcript = readTranscript(user ? textOf(user) : "");
  const language: Language = languageOf(transcript.callerLines.join(" ")) ?? "he";
  const intent = intentOf(transcript.callerLines, language);
  const name = nameOf(transcript.callerLines);
  const message = transcript.tools.findLast((tool) => tool.name === TAKE_MESSAGE);
  const askedLine = transcript.callerLines.find((line) => ASKS_CALL_BACK.some((phrase) => line.toLowerCase().includes(phrase)));
  const messageReason = (message?.arguments as { reason?: unknown } | undefined)?.reason;
  const callbackRequested = message !== undefined || askedLine !== undefined;
  const callbackReason = typeof messageReason === "string" && messageReason.trim() ? messageReason.trim() : (askedLine ?? null);
  const summary = [
    language === "he" ? `המתקשר פנה בנושא: ${intent}.` : `The caller called about: ${intent}.`,
    name ? (language === "he" ? `שמו ${name}.` : `Their name is ${name}.`) : "",
    callbackRequested ? (language === "he" ? "ביקש שיחזרו אליו." : "They asked to be called back.") : "",
  ]
    .filter(Boolean)
    .join(" ");
  return JSON.stringify({ summary, outcome: { intent, name, callbackRequested, callbackReason } });
}

/** The caller's lines and the tools called, from the transcript's lines; other lines are the agent's. */
export function readTranscript(text: string): Transcript {
  const transcript: Transcript = { callerLines: [], tools: [] };
  for (const line of text.split("\n")) {
    if (line.startsWith(CALLER)) transcript.callerLines.push(line.slice(CALLER.length).trim());
    if (!line.startsWith(TOOL)) continue;
    const rest = line.slice(TOOL.length).trim();
    const space = rest.indexOf(" ");
    if (space < 0) continue;
    transcript.tools.push({ name: rest.slice(0, space), arguments: leadingJson(rest.slice(space + 1)) });
  }
  return transcript;
}

/** The JSON value at the start of `text` ("<json> -> <outcome>"), or null when there is none. */
function leadingJson(text: string): unknown {
  for (let at = text.indexOf(" -> "); at >= 0; at = text.indexOf(" -> ", at + 1)) {
    try {
      return JSON.parse(text.slice(0, at)) as unknown;
    } catch {
      // An arrow inside the arguments' text: try the next one.
    }
  }
  return null;
}

function intentOf(callerLines: string[], language: Language): string {
  const words = callerLines.join(" ").toLowerCase();
  const rule = INTENTS.find((candidate) => candidate.keywords.some((keyword) => words.includes(keyword)));
  return (rule ?? UNCLEAR)[language];
}

/** The name after the caller's "my name is", up to punctuation; null when never said. */
function nameOf(callerLines: string[]): string | null {
  for (const line of callerLines) {
    for (const phrase of NAME_PHRASES) {
      const at = line.toLowerCase().indexOf(phrase);
      if (at < 0) continue;
      const words = line.slice(at + phrase.length).split(/[.,!?;]/)[0]!.trim().split(/\s+/).filter(Boolean);
      // Two words only when nothing follows them ("דנה כהן."); else the first ("דנה ואני רוצה...").
      if (words.length > 0) return words.slice(0, words.length === 2 ? 2 : 1).join(" ");
    }
  }
  return null;
}
