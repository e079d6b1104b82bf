// A call that moves to another core (a rollout, a crash) goes on with the same conversation: the core
// sends the edge `core.state` after every change, the edge hands the latest one to the next core in
// `edge.resume`. The state is the LLM history without the system prompt, as the caller heard it, with
// the tools the agent called and their results, and the turn count; bounded by the protocol's limits
// so a resume can never be refused for its size. A tool call is in the state before the tool runs:
// a core that dies mid-call leaves the next one the call to repeat (same id, so the business's
// service answers the first outcome instead of acting twice).
import { MAX_STATE_MESSAGES, MAX_STATE_MESSAGE_CHARS, type ConversationState, type CoreState } from "@voice/protocol";
import type { ChatMessage, ToolCallRequest } from "../llm/types.js";

type StateMessage = ConversationState["history"][number];

function toState(message: ChatMessage): StateMessage[] {
  const content = message.content.slice(0, MAX_STATE_MESSAGE_CHARS);
  switch (message.role) {
    case "system":
      return [];
    case "user":
      return [{ role: "user", content }];
    case "tool":
      return [{ role: "tool", content, toolCallId: message.toolCallId, name: message.name }];
    case "assistant": {
      const toolCalls = message.toolCalls?.map((call) => ({ ...call, arguments: call.arguments.slice(0, MAX_STATE_MESSAGE_CHARS) }));
      return [toolCalls?.length ? { role: "assistant", content, toolCalls } : { role: "assistant", content }];
    }
  }
}

export function conversationState(history: readonly ChatMessage[], turns: number): ConversationState {
  // The latest messages matter most: the oldest go first, as in the history's own bound; a tool
  // result whose call was cut away goes with it.
  const messages = history.flatMap(toState).slice(-MAX_STATE_MESSAGES);
  while (messages[0]?.role === "tool") messages.shift();
  return { turns, history: messages };
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

/** Where a resumed call starts: the conversation restored, and what the previous core left undone. */
export interface Resumption {
  history: ChatMessage[];
  turns: number;
  /** The model owes an answer: the caller spoke last, or tool results (or tool calls) came last. */
  answerPending: boolean;
  /** Tool calls of the last answer whose results never came: to be made again, with the same ids. */
  unfinishedToolCalls: ToolCallRequest[];
}

export function resumption(state: ConversationState | null): Resumption {
  if (!state) return { history: [], turns: 0, answerPending: false, unfinishedToolCalls: [] };
  const history = state.history.map((message): ChatMessage => ({ ...message }));
  const lastCall = history.findLastIndex((message) => message.role === "assistant" && (message.toolCalls?.length ?? 0) > 0);
  const answered = new Set(history.slice(lastCall + 1).flatMap((message) => (message.role === "tool" ? [message.toolCallId] : [])));
  const calls = lastCall >= 0 && history.slice(lastCall + 1).every((message) => message.role === "tool") ? (history[lastCall] as Extract<ChatMessage, { role: "assistant" }>).toolCalls! : [];
  const unfinishedToolCalls = calls.filter((call) => !answered.has(call.id));
  const last = history.at(-1)?.role;
  return { history, turns: state.turns, answerPending: last === "user" || last === "tool" || unfinishedToolCalls.length > 0, unfinishedToolCalls };
}
