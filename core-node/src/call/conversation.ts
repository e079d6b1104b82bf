// The conversation as the caller heard it: who holds the floor, the history the LLM gets, the marks
// whose echo tells what was played, turn numbers, and the state the edge keeps for the next core.
// Pure bookkeeping: the session tells it what was sent, echoed, cleared or said, and reads back
// what the caller heard. Nothing here sends a frame, reads a clock or waits.
//
// What the caller heard is known from mark echoes: a sentence goes into the history once its audio
// played (its mark came back) or once the whole answer was sent and nobody cut it. When the caller
// interrupts, `clear` drops what was still queued and the history keeps only the sentences heard.
import type { ConversationState, TransferReturn } from "@voice/protocol";
import { ConversationHistory } from "../llm/history.js";
import type { ChatMessage, ToolCallRequest } from "../llm/types.js";
import { pendingTransfer, transferReturnResult } from "./control-tools.js";
import { StateReports, resumption } from "./handover.js";
import { OutstandingMarks } from "./marks.js";

/** One answer of the agent holding the floor (the greeting too, as turn 0), from its first mark to its end mark's echo or a cut. */
export interface AgentSpeech {
  readonly turn: number;
  /** Whether what the caller heard goes into the history (not for a farewell). */
  readonly recordsHistory: boolean;
  /** Its entry in the history, once there is one. */
  entry: ChatMessage | undefined;
  /** Sentences whose marks came back, in order: what the caller heard in full. */
  readonly heard: string[];
  /** The sentence each mark sent ends. */
  readonly sentenceOfMark: Map<string, string>;
  /** Sentences (counted as spoken) already in the history with a tool call of this answer. */
  recordedUpTo: number;
  /** Sentences said that never go into the history: the fillers while a tool runs. */
  readonly unrecorded: ReadonlySet<string>;
}

/** The mark after an answer's last sentence. */
export function endMarkOf(turn: number): string {
  return `${turn}.end`;
}

export class Conversation {
  private readonly history = new ConversationHistory();
  private readonly marks = new OutstandingMarks();
  private readonly stateReports = new StateReports();
  private turns = 0;
  /** The answer holding the floor, if any. */
  private speaking: AgentSpeech | undefined;
  /** The greeting the edge plays, until its mark comes back: its mark and history entry. */
  private edgeGreeting: { mark: string; entry: ChatMessage } | undefined;

  /** The history for the LLM (without the system prompt). */
  get messages(): readonly ChatMessage[] {
    return this.history.messages;
  }

  /** What the agent said last (empty before it said anything). */
  get lastAgentWords(): string {
    return this.history.messages.findLast((message) => message.role === "assistant" && message.content !== "")?.content ?? "";
  }

  /** The caller's last turn can be taken back: nothing came after their words but the agent's (no tool round, no other turn). */
  get callerTurnRetractable(): boolean {
    const messages = this.history.messages;
    const at = messages.findLastIndex((message) => message.role === "user");
    return at >= 0 && messages.slice(at + 1).every((message) => message.role === "assistant" && !message.toolCalls?.length);
  }

  /** Takes back the caller's last turn (see callerTurnRetractable): their words, what followed them and the turn's number. */
  retractCallerTurn(): void {
    const last = this.history.messages.findLast((message) => message.role === "user");
    if (!last || !this.callerTurnRetractable) return;
    this.history.removeFrom(last);
    this.turns--;
  }

  /** Turns taken so far (the next one is this plus one). */
  get turnCount(): number {
    return this.turns;
  }

  /** An answer (or the greeting) is being prepared or played, or its audio has not finished playing. */
  get agentHolds(): boolean {
    return this.speaking !== undefined || this.marks.size > 0;
  }

  /** The first outstanding mark that ends audio: the sentence playing now (see marks.ts). */
  get playingMark(): string | undefined {
    return this.marks.playing;
  }

  /** Some audio sent has not played yet. */
  get audioPending(): boolean {
    return this.marks.audioPending;
  }

  /** Whether the mark `name` was sent and has not come back. */
  outstanding(name: string): boolean {
    return this.marks.has(name);
  }

  /** The edge's opening: the greeting was said (the model should know it either way). Returns its history entry. */
  greeted(text: string, edgeMark: string | undefined): ChatMessage {
    const entry = this.history.add("assistant", text);
    if (edgeMark) {
      // While the edge's greeting plays, caller speech interrupts it like any answer.
      this.marks.add(edgeMark);
      this.edgeGreeting = { mark: edgeMark, entry };
    }
    return entry;
  }

  /** The call moved here from another core: its conversation goes on. Returns the caller's message still awaiting an answer, if any. */
  resumed(state: ConversationState | null): { turns: number; messages: number; answerPending: boolean; unfinishedToolCalls: ToolCallRequest[] } {
    const { history, turns, answerPending, unfinishedToolCalls } = resumption(state);
    for (const message of history) this.history.append(message);
    this.turns = turns;
    return { turns, messages: history.length, answerPending, unfinishedToolCalls };
  }

  /** The caller is back from a transfer nobody took: its pending call gets the outcome as its result. Returns that call (none: no transfer pending). */
  transferReturned(returned: TransferReturn): ToolCallRequest | undefined {
    const pending = pendingTransfer(this.history.messages);
    if (!pending) return undefined;
    this.history.insertAfter(pending.entry, { role: "tool", toolCallId: pending.call.id, name: pending.call.name, content: transferReturnResult(returned) });
    return pending.call;
  }

  /** The assistant message of a tool round: what was said before it, and the calls (recorded before they run). */
  toolsCalled(content: string, calls: ToolCallRequest[]): ChatMessage {
    return this.history.append({ role: "assistant", content, toolCalls: calls });
  }

  /** A tool's result (or failure), next to its call whatever was said since. */
  toolAnswered(call: ChatMessage, result: Extract<ChatMessage, { role: "tool" }>): void {
    this.history.insertAfter(call, result);
  }

  /** Messages of an answer's tool rounds made before its turn (a speculative answer): they join the history now. */
  adopt(messages: readonly ChatMessage[]): void {
    for (const message of messages) this.history.append(message);
  }

  /** A new turn is taken: its number. */
  takeTurn(): number {
    return ++this.turns;
  }

  /** The caller's words (or keys) enter the history. */
  callerSaid(text: string): void {
    this.history.add("user", text);
  }

  /** Drops the oldest exchanges over `maxTokens`; how many messages went. */
  bound(maxTokens: number): number {
    return this.history.bound(maxTokens);
  }

  /** An answer takes the floor. `entry`: its history entry when it has one already (the greeting). */
  agentBegins(turn: number, recordsHistory: boolean, entry?: ChatMessage, unrecorded: ReadonlySet<string> = new Set()): AgentSpeech {
    this.speaking = { turn, recordsHistory, entry, heard: [], sentenceOfMark: new Map(), recordedUpTo: 0, unrecorded };
    return this.speaking;
  }

  /** A mark went out after `sentence`'s audio (no sentence: an end mark). */
  markSent(speech: AgentSpeech | undefined, name: string, sentence: string | undefined): void {
    if (speech && sentence !== undefined) speech.sentenceOfMark.set(name, sentence);
    this.marks.add(name);
  }

  /**
   * Twilio echoed `name` (and so every mark before it). Returns the answer whose end mark this was:
   * it played to its end and the floor is free. Nothing is settled by a mark of an interrupted
   * answer that Twilio returned on `clear`, or by one of another core's.
   */
  markEchoed(name: string): AgentSpeech | undefined {
    let finished: AgentSpeech | undefined;
    for (const mark of this.marks.echo(name)) {
      if (mark === this.edgeGreeting?.mark) this.edgeGreeting = undefined;
      const speech = this.speaking;
      if (!speech) continue;
      const sentence = speech.sentenceOfMark.get(mark);
      if (sentence !== undefined) speech.heard.push(sentence);
      if (mark === endMarkOf(speech.turn)) {
        this.speaking = undefined;
        finished = speech;
      }
    }
    return finished;
  }

  /** Every sentence of the answer went out uncut: the caller will hear it all, unless they interrupt (then it is trimmed). */
  answerSent(speech: AgentSpeech, spoken: readonly string[]): void {
    const text = unrecordedText(speech, spoken);
    if (!speech.recordsHistory || speech.entry || text === "") return;
    speech.entry = this.history.add("assistant", text);
  }

  /**
   * The answer's first `sentences` sentences are in the history with a tool call (the round's words,
   * those still being synthesized too): what it says later starts after them.
   */
  recordedThrough(speech: AgentSpeech, sentences: number): void {
    speech.recordedUpTo = sentences;
  }

  /**
   * Nothing sent will play any more (a `clear` went out, or only end marks were left): the floor is
   * free and the history keeps only what the caller heard. Returns the answer that held the floor.
   */
  cut(): AgentSpeech | undefined {
    const speech = this.speaking;
    this.speaking = undefined;
    this.marks.clear();
    if (this.edgeGreeting) {
      // Its one mark did not come back: the caller did not hear it to the end.
      this.history.remove(this.edgeGreeting.entry);
      this.edgeGreeting = undefined;
    }
    if (speech) this.keepOnlyHeard(speech);
    return speech;
  }

  /** The `core.state` frame to send when the conversation changed since the last one. */
  stateFrame(): string | undefined {
    return this.stateReports.frame(this.history.messages, this.turns);
  }

  private keepOnlyHeard(speech: AgentSpeech): void {
    const heard = unrecordedText(speech, speech.heard);
    if (speech.entry) {
      speech.entry.content = heard;
      if (heard === "") this.history.remove(speech.entry);
    } else if (speech.recordsHistory && heard !== "") {
      speech.entry = this.history.add("assistant", heard);
    }
  }
}

/** The sentences of `spoken` after those already recorded with a tool call, without the fillers. */
function unrecordedText(speech: AgentSpeech, spoken: readonly string[]): string {
  return spoken
    .slice(speech.recordedUpTo)
    .filter((sentence) => !speech.unrecorded.has(sentence))
    .join(" ");
}
