import { describe, expect, it } from "vitest";
import { turnLine } from "@voice/protocol";
import { LogCapture } from "../../testing/log-capture.js";
import { createLogger } from "./log.js";
import { callerWordsFilter, luhnValid, redactCallerWords, type LogTranscripts } from "./redact-words.js";

/** Valid check digits (computed by hand and by luhnValid below): an ID, the same ID's neighbour with a wrong check digit, a card. */
const ID = "123456782";
const ID_WRONG_CHECK = "123456783";
const CARD = "4580111122223337";
const CARD_WRONG_CHECK = "4580111122223335";

describe("luhnValid", () => {
  it("accepts the Israeli ID and card numbers whose check digit fits, and no neighbour of them", () => {
    for (const valid of [ID, "012345674", "12345674", CARD, "5326123456789011", "4580000000000000"]) expect(luhnValid(valid), valid).toBe(true);
    for (const invalid of [ID_WRONG_CHECK, "012345675", CARD_WRONG_CHECK, "5326123456789012"]) expect(luhnValid(invalid), invalid).toBe(false);
  });
});

describe("redactCallerWords", () => {
  it("replaces an Israeli ID with a valid check digit, written whole, with a separator, or without its leading zero", () => {
    expect(redactCallerWords(`ת"ז ${ID}`)).toBe('ת"ז [id]');
    expect(redactCallerWords("תעודת זהות 12345678-2, תודה")).toBe("תעודת זהות [id], תודה");
    expect(redactCallerWords("מספר זהות 012345674")).toBe("מספר זהות [id]");
    expect(redactCallerWords("מספר זהות 12345674")).toBe("מספר זהות [id]");
  });

  it("leaves nine digits whose check digit does not fit", () => {
    expect(redactCallerWords(`ת"ז ${ID_WRONG_CHECK}`)).toBe(`ת"ז ${ID_WRONG_CHECK}`);
    expect(redactCallerWords("מספר זהות 012345675")).toBe("מספר זהות 012345675");
  });

  it("replaces phone numbers in Israeli and international forms", () => {
    const phones = [
      "050-1234567",
      "0501234567",
      "050 123 4567",
      "03-1234567",
      "(03) 123-4567",
      "077-1234567",
      "+972-50-123-4567",
      "+972 3 123 4567",
      "972501234567",
      "00972501234567",
      "1-800-123-456",
      "+1 (415) 555-2671",
      "+44 20 7946 0958",
      "+33612345678",
    ];
    for (const phone of phones) expect(redactCallerWords(`תתקשרו אליי ל ${phone} אחרי הצהריים`), phone).toMatch(/^תתקשרו אליי ל \(?\[phone\] אחרי הצהריים$/);
  });

  it("replaces a Luhn-valid card number with spaces, dashes or none, and leaves one that is not", () => {
    for (const written of [CARD, "4580 1111 2222 3337", "4580-1111-2222-3337", "5326 1234 5678 9011"])
      expect(redactCallerWords(`מספר הכרטיס ${written} תוקף`), written).toBe("מספר הכרטיס [card] תוקף");
    expect(redactCallerWords(`מספר הכרטיס ${CARD_WRONG_CHECK.replace(/(\d{4})(?=\d)/g, "$1 ")}`)).toBe("מספר הכרטיס 4580 1111 2222 3335");
  });

  it("reads a card typed on the keypad, as the keypad message spells it", () => {
    expect(redactCallerWords(`[keypad] ${[...CARD].join(" ")} #`)).toBe("[keypad] [card] #");
    expect(redactCallerWords(`[keypad] ${[...ID].join(" ")}`)).toBe("[keypad] [id]");
  });

  it("replaces e-mail addresses", () => {
    expect(redactCallerWords("המייל שלי הוא dana.cohen+clinic@example.co.il, תודה")).toBe("המייל שלי הוא [email], תודה");
    expect(redactCallerWords("שלחו ל-Yossi_1980@mail.com")).toBe("שלחו ל-[email]");
  });

  it("replaces each number in a sentence that has several, and keeps the words between them", () => {
    expect(redactCallerWords(`ת"ז ${ID} וטלפון 050-1234567, מייל a@b.io`)).toBe('ת"ז [id] וטלפון [phone], מייל [email]');
  });

  it("leaves Hebrew text and ordinary numbers (times, dates, prices, short keypad entries) as they were", () => {
    const untouched = [
      "שלום, אני רוצה לקבוע תור לניקוי אבנית",
      "אפשר ביום שלישי ב-9:30?",
      "התור ב-12.05.2024, מחיר 350 ש\"ח",
      "[keypad] 1 2 3 #",
      "אני בן 42 וגר ברחוב הרצל 15",
      "מספר הזמנה 12345678",
      "אפס חמש אפס אחת שתיים שלוש",
      "",
    ];
    for (const text of untouched) expect(redactCallerWords(text), text).toBe(text);
  });
});

describe("callerWordsFilter", () => {
  const turn = { call_id: "CA1", turn: 2, transcript: `ת"ז ${ID}`, transcript_chars: 12, tools: [{ name: "book", ok: true, ms: 10 }] };

  it("full: the fields are the very object given", () => {
    expect(callerWordsFilter("full").fields(turn)).toBe(turn);
  });

  it("redacted: every word field redacted, wherever it is; a line without words is the very object given", () => {
    const filter = callerWordsFilter("redacted");
    expect(filter.fields(turn)).toEqual({ ...turn, transcript: 'ת"ז [id]' });
    expect(turn.transcript).toBe(`ת"ז ${ID}`);
    expect(filter.fields({ text: "050-1234567", sentence: `הכרטיס ${CARD}`, nested: { partial: "a@b.io" }, sentences: ["x 03-1234567"] })).toEqual({
      text: "[phone]",
      sentence: "הכרטיס [card]",
      nested: { partial: "[email]" },
      sentences: ["x [phone]"],
    });
    const clean = { turn: 3, reason: "words", audio_ms: 123456782 };
    expect(filter.fields(clean)).toBe(clean);
  });

  it("redacted: a single keypad key is masked, an error quoting a number is redacted, an Error is left whole", () => {
    const filter = callerWordsFilter("redacted");
    expect(filter.fields({ digit: "7" })).toEqual({ digit: "[digit]" });
    expect(filter.fields({ digit: "#" })).toEqual({ digit: "#" });
    expect(filter.fields({ tool: "book", error: "HTTP 400: no patient with phone 050-1234567" })).toEqual({ tool: "book", error: "HTTP 400: no patient with phone [phone]" });
    const error = new Error(`card ${CARD}`);
    expect(filter.fields({ cause: error }).cause).toBe(error);
  });

  it("off: words are gone, the transcript an empty string (the line schemas require it) with its length kept", () => {
    const filter = callerWordsFilter("off");
    expect(filter.fields(turn)).toEqual({ ...turn, transcript: "" });
    expect(filter.fields({ turn: 1, text: "שלום", digit: "7", sentences: ["שלום"], error: `bad ${CARD}` })).toEqual({ turn: 1, error: "bad [card]" });
  });

  it("redacts the message of a line in both modes that redact", () => {
    expect(callerWordsFilter("off").message(`heard ${ID}`)).toBe("heard [id]");
    expect(callerWordsFilter("redacted").message(`heard ${ID}`)).toBe("heard [id]");
    expect(callerWordsFilter("full").message(`heard ${ID}`)).toBe(`heard ${ID}`);
  });
});

describe("the core's logger under LOG_TRANSCRIPTS", () => {
  /** One of each kind of line that carries words, as the call code writes them (fields and message). */
  function logCallLines(transcripts: LogTranscripts | undefined): LogCapture {
    const capture = new LogCapture();
    const log = createLogger({ level: "info", debug: true, destination: capture, ...(transcripts && { transcripts }) }).child({ call_id: "CA1" });
    const spoken = `ת"ז ${ID} והכרטיס ${CARD}`;
    log.info({ call_id: "CA1", turn: 1, input: "speech", EOU_MS: 160, speech_start_audio_ms: 0, speech_end_audio_ms: 900, transcript: spoken, transcript_chars: spoken.length, stt_used_partial: false, stt_fallback: false, retries: 0, fallbacks: 0, interrupted: false, answer_sentences: 1, tts_failures: 0 }, "TURN");
    log.info({ turn: 1, reason: "words", transcript: `הטלפון 050-1234567` }, "BARGE_IN");
    log.debug({ text: `ת"ז ${ID}` }, "partial");
    log.debug({ digit: "4" }, "dtmf");
    log.info({ input: "dtmf", transcript: `[keypad] ${[...CARD].join(" ")} #` }, "caller turn left to the next core");
    log.warn({ turn: 1, sentence: `רשמתי את המספר ${CARD}`, error: "timeout" }, "TTS failed; retrying");
    return capture;
  }

  it("redacted by default: no ID, phone or card in any line, the rest of each line as written", () => {
    const { lines } = logCallLines(undefined);
    const text = JSON.stringify(lines);
    for (const leaked of [ID, CARD, "1234567", "4 5 8 0 1 1"]) expect(text).not.toContain(leaked);
    expect(lines.map((line) => line.transcript ?? line.text ?? line.digit ?? line.sentence)).toEqual([
      'ת"ז [id] והכרטיס [card]',
      "הטלפון [phone]",
      'ת"ז [id]',
      "[digit]",
      "[keypad] [card] #",
      "רשמתי את המספר [card]",
    ]);
    expect(turnLine.parse(lines[0])).toMatchObject({ turn: 1, transcript: 'ת"ז [id] והכרטיס [card]', call_id: "CA1" });
  });

  it("off: the transcript empty, its length kept, every other word field left out", () => {
    const { lines } = logCallLines("off");
    const text = JSON.stringify(lines);
    for (const leaked of [ID, CARD, "1234567", "[id]", "[card]", "[phone]", "[digit]"]) expect(text).not.toContain(leaked);
    const turn = turnLine.parse(lines[0]);
    expect(turn).toMatchObject({ transcript: "", transcript_chars: `ת"ז ${ID} והכרטיס ${CARD}`.length });
    expect(lines.map((line) => line.message)).toEqual(["TURN", "BARGE_IN", "partial", "dtmf", "caller turn left to the next core", "TTS failed; retrying"]);
    expect(lines.slice(2).map((line) => [line.text, line.digit, line.sentence])).toEqual(Array(4).fill([undefined, undefined, undefined]));
    expect(lines[1]!.transcript).toBe("");
  });

  it("finds secrets whole before it redacts numbers inside them", () => {
    const secret = "core-secret-050-1234567-tail";
    const capture = new LogCapture();
    const log = createLogger({ level: "info", debug: false, destination: capture, secrets: [secret] });
    log.error({ error: `refused Bearer CA1.${CARD}.deadbeefcafe with ${secret}` }, "HTTP handler failed");
    log.info({ transcript: `the key is ${secret}` }, "TURN");
    const text = JSON.stringify(capture.lines);
    for (const leaked of ["deadbeefcafe", "core-secret", "tail"]) expect(text).not.toContain(leaked);
    expect(capture.lines.map((line) => line.error ?? line.transcript)).toEqual(["refused Bearer [redacted] with [redacted]", "the key is [redacted]"]);
  });

  it("full: the words as heard", () => {
    const { lines } = logCallLines("full");
    expect(lines[0]!.transcript).toBe(`ת"ז ${ID} והכרטיס ${CARD}`);
    expect(lines[3]!.digit).toBe("4");
    expect(lines[5]!.sentence).toBe(`רשמתי את המספר ${CARD}`);
  });
});
