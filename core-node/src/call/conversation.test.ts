import { describe, expect, it } from "vitest";
import { coreState } from "@voice/protocol";
import { Conversation, endMarkOf } from "./conversation.js";

const stateOf = (frame: string | undefined) => coreState.parse(JSON.parse(frame!)).state;

describe("Conversation", () => {
  it("an answer played to its end: the history has all of it, the floor is free at its end mark", () => {
    const conversation = new Conversation();
    conversation.greeted("שלום", undefined);
    const turn = conversation.takeTurn();
    conversation.callerSaid("מה השעות?");
    const speech = conversation.agentBegins(turn, true);
    expect(conversation.agentHolds).toBe(true);
    conversation.markSent(speech, "1.1:פתוחים", "פתוחים עד שש.");
    conversation.markSent(speech, "1.2:שישי", "בשישי עד אחת.");
    conversation.markSent(speech, endMarkOf(turn), undefined);
    conversation.answerSent(speech, ["פתוחים עד שש.", "בשישי עד אחת."]);
    expect(conversation.playingMark).toBe("1.1:פתוחים");
    expect(conversation.markEchoed("1.2:שישי")).toBeUndefined(); // earlier marks settle with it
    expect(conversation.agentHolds).toBe(true);
    expect(conversation.markEchoed(endMarkOf(turn))).toBe(speech);
    expect(conversation.agentHolds).toBe(false);
    expect(stateOf(conversation.stateFrame())).toEqual({
      turns: 1,
      history: [
        { role: "assistant", content: "שלום" },
        { role: "user", content: "מה השעות?" },
        { role: "assistant", content: "פתוחים עד שש. בשישי עד אחת." },
      ],
    });
    expect(conversation.stateFrame()).toBeUndefined(); // nothing changed since
  });

  it("cut: the history keeps only the sentences whose marks came back; an edge greeting not heard to its end is forgotten", () => {
    const conversation = new Conversation();
    conversation.greeted("שלום, במה אפשר לעזור?", "greeting");
    expect(conversation.agentHolds).toBe(true);
    conversation.cut();
    expect(conversation.messages).toEqual([]);

    const turn = conversation.takeTurn();
    conversation.callerSaid("מתי אתם פתוחים?");
    const speech = conversation.agentBegins(turn, true);
    conversation.markSent(speech, "1.1:a", "פתוחים עד שש.");
    conversation.markSent(speech, "1.2:b", "בשישי עד אחת.");
    conversation.answerSent(speech, ["פתוחים עד שש.", "בשישי עד אחת."]);
    conversation.markEchoed("1.1:a");
    expect(conversation.cut()).toBe(speech);
    expect(conversation.agentHolds).toBe(false);
    expect(conversation.messages.at(-1)).toEqual({ role: "assistant", content: "פתוחים עד שש." });
    // A mark the `clear` returned settles nothing.
    expect(conversation.markEchoed("1.2:b")).toBeUndefined();
  });

  it("a resumed call goes on from the state handed over, with the caller's unanswered message", () => {
    const conversation = new Conversation();
    const resumed = conversation.resumed({ turns: 2, history: [{ role: "assistant", content: "שלום" }, { role: "user", content: "ומחר?" }] });
    expect(resumed).toEqual({ turns: 2, messages: 2, answerPending: true, unfinishedToolCalls: [] });
    expect(conversation.takeTurn()).toBe(3);
  });
});
