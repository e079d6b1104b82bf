import { describe, expect, it } from "vitest";
import { Conversation, type LineInfo } from "./conversation.js";

const question: LineInfo = { kind: "speech", text: "שלום, מה שעות הפתיחה?", expectAnswer: true };
const backchannel: LineInfo = { kind: "speech", text: "כן", expectAnswer: false };
const frame = new Uint8Array(160);

describe("Conversation", () => {
  it("keeps the rest of an answer the caller spoke over with the line it answers", () => {
    const talk = new Conversation();
    const asked = talk.startTurn(question, 1000);
    talk.callerFinished(2000, 3000);
    expect(talk.audioReceived()).toEqual({ owner: asked, began: true });
    expect(talk.markReceived("1.0:אנחנו פתוחים.")).toEqual({ owner: asked, began: false });

    const nodded = talk.startTurn(backchannel, 3600);
    // The answer's next sentence arrives after the backchannel began: still the question's.
    expect(talk.audioReceived()).toEqual({ owner: asked, began: false });
    expect(talk.markReceived("1.end").owner).toBe(asked);
    expect(talk.answerOpen).toBe(false);
    talk.markEchoed(asked, "1.0:אנחנו פתוחים.", true);
    talk.markEchoed(asked, "1.end", true);
    expect(asked).toMatchObject({ sentences: ["אנחנו פתוחים."], finished: true });

    // A new answer after that one ended is the backchannel's.
    expect(talk.audioReceived()).toEqual({ owner: nodded, began: true });
    expect(talk.answerReference).toBe(asked);
  });

  it("credits a clear to the latest line, cuts the answer arriving, and records where it came", () => {
    const talk = new Conversation();
    const asked = talk.startTurn(question, 1000);
    talk.audioReceived();
    talk.agentPlayed(asked, frame, 10, 3000);
    talk.agentPlayed(asked, frame, 30, 3020);
    const interrupting = talk.startTurn({ ...question, text: "רגע" }, 3400);
    talk.clearReceived(3520, 50);

    expect(asked).toMatchObject({ finished: true, firstPlayAudioMs: 3000, audioBytes: 320, clearAudioMs: null });
    expect(interrupting.clearAudioMs).toBe(3520);
    expect(talk.clears).toEqual([{ audioMs: 3520, at: 50 }]);
    expect(talk.audioReceived()).toEqual({ owner: interrupting, began: true });
  });

  it("finishes the greeting on the edge's mark or the core's end mark", () => {
    for (const mark of ["greeting", "0.end"]) {
      const talk = new Conversation();
      expect(talk.audioReceived()).toEqual({ owner: talk.greeting, began: true });
      talk.markReceived(mark);
      talk.markEchoed(talk.greeting, mark, true);
      expect(talk.greeting.finished).toBe(true);
      expect(talk.answerOpen).toBe(false);
    }
  });
});
