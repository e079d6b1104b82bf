import { describe, expect, it } from "vitest";
import { createLogger } from "./log.js";
import { LogCapture } from "./log-capture.js";
import { callLine, turnLine } from "./turn.js";

describe("TURN and CALL lines", () => {
  const timeline = {
    speechStartAt: 1000,
    speechEndAt: 2600.4,
    firstResultAt: 1350,
    eouAt: 2765,
    transcriptAt: 3010,
    llmRequestAt: 3011,
    llmFirstTokenAt: 3300,
    ttsRequestAt: 3420,
    ttsReadyAt: 3421,
    firstFrameAt: 3425,
  };
  const facts = {
    callId: "CA1",
    turn: 2,
    transcript: "שלום, מה שעות הפתיחה?",
    usedPartial: true,
    cacheHit: true,
    retries: 0,
    fallbacks: 0,
    interrupted: false,
    sentences: 2,
    ttsFailures: 0,
  };

  it("is one Cloud Logging entry with the five metrics as top-level numbers", () => {
    const capture = new LogCapture();
    const log = createLogger({ level: "info", debug: false, destination: capture });
    log.info(turnLine(timeline, facts), "TURN");
    expect(capture.lines).toHaveLength(1);
    const line = capture.lines[0]!;
    expect(line).toEqual({
      severity: "INFO",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      message: "TURN",
      "logging.googleapis.com/labels": { call_id: "CA1" },
      STT_FIRST_PARTIAL_MS: 350,
      STT_FINAL_MS: 410,
      LLM_FIRST_TOKEN_MS: 289,
      TTS_READY_MS: 1,
      TOTAL_LATENCY_MS: 825,
      EOU_MS: 165,
      call_id: "CA1",
      turn: 2,
      transcript: "שלום, מה שעות הפתיחה?",
      transcript_chars: 21,
      stt_used_partial: true,
      tts_cache_hit: true,
      retries: 0,
      fallbacks: 0,
      interrupted: false,
      answer_sentences: 2,
      tts_failures: 0,
    });
  });

  it("leaves out a metric whose stage did not happen", () => {
    const line = turnLine({ ...timeline, llmFirstTokenAt: undefined, firstFrameAt: undefined }, facts);
    expect(JSON.parse(JSON.stringify(line))).not.toHaveProperty("LLM_FIRST_TOKEN_MS");
    expect(JSON.parse(JSON.stringify(line))).not.toHaveProperty("TOTAL_LATENCY_MS");
  });

  it("summarises a call", () => {
    const line = callLine({
      callId: "CA1",
      durationMs: 12_345.6,
      turns: 3,
      bargeIns: 1,
      framesIn: 600,
      framesOut: 400,
      droppedFrames: 2,
      sttErrors: 0,
      sttReopens: 0,
      endReason: "stop",
      totalLatenciesMs: [800, 1000, 900],
    });
    expect(line).toMatchObject({ duration_ms: 12346, total_latency_ms_max: 1000, total_latency_ms_avg: 900, end_reason: "stop" });
  });
});

describe("logger", () => {
  it("maps levels to Cloud Logging severities and gates debug output on DEBUG", () => {
    const quiet = new LogCapture();
    createLogger({ level: "info", debug: false, destination: quiet }).debug("hidden");
    expect(quiet.lines).toEqual([]);
    const verbose = new LogCapture();
    const log = createLogger({ level: "info", debug: true, destination: verbose });
    log.debug("shown");
    log.warn({ call_id: "CA1" }, "careful");
    log.error("broken");
    expect(verbose.lines.map((l) => [l.severity, l.message])).toEqual([
      ["DEBUG", "shown"],
      ["WARNING", "careful"],
      ["ERROR", "broken"],
    ]);
    expect(verbose.lines[1]).not.toHaveProperty("level");
  });
});
