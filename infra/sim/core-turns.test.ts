// The simulator's report takes each line's tools from the core's TURN lines, matched on the caller's
// audio clock: a core turn belongs to the line its speech ended in, once.
import { describe, expect, it } from "vitest";
import { turnFields, healthyStages } from "../go-no-go/fixtures.js";
import type { TurnLine } from "@voice/protocol";
import { withCoreTools } from "./core-turns.js";
import type { CallSummary } from "./report.js";

type Line = CallSummary["turns"][number];

const line = (caller_text: string, start: number | null, end: number | null): Line => ({
  caller_text,
  caller_kind: "speech",
  expect_answer: true,
  agent_text: "",
  caller_latency_ms: null,
  agent_audio_ms: 0,
  speech_start_audio_ms: start,
  speech_end_audio_ms: end,
  first_answer_audio_ms: null,
  interrupted_previous: false,
  clear_audio_ms: null,
});

const coreTurn = (turn: number, start: number, end: number, tools?: TurnLine["tools"]): TurnLine => ({
  message: "TURN",
  ...turnFields("CA1", turn, healthyStages(1, turn)),
  speech_start_audio_ms: start,
  speech_end_audio_ms: end,
  ...(tools && { tools }),
});

const summary = (turns: Line[]): CallSummary => ({ call_sid: "CA1", turns, greeting_ms: 300, clears_audio_ms: [], errors: [] });

describe("withCoreTools", () => {
  it("gives each line the tools of the core turn whose speech ended within it, a VAD's slack after its last frame", () => {
    const lines = [line("a slot?", 3000, 4600), line("[noise]", 7000, 7400), line("yes", 9000, 9500)];
    const core = [coreTurn(1, 3040, 4700, [{ name: "find_slots", ok: true, ms: 120 }]), coreTurn(2, 9020, 9880, [{ name: "book", ok: false, ms: 3000 }])];
    const tools = withCoreTools(summary(lines), { ended: true, turns: core }).turns.map((turn) => turn.tools);
    expect(tools).toEqual([[{ name: "find_slots", ok: true, ms: 120 }], [], [{ name: "book", ok: false, ms: 3000 }]]);
  });

  it("counts a core turn once, and a line the core never took has no tools", () => {
    const lines = [line("first", 1000, 2000), line("second", 2000, 2100), line("unheard", 20_000, 21_000)];
    const core = [coreTurn(1, 1000, 2050, [{ name: "find_slots", ok: true, ms: 80 }])];
    expect(withCoreTools(summary(lines), { ended: true, turns: core }).turns.map((turn) => turn.tools?.length)).toEqual([1, 0, 0]);
  });

  it("joins the tools of two core turns that fell in one line (the core split an utterance)", () => {
    const core = [coreTurn(1, 1000, 1800, [{ name: "find_slots", ok: true, ms: 80 }]), coreTurn(2, 2300, 3000, [{ name: "book", ok: true, ms: 90 }])];
    const [only] = withCoreTools(summary([line("long line", 1000, 3000)]), { ended: true, turns: core }).turns;
    expect(only!.tools!.map((tool) => tool.name)).toEqual(["find_slots", "book"]);
  });
});
