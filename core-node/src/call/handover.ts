// A call that moves to another core (a rollout, a crash) goes on with the same conversation: the core
// sends the edge `core.state` after every change, the edge hands the latest one to the next core in
// `edge.resume`. The state is the LLM history without the system prompt, as the caller heard it, and
// the turn count; bounded by the protocol's limits so a resume can never be refused for its size.
import { MAX_STATE_MESSAGES, MAX_STATE_MESSAGE_CHARS, type ConversationState, type CoreState } from "@voice/protocol";
import type { ChatMessage } from "../llm/types.js";

export function conversationState(history: readonly ChatMessage[], turns: number): ConversationState {
  const messages = history.flatMap((message) =>
    message.role === "system" ? [] : [{ role: message.role, content: message.content.slice(0, MAX_STATE_MESSAGE_CHARS) }],
  );
  // The latest messages matter most: the oldest go first, as in the history's own bound.
  return { turns, history: messages.slice(-MAX_STATE_MESSAGES) };
}

/** Builds `core.state` frames, skipping one equal to the last one built (the edge keeps only the latest). */
export class StateReports {
  private last: string | undefined;

  /** The frame to send, or undefined when the conversation did not change since the last one. */
  frame(history: readonly ChatMessage[], turns: number): string | undefined {
    const frame: CoreState = { event: "core.state", state: conversationState(history, turns) };
    const text = JSON.stringify(frame);
    if (text === this.last) return undefined;
    this.last = text;
    return text;
  }
}

/** Where a resumed call starts: the conversation restored, and whether the caller's last message still awaits its answer. */
export interface Resumption {
  history: ChatMessage[];
  turns: number;
  answerPending: boolean;
}

export function resumption(state: ConversationState | null): Resumption {
  if (!state) return { history: [], turns: 0, answerPending: false };
  const history = state.history.map(({ role, content }) => ({ role, content }));
  return { history, turns: state.turns, answerPending: history.at(-1)?.role === "user" };
}
