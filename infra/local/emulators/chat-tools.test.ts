// The chat emulator with tools, through the real openai SDK: the booking conversation of the tool
// contract (find_slots -> offer -> "כן" -> book -> confirmation), failures, OpenAI's wire shape of a
// streamed tool call, and OpenAI's rules for tool messages.
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import bookingScript from "../scripts/booking.he.json" with { type: "json" };
import { answerFor } from "./chat-answers.js";
import { CALL_ID_HEADER } from "./faults.js";
import { startOpenAiEmulator, type OpenAiEmulator } from "./openai.js";

type Message = OpenAI.ChatCompletionMessageParam;

const TOOLS: OpenAI.ChatCompletionTool[] = [
  {
    type: "function",
    function: {
      name: "find_slots",
      description: "Free appointment slots on a day",
      parameters: { type: "object", properties: { date: { type: "string", description: "YYYY-MM-DD; omit for the next working day" } }, required: [] },
    },
  },
  {
    type: "function",
    function: {
      name: "book",
      description: "Book a slot",
      parameters: { type: "object", properties: { slot: { type: "string" }, name: { type: "string" }, reason: { type: "string" } }, required: ["slot", "name"] },
    },
  },
];
const SYSTEM: Message = { role: "system", content: "את נציגת שירות של מרפאה. השתמשי בכלים כדי למצוא ולקבוע תורים." };

/** The content the core sends for a tool that answered, and for one that failed (see chat-tools.ts). */
const toolResult = (result: unknown) => JSON.stringify({ result });
const toolError = (line: string) => JSON.stringify({ error: line });

/** Any time of day or ISO date: what an answer after a failure must not contain. */
const TIME_OR_DATE = /\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}/;

describe("the chat emulator with tools, through the real openai SDK", () => {
  let emulator: OpenAiEmulator;
  let client: OpenAI;

  beforeAll(async () => {
    emulator = await startOpenAiEmulator({ firstTokenMs: 5, tokenIntervalMs: 1, log: () => undefined });
    client = new OpenAI({ baseURL: emulator.baseURL, apiKey: "test", maxRetries: 0 });
  });
  afterEach(() => emulator.clearFaults());
  afterAll(() => emulator.close());

  /** One streamed turn, as the core asks for it: the text, the tool calls as the SDK assembles them, and the raw chunks. */
  async function turn(messages: Message[], callId: string, tools: OpenAI.ChatCompletionTool[] | null = TOOLS) {
    const stream = client.chat.completions.stream({ model: "gpt-4o-mini", messages, stream: true, ...(tools && { tools }) }, { headers: { [CALL_ID_HEADER]: callId } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    stream.on("chunk", (chunk) => chunks.push(chunk));
    const completion = await stream.finalChatCompletion();
    const choice = completion.choices[0]!;
    return { text: choice.message.content ?? "", toolCalls: choice.message.tool_calls ?? [], finishReason: choice.finish_reason, chunks };
  }

  /** The assistant message asking for `call`, and the tool message answering it with `content`. */
  function exchange(call: OpenAI.ChatCompletionMessageToolCall, content: string): Message[] {
    return [
      { role: "assistant", content: null, tool_calls: [call] },
      { role: "tool", tool_call_id: call.id, content },
    ];
  }

  const functionCall = (call: OpenAI.ChatCompletionMessageToolCall | undefined) => {
    if (call?.type !== "function") throw new Error(`not a function tool call: ${JSON.stringify(call)}`);
    return { id: call.id, name: call.function.name, arguments: JSON.parse(call.function.arguments) as unknown };
  };

  it("books a slot: find_slots, the first slot offered from its result, 'כן' books that slot, the confirmation quotes the booking", async () => {
    const callId = "CA-booking";
    const messages: Message[] = [SYSTEM, { role: "user", content: "שלום, יש לכם תור פנוי?" }];

    const asked = await turn(messages, callId);
    expect(asked.finishReason).toBe("tool_calls");
    expect(asked.text).toBe("");
    expect(asked.toolCalls).toHaveLength(1);
    const find = functionCall(asked.toolCalls[0]);
    expect(find).toMatchObject({ id: expect.stringMatching(/^call_[A-Za-z0-9]{24}$/), name: "find_slots", arguments: {} });

    // A date and times no rule could guess: the answer can only have them from the tool message.
    messages.push(...exchange(asked.toolCalls[0]!, toolResult({ date: "2031-03-04", slots: ["2031-03-04T14:30", "2031-03-04T15:00", "2031-03-04T16:30"] })));
    const offer = await turn(messages, callId);
    expect(offer).toMatchObject({ finishReason: "stop", toolCalls: [] });
    expect(offer.text).toBe("יש תור פנוי ב-2031-03-04 בשעה 14:30. לקבוע אותו?");

    messages.push({ role: "assistant", content: offer.text }, { role: "user", content: "כן, בבקשה" });
    const booking = await turn(messages, callId);
    expect(booking.finishReason).toBe("tool_calls");
    const book = functionCall(booking.toolCalls[0]);
    expect(book).toMatchObject({ name: "book", arguments: { slot: "2031-03-04T14:30", name: "מטופל" } });
    expect(book.id).not.toBe(find.id);

    const appointment = { id: "apt-1", slot: "2031-03-04T14:30", name: "מטופל", phone: "+972501234567", reason: null };
    messages.push(...exchange(booking.toolCalls[0]!, toolResult({ appointment })));
    const confirmation = await turn(messages, callId);
    expect(confirmation).toMatchObject({ finishReason: "stop", text: "קבעתי לך תור ל-2031-03-04 בשעה 14:30." });

    // The emulator's record of the call: what was offered and what it called, in order.
    expect(emulator.stats.tools.get(callId)).toEqual({
      offered: ["find_slots", "book"],
      calls: [
        { id: find.id, name: "find_slots", arguments: "{}" },
        { id: book.id, name: "book", arguments: JSON.stringify({ slot: "2031-03-04T14:30", name: "מטופל" }) },
      ],
    });
    expect(emulator.stats.completions.filter((c) => c.callId === callId).map((c) => c.toolCall?.name ?? c.answer)).toEqual([
      "find_slots",
      offer.text,
      "book",
      confirmation.text,
    ]);
  });

  it("turns the caller lines of infra/local/scripts/booking.he.json into find_slots, then book, then a goodbye", async () => {
    const callId = "CA-booking-script";
    const messages: Message[] = [SYSTEM];
    /** The tools' side, as the core and the booking service would answer: slots of one day, and the booking of the slot asked for. */
    const run = (call: ReturnType<typeof functionCall>) =>
      call.name === "find_slots"
        ? { date: "2031-05-11", slots: ["2031-05-11T10:30", "2031-05-11T11:00"] }
        : { appointment: { id: "apt-7", ...(call.arguments as object), phone: "+972501234567", reason: null } };
    const said: string[] = [];
    for (const line of bookingScript.lines) {
      messages.push({ role: "user", content: line });
      let answer = await turn(messages, callId);
      while (answer.toolCalls.length > 0) {
        const call = answer.toolCalls[0]!;
        messages.push(...exchange(call, toolResult(run(functionCall(call)))));
        answer = await turn(messages, callId);
      }
      said.push(answer.text);
      messages.push({ role: "assistant", content: answer.text });
    }
    expect(emulator.stats.tools.get(callId)!.calls.map((call) => [call.name, JSON.parse(call.arguments)])).toEqual([
      ["find_slots", {}],
      ["book", { slot: "2031-05-11T10:30", name: "מטופל" }],
    ]);
    expect(said).toEqual(["יש תור פנוי ב-2031-05-11 בשעה 10:30. לקבוע אותו?", "קבעתי לך תור ל-2031-05-11 בשעה 10:30.", answerFor("להתראות")]);
  });

  it("books under the name the caller gave earlier", async () => {
    const callId = "CA-named";
    const messages: Message[] = [SYSTEM, { role: "user", content: "שלום, קוראים לי דנה כהן." }, { role: "assistant", content: "שלום דנה, במה אפשר לעזור?" }];
    messages.push({ role: "user", content: "אני רוצה לקבוע תור" });
    const asked = await turn(messages, callId);
    messages.push(...exchange(asked.toolCalls[0]!, toolResult({ date: "2031-03-05", slots: ["2031-03-05T09:00"] })));
    const offer = await turn(messages, callId);
    messages.push({ role: "assistant", content: offer.text }, { role: "user", content: "כן, תקבעי" });
    const booking = await turn(messages, callId);
    expect(functionCall(booking.toolCalls[0]).arguments).toEqual({ slot: "2031-03-05T09:00", name: "דנה כהן" });
  });

  it("apologises for a failed tool without naming a slot, and books nothing after a failed search", async () => {
    const callId = "CA-failures";
    const messages: Message[] = [SYSTEM, { role: "user", content: "יש תור פנוי מחר?" }];
    const asked = await turn(messages, callId);
    messages.push(...exchange(asked.toolCalls[0]!, toolError("booking service unavailable (503)")));
    const apology = await turn(messages, callId);
    expect(apology).toMatchObject({ finishReason: "stop", toolCalls: [] });
    expect(apology.text).toMatch(/^סליחה/);
    expect(apology.text).toMatch(/לא נקבע שום תור/);
    expect(apology.text).not.toMatch(TIME_OR_DATE);

    // "Yes" after an apology offers nothing to book: no book call, and still no slot.
    messages.push({ role: "assistant", content: apology.text }, { role: "user", content: "כן, בבקשה" });
    const after = await turn(messages, callId);
    expect(after.toolCalls).toEqual([]);
    expect(after.text).not.toMatch(TIME_OR_DATE);

    // A booking the service refused (409: the slot was taken).
    const refused: Message[] = [SYSTEM, { role: "user", content: "תקבעי לי תור" }];
    const search = await turn(refused, callId);
    refused.push(...exchange(search.toolCalls[0]!, toolResult({ date: "2031-03-06", slots: ["2031-03-06T11:30"] })));
    const offer = await turn(refused, callId);
    refused.push({ role: "assistant", content: offer.text }, { role: "user", content: "כן" });
    const booking = await turn(refused, callId);
    refused.push(...exchange(booking.toolCalls[0]!, toolError("slot 2031-03-06T11:30 is taken")));
    const sorry = await turn(refused, callId);
    expect(sorry.text).toMatch(/^סליחה, לא הצלחתי לקבוע את התור/);
    expect(sorry.text).toMatch(/לא נקבע שום תור/);
    expect(sorry.text).not.toMatch(TIME_OR_DATE);
    expect(emulator.stats.tools.get(callId)!.calls.map((call) => call.name)).toEqual(["find_slots", "find_slots", "book"]);
  });

  it("reads tool content in neither agreed form as a failure, and an empty search as no slot", async () => {
    const callId = "CA-odd-content";
    const ask: Message[] = [SYSTEM, { role: "user", content: "יש תור פנוי?" }];
    const asked = await turn(ask, callId);
    for (const content of ["2031-03-04T14:30", JSON.stringify({ date: "2031-03-04", slots: ["2031-03-04T14:30"] }), JSON.stringify({ result: { slots: ["soon"] } })]) {
      const answer = await turn([...ask, ...exchange(asked.toolCalls[0]!, content)], callId);
      expect(answer.text, content).toMatch(/^סליחה/);
      expect(answer.text, content).not.toMatch(TIME_OR_DATE);
    }
    const none = await turn([...ask, ...exchange(asked.toolCalls[0]!, toolResult({ date: "2031-03-07", slots: [] }))], callId);
    expect(none.text).toBe("אין תורים פנויים ב-2031-03-07. לבדוק יום אחר?");
  });

  it("does not book on a 'no', and leaves other questions to the rule table", async () => {
    const callId = "CA-no";
    const messages: Message[] = [SYSTEM, { role: "user", content: "יש תור פנוי?" }];
    const asked = await turn(messages, callId);
    messages.push(...exchange(asked.toolCalls[0]!, toolResult({ date: "2031-03-04", slots: ["2031-03-04T14:30"] })));
    const offer = await turn(messages, callId);
    messages.push({ role: "assistant", content: offer.text }, { role: "user", content: "לא, תודה" });
    expect((await turn(messages, callId)).toolCalls).toEqual([]);

    expect((await turn([SYSTEM, { role: "user", content: "מה שעות הפתיחה?" }], callId)).text).toBe(answerFor("מה שעות הפתיחה?"));
    expect((await turn([SYSTEM, { role: "user", content: "תודה רבה, להתראות" }], callId)).text).toBe(answerFor("תודה רבה, להתראות"));
  });

  it("without tools keeps the rule table's answers; with tools it never invents a slot", async () => {
    const question = "אפשר לקבוע תור למחר בבוקר?";
    const plain = await turn([{ role: "user", content: question }], "CA-plain", null);
    expect(plain).toMatchObject({ text: answerFor(question), toolCalls: [], finishReason: "stop" });
    expect(emulator.stats.completions.at(-1)!.toolsOffered).toEqual([]);
    expect(emulator.stats.tools.has("CA-plain")).toBe(false);

    const withTools = await turn([{ role: "user", content: question }], "CA-plain-tools");
    expect(withTools.text).toBe("");
    expect(withTools.toolCalls.map((call) => functionCall(call).name)).toEqual(["find_slots"]);
  });

  it("streams a tool call in OpenAI's wire shape: id, type and name first, the arguments over two chunks or more, finish_reason tool_calls", async () => {
    const { chunks } = await turn([{ role: "user", content: "יש תור פנוי?" }, ...exchange(
      { id: "call_earlier", type: "function", function: { name: "find_slots", arguments: "{}" } },
      toolResult({ date: "2031-03-04", slots: ["2031-03-04T14:30"] }),
    ), { role: "assistant", content: "יש תור פנוי ב-2031-03-04 בשעה 14:30. לקבוע אותו?" }, { role: "user", content: "כן" }], "CA-wire");

    const [head, ...rest] = chunks;
    expect(head!.choices[0]).toMatchObject({
      index: 0,
      finish_reason: null,
      delta: { role: "assistant", content: null, tool_calls: [{ index: 0, id: expect.stringMatching(/^call_/), type: "function", function: { name: "book", arguments: "" } }] },
    });
    const argumentChunks = rest.filter((chunk) => chunk.choices[0]?.delta.tool_calls);
    expect(argumentChunks.length).toBeGreaterThanOrEqual(2);
    for (const chunk of argumentChunks) {
      expect(chunk.choices[0]!.delta.tool_calls).toEqual([{ index: 0, function: { arguments: expect.any(String) } }]);
    }
    const args = argumentChunks.map((chunk) => chunk.choices[0]!.delta.tool_calls![0]!.function!.arguments).join("");
    expect(JSON.parse(args)).toEqual({ slot: "2031-03-04T14:30", name: "מטופל" });
    expect(rest.at(-1)!.choices[0]).toMatchObject({ delta: {}, finish_reason: "tool_calls" });
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);

    // Even "{}" comes in two pieces.
    const { chunks: empty } = await turn([{ role: "user", content: "יש תור פנוי?" }], "CA-wire");
    expect(empty.filter((chunk) => chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments).map((chunk) => chunk.choices[0]!.delta.tool_calls![0]!.function!.arguments)).toEqual(["{", "}"]);
  });

  it("answers a non-streamed request with the tool call in the message", async () => {
    const completion = await client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "יש תור פנוי?" }], tools: TOOLS });
    expect(completion.choices[0]).toMatchObject({
      finish_reason: "tool_calls",
      message: { role: "assistant", content: null, tool_calls: [{ id: expect.stringMatching(/^call_/), type: "function", function: { name: "find_slots", arguments: "{}" } }] },
    });
  });

  it("counts a tool call as sent only once its stream ended: a stream cut mid-arguments records none", async () => {
    emulator.injectChatFault({ kind: "cut", afterTokens: 1 }, { callId: "CA-cut" });
    await expect(turn([{ role: "user", content: "יש תור פנוי?" }], "CA-cut")).rejects.toThrow();
    expect(emulator.stats.completions.at(-1)).toMatchObject({ callId: "CA-cut", fault: "cut", toolCall: { name: "find_slots" } });
    expect(emulator.stats.tools.get("CA-cut")).toEqual({ offered: ["find_slots", "book"], calls: [] });
  });

  it("refuses what OpenAI refuses: a tool message answering no call, a call left unanswered, an empty tools list", async () => {
    const call: OpenAI.ChatCompletionMessageToolCall = { id: "call_1", type: "function", function: { name: "find_slots", arguments: "{}" } };
    const refused = (messages: Message[], tools?: OpenAI.ChatCompletionTool[]) =>
      client.chat.completions.create({ model: "gpt-4o-mini", messages, ...(tools && { tools }) }).then(
        () => undefined,
        (error: unknown) => error,
      );

    expect(await refused([{ role: "user", content: "תור" }, { role: "tool", tool_call_id: "call_1", content: toolResult({}) }])).toMatchObject({
      status: 400,
      message: expect.stringMatching(/messages with role 'tool' must be a response to a preceeding message with 'tool_calls'/),
    });
    expect(await refused([{ role: "user", content: "תור" }, { role: "assistant", content: null, tool_calls: [call] }, { role: "user", content: "?" }])).toMatchObject({
      status: 400,
      message: expect.stringMatching(/must be followed by tool messages responding to each 'tool_call_id'.*call_1/),
    });
    expect(await refused([{ role: "user", content: "תור" }], [])).toMatchObject({ status: 400, message: expect.stringMatching(/Invalid 'tools'/) });
  });

  describe("the core's built-in tools", () => {
    const builtIn = (name: string): OpenAI.ChatCompletionTool => ({ type: "function", function: { name, parameters: { type: "object", properties: {} } } });
    const CONTROL = ["end_call", "transfer_to_staff", "take_message"].map(builtIn);

    it("a goodbye: a short farewell and end_call in the same answer, streamed words first; without end_call offered, the rule table", async () => {
      const answer = await turn([SYSTEM, { role: "user", content: "זהו, תודה רבה" }], "CA-bye", CONTROL);
      expect(answer.finishReason).toBe("tool_calls");
      expect(answer.text).toBe("תודה שהתקשרת, יום נעים ולהתראות!");
      expect(answer.toolCalls.map(functionCall)).toEqual([{ id: expect.stringMatching(/^call_/), name: "end_call", arguments: {} }]);
      const [head] = answer.chunks;
      expect(head!.choices[0]!.delta).toMatchObject({ role: "assistant", content: "" });
      expect((await turn([SYSTEM, { role: "user", content: "ביי" }], "CA-bye", CONTROL)).toolCalls).toHaveLength(1);
      expect(await turn([SYSTEM, { role: "user", content: "להתראות" }], "CA-bye", TOOLS)).toMatchObject({ text: answerFor("להתראות"), toolCalls: [] });
    });

    it("a caller asking for a person: transfer_to_staff with the caller's own words as the reason; not when only a message is asked for", async () => {
      const answer = await turn([SYSTEM, { role: "user", content: "אני רוצה לדבר עם נציג בבקשה" }], "CA-person", CONTROL);
      expect(answer.toolCalls.map(functionCall)).toEqual([{ id: expect.any(String), name: "transfer_to_staff", arguments: { reason: "אני רוצה לדבר עם נציג בבקשה" } }]);
      expect((await turn([SYSTEM, { role: "user", content: "אפשר להעביר הודעה לרופא?" }], "CA-person", CONTROL)).toolCalls).toEqual([]);
      expect((await turn([SYSTEM, { role: "user", content: "אני רוצה לדבר עם נציג" }], "CA-person", [builtIn("end_call")])).toolCalls).toEqual([]);
    });

    it("back from a transfer nobody took: the offer of a message, then take_message quoting the caller; no offer without take_message", async () => {
      const transfer: OpenAI.ChatCompletionMessageToolCall = { id: "call_tr", type: "function", function: { name: "transfer_to_staff", arguments: '{"reason":"נציג"}' } };
      const returned: Message[] = [SYSTEM, { role: "user", content: "שמי דנה, אני רוצה לדבר עם נציג" }, ...exchange(transfer, toolResult({ transferred: false, outcome: "no-answer" }))];
      const offer = await turn(returned, "CA-message", CONTROL);
      expect(offer.text).toBe("מצטערת, אף אחד מהצוות לא ענה כרגע. אפשר להשאיר לי הודעה ואמסור אותה לצוות. מה למסור?");
      expect((await turn(returned, "CA-message", CONTROL.slice(0, 2))).text).not.toMatch(/הודעה/);

      const message = "כן, תגידו לרופא שאני מאחרת בעשר דקות";
      const given = [...returned, { role: "assistant" as const, content: offer.text }, { role: "user" as const, content: message }];
      const taking = await turn(given, "CA-message", CONTROL);
      const [call] = taking.toolCalls;
      expect(functionCall(call)).toMatchObject({ name: "take_message", arguments: { reason: message, name: "דנה" } });
      const taken = await turn([...given, ...exchange(call!, toolResult({ taken: true }))], "CA-message", CONTROL);
      expect(taken.text).toBe("רשמתי את ההודעה, והיא תועבר לצוות המרפאה. אפשר לעזור במשהו נוסף?");
      // A bare "yes" is not a message: nothing is taken from it.
      expect((await turn([...returned, { role: "assistant", content: offer.text }, { role: "user", content: "כן" }], "CA-message", CONTROL)).toolCalls).toEqual([]);
    });
  });
});
