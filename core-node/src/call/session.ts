// One call: composes the stages around the app's shared services.
//   media -> mu-law decode -> VAD -> turn machine -> (transcript) -> LLM stream -> sentences -> TTS -> frames
// The frame handler does only decode + VAD (trimmed by the speech gate) + STT write + one machine
// step + a numeric barge-in check; everything slower runs off the frame path. Bad input is dropped with one logged reason and
// never ends the call.
import {
  CALL_ID_LABEL,
  FRAME_BYTES,
  FRAME_MS,
  edgeToCore,
  mulawToPcm,
  peekEvent,
  type BargeInLineFields,
  type EdgeGreeting,
  type InboundMediaFrame,
  type StartFrame,
} from "@voice/protocol";
import type { RawData, WebSocket } from "ws";
import type { z } from "zod";
import { errorText, type App } from "../app.js";
import { OutboundFrames } from "../audio/frames.js";
import { BackchannelLexicon } from "../eou/backchannel.js";
import { BargeInJudge } from "../eou/barge-in.js";
import { TurnMachine, type TurnAction } from "../eou/turn-machine.js";
import { SpeechGate, frameLevelDbfs } from "../eou/speech-gate.js";
import type { VoiceActivityDetector } from "../eou/vad.js";
import { ConversationHistory } from "../llm/history.js";
import { SentenceSplitter } from "../llm/sentences.js";
import type { ChatMessage } from "../llm/types.js";
import { AudioClock } from "../metrics/clock.js";
import type { Logger } from "../metrics/log.js";
import { buildBargeInLine, buildCallLine, buildTurnLine, type TurnTimeline } from "../metrics/turn.js";
import type { SttResult, SttStream } from "../stt/types.js";
import { Answer, type TurnReport } from "./answer.js";
import { DtmfCollector, keypadMessage, type DtmfAction, type KeypadEntry } from "./dtmf.js";

/** Consecutive voiced 20 ms frames that start speech. */
const SPEECH_START_FRAMES = 3;

export interface SessionOptions {
  /** The call the edge's token was issued for; the start frame must name the same call. */
  tokenCallSid: string;
  onEnded(session: CallSession): void;
}

/** Why and when the agent is stopped for the caller. */
interface Interruption {
  reason: BargeInLineFields["reason"];
  /** Wall time of the frame, transcript or key that decided it. */
  decidedAt: number;
  voicedMs: number;
  speechStartAudioMs?: number;
  transcript: string;
}

/** A turn about to be answered: what the caller said or keyed, and when. */
type TurnInput = Omit<TurnReport, "fallbacks">;

export class CallSession {
  private readonly callId: string;
  /** Logger whose every line carries the call id (and its Cloud Logging label). */
  private readonly log: Logger;
  private readonly debug: boolean;
  private streamSid: string | undefined;
  private frames: OutboundFrames | undefined;
  private detector: VoiceActivityDetector | undefined;
  private readonly gate = new SpeechGate();
  private stt: SttStream | undefined;
  private readonly machine: TurnMachine;
  private readonly judge: BargeInJudge;
  private readonly backchannels: BackchannelLexicon;
  private readonly keypad: DtmfCollector;
  private readonly clock = new AudioClock(FRAME_MS);
  private readonly pcm = new Int16Array(FRAME_BYTES);
  private readonly history = new ConversationHistory();
  private greetingSeen = false;
  /** The greeting the edge plays, until its mark comes back: its mark and history entry. */
  private edgeGreeting: { mark: string; entry: ChatMessage } | undefined;
  private answer: Answer | undefined;
  /** Marks sent towards the caller (the edge's greeting mark too) whose echo has not come back. */
  private readonly outstandingMarks = new Set<string>();
  private sttTimer: NodeJS.Timeout | undefined;
  private keypadTimer: NodeJS.Timeout | undefined;
  /** End of the latest caller audio received, on the caller's clock. */
  private audioNowMs = 0;
  private turnCount = 0;
  private ended = false;
  private readonly startedAt = performance.now();
  // Per-utterance snapshots, so a turn reports the STT failures that happened while it was spoken.
  private sttErrors = 0;
  private sttErrorsAtSpeechStart = 0;
  private sttReopensAtSpeechStart = 0;
  private readonly stats = {
    framesIn: 0,
    framesOut: 0,
    droppedFrames: 0,
    bargeIns: 0,
    backchannels: 0,
    dtmfTurns: 0,
    fallbacks: 0,
    cacheHits: 0,
    ttsSyntheses: 0,
    totalLatenciesMs: [] as number[],
  };

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
      frameMs: FRAME_MS,
      speechStartFrames: SPEECH_START_FRAMES,
      hangoverMs: c.VAD_HANGOVER_MS,
      minUtteranceMs: c.MIN_UTT_SEC * 1000,
      partialDebounceMs: c.STT_PARTIAL_DEBOUNCE_MS,
      sttTimeoutMs: c.STT_TIMEOUT_MS,
    });
    this.backchannels = BackchannelLexicon.forLanguage(c.LANGUAGE, c.BACKCHANNEL_WORDS);
    this.judge = new BargeInJudge({ minMs: c.BARGE_IN_MIN_MS, backchannelMaxMs: c.BACKCHANNEL_MAX_MS }, this.backchannels);
    this.keypad = new DtmfCollector(c.DTMF_TIMEOUT_MS);
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
    const at = performance.now();
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
        return this.onMedia(frame, at);
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
        return this.onKey(frame.dtmf.digit, at);
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
    const entry = this.history.add("assistant", greeting.text);
    if (greeting.played) {
      // While the edge's greeting plays, caller speech interrupts it like any answer.
      if (greeting.mark) {
        this.outstandingMarks.add(greeting.mark);
        this.edgeGreeting = { mark: greeting.mark, entry };
      }
      return;
    }
    const answer = this.newAnswer(0, true, undefined);
    answer.entry = entry;
    answer.speaker.say(greeting.text);
    void answer.speaker.finish().then(() => this.settle(answer));
  }

  private onMedia(frame: InboundMediaFrame, at: number): void {
    if (!this.frames) return this.drop("media before start", "media");
    const mulaw = Buffer.from(frame.media.payload, "base64");
    if (mulaw.length !== FRAME_BYTES) return this.drop(`media payload of ${mulaw.length} bytes, expected ${FRAME_BYTES}`, "media");
    this.stats.framesIn++;
    const audioMs = Number(frame.media.timestamp);
    this.clock.observe(audioMs, at);
    this.audioNowMs = audioMs + FRAME_MS;
    const pcm = mulawToPcm(mulaw, this.pcm);
    const voiced = this.gate.isSpeech(this.detector!.isVoiced(pcm), frameLevelDbfs(pcm));
    this.stt!.write(mulaw, audioMs);
    const actions = this.machine.handle({ type: "frame", voiced, audioMs, at });
    if (actions.length > 0) this.apply(actions);
    if (voiced) this.considerBargeIn(at);
  }

  /** Twilio echoes marks in order as the audio before each finishes playing. */
  private onMarkEcho(name: string): void {
    // Not outstanding: a mark of an interrupted answer that Twilio returned on `clear`.
    if (!this.outstandingMarks.has(name)) return;
    for (const mark of this.outstandingMarks) {
      this.outstandingMarks.delete(mark);
      if (mark === this.edgeGreeting?.mark) this.edgeGreeting = undefined;
      if (this.answer?.markEchoed(mark)) this.answer = undefined;
      if (mark === name) break;
    }
  }

  // ---- speech recognition ----------------------------------------------------------------------

  private onSttResult(result: SttResult): void {
    if (this.ended) return;
    const at = performance.now();
    const event = { text: result.transcript, audioEndMs: result.audioEndMs, at };
    const actions = this.machine.handle(result.isFinal ? { type: "final", ...event } : { type: "partial", ...event });
    if (this.machine.inUtterance) {
      this.judge.hear(this.machine.transcriptSoFar);
      this.considerBargeIn(at);
    }
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
          this.judge.reset();
          this.sttErrorsAtSpeechStart = this.sttErrors;
          this.sttReopensAtSpeechStart = this.stt?.reopenCount ?? 0;
          if (this.debug) this.log.debug({ audio_ms: action.startMs }, "speech start");
          break;
        case "partial":
          if (this.debug) this.log.debug({ text: action.text }, "partial");
          break;
        case "utteranceDiscarded":
          if (this.debug) this.log.debug({ duration_ms: action.durationMs }, "utterance too short");
          break;
        case "endOfUtterance":
          if (this.debug) this.log.debug({ audio_ms: action.utterance.endMs }, "end of utterance");
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
          this.onTranscript(action);
          break;
        case "noTranscript":
          clearTimeout(this.sttTimer);
          if (this.sttErrors > this.sttErrorsAtSpeechStart) this.speakInterimPhrase(action);
          else if (this.debug) this.log.debug("utterance without transcript");
          break;
      }
    }
  }

  private onTranscript(action: Extract<TurnAction, { type: "turn" }>): void {
    // "כן" while the agent talks is the caller listening, not a turn.
    if (this.answerInProgress() && this.backchannels.isBackchannelOnly(action.transcript)) {
      this.stats.backchannels++;
      if (this.debug) this.log.debug({ transcript: action.transcript }, "backchannel");
      return;
    }
    const { utterance } = action;
    this.startTurn(utterance.voicedMs, {
      input: "speech",
      transcript: action.transcript,
      usedPartial: action.usedPartial,
      speechStartAudioMs: utterance.startMs,
      speechEndAudioMs: utterance.endMs,
      retries: (this.stt?.reopenCount ?? 0) - this.sttReopensAtSpeechStart,
      timeline: {
        speechStartAt: this.wallAt(utterance.startMs),
        speechEndAt: this.wallAt(utterance.endMs),
        firstResultAt: utterance.firstResultAt,
        eouAt: action.eouAt,
        transcriptAt: action.transcriptAt,
      },
    });
  }

  private wallAt(audioMs: number): number {
    // A turn implies frames were observed, so the clock is set.
    return this.clock.wallAt(audioMs)!;
  }

  // ---- keypad ----------------------------------------------------------------------------------

  private onKey(key: string, at: number): void {
    if (!this.frames) return this.drop("dtmf before start", "dtmf");
    if (this.debug) this.log.debug({ digit: key }, "dtmf");
    // A key pressed while the agent talks stops it, as on any phone menu.
    if (this.answerInProgress()) this.interrupt({ reason: "dtmf", decidedAt: at, voicedMs: 0, transcript: "" });
    this.applyKeypad(this.keypad.press(key, { at, audioMs: this.audioNowMs }));
  }

  private applyKeypad(action: DtmfAction | undefined): void {
    if (!action) return;
    clearTimeout(this.keypadTimer);
    if (action.type === "awaitKey") {
      this.keypadTimer = setTimeout(() => {
        if (this.ended) return;
        this.guard("keypad timeout", () => this.applyKeypad(this.keypad.timeout(action.id, performance.now())));
      }, action.timeoutMs);
      return;
    }
    this.startKeypadTurn(action.entry);
  }

  private startKeypadTurn(entry: KeypadEntry): void {
    this.stats.dtmfTurns++;
    this.startTurn(0, {
      input: "dtmf",
      transcript: keypadMessage(entry.keys),
      usedPartial: false,
      speechStartAudioMs: entry.first.audioMs,
      speechEndAudioMs: entry.last.audioMs,
      retries: 0,
      timeline: { speechStartAt: entry.first.at, speechEndAt: entry.last.at, eouAt: entry.completedAt },
    });
  }

  // ---- barge-in --------------------------------------------------------------------------------

  /** An answer (or the greeting) is being prepared or played, or its audio has not finished playing. */
  private answerInProgress(): boolean {
    return this.answer !== undefined || this.outstandingMarks.size > 0;
  }

  /** Cheap enough for every voiced frame: numbers only, the transcript was classified on arrival. */
  private considerBargeIn(decidedAt: number): void {
    if (!this.machine.inUtterance || !this.answerInProgress()) return;
    const reason = this.judge.decide(this.machine.voicedMs);
    if (!reason) return;
    this.interrupt({
      reason,
      decidedAt,
      voicedMs: this.machine.voicedMs,
      speechStartAudioMs: this.machine.utteranceStartMs,
      transcript: this.machine.transcriptSoFar,
    });
  }

  /** The caller talks over the agent: stop the audio at once, then the LLM and TTS; keep only what was heard. */
  private interrupt(cause: Interruption): void {
    this.send(this.frames!.clear());
    const clearedAt = performance.now();
    const answer = this.answer;
    this.answer = undefined;
    this.outstandingMarks.clear();
    if (this.edgeGreeting) {
      // Its one mark did not come back: the caller did not hear it to the end.
      this.history.remove(this.edgeGreeting.entry);
      this.edgeGreeting = undefined;
    }
    answer?.stop();
    if (answer) this.keepOnlyHeard(answer);
    this.stats.bargeIns++;
    this.app.log.info(
      buildBargeInLine({
        callId: this.callId,
        turn: answer?.turn ?? 0,
        reason: cause.reason,
        heardSentences: answer?.heard.length ?? 0,
        voicedMs: cause.voicedMs,
        audioMs: this.audioNowMs,
        speechStartAudioMs: cause.speechStartAudioMs,
        decidedAt: cause.decidedAt,
        clearedAt,
        transcript: cause.transcript,
      }),
      "BARGE_IN",
    );
    if (answer) this.settle(answer);
  }

  /** The history keeps, of an interrupted answer, the sentences whose marks came back before `clear`. */
  private keepOnlyHeard(answer: Answer): void {
    const heard = answer.heard.join(" ");
    if (answer.entry) {
      answer.entry.content = heard;
      if (heard === "") this.history.remove(answer.entry);
    } else if (answer.recordsHistory && heard !== "") {
      answer.entry = this.history.add("assistant", heard);
    }
  }

  // ---- answers ---------------------------------------------------------------------------------

  private newAnswer(turn: number, recordsHistory: boolean, report: TurnReport | undefined): Answer {
    const answer = new Answer(turn, recordsHistory, report, {
      frames: this.frames!,
      synthesize: (text, signal) => this.app.tts.synthesize(text, signal),
      send: (frame) => this.send(frame),
      onMark: (name) => this.outstandingMarks.add(name),
      onError: (sentence, error) => this.log.warn({ turn, sentence, error: errorText(error) }, "TTS failed; sentence skipped"),
      now: () => performance.now(),
    });
    this.answer = answer;
    return answer;
  }

  /** `voicedMs`: the caller's voiced audio in the utterance (0 for keys). */
  private startTurn(voicedMs: number, input: TurnInput): void {
    if (this.answerInProgress()) {
      this.interrupt({
        reason: "new_turn",
        decidedAt: Math.max(input.timeline.eouAt, input.timeline.transcriptAt ?? 0),
        voicedMs,
        speechStartAudioMs: input.input === "speech" ? input.speechStartAudioMs : undefined,
        transcript: input.transcript,
      });
    }
    const turn = ++this.turnCount;
    this.history.add("user", input.transcript);
    const answer = this.newAnswer(turn, true, { ...input, fallbacks: 0 });
    void this.produceAnswer(answer)
      .then(() => {
        this.answerSent(answer);
        this.settle(answer);
      })
      .catch((error: unknown) => this.log.error({ turn, error: errorText(error) }, "turn failed"));
  }

  /** Streams the LLM's answer into the speaker, sentence by sentence. Never throws. */
  private async produceAnswer(answer: Answer): Promise<void> {
    const { config, llm } = this.app;
    const report = answer.report!;
    const dropped = this.history.bound(config.HISTORY_MAX_TOKENS);
    if (dropped > 0 && this.debug) this.log.debug({ dropped_messages: dropped }, "history trimmed");
    const messages: ChatMessage[] = [
      { role: "system", content: config.systemPrompt },
      ...this.history.messages.map((message) => ({ ...message })),
    ];
    const splitter = new SentenceSplitter(config.LANGUAGE);
    let failed = false;
    report.timeline.llmRequestAt = performance.now();
    try {
      for await (const text of llm.stream(messages, answer.llm.signal)) {
        report.timeline.llmFirstTokenAt ??= performance.now();
        for (const sentence of splitter.push(text)) answer.speaker.say(sentence);
      }
      for (const sentence of splitter.flush()) answer.speaker.say(sentence);
    } catch (error) {
      if (answer.llm.signal.aborted) return;
      failed = true;
      this.log.warn({ turn: answer.turn, error: errorText(error) }, "LLM stream failed");
    }
    if (answer.speaker.sentenceCount === 0 && !answer.interrupted) {
      if (!failed) this.log.warn({ turn: answer.turn }, "LLM answered nothing");
      answer.speaker.say(config.FIXED_PHRASES.answer_error);
      report.fallbacks++;
    }
    await answer.speaker.finish();
  }

  /** Every sentence went out: the caller will hear it all unless they interrupt (then it is trimmed). */
  private answerSent(answer: Answer): void {
    const { spoken } = answer.speaker;
    if (answer.interrupted || this.ended || !answer.recordsHistory || answer.entry || spoken.length === 0) return;
    answer.entry = this.history.add("assistant", spoken.join(" "));
  }

  /** A fixed phrase as a turn of its own (no transcript, no LLM) while speech recognition is failing. */
  private speakInterimPhrase(action: Extract<TurnAction, { type: "noTranscript" }>): void {
    if (this.answerInProgress()) return;
    const { utterance } = action;
    const answer = this.newAnswer(++this.turnCount, false, {
      input: "speech",
      transcript: "",
      usedPartial: false,
      speechStartAudioMs: utterance.startMs,
      speechEndAudioMs: utterance.endMs,
      retries: (this.stt?.reopenCount ?? 0) - this.sttReopensAtSpeechStart,
      fallbacks: 1,
      timeline: { speechStartAt: this.wallAt(utterance.startMs), speechEndAt: this.wallAt(utterance.endMs), eouAt: action.eouAt },
    });
    answer.speaker.say(this.app.config.FIXED_PHRASES.stt_trouble);
    void answer.speaker.finish().then(() => this.settle(answer));
  }

  /**
   * The answer's audio is all sent, or it was cut (barge-in, hang-up): count it and write its TURN
   * line, once. Its metrics are complete by then; a barge-in during the playback that follows shows
   * in the BARGE_IN line.
   */
  private settle(answer: Answer): void {
    if (answer.settled) return;
    answer.settled = true;
    const { speaker, report } = answer;
    this.stats.cacheHits += speaker.cacheHits;
    this.stats.ttsSyntheses += speaker.syntheses;
    if (!report) return;
    this.stats.fallbacks += report.fallbacks;
    const first = speaker.firstAudio;
    const timeline: TurnTimeline = { ...report.timeline };
    if (first) {
      timeline.ttsRequestAt = first.ttsRequestedAt;
      timeline.ttsReadyAt = first.ttsReadyAt;
      timeline.firstFrameAt = first.firstFrameAt;
      this.stats.totalLatenciesMs.push(Math.round(first.firstFrameAt - timeline.speechEndAt));
    }
    // TURN lines name the call themselves, so they go through the app's logger.
    this.app.log.info(
      buildTurnLine(timeline, {
        callId: this.callId,
        turn: answer.turn,
        input: report.input,
        transcript: report.transcript,
        usedPartial: report.usedPartial,
        speechStartAudioMs: report.speechStartAudioMs,
        speechEndAudioMs: report.speechEndAudioMs,
        cacheHit: first?.cacheHit,
        retries: report.retries,
        fallbacks: report.fallbacks,
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

  /** Ends the call once: every timer cleared, LLM and TTS aborted, the STT stream closed, one CALL line. */
  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.sttTimer);
    clearTimeout(this.keypadTimer);
    const answer = this.answer;
    this.answer = undefined;
    if (answer) {
      answer.stop();
      this.settle(answer);
    }
    this.stt?.close();
    this.detector?.close();
    const sttReopens = this.stt?.reopenCount ?? 0;
    this.app.log.info(
      buildCallLine({
        callId: this.callId,
        durationMs: performance.now() - this.startedAt,
        turns: this.turnCount,
        dtmfTurns: this.stats.dtmfTurns,
        bargeIns: this.stats.bargeIns,
        backchannels: this.stats.backchannels,
        retries: sttReopens,
        fallbacks: this.stats.fallbacks,
        cacheHits: this.stats.cacheHits,
        ttsSyntheses: this.stats.ttsSyntheses,
        framesIn: this.stats.framesIn,
        framesOut: this.stats.framesOut,
        droppedFrames: this.stats.droppedFrames,
        sttErrors: this.sttErrors,
        sttReopens,
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
