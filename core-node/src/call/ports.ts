// What a call is given, and what its parts share. Types only.
//   CallServices  the process's services a call uses (the app provides them; a call never builds a client)
//   CallContext   one call's shared parts, handed by the session to its two sides (hearing.ts, answering.ts)
import type { Config } from "../config.js";
import type { VadFactory } from "../eou/vad.js";
import type { ChatModel } from "../llm/types.js";
import type { Logger } from "../metrics/log.js";
import type { RecordSender } from "../record/ports.js";
import type { SpeechToText, Transcriber } from "../stt/types.js";
import type { ToolCaller } from "../tools/types.js";
import type { Synthesis } from "../tts/cache.js";
import type { CallStats } from "./call-stats.js";
import type { Conversation } from "./conversation.js";

export interface CallServices {
  config: Config;
  log: Logger;
  stt: SpeechToText;
  /** Synthesis in the configured voice, through the shared cache. */
  tts: Synthesis;
  ttsCached(text: string): boolean;
  llm: ChatModel;
  transcriber: Transcriber;
  vad: VadFactory;
  /** Runs the agent file's tools (absent: the agent has none). */
  tools?: ToolCaller;
  /** Hands the call's part of its record to the edge when the session's part ends (absent: no records, e.g. in a test). */
  sendRecord?: RecordSender;
}

export interface CallContext {
  callId: string;
  config: Config;
  /** The call's logger: every line carries the call id. */
  log: Logger;
  /** The process logger: TURN and BARGE_IN lines name their call themselves. */
  lines: Logger;
  debug: boolean;
  stats: CallStats;
  conversation: Conversation;
  /** Sends one frame towards the caller (dropped once the link is closed). */
  send(frame: string): void;
  /** Tells the edge the conversation, when it changed. */
  sendState(): void;
  /** The call answers turns now (see phase.ts). */
  answers(): boolean;
  /** The call still hears the caller (see phase.ts). */
  listens(): boolean;
  ended(): boolean;
}
