// What the caller should hear for a line of the default script: the chat emulator's answer, cut into
// sentences as the core cuts it, and each sentence's audio as the core's TTS cache holds it. With the
// answers' sentences in FIXED_PHRASES (cached at warmup), the audio is fixed, so the frames an answer
// takes are known before the call and frames lost on the way are the difference to what was heard.
import { PHRASE_PATH, signCoreToken, splitFrames } from "@voice/protocol";
import { SentenceSplitter } from "../../../core-node/src/llm/sentences.js";
import { answerFor } from "../../local/emulators/chat-answers.js";
import { concat } from "../../sim/recording.js";

/** The sentences of the chat emulator's answer to `line`, as the core splits them (each one is a mark). */
export function answerSentences(line: string, language: string): string[] {
  const splitter = new SentenceSplitter(language);
  return [...splitter.push(answerFor(line)), ...splitter.flush()];
}

/** FIXED_PHRASES for the core: every sentence the lines are answered with, so warmup caches them all. */
export function answerPhrases(lines: string[], language: string): Record<string, string> {
  const sentences = [...new Set(lines.flatMap((line) => answerSentences(line, language)))];
  return Object.fromEntries(sentences.map((sentence, i) => [`answer_${i}`, sentence]));
}

/** A sentence's audio as the core speaks it (GET /phrase: through its TTS cache, so no synthesis once cached). */
export async function phraseAudio(coreUrl: string, secret: string, text: string): Promise<Uint8Array> {
  const token = await signCoreToken(secret, "phrase", "warmup", Date.now());
  const response = await fetch(`${coreUrl}${PHRASE_PATH}?text=${encodeURIComponent(text)}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`core ${PHRASE_PATH} answered ${response.status} for "${text}"`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The answer to `line` as the caller hears it: each sentence's audio in whole 20 ms frames (the last one padded with silence). */
export async function answerAudio(coreUrl: string, secret: string, line: string, language: string): Promise<Uint8Array> {
  const frames: Uint8Array[] = [];
  for (const sentence of answerSentences(line, language)) frames.push(...splitFrames(await phraseAudio(coreUrl, secret, sentence)));
  return concat(frames);
}
