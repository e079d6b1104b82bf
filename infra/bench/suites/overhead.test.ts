import { describe, expect, it } from "vitest";
import { impliedLatency, type ImpliedSettings } from "./overhead.js";

const settings: ImpliedSettings = { hangoverMs: 160, sttFinalMs: 300, llmFirstTokenMs: 400, ttsMs: 400 };

describe("impliedLatency", () => {
  it("waits for the later of the end of utterance and the final, not for both in turn", () => {
    // All three detectors agree: the final (300) comes after the hangover (160).
    expect(impliedLatency(settings, { caller: 2000, core: 2000, stt: 2000 })).toEqual({ fromCaller: 1100, fromCore: 1100 });
  });

  it("counts from each detector's own speech end", () => {
    // The recognizer heard the speech end a frame before the caller's last frame; the core's VAD two frames before.
    expect(impliedLatency(settings, { caller: 2000, core: 1960, stt: 1980 })).toEqual({ fromCaller: 1080, fromCore: 1120 });
  });

  it("is bound by the hangover when the final comes first", () => {
    expect(impliedLatency({ ...settings, sttFinalMs: 100 }, { caller: 2000, core: 2000, stt: 2000 })).toEqual({ fromCaller: 960, fromCore: 960 });
  });
});
