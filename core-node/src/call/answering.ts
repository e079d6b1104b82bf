// The agent's side of a call, as a shell: it runs the answers the session asks for — to a turn, to a
// message a previous core left unanswered, to an utterance transcribed whole when recognition is
// down, the greeting when the edge could not play it, the farewell — and the one speculative answer
// prepared on a partial. What the caller heard is the conversation's bookkeeping (conversation.ts);
// what a TURN line says is turn-report.ts's. This file does the I/O: the LLM, synthesis, frames.
//
// When a service fails the caller never waits on silence: an LLM request that fails or stalls is
// retried once while nothing was spoken, a sentence whose synthesis fails once more (produce.ts,
// answer.ts); then a fixed phrase from the cache takes their place.
import type { CoreEnd, SpeculationOutcome } from "@voice/protocol";
import { errorText } from "../app.js";
import type { OutboundFrames } from "../audio/frames.js";
import type { ChatMessage, ChatModel, ToolCallRequest } from "../llm/types.js";
import type { ToolCaller } from "../tools/types.js";
import type { SttStream, Transcriber } from "../stt/types.js";
import type { Synthesis } from "../tts/cache.js";
import { makeAnswer, type Answer } from "./answer.js";
import type { ControlAvailability } from "./control-tools.js";
import type { AgentSpeech } from "./conversation.js";
import type { CallContext } from "./ports.js";
import { produceAnswer, type AnsweringContext } from "./produce.js";
import { ToolRunner } from "./tool-rounds.js";
import { TurnLines } from "./turn-lines.js";
import { speculationMismatch, type SpeculationBasis } from "./speculation.js";
import {
  adoptReport,
  resumedTurnFields,
  turnLineOf,
  turnReport,
  unmeasuredSpeechReport,
  type TurnInput,
  type TurnReport,
} from "./turn-report.js";

/** The fallback transcription gets this much audio before the utterance's VAD start and after its end. */
const FALLBACK_LEAD_MS = 200;
const FALLBACK_TAIL_MS = 100;

/** A speculative answer in flight: held (nothing sent) until it is played, or aborted. */
interface SpeculativeAnswer extends SpeculationBasis {
  answer: Answer;
  /** Resolves when all of it was sent (once played) or it was stopped; never rejects. */
  done: Promise<void>;
}

/** What the answers need of their call, besides its shared parts. */
export interface AnsweringPort extends CallContext {
  /** The call's LLM and synthesis, within its budget; `farewellTts` outside it (the farewell is never refused). */
  llm: ChatModel;
  tts: Synthesis;
  farewellTts: Synthesis;
  transcriber: Transcriber;
  /** The call's outbound frame builder (the call has started). */
  frames(): OutboundFrames;
  /** A speculative answer was dropped: the listening may start another. */
  speculationStopped(): void;
  /** Runs the agent file's tools (none configured: no tools offered). */
  toolCaller?: ToolCaller;
  /** The caller's and the called numbers, once known. */
  numbers(): { from?: string; to?: string };
  /** What the call can do now besides the agent file's tools (control-tools.ts). */
  controls(): ControlAvailability;
  /** `answer` ended the call (end_call, transfer_to_staff): the session plays it to its end, then ends the call. */
  endAfter(answer: Answer, end: CoreEnd): void;
}

export class Answering {
  /** The answer holding the floor: being prepared, sent, or played until its end mark comes back. */
  private current: Answer | undefined;
  /** The last answer the caller cut: its turn and the sentences they did not hear (see resumeCut). */
  private lastCut: { turn: number; unheard: string[] } | undefined;
  private speculative: SpeculativeAnswer | undefined;
  private readonly producing: AnsweringContext;
  private readonly tools: ToolRunner;
  private readonly turnLines: TurnLines;

  constructor(private readonly port: AnsweringPort) {
    this.turnLines = new TurnLines(port.lines, port.stats.totalLatenciesMs);
    // Always: the built-in tools (end_call at least) are offered on every call.
    this.tools = new ToolRunner(port.config.agent?.tools ?? [], { ...port, caller: port.toolCaller });
    this.producing = { config: port.config, llm: port.llm, callId: port.callId, log: port.log, onRetry: () => port.stats.retries++, tools: this.tools };
  }

  /** The edge could not play the greeting from KV: the core says it (not a turn). `entry`: its history entry. */
  greet(text: string, entry: ChatMessage): void {
    const answer = this.begin(this.create(0, true, undefined, false), entry);
    answer.speaker.say(text);
    void answer.speaker.finish().then(() => this.settle(answer));
  }

  /** The caller's turn `turn`: played at once from the speculative answer when that answers it, else asked of the LLM. */
  answerTurn(turn: number, input: TurnInput, taken: { speculative?: SpeculativeAnswer; outcome: SpeculationOutcome }): void {
    const { speculative } = taken;
    if (speculative) {
      const { answer } = speculative;
      adoptReport(answer.report!, input);
      // Its tool rounds so far (read-only) join the conversation after the caller's words.
      answer.speculative = false;
      this.port.conversation.adopt(answer.exchange);
      this.port.sendState();
      this.begin(answer);
      answer.mayBeRetracted = this.mayBeRetracted(input);
      answer.speaker.release();
      // A farewell prepared with end_call: the call ends after it, now that it is the caller's answer.
      if (answer.ending) this.port.endAfter(answer, answer.ending);
      return this.run(answer, () => speculative.done);
    }
    const answer = this.begin(this.create(turn, true, turnReport(input, { sttFallback: false, fallbacks: 0, speculation: taken.outcome }), false));
    answer.mayBeRetracted = this.mayBeRetracted(input);
    this.run(answer, () => this.produce(answer));
  }

  /** A spoken turn may be taken back while the caller has not heard its answer (CUTOFF_RECOVERY_MS). */
  private mayBeRetracted(input: TurnInput): boolean {
    return input.input === "speech" && this.port.config.CUTOFF_RECOVERY_MS > 0;
  }

  /** The listening says the last turn stands: its TURN line, if held, is written. */
  turnStands(): void {
    if (this.current) this.current.mayBeRetracted = false;
    this.turnLines.flush();
  }

  /**
   * The previous core owed an answer (the caller's last message, or tools it called): answered now,
   * as turn `turn`, after making again the tool calls it left without results (same ids).
   */
  answerResumed(turn: number, unfinished: ToolCallRequest[]): void {
    const { conversation } = this.port;
    const lastWords = conversation.messages.findLast((message) => message.role === "user")?.content ?? "";
    const answer = this.begin(this.create(turn, true, { ...unmeasuredSpeechReport(lastWords, performance.now()), resumed: true }, false));
    const callEntry = conversation.messages.findLast((message) => message.role === "assistant" && (message.toolCalls?.length ?? 0) > 0);
    this.run(answer, async () => {
      // A tool this core does not have gets a failure for the model to read, never a guess.
      if (unfinished.length > 0) await this.tools.rerun(answer, unfinished, callEntry);
      // A call the previous core was ending (end_call, a transfer): its last words, and the end.
      if (answer.ending) return answer.speaker.finish();
      return this.produce(answer);
    });
  }

  /**
   * Recognition failed for this utterance: the caller hears FIXED_PHRASES.stt_trouble at once (from
   * the cache) while the utterance's audio is transcribed whole in the background; the turn then
   * goes on with that transcript, or ends with FIXED_PHRASES.stt_failed. The frame loop never waits.
   */
  answerUntranscribed(turn: number, input: TurnInput, speculation: SpeculationOutcome, stt: SttStream): void {
    const audio = stt.audio(input.speechStartAudioMs - FALLBACK_LEAD_MS, input.speechEndAudioMs + FALLBACK_TAIL_MS);
    // Transcribed here: a recovered stream must neither replay this audio nor answer it again.
    stt.coverUpTo(input.speechEndAudioMs);
    const report = turnReport(input, { sttFallback: true, fallbacks: 1, speculation });
    const answer = this.begin(this.create(turn, true, report, false));
    answer.speaker.say(this.port.config.FIXED_PHRASES.stt_trouble);
    this.port.log.warn({ turn, audio_ms: Math.round(audio.length / 8) }, "STT fallback: transcribing the utterance");
    this.run(answer, () => this.answerFromTranscription(answer, audio));
  }

  /** A phrase of the core's own between turns (the idle reprompt): not a turn, not in the history; a barge-in cuts it like an answer. */
  prompt(text: string): void {
    const answer = this.begin(this.create(this.port.conversation.turnCount, false, undefined, false, this.port.farewellTts));
    answer.speaker.say(text);
    void answer.speaker.finish().then(() => this.settle(answer));
  }

  /** A side-effecting tool call is still running (one the caller's barge-in did not stop). */
  get toolsRunning(): boolean {
    return this.tools.running;
  }

  /** The core's last words (CALL_LIMIT_TEXT, the idle goodbye): after what was playing was cut. Not a turn; never refused by the budget. */
  farewell(text: string): Answer {
    const answer = this.begin(this.create(this.port.conversation.turnCount + 1, false, undefined, false, this.port.farewellTts));
    answer.speaker.say(text);
    return answer;
  }

  /**
   * Prepares the answer to `text`, the caller's partial transcript, before their turn (see
   * speculation.ts): the LLM on the conversation plus `text`, its sentences synthesized but held.
   */
  speculate(text: string): void {
    const { conversation, config } = this.port;
    conversation.bound(config.HISTORY_MAX_TOKENS);
    const history = conversation.messages.map((message) => ({ ...message }));
    const turn = conversation.turnCount + 1;
    const answer = this.create(turn, true, unmeasuredSpeechReport(text), true);
    const asked: ChatMessage[] = [...history, { role: "user", content: text }];
    // Until it is played, its tool rounds are its own; once played, the conversation is.
    const messages = () => (answer.speculative ? [...asked, ...answer.exchange] : conversation.messages);
    const done = produceAnswer(answer, messages, this.producing);
    if (this.port.debug) this.port.log.debug({ turn, transcript: text }, "speculative answer started");
    this.speculative = { text, history, turn, answer, done };
  }

  /**
   * The utterance became a turn: the speculative answer that answers it (the caller's `transcript`
   * as the next turn, after the conversation so far), if there is one; any other is dropped.
   * `speculations`: how many were started during the utterance.
   */
  takeSpeculation(transcript: string, speculations: number): { speculative?: SpeculativeAnswer; outcome: SpeculationOutcome } {
    const speculative = this.speculative;
    const { conversation } = this.port;
    const mismatch =
      speculative &&
      (speculative.answer.halted ? "it needs a tool with side effects" : speculationMismatch(speculative, { transcript, history: conversation.messages, turn: conversation.turnCount + 1 }));
    if (speculative && mismatch === undefined) {
      this.speculative = undefined;
      return { speculative, outcome: "used" };
    }
    this.dropSpeculation(mismatch ?? "the final transcript differs");
    return { outcome: speculations > 0 ? "discarded" : "none" };
  }

  /** Stops the speculative answer in flight, if any: none of it ever reaches the caller. */
  dropSpeculation(reason: string): void {
    const speculative = this.speculative;
    if (!speculative) return;
    this.speculative = undefined;
    speculative.answer.stop();
    this.port.speculationStopped();
    if (this.port.debug) this.port.log.debug({ transcript: speculative.text, reason }, "speculative answer discarded");
  }

  /** Stops generating (the LLM and every synthesis); what was sent keeps playing. */
  stopGenerating(): void {
    this.current?.stop();
  }

  /** The answer whose end mark came back played to its end: the floor is free. */
  finished(speech: AgentSpeech): void {
    if (this.current?.speech === speech) this.current = undefined;
    this.turnLines.flush();
  }

  /**
   * After a `clear` (or with only end marks left): nothing sent will play any more. The answer
   * stops, the history keeps only what the caller heard. Returns the answer that was in progress.
   */
  cut(): Answer | undefined {
    const answer = this.current;
    this.current = undefined;
    answer?.stop();
    this.turnLines.flush();
    const heard = answer?.speech?.heard.length ?? 0;
    this.lastCut = answer?.report && { turn: answer.turn, unheard: answer.speaker.said.slice(heard).filter((sentence) => !this.tools.fillers.has(sentence)) };
    this.port.conversation.cut();
    this.port.sendState();
    return answer;
  }

  /** The call ended: everything stops; the answer in progress is counted and its TURN line written. */
  end(): void {
    const answer = this.current;
    this.current = undefined;
    if (answer) {
      answer.stop();
      this.settle(answer);
    }
    this.turnLines.flush();
    this.dropSpeculation("the call ended");
  }

  /** Whether the answer holding the floor can be taken back with its turn, and whether its audio began (see ListeningContext). */
  retractable(): "silent" | "audible" | undefined {
    const answer = this.current;
    const { conversation } = this.port;
    const can = answer?.report !== undefined && answer.turn === conversation.turnCount && (answer.speech?.heard.length ?? 0) === 0 && conversation.callerTurnRetractable;
    if (!can) return undefined;
    return answer.speaker.firstAudio ? "audible" : "silent";
  }

  /** The turn was taken too early: its answer stops and, with the caller's words, leaves the conversation (they go on in the next utterance). */
  retract(): Answer | undefined {
    if (this.current) this.turnLines.drop(this.current);
    // Before the cut, so the one core.state the cut sends already lacks the caller's words.
    this.port.conversation.retractCallerTurn();
    const answer = this.cut();
    this.lastCut = undefined;
    if (answer) answer.retracted = true;
    return answer;
  }

  /**
   * The answer's audio is all sent, or it was cut (barge-in, hang-up): count it and write its TURN
   * line, once. Its metrics are complete by then; a barge-in during the playback that follows shows
   * in the BARGE_IN line.
   */
  settle(answer: Answer): void {
    if (answer.settled) return;
    answer.settled = true;
    const { speaker, report } = answer;
    const { stats } = this.port;
    stats.cacheHits += speaker.cacheHits;
    stats.ttsSyntheses += speaker.syntheses;
    if (!report || answer.retracted) return;
    stats.fallbacks += report.fallbacks;
    const line = turnLineOf(answer.outcome, report, this.port.callId);
    if (report.resumed) return this.port.log.info(resumedTurnFields(line), "resumed turn answered");
    this.turnLines.add(answer, line);
  }

  /** `held`: its speaker sends nothing until released (a speculative answer). */
  private create(turn: number, recordsHistory: boolean, report: TurnReport | undefined, held: boolean, tts = this.port.tts): Answer {
    const { port } = this;
    return makeAnswer(
      {
        frames: port.frames(),
        tts,
        send: port.send,
        onMark: (answer, name, sentence) => port.conversation.markSent(answer.speech, name, sentence),
        log: port.log,
        onRetry: () => port.stats.retries++,
        fallbackText: port.config.FIXED_PHRASES.answer_error,
      },
      { turn, recordsHistory, report, held },
    );
  }

  /**
   * The caller's barge-in came to no words (a noise, a run of "yes"): the answer they cut goes on
   * from the first sentence they did not hear, as it was written (no new LLM request). Not a turn.
   * Returns how many sentences are said again.
   */
  resumeCut(): number {
    const cut = this.lastCut;
    this.lastCut = undefined;
    if (!cut || cut.unheard.length === 0 || this.current) return 0;
    const answer = this.begin(this.create(cut.turn, true, undefined, false));
    for (const sentence of cut.unheard) answer.speaker.say(sentence);
    void answer.speaker.finish().then(() => {
      this.sent(answer);
      this.settle(answer);
    });
    return cut.unheard.length;
  }

  /** The answer takes the floor. */
  private begin(answer: Answer, entry?: ChatMessage): Answer {
    // Another answer takes the floor: the turn before it stands.
    this.turnLines.flush();
    this.current = answer;
    this.lastCut = undefined;
    answer.speech = this.port.conversation.agentBegins(answer.turn, answer.recordsHistory, entry, this.tools.fillers);
    return answer;
  }

  /** Runs an answer off the frame path; when all of it is sent (or it was cut) it is recorded and settled. */
  private run(answer: Answer, produce: () => Promise<void>): void {
    void produce()
      .then(() => {
        this.sent(answer);
        this.settle(answer);
      })
      .catch((error: unknown) => this.port.log.error({ turn: answer.turn, error }, "turn failed"));
  }

  /** Every sentence went out: the caller will hear it all unless they interrupt (then it is trimmed). */
  private sent(answer: Answer): void {
    if (answer.interrupted || this.port.ended() || !answer.speech) return;
    this.port.conversation.answerSent(answer.speech, answer.speaker.spoken);
    this.port.sendState();
  }

  /** The conversation, bounded to HISTORY_MAX_TOKENS, goes to the LLM; its answer to the speaker. Never throws. */
  private async produce(answer: Answer): Promise<void> {
    // A booking still running for an answer the caller cut: this answer is asked with its outcome.
    await this.tools.settled();
    const dropped = this.port.conversation.bound(this.port.config.HISTORY_MAX_TOKENS);
    if (dropped > 0 && this.port.debug) this.port.log.debug({ dropped_messages: dropped }, "history trimmed");
    return produceAnswer(answer, () => this.port.conversation.messages, this.producing);
  }

  private async answerFromTranscription(answer: Answer, audio: Uint8Array): Promise<void> {
    const { port } = this;
    const report = answer.report!;
    let transcript = "";
    let failure: unknown;
    try {
      transcript = await port.transcriber.transcribe(audio, { callId: port.callId, signal: answer.llm.signal });
    } catch (error) {
      failure = error;
    }
    if (answer.interrupted) return; // the caller spoke again; that turn goes on
    report.timeline.transcriptAt = performance.now();
    // The interim phrase could not be synthesized: the apology in its place already asked the caller to say it again.
    if (!answer.speaker.accepting) return answer.speaker.finish();
    if (transcript !== "") {
      report.transcript = transcript;
      port.conversation.callerSaid(transcript);
      port.sendState();
      return this.produce(answer);
    }
    port.log.warn({ turn: answer.turn, error: failure === undefined ? "empty transcript" : errorText(failure) }, "STT fallback failed; speaking the fallback phrase");
    answer.speaker.say(port.config.FIXED_PHRASES.stt_failed);
    report.fallbacks++;
    await answer.speaker.finish();
  }
}
