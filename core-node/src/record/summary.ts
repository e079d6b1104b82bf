// The summary of a call for the business: the one LLM request made after the caller is gone (a
// system prompt in the call's language, the conversation as a transcript), and the reading of the
// model's JSON answer into a summary and a structured outcome. Pure: the shell (sender.ts) sends the
// request and hands the answer back here; a malformed answer is refused with a one-line reason that
// quotes nothing of it (the answer may carry the caller's words; the reason goes to the log).
import { recordOutcome, type CoreRecordPart } from "@voice/protocol";
import { z } from "zod";
import type { ChatMessage } from "../llm/types.js";
import type { RecordPartBody } from "./record-part.js";

export type RecordOutcome = NonNullable<CoreRecordPart["outcome"]>;
export type SummaryReading = { ok: true; summary: string; outcome: RecordOutcome } | { ok: false; reason: string };
/** The request's messages, or why no request is worth making. */
export type SummaryRequest = { ok: true; messages: ChatMessage[] } | { ok: false; reason: string };

/** Transcript lines start with these, whatever the language (the prompt explains them). */
export const TRANSCRIPT_SPEAKERS = { caller: "caller:", agent: "agent:", tool: "tool:" } as const;

/** A transcript past this is cut from the front (the end of a call says how it ended). */
export const MAX_TRANSCRIPT_CHARS = 24_000;
const MAX_SUMMARY_CHARS = 2000;
const MAX_REASON_CHARS = 200;

const ANSWER_SHAPE = '{"summary": "...", "outcome": {"intent": "...", "name": null, "callbackRequested": false, "callbackReason": null}}';

const PROMPTS = {
  he: [
    "אתה מסכם עבור צוות העסק שיחת טלפון בין מתקשר לבין הנציגה האוטומטית של העסק.",
    "השתמש רק במה שכתוב בתמליל. לעולם אל תמציא דבר: לא שם, לא מספר, לא תאריך ולא בקשה שלא נאמרו בו.",
    `כל שורה בתמליל מתחילה ב-"${TRANSCRIPT_SPEAKERS.caller}" (המתקשר), "${TRANSCRIPT_SPEAKERS.agent}" (הנציגה) או "${TRANSCRIPT_SPEAKERS.tool}" (פעולה שהנציגה הפעילה ותוצאתה).`,
    `ענה ב-JSON בלבד, בדיוק במבנה הזה: ${ANSWER_SHAPE}`,
    "summary: סיכום קצר בעברית, משפט עד שלושה משפטים: מה המתקשר רצה ומה נעשה.",
    "intent: מה המתקשר רצה, במילים ספורות.",
    "name: שם המתקשר אם אמר אותו בשיחה, אחרת null.",
    "callbackRequested: true אם המתקשר ביקש שיחזרו אליו או השאיר הודעה, אחרת false.",
    "callbackReason: על מה לחזור אליו, אם ביקש; אחרת null.",
  ],
  en: [
    "You summarize, for the business's staff, a phone call between a caller and the business's automated receptionist.",
    "Use only what is in the transcript. Never invent anything: no name, number, date or request that is not in it.",
    `Each transcript line starts with "${TRANSCRIPT_SPEAKERS.caller}" (the caller), "${TRANSCRIPT_SPEAKERS.agent}" (the receptionist) or "${TRANSCRIPT_SPEAKERS.tool}" (an action the receptionist took, and its result).`,
    `Answer with JSON only, in exactly this shape: ${ANSWER_SHAPE}`,
    "summary: a short summary, one to three sentences: what the caller wanted and what was done.",
    "intent: what the caller wanted, in a few words.",
    "name: the caller's name if they said it in the call, else null.",
    "callbackRequested: true if the caller asked to be called back or left a message, else false.",
    "callbackReason: what to call them back about, if they asked; else null.",
  ],
};

const TRANSCRIPT_HEADING = { he: "תמליל השיחה:", en: "The call's transcript:" };

/** The summary request for a call in `language` (e.g. "he-IL"); a call where the caller said nothing needs none. */
export function summaryRequest(part: RecordPartBody, language: string): SummaryRequest {
  if (!part.conversation.some((utterance) => utterance.speaker === "caller")) return { ok: false, reason: "the caller said nothing" };
  const known = language.toLowerCase().startsWith("he") ? "he" : "en";
  const prompt = [...PROMPTS[known]];
  // English instructions for any language without its own prompt, asking for the call's language.
  if (known === "en" && !language.toLowerCase().startsWith("en")) prompt.push(`Write the summary, intent and callbackReason in the language ${language}.`);
  return {
    ok: true,
    messages: [
      { role: "system", content: prompt.join("\n") },
      { role: "user", content: `${TRANSCRIPT_HEADING[known]}\n${transcript(part)}` },
    ],
  };
}

/** One line per utterance and tool call, in order of the conversation (tool calls after it: the part keeps them apart). */
export function transcript(part: RecordPartBody): string {
  const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();
  const lines = [
    ...part.conversation.map((utterance) => `${TRANSCRIPT_SPEAKERS[utterance.speaker]} ${oneLine(utterance.text)}`),
    ...part.tools.map((tool) => `${TRANSCRIPT_SPEAKERS.tool} ${tool.name} ${JSON.stringify(tool.arguments) ?? "null"} -> ${toolOutcome(tool)}`),
  ];
  const kept: string[] = [];
  let chars = 0;
  for (const line of lines.toReversed()) {
    chars += line.length + 1;
    if (chars > MAX_TRANSCRIPT_CHARS) return ["(…)", ...kept.toReversed()].join("\n");
    kept.push(line);
  }
  return kept.toReversed().join("\n");
}

function toolOutcome(tool: RecordPartBody["tools"][number]): string {
  if (tool.ok) return `ok ${JSON.stringify(tool.result) ?? "null"}`;
  return tool.result === null ? "no result" : `failed ${JSON.stringify(tool.result)}`;
}

const summaryAnswer = z.object({
  summary: z.string().trim().min(1).max(MAX_SUMMARY_CHARS),
  outcome: recordOutcome,
});

/** The model's answer (the message content) read as a summary and an outcome, or refused with a one-line reason. */
export function parseSummary(content: string): SummaryReading {
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch {
    return { ok: false, reason: "the summary answer is not JSON" };
  }
  const parsed = summaryAnswer.safeParse(json);
  if (parsed.success) return { ok: true, summary: parsed.data.summary, outcome: parsed.data.outcome };
  const issue = parsed.error.issues[0]!;
  // zod's messages name types and bounds, never the value given.
  const reason = `the summary answer's ${issue.path.join(".") || "body"}: ${issue.message}`.replace(/\s+/g, " ");
  return { ok: false, reason: reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS - 1)}…` : reason };
}
