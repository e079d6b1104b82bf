// What LOG_TRANSCRIPTS=redacted costs a line: redactCallerWords on transcripts as TURN lines carry
// them, and the logger's whole field filter on a TURN line's fields. Not part of npm test or the
// bench runner. Run by hand: node --import tsx core-node/src/metrics/redact-words.bench.ts
import { callerWordsFilter, redactCallerWords } from "./redact-words.js";

const TRANSCRIPTS = {
  "words only": "שלום, אני רוצה לקבוע תור לניקוי אבנית ביום שלישי בבוקר אם אפשר",
  "short numbers": "אפשר ביום שלישי ב-9:30? אני בן 42 והמחיר היה 350 שקל",
  "ID, phone and card": 'ת"ז 123456782, הטלפון שלי 050-1234567 והכרטיס 4580 1111 2222 3337',
  "keypad card": `[keypad] ${[..."4580111122223337"].join(" ")} #`,
};
const ROUNDS = 5;
const RUNS = 100_000;

function microsecondsPer(run: () => void): number {
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    for (let i = 0; i < RUNS; i++) run();
    best = Math.min(best, ((performance.now() - started) * 1000) / RUNS);
  }
  return Math.round(best * 1000) / 1000;
}

const results: Record<string, number> = {};
let sink = 0;
for (const [name, text] of Object.entries(TRANSCRIPTS)) results[`redactCallerWords: ${name}`] = microsecondsPer(() => (sink += redactCallerWords(text).length));

const filter = callerWordsFilter("redacted");
const turnFields = {
  "logging.googleapis.com/labels": { call_id: "CA0123456789abcdef0123456789abcdef" },
  call_id: "CA0123456789abcdef0123456789abcdef",
  turn: 3,
  input: "speech",
  STT_FIRST_PARTIAL_MS: 210,
  STT_FINAL_MS: 380,
  LLM_FIRST_TOKEN_MS: 420,
  TTS_READY_MS: 2,
  TOTAL_LATENCY_MS: 1100,
  EOU_MS: 160,
  speech_start_audio_ms: 12000,
  speech_end_audio_ms: 14500,
  transcript: TRANSCRIPTS["ID, phone and card"],
  transcript_chars: TRANSCRIPTS["ID, phone and card"].length,
  stt_used_partial: false,
  stt_fallback: false,
  retries: 0,
  fallbacks: 0,
  interrupted: false,
  answer_sentences: 2,
  tts_failures: 0,
  speculation: "used",
  TOOL_MS: 300,
  tools: [{ name: "find_slots", ok: true, ms: 300 }],
  tool_filler: false,
};
results["TURN line fields, with an ID, phone and card"] = microsecondsPer(() => (sink += Object.keys(filter.fields(turnFields)).length));
results["TURN line fields, words only"] = microsecondsPer(() => (sink += Object.keys(filter.fields({ ...turnFields, transcript: TRANSCRIPTS["words only"] })).length));

console.log(JSON.stringify({ bench: "redact-words", unit: "µs per call (best of 5 rounds)", results, sink: sink > 0 }));
