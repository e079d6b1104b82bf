// Callers' words out of the logs, through the whole stack with the default LOG_TRANSCRIPTS
// (redacted): a caller says an Israeli ID and a card number and types another card on the keypad.
// The agent hears every digit (the chat emulator's requests carry them), and no line the core or the
// edge writes carries any of those numbers, with or without separators.
import { isSummaryRequest } from "../local/emulators/chat-summary.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { turnLine } from "@voice/protocol";
import { LOCAL_SECRETS, startStack, type Stack } from "../local/stack.js";
import { runCall } from "../sim/call.js";
import type { CallReport } from "../sim/report.js";

/** Check digits valid (the Israeli ID's and Luhn's), so the redactor has to recognise each. */
const ID = "123456782";
const SPOKEN_CARD = "4580111122223337";
const KEYED_CARD = "5326123456789011";

const ID_LINE = `ת"ז ${ID}`;
const CARD_LINE = `מספר הכרטיס ${SPOKEN_CARD.replace(/(\d{4})(?=\d)/g, "$1 ")}`;

/** The number's digits in order with any spaces or dashes between them: "4580 1111 ...", "[keypad] 5 3 2 6 ...". */
const writtenAnyhow = (digits: string) => new RegExp([...digits].join("[\\s-]*"));

let stack: Stack;
let report: CallReport;
const lines: string[] = [];

beforeAll(async () => {
  const quiet = { log: () => {} };
  stack = await startStack({
    emulators: { speech: quiet, tts: quiet, openai: quiet },
    onCoreLine: (line) => lines.push(line.text),
    onEdgeLine: (line) => lines.push(line.text),
  });
  report = await runCall({
    url: stack.edge.url,
    authToken: LOCAL_SECRETS.TWILIO_AUTH_TOKEN,
    script: { language: "he-IL", voice: "he", lines: [ID_LINE, CARD_LINE, { dtmf: `${KEYED_CARD}#` }] },
    scriptRegistry: stack.emulators.scriptRegistry.url,
    timeoutMs: 20_000,
  });
  // The CALL line is the core's last word on the call.
  await new Promise<void>((resolve) => {
    const written = () => stack.core.lines.some((line) => line.json?.message === "CALL" && line.json.call_id === report.call_sid);
    if (written()) return resolve();
    stack.core.onLine(() => written() && resolve());
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("callers' words in the logs, LOG_TRANSCRIPTS at its default", () => {
  it("the agent heard the ID and both card numbers", () => {
    expect(report.errors).toEqual([]);
    const heard = (stack.emulators.openai.stats.completions.findLast((completion) => completion.callId === report.call_sid && !isSummaryRequest(completion.messages))?.messages ?? [])
      .filter((message) => message.role === "user")
      .map((message) => message.content);
    expect(heard).toEqual([ID_LINE, CARD_LINE, `[keypad] ${[...KEYED_CARD].join(" ")} #`]);
  });

  it("no core or edge line carries any of them, and the TURN lines keep the rest of the words", () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const digits of [ID, SPOKEN_CARD, KEYED_CARD]) expect(lines.filter((line) => writtenAnyhow(digits).test(line)), digits).toEqual([]);

    const turns = stack.core.lines
      .filter((line) => line.json?.message === "TURN" && line.json.call_id === report.call_sid)
      .map((line) => turnLine.parse(line.json));
    expect(turns.map((turn) => [turn.input, turn.transcript, turn.transcript_chars])).toEqual([
      ["speech", 'ת"ז [id]', ID_LINE.length],
      ["speech", "מספר הכרטיס [card]", CARD_LINE.length],
      ["dtmf", "[keypad] [card] #", `[keypad] ${[...KEYED_CARD].join(" ")} #`.length],
    ]);
  });
});
