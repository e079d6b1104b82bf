// One softphone call, Twilio's part of it, as the simulator plays it (infra/sim): the signed voice
// webhook, the <Connect><Stream> it answers, the media stream (media-relay.ts) between the page and
// the edge, and when a stream ends, Twilio's call control (infra/sim/call-control.ts) following the
// <Connect action>: <Hangup/>, <Say>, <Dial>, or a new stream back to the agent. A <Dial> rings
// nobody here: it ends at once with "no-answer", and the edge decides what follows (back to the
// agent, as a real unanswered transfer does). The core's lines about the call and the live script's
// state go to the page as they come.
import { CallControl, type ControlAction, type ControlEvent, type EndedBy } from "../sim/call-control.js";
import { newSid, openMediaStream, requestStreamTwiml, requestTwiml } from "../sim/twilio-client.js";
import type { CoreCallLog } from "../local/core-call-log.js";
import type { LiveScriptClient } from "./live-script.js";
import { MediaRelay, type PageLink } from "./media-relay.js";
import type { HeardFacts, PageMessage } from "./wire.js";
import { heardKey } from "./page/call-view.js";

export interface CallSettings {
  edgeUrl: string;
  authToken: string;
  accountSid: string;
  callLog: CoreCallLog;
  /** Offline: the speech emulator's registry, where the page's words go. */
  liveScript?: LiveScriptClient;
  log: (line: string) => void;
}

/** What the server keeps of a call for the session's list. */
export interface CallRecord {
  callSid: string;
  startedAt: string;
  ended: string | null;
  heard: HeardFacts;
}

/** Bounds the webhook, each call-control request and the WebSocket handshake. */
const REQUEST_TIMEOUT_MS = 10_000;

const ENDINGS: Record<EndedBy, string> = {
  caller: "you hung up",
  agent: "the agent ended the call",
  transfer: "transferred to staff",
  fallback: "sent to the human fallback",
  error: "something went wrong",
};

export class PageCall {
  readonly record: CallRecord;
  private relay: MediaRelay | null = null;
  /** Microphone frames received from the page: a new stream's clock starts at this count. */
  private framesIn = 0;
  private streams = 0;
  private hungUp = false;

  constructor(
    private readonly page: PageLink & { close(): void },
    private readonly settings: CallSettings,
  ) {
    this.record = { callSid: newSid("CA"), startedAt: new Date().toISOString(), ended: null, heard: {} };
  }

  /** Places the call and runs it to its end; never rejects (what failed goes to the page). */
  async run(): Promise<void> {
    const { callSid } = this.record;
    const { callLog, liveScript, log } = this.settings;
    const unsubscribe = callLog.subscribe((line) => line.call_id === callSid && this.page.send({ type: "line", line }));
    let stopFollowing = () => {};
    let ending = "something went wrong";
    try {
      if (liveScript) {
        await liveScript.register(callSid);
        stopFollowing = liveScript.follow(callSid, (state) => this.page.send({ type: "script", state }));
      }
      this.page.send({ type: "call", callSid, offline: liveScript !== undefined });
      log(`call ${callSid}: placed from the softphone`);
      const params = this.params();
      const control = new CallControl();
      let action: ControlAction = { type: "stream", stream: await requestStreamTwiml(this.settings.edgeUrl, this.settings.authToken, { ...params, CallStatus: "ringing" }, REQUEST_TIMEOUT_MS) };
      let says = 0;
      while (action.type !== "end") {
        action = control.handle(await this.perform(action, params));
        for (const said of control.says.slice(says)) this.page.send({ type: "status", text: `Twilio says: “${said.text}”` });
        says = control.says.length;
      }
      ending = action.error ? `${ENDINGS[action.endedBy]}: ${action.error}` : ENDINGS[action.endedBy];
    } catch (error) {
      ending = `the call failed: ${(error as Error).message}`;
      this.page.send({ type: "error", message: (error as Error).message });
    } finally {
      stopFollowing();
      unsubscribe();
    }
    this.record.ended = ending;
    log(`call ${callSid}: ended (${ending})`);
    this.page.send({ type: "ended", text: `Call ended: ${ending}.` });
    this.page.close();
  }

  /** A text message from the page. */
  async fromPage(message: PageMessage): Promise<void> {
    switch (message.type) {
      case "say":
        if (!this.settings.liveScript) return this.page.send({ type: "error", message: "the speech service is real here: just speak" });
        try {
          await this.settings.liveScript.add(this.record.callSid, message.text);
        } catch (error) {
          this.page.send({ type: "error", message: `the speech emulator did not take your words: ${(error as Error).message}` });
        }
        return;
      case "played":
        this.relay?.echo(message.name);
        return;
      case "heard":
        this.record.heard[heardKey(message.stream, message.turn)] = message.atMs;
        return;
      case "hangup":
        return this.hangUp();
    }
  }

  /** A microphone frame from the page; between streams it is dropped, as a line carries nothing then. */
  microphone(frame: Uint8Array): void {
    this.framesIn++;
    this.relay?.microphone(frame);
  }

  /** The caller hangs up (the button, or the page went away). */
  hangUp(): void {
    this.hungUp = true;
    void this.relay?.hangUp();
  }

  private async perform(action: Exclude<ControlAction, { type: "end" }>, params: Record<string, string>): Promise<ControlEvent> {
    const { authToken } = this.settings;
    switch (action.type) {
      case "stream": {
        if (this.hungUp) return { type: "streamEnded", by: "caller", stream: action.stream, detail: "" };
        const ids = { accountSid: this.settings.accountSid, callSid: this.record.callSid, streamSid: newSid("MZ") };
        try {
          const edge = await openMediaStream(action.stream.streamUrl, authToken, REQUEST_TIMEOUT_MS);
          const index = this.streams++;
          this.page.send({ type: "stream", index, firstFrame: this.framesIn });
          this.page.send({ type: "status", text: index === 0 ? "In a call with the agent." : "Back with the agent." });
          this.relay = new MediaRelay(edge, ids, action.stream.parameters, this.page, (problem) => this.page.send({ type: "error", message: problem }));
          if (this.hungUp) void this.relay.hangUp();
          const end = await this.relay.ended;
          this.relay = null;
          return { type: "streamEnded", by: end.by, stream: action.stream, detail: end.detail };
        } catch (error) {
          return { type: "failed", reason: (error as Error).message };
        }
      }
      case "fetch":
        try {
          return { type: "twiml", verbs: await requestTwiml(action.url, authToken, { ...params, ...action.fields }, REQUEST_TIMEOUT_MS, action.what) };
        } catch (error) {
          return { type: "failed", reason: (error as Error).message };
        }
      case "dial":
        this.page.send({ type: "status", text: `Ringing staff at ${action.dial.number}… the softphone rings nobody: no answer.` });
        return { type: "dialEnded", status: "no-answer", fields: { DialCallSid: newSid("CA") } };
    }
  }

  /** The parameters Twilio sends with every request about the call. */
  private params(): Record<string, string> {
    return { CallSid: this.record.callSid, AccountSid: this.settings.accountSid, From: "+15005550006", To: "+15005550001", Direction: "inbound" };
  }
}
