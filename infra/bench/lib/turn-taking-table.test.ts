import { describe, expect, it } from "vitest";
import { turnTakingTable } from "./turn-taking-table.js";
import { scoreItem, summarise, type ScoredItem } from "./turn-taking-score.js";

const ITEM: ScoredItem = {
  id: "you-have/800ms/clean",
  condition: "clean",
  text: "you have two new messages",
  speechEndMs: 2600,
  gaps: [
    { kind: "continue", startMs: 900, endMs: 1700, cue: "none" },
    { kind: "end", startMs: 2600, endMs: 5100 },
  ],
};

describe("the turn-taking table", () => {
  it("puts each variant's figures side by side, one row per figure", () => {
    const turn = (speechEndAudioMs: number, transcript: string) => ({ speechStartAudioMs: 400, speechEndAudioMs, eouMs: 160, transcript });
    const cut = summarise([scoreItem(ITEM, { turns: [turn(900, "you have"), turn(2600, "two new messages")], bargeIns: [], agentAudio: [] })]);
    const held = summarise([scoreItem(ITEM, { turns: [turn(2600, ITEM.text)], bargeIns: [], agentAudio: [] })]);
    const rows = turnTakingTable({ "vad-only": cut, "hold+recovery": held }).split("\n");
    expect(rows[0]).toMatch(/^\s+vad-only\s+hold\+recovery$/);
    expect(rows.find((row) => row.startsWith("false cut-offs"))).toMatch(/1\/1 100\.0%\s+0\/1 0\.0%$/);
    expect(rows.find((row) => row.startsWith("  pause 800 ms"))).toBeDefined();
    expect(rows.find((row) => row.startsWith("last transcript"))).toMatch(/0\.0%\s+100\.0%$/);
  });
});
