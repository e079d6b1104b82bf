// A silent caller, as one pure decision: after the agent's last words played, IDLE_REPROMPT_MS of the
// caller's audio without words brings FIXED_PHRASES.idle_reprompt; after IDLE_MAX_REPROMPTS of them
// unanswered, FIXED_PHRASES.goodbye and the end of the call. Time is the caller's audio clock (each
// media frame's timestamp), so a loaded core or a late frame decides as a calm one does.
//
// Only words reset it: a turn with a transcript, a backchannel, a key. Sound alone (music, a TV, a
// tone) does not: an utterance without words ends and the count goes on from where it was. Nothing
// is decided while the agent holds the floor (an answer being made, a tool running, audio not yet
// played: the count starts again once it played) or while the caller is saying words or typing keys
// (the count goes on, but waits for them to end). An utterance the recognizer heard no words in yet
// does not hold it: a tone can last as long as the line does.

export interface IdleSettings {
  repromptMs: number;
  maxReprompts: number;
}

export type IdleEvent =
  /** A caller frame: its audio clock, and what holds the call at that moment. */
  | { type: "frame"; audioMs: number; agentHolds: boolean; callerBusy: boolean }
  /** The caller's words (a turn, a backchannel) or a key. */
  | { type: "callerActive" };

/** `silentFromMs`: the caller's clock when the silence began (the first frame after the agent's words played); `audioMs`: the frame that decided. */
export type IdleAction = ({ type: "reprompt"; count: number } | { type: "goodbye" }) & { silentFromMs: number; audioMs: number };

export class IdleWatch {
  /** Audio clock of the first frame after the agent's last words played; undefined while the agent holds the floor. */
  private silentSince: number | undefined;
  private reprompts = 0;
  private over = false;

  constructor(private readonly settings: IdleSettings) {}

  handle(event: IdleEvent): IdleAction | undefined {
    if (this.over) return undefined;
    if (event.type === "callerActive") {
      this.reprompts = 0;
      this.silentSince = undefined;
      return undefined;
    }
    if (event.agentHolds) {
      this.silentSince = undefined;
      return undefined;
    }
    const silentFromMs = (this.silentSince ??= event.audioMs);
    if (event.callerBusy || event.audioMs - silentFromMs < this.settings.repromptMs) return undefined;
    // The phrase said now holds the floor; the count starts again once it played.
    this.silentSince = undefined;
    const { audioMs } = event;
    if (this.reprompts < this.settings.maxReprompts) return { type: "reprompt", count: ++this.reprompts, silentFromMs, audioMs };
    this.over = true;
    return { type: "goodbye", silentFromMs, audioMs };
  }
}
