// One call: composes the stages around the app's shared services.
//   media -> mu-law decode -> VAD -> turn machine -> (transcript) -> LLM stream -> sentences -> TTS -> frames
// The frame handler does only decode + VAD + STT write + one machine step; everything slower runs
// off the frame path. Bad input is dropped with one logged reason and never ends the call.
import {
  FRAME_BYTES,
  edgeToCore,
  mulawToPcm,
  peekEvent,
  type EdgeGreeting,
  type InboundMediaFrame,
  type StartFrame,
} from "@voice/protocol";
import type { RawData, WebSocket } from "ws";
import type { z } from "zod";
import { errorText, type App } from "../app.js";
import type { Logger } from "../metrics/log.js";
import { OutboundFrames } from "../audio/frames.js";
import type { VoiceActivityDetector } from "../eou/vad.js";
import { TurnMachine, type TurnAction } from "../eou/turn-machine.js";
import { SentenceSplitter } from "../llm/sentences.js";
import type { ChatMessage } from "../llm/types.js";
import { CALL_ID_LABEL, callLine, turnLine, type TurnTimeline } from "../metrics/turn.js";
import type { SttResult, SttStream } from "../stt/types.js";
import { Speaker } from "../tts/speaker.js";

/** Consecutive voiced 20 ms frames that start speech. */
const SPEECH_START_FRAMES = 3;

/** One answer of the agent (or the greeting, turn 0), from the first sentence to its last mark's echo. */
interface Answer {
  turn: number;
  abort: AbortController;
  speaker: Speaker;
  /** Sentence of each mark sent, to know what the caller heard when the echo comes. */
  sentenceOfMark: Map<string, string>;
  heard: string[];
  /** The assistant's entry in the history, once the answer was sent (absent for the greeting). */
  entry?: ChatMessage;
  recordInHistory: boolean;
  interrupted: boolean;
}

export interface SessionOptions {
  /** The call the edge's token was issued for; the start frame must name the same call. */
  tokenCallSid: string;
  onEnded(session: CallSession): void;
}

export class CallSession {
  private readonly callId: string;
  /** Logger whose every line carries the call id (and its Cloud Logging label). */
  private readonly log: Logger;
  private streamSid: string | undefined;
  private frames: OutboundFrames | undefined;
  private detector: VoiceActivityDetector | undefined;
  private stt: SttStream | undefined;
  private readonly machine: TurnMachine;
  private readonly pcm = new Int16Array(FRAME_BYTES);
  private readonly history: ChatMessage[] = [];
  private greetingSeen = false;
  private answer: Answer | undefined;
  /** Marks sent towards the caller (the edge's greeting mark too) whose echo has not come back. */
  private readonly outstandingMarks = new Set<string>();
  private sttTimer: NodeJS.Timeout | undefined;
  private turnCount = 0;
  private ended = false;
  private readonly debug: boolean;
  private readonly startedAt = performance.now();
  // Per-utterance snapshots, so a turn reports the STT failures that happened while it was spoken.
  private sttErrors = 0;
  private sttErrorsAtSpeechStart = 0;
  private sttReopensAtSpeechStart = 0;
  private readonly stats = { framesIn: 0, framesOut: 0, droppedFrames: 0, bargeIns: 0, totalLatenciesMs: [] as number[] };

  constructor(
    private readonly app: App,
    private readonly socket: WebSocket,
    private readonly options: SessionOptions,
  ) {
    this.callId = options.tokenCallSid;
    this.log = app.log.child({ [CALL_ID_LABEL]: { call_id: this.callId }, call_id: this.callId });
    this.debug = app.log.isLevelEnabled("debug");
    const c = app.config;
    this.machine = new TurnMachine({
      frameMs: 20,
      speechStartFrames: SPEECH_START_FRAMES,
      hangoverMs: c.VAD_HANGOVER_MS,
      minUtteranceMs: c.MIN_UTT_SEC * 1000,
      bargeInMinMs: c.BARGE_IN_MIN_MS,
      partialDebounceMs: c.STT_PARTIAL_DEBOUNCE_MS,
      sttTimeoutMs: c.STT_TIMEOUT_MS,
    });
    socket.on("message", (data, isBinary) => this.guard("frame handler", () => this.onMessage(data, isBinary)));
    socket.on("close", () => this.end("socket closed"));
    socket.on("error", (error) => {
      this.log.warn({ error: error.message }, "call socket error");
      this.end("socket error");
    });
  }

  /** The process is stopping: end the call and close its socket. */
  shutdown(): void {
    this.end("shutdown");
    this.socket.close(1001, "core shutting down");
  }

  // ---- incoming frames -------------------------------------------------------------------------

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.ended) return;
    if (isBinary) return this.drop("binary frame (the call link carries JSON text frames only)");
    const text = Buffer.isBuffer(data)
      ? data.toString("utf8")
      : Array.isArray(data)
        ? Buffer.concat(data).toString("utf8")
        : Buffer.from(data).toString("utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.drop("not JSON", peekEvent(text));
    }
    const parsed = edgeToCore.safeParse(json);
    if (!parsed.success) return this.drop(issueSummary(parsed.error), peekEvent(text));
    const frame = parsed.data;
    switch (frame.event) {
      case "media":
        return this.onMedia(frame);
      case "mark":
        return this.onMarkEcho(frame.mark.name);
      case "start":
        return this.onStart(frame);
      case "edge.greeting":
        return this.onGreeting(frame);
      case "stop":
        this.end("stop");
        this.socket.close(1000, "call stopped");
        return;
      case "dtmf":
        if (this.debug) this.log.debug({ digit: frame.dtmf.digit }, "dtmf");
        return;
      case "connected":
        return;
    }
  }

  /** A bug in one call's handling is logged and contained: it must not take the process down. */
  private guard(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.log.error({ error: error instanceof Error ? error.stack : String(error) }, `${what} failed`);
    }
  }

  private drop(reason: string, event?: string): void {
    this.stats.droppedFrames++;
    this.log.warn({ event, reason }, "frame dropped");
  }

  private onStart(frame: StartFrame): void {
    if (this.streamSid) return this.drop("second start frame", "start");
    if (frame.start.callSid !== this.options.tokenCallSid) {
      this.log.warn(
        { start_call_sid: frame.start.callSid },
        "start frame names another call than the token; closing",
      );
      this.end("call mismatch");
      this.socket.close(1008, "callSid does not match the token");
      return;
    }
    this.streamSid = frame.streamSid;
    this.frames = new OutboundFrames(frame.streamSid);
    this.detector = this.app.vad.create(this.app.config.VAD_MODE);
    this.stt = this.app.stt.openStream({
      onResult: (result) => this.guard("STT result handler", () => this.onSttResult(result)),
      onError: (error) => this.onSttError(error),
    });
    this.log.info({ stream_sid: this.streamSid }, "CALL_START");
  }

  private onGreeting(greeting: EdgeGreeting): void {
    if (!this.frames) return this.drop("edge.greeting before start", greeting.event);
    if (this.greetingSeen) return this.drop("second edge.greeting", greeting.event);
    this.greetingSeen = true;
    // The caller hears the greeting either way; the model should know it was said.
    this.history.push({ role: "assistant", content: greeting.text });
    if (greeting.played) {
      // While the edge's greeting plays, caller speech is a barge-in like any other.
      if (greeting.mark) this.outstandingMarks.add(greeting.mark);
      return;
    }
    const answer = this.newAnswer(0, false);
    answer.speaker.say(greeting.text);
    void answer.speaker.finish();
  }

  private onMedia(frame: InboundMediaFrame): void {
    if (!this.frames) return this.drop("media before start", "media");
    const mulaw = Buffer.from(frame.media.payload, "base64");
    if (mulaw.length !== FRAME_BYTES) return this.drop(`media payload of ${mulaw.length} bytes, expected ${FRAME_BYTES}`, "media");
    this.stats.framesIn++;
    const audioMs = Number(frame.media.timestamp);
    const voiced = this.detector!.isVoiced(mulawToPcm(mulaw, this.pcm));
    this.stt!.write(mulaw, audioMs);
    const actions = this.machine.handle({ type: "frame", voiced, audioMs, at: performance.now() });
    if (actions.length > 0) this.apply(actions);
  }

  /** Twilio echoes marks in order as the audio before each finishes playing. */
  private onMarkEcho(name: string): void {
    // Not outstanding: a mark of an interrupted answer that Twilio returned on `clear`.
    if (!this.outstandingMarks.has(name)) return;
    const answer = this.answer;
    for (const mark of this.outstandingMarks) {
      this.outstandingMarks.delete(mark);
      const sentence = answer?.sentenceOfMark.get(mark);
      if (sentence !== undefined) answer!.heard.push(sentence);
      if (answer && mark === `${answer.turn}.end`) this.answer = undefined;
      if (mark === name) break;
    }
  }

  // ---- speech recognition ----------------------------------------------------------------------

  private onSttResult(result: SttResult): void {
    if (this.ended) return;
    const at = performance.now();
    const event = { text: result.transcript, audioEndMs: result.audioEndMs, at };
    const actions = this.machine.handle(result.isFinal ? { type: "final", ...event } : { type: "partial", ...event });
    if (actions.length > 0) this.apply(actions);
  }

  private onSttError(error: Error): void {
    this.sttErrors++;
    const code = (error as { code?: unknown }).code;
    this.log.warn({ code, error: error.message }, "STT stream failed; reopening on the next audio");
  }

  private apply(actions: TurnAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case "speechStart":
          this.sttErrorsAtSpeechStart = this.sttErrors;
          this.sttReopensAtSpeechStart = this.stt?.reopenCount ?? 0;
          if (this.debug) this.log.debug({ audio_ms: action.start.audioMs }, "speech start");
          break;
        case "speechSustained":
          if (this.agentSpeaking()) this.interrupt("barge-in");
          break;
        case "partial":
          if (this.debug) this.log.debug({ text: action.text }, "partial");
          break;
        case "utteranceDiscarded":
          if (this.debug) this.log.debug({ duration_ms: action.durationMs }, "utterance too short");
          break;
        case "endOfUtterance":
          if (this.debug) this.log.debug({ audio_ms: action.utterance.end.audioMs }, "end of utterance");
          break;
        case "awaitTranscript":
          clearTimeout(this.sttTimer);
          this.sttTimer = setTimeout(() => {
            if (this.ended) return;
            this.guard("STT timeout", () => this.apply(this.machine.handle({ type: "sttTimeout", id: action.id, at: performance.now() })));
          }, action.timeoutMs);
          break;
        case "turn":
          clearTimeout(this.sttTimer);
          this.startTurn(action);
          break;
        case "noTranscript":
          clearTimeout(this.sttTimer);
          if (this.sttErrors > this.sttErrorsAtSpeechStart) this.speakPhrase(this.app.config.FIXED_PHRASES.stt_trouble, action.utterance.end.at);
          else if (this.debug) this.log.debug("utterance without transcript");
          break;
      }
    }
  }

  // ---- answers ---------------------------------------------------------------------------------

  private agentSpeaking(): boolean {
    return this.answer !== undefined || this.outstandingMarks.size > 0;
  }

  /** The caller talks over the agent: stop the audio, the LLM and TTS; keep only what was heard. */
  private interrupt(reason: string): void {
    const answer = this.answer;
    if (this.outstandingMarks.size > 0 || answer?.speaker.firstAudio) this.send(this.frames!.clear());
    this.outstandingMarks.clear();
    this.stats.bargeIns++;
    if (answer) {
      answer.interrupted = true;
      answer.abort.abort();
      answer.speaker.abort();
      if (answer.recordInHistory) this.keepOnlyHeard(answer);
      this.answer = undefined;
    }
    this.log.info({ reason, turn: answer?.turn, heard_sentences: answer?.heard.length }, "BARGE_IN");
  }

  /** The history keeps, of an interrupted answer, the sentences whose marks came back before `clear`. */
  private keepOnlyHeard(answer: Answer): void {
    const heard = answer.heard.join(" ");
    if (answer.entry) {
      answer.entry.content = heard;
      if (heard === "") this.history.splice(this.history.indexOf(answer.entry), 1);
    } else if (heard !== "") {
      answer.entry = { role: "assistant", content: heard };
      this.history.push(answer.entry);
    }
  }

  private newAnswer(turn: number, recordInHistory: boolean): Answer {
    const abort = new AbortController();
    const sentenceOfMark = new Map<string, string>();
    const speaker = new Speaker({
      turn,
      frames: this.frames!,
      synthesize: (text) => this.app.tts.synthesize(text),
      send: (frame) => this.send(frame),
      onMark: (name, sentence) => {
        this.outstandingMarks.add(name);
        if (sentence !== undefined) sentenceOfMark.set(name, sentence);
      },
      onError: (sentence, error) =>
        this.log.warn({ turn, sentence, error: errorText(error) }, "TTS failed; sentence skipped"),
      now: () => performance.now(),
    });
    const answer: Answer = { turn, abort, speaker, sentenceOfMark, heard: [], recordInHistory, interrupted: false };
    this.answer = answer;
    return answer;
  }

  private startTurn(action: Extract<TurnAction, { type: "turn" }>): void {
    if (this.agentSpeaking()) this.interrupt("caller spoke again");
    const turn = ++this.turnCount;
    this.history.push({ role: "user", content: action.transcript });
    const answer = this.newAnswer(turn, true);
    const { utterance } = action;
    const timeline: TurnTimeline = {
      speechStartAt: utterance.start.at,
      speechEndAt: utterance.end.at,
      firstResultAt: utterance.firstResultAt,
      eouAt: action.eouAt,
      transcriptAt: action.transcriptAt,
    };
    const retries = (this.stt?.reopenCount ?? 0) - this.sttReopensAtSpeechStart;
    void this.produceAnswer(answer, timeline)
      .then(({ fallbacks }) =>
        this.finishTurn(answer, timeline, { transcript: action.transcript, usedPartial: action.usedPartial, retries, fallbacks }),
      )
      .catch((error: unknown) => this.log.error({ turn, error: errorText(error) }, "turn failed"));
  }

  /** Streams the LLM's answer into the speaker, sentence by sentence. Never throws. */
  private async produceAnswer(answer: Answer, timeline: TurnTimeline): Promise<{ fallbacks: number }> {
    const { config, llm } = this.app;
    const log = this.log;
    const splitter = new SentenceSplitter(config.LANGUAGE);
    const messages: ChatMessage[] = [{ role: "system", content: config.SYSTEM_PROMPT }, ...this.history];
    let failed = false;
    timeline.llmRequestAt = performance.now();
    try {
      for await (const text of llm.stream(messages, answer.abort.signal)) {
        timeline.llmFirstTokenAt ??= performance.now();
        for (const sentence of splitter.push(text)) answer.speaker.say(sentence);
      }
      for (const sentence of splitter.flush()) answer.speaker.say(sentence);
    } catch (error) {
      if (answer.abort.signal.aborted) return { fallbacks: 0 };
      failed = true;
      log.warn({ turn: answer.turn, error: errorText(error) }, "LLM stream failed");
    }
    let fallbacks = 0;
    if (answer.speaker.sentenceCount === 0 && !answer.abort.signal.aborted) {
      if (!failed) log.warn({ turn: answer.turn }, "LLM answered nothing");
      answer.speaker.say(config.FIXED_PHRASES.answer_error);
      fallbacks++;
    }
    await answer.speaker.finish();
    return { fallbacks };
  }

  /** A fixed phrase as a turn of its own (no transcript, no LLM), e.g. while STT is failing. */
  private speakPhrase(text: string, speechEndAt: number): void {
    if (this.agentSpeaking()) return;
    const answer = this.newAnswer(++this.turnCount, false);
    answer.speaker.say(text);
    const timeline: TurnTimeline = { speechStartAt: speechEndAt, speechEndAt, eouAt: speechEndAt, transcriptAt: speechEndAt };
    const retries = (this.stt?.reopenCount ?? 0) - this.sttReopensAtSpeechStart;
    void answer.speaker
      .finish()
      .then(() => this.finishTurn(answer, timeline, { transcript: "", usedPartial: false, retries, fallbacks: 1 }))
      .catch((error: unknown) => this.log.error({ turn: answer.turn, error: errorText(error) }, "turn failed"));
  }

  private finishTurn(
    answer: Answer,
    timeline: TurnTimeline,
    facts: { transcript: string; usedPartial: boolean; retries: number; fallbacks: number },
  ): void {
    const { speaker } = answer;
    if (answer.recordInHistory && !answer.interrupted && speaker.spoken.length > 0) {
      // Everything sent will be heard unless the caller interrupts; then interrupt() trims it.
      answer.entry = { role: "assistant", content: speaker.spoken.join(" ") };
      this.history.push(answer.entry);
    }
    const first = speaker.firstAudio;
    if (first) {
      timeline.ttsRequestAt = first.ttsRequestedAt;
      timeline.ttsReadyAt = first.ttsReadyAt;
      timeline.firstFrameAt = first.firstFrameAt;
      this.stats.totalLatenciesMs.push(Math.round(first.firstFrameAt - timeline.speechEndAt));
    }
    // TURN and CALL lines name the call themselves, so they go through the app's logger.
    this.app.log.info(
      turnLine(timeline, {
        callId: this.callId,
        turn: answer.turn,
        ...facts,
        cacheHit: first?.cacheHit,
        interrupted: answer.interrupted,
        sentences: speaker.spoken.length,
        ttsFailures: speaker.failures,
      }),
      "TURN",
    );
  }

  private send(frame: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(frame);
    this.stats.framesOut++;
  }

  // ---- the end ---------------------------------------------------------------------------------

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.sttTimer);
    if (this.answer) {
      this.answer.abort.abort();
      this.answer.speaker.abort();
      this.answer.interrupted = true;
    }
    this.stt?.close();
    this.detector?.close();
    this.app.log.info(
      callLine({
        callId: this.callId,
        durationMs: performance.now() - this.startedAt,
        turns: this.turnCount,
        bargeIns: this.stats.bargeIns,
        framesIn: this.stats.framesIn,
        framesOut: this.stats.framesOut,
        droppedFrames: this.stats.droppedFrames,
        sttErrors: this.sttErrors,
        sttReopens: this.stt?.reopenCount ?? 0,
        endReason: reason,
        totalLatenciesMs: this.stats.totalLatenciesMs,
      }),
      "CALL",
    );
    this.options.onEnded(this);
  }
}

/** The first few problems of a frame that failed validation, as one short line. */
function issueSummary(error: z.ZodError): string {
  let issues = error.issues;
  // edgeToCore is a union (Twilio frames | our own messages): report the branch that came closest.
  const only = issues[0];
  if (issues.length === 1 && only?.code === "invalid_union" && only.errors.length > 0) {
    issues = only.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
  }
  return issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "frame"}: ${issue.message}`)
    .join("; ");
}
