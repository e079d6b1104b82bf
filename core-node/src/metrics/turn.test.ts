import { describe, expect, it } from "vitest";
import { TURN_SCHEMA_VERSION, bargeInLine, callLine, turnLine } from "@voice/protocol";
import { createLogger } from "./log.js";
import type { LogTranscripts } from "./redact-words.js";
import { LogCapture } from "../../testing/log-capture.js";
import { buildBargeInLine, buildCallLine, buildTurnLine } from "./turn.js";

/** Writes `fields` as `message` through the real logger and returns the parsed line. */
function written(fields: object, message: string, transcripts?: LogTranscripts): Record<string, unknown> {
  const capture = new LogCapture();
  createLogger({ level: "info", debug: false, destination: capture, transcripts }).info(fields, message);
  return capture.lines[0]!;
}

describe("TURN, BARGE_IN and CALL lines", () => {
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
    input: "speech" as const,
    transcript: "שלום, מה שעות הפתיחה?",
    usedPartial: true,
    sttFallback: false,
    speechStartAudioMs: 4000,
    speechEndAudioMs: 5600,
    cacheHit: true,
    retries: 0,
    fallbacks: 0,
    interrupted: false,
    sentences: 2,
    ttsFailures: 0,
    agentSentences: ["פתוחים מ-8 עד 18.", "בשישי עד 13."],
  };

  it("is one Cloud Logging entry with the five metrics as top-level numbers, and parses with the shared schema", () => {
    const line = written(buildTurnLine(timeline, facts), "TURN");
    expect(line).toEqual({
      severity: "INFO",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      message: "TURN",
      "logging.googleapis.com/labels": { call_id: "CA1" },
      schema_version: TURN_SCHEMA_VERSION,
      STT_FIRST_PARTIAL_MS: 350,
      STT_FINAL_MS: 410,
      LLM_FIRST_TOKEN_MS: 289,
      TTS_READY_MS: 1,
      TOTAL_LATENCY_MS: 825,
      EOU_MS: 165,
      EOU_HOLD_MS: 0,
      call_id: "CA1",
      turn: 2,
      input: "speech",
      speech_start_audio_ms: 4000,
      speech_end_audio_ms: 5600,
      transcript: "שלום, מה שעות הפתיחה?",
      transcript_chars: 21,
      stt_used_partial: true,
      stt_fallback: false,
      tts_cache_hit: true,
      retries: 0,
      fallbacks: 0,
      interrupted: false,
      answer_sentences: 2,
      tts_failures: 0,
      timeline: { speech_start: -1600, first_result: -1250, eou: 165, stt_final: 410, llm_request: 411, llm_first_token: 700, tts_request: 820, tts_ready: 821, first_frame: 825 },
      agent_text: "פתוחים מ-8 עד 18. בשישי עד 13.",
    });
    expect(turnLine.parse(line)).toEqual(line);
  });

  it("puts the turn's moments on one axis from its speech end, agreeing with its metrics", () => {
    const line = turnLine.parse(written(buildTurnLine(timeline, facts), "TURN"));
    const t = line.timeline!;
    expect(t.eou).toBe(line.EOU_MS);
    expect(t.first_frame).toBe(line.TOTAL_LATENCY_MS);
    expect(t.stt_final).toBe(line.STT_FINAL_MS);
    expect(t.llm_first_token! - t.llm_request!).toBe(line.LLM_FIRST_TOKEN_MS);
    expect(t.first_result! - t.speech_start).toBe(line.STT_FIRST_PARTIAL_MS);
    // A speculative answer's request went out before the speech ended: its offset is negative.
    const early = turnLine.parse(written(buildTurnLine({ ...timeline, llmRequestAt: 2400, llmFirstTokenAt: 2700 }, facts), "TURN"));
    expect(early.timeline).toMatchObject({ llm_request: -200, llm_first_token: 100 });
    // A moment that did not happen is not on the axis.
    const unanswered = turnLine.parse(written(buildTurnLine({ ...timeline, ttsRequestAt: undefined, ttsReadyAt: undefined, firstFrameAt: undefined }, { ...facts, agentSentences: [] }), "TURN"));
    expect(Object.keys(unanswered.timeline!)).toEqual(["speech_start", "first_result", "eou", "stt_final", "llm_request", "llm_first_token"]);
    expect(unanswered.agent_text).toBe("");
  });

  it("carries the answer's words through the transcript's redaction: masked numbers, or nothing when words are off", () => {
    const readBack = { ...facts, agentSentences: ["רשמתי את הטלפון 050-1234567.", "נתראה ביום שלישי."] };
    const redacted = turnLine.parse(written(buildTurnLine(timeline, readBack), "TURN", "redacted"));
    expect(redacted.agent_text).toBe("רשמתי את הטלפון [phone]. נתראה ביום שלישי.");
    const off = turnLine.parse(written(buildTurnLine(timeline, readBack), "TURN", "off"));
    expect(off).not.toHaveProperty("agent_text");
    expect(off).toMatchObject({ transcript: "", answer_sentences: 2, timeline: { first_frame: 825 } });
    const full = turnLine.parse(written(buildTurnLine(timeline, readBack), "TURN", "full"));
    expect(full.agent_text).toBe("רשמתי את הטלפון 050-1234567. נתראה ביום שלישי.");
  });

  it("leaves out a metric whose stage did not happen, and still parses", () => {
    const line = written(buildTurnLine({ ...timeline, llmFirstTokenAt: undefined, firstFrameAt: undefined }, facts), "TURN");
    expect(line).not.toHaveProperty("LLM_FIRST_TOKEN_MS");
    expect(line).not.toHaveProperty("TOTAL_LATENCY_MS");
    expect(turnLine.safeParse(line).success).toBe(true);
  });

  it("describes a keypad turn without speech recognition metrics", () => {
    const keypad = buildTurnLine(
      { speechStartAt: 100, speechEndAt: 900, eouAt: 900, llmRequestAt: 901, llmFirstTokenAt: 1200, ttsRequestAt: 1250, ttsReadyAt: 1400, firstFrameAt: 1401 },
      { ...facts, input: "dtmf", transcript: "[keypad] 1 2 #", usedPartial: false, cacheHit: false },
    );
    const line = turnLine.parse(written(keypad, "TURN"));
    expect(line).toMatchObject({ input: "dtmf", EOU_MS: 0, TOTAL_LATENCY_MS: 501 });
    expect(line.STT_FIRST_PARTIAL_MS).toBeUndefined();
    expect(line.STT_FINAL_MS).toBeUndefined();
  });

  it("is rejected by the schema when a field is missing or a metric is negative", () => {
    const line = written(buildTurnLine(timeline, facts), "TURN");
    const { EOU_MS: _eou, ...withoutEou } = line;
    expect(turnLine.safeParse(withoutEou).success).toBe(false);
    expect(turnLine.safeParse({ ...line, TOTAL_LATENCY_MS: -3 }).success).toBe(false);
    expect(turnLine.safeParse({ ...line, message: "CALL" }).success).toBe(false);
  });

  it("parses as it arrives in a Cloud Logging export, with severity and labels lifted out", () => {
    const { severity: _s, timestamp: _t, "logging.googleapis.com/labels": _l, ...payload } = written(buildTurnLine(timeline, facts), "TURN");
    expect(turnLine.safeParse(payload).success).toBe(true);
  });

  it("reports a barge-in with the decision's audio time and how fast clear went out", () => {
    const line = written(
      buildBargeInLine({
        callId: "CA1",
        turn: 3,
        reason: "words",
        heardSentences: 1,
        voicedMs: 240,
        audioMs: 15_320,
        speechStartAudioMs: 15_040,
        decidedAt: 1000.02,
        clearedAt: 1000.31,
        transcript: "רגע, אני",
      }),
      "BARGE_IN",
    );
    expect(bargeInLine.parse(line)).toMatchObject({ turn: 3, reason: "words", voiced_ms: 240, audio_ms: 15_320, detect_to_clear_ms: 0.3 });
  });

  it("summarises a call", () => {
    const fields = buildCallLine({
      callId: "CA1",
      durationMs: 12_345.6,
      turns: 3,
      recoveredCutoffs: 0,
      dtmfTurns: 1,
      bargeIns: 1,
      backchannels: 2,
      retries: 0,
      fallbacks: 0,
      cacheHits: 2,
      ttsSyntheses: 4,
      framesIn: 600,
      framesOut: 400,
      droppedFrames: 2,
      sttErrors: 0,
      sttReopens: 0,
      sttRotations: 1,
      endReason: "stop",
      totalLatenciesMs: [800, 1000, 900],
    });
    const line = callLine.parse(written(fields, "CALL"));
    expect(line).toMatchObject({
      duration_ms: 12346,
      total_latency_ms_max: 1000,
      total_latency_ms_avg: 900,
      end_reason: "stop",
      dtmf_turns: 1,
      backchannels: 2,
      cache_hits: 2,
    });
    expect(fields.stt_rotations).toBe(1);
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
