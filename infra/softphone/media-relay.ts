// One Media Stream of a softphone call, Twilio's side of it: `connected` and `start` (with the
// <Stream>'s parameters, the edge's stream token among them), then each 20 ms microphone frame from
// the page as a `media` frame stamped with the stream's audio clock (frame n: 20n ms); the edge's
// media and marks go to the page in order, its `clear` at once, and the marks the page's playback
// reaches go back as Twilio's echoes. Pacing is the page's: its audio clock makes a frame every 20 ms,
// and each is sent on as it arrives. The page hanging up is Twilio's `stop` and close.
import { FRAME_BYTES, FRAME_MS } from "@voice/protocol";
import { WebSocket, type RawData } from "ws";
import { readEdgeFrame } from "../sim/twilio-client.js";
import { connectedMessage, markMessage, mediaMessage, startMessage, stopMessage, type StreamIds } from "../twilio/media-stream-frames.js";
import type { ServerMessage } from "./wire.js";

/** What the relay needs of the page's socket. */
export interface PageLink {
  send(message: ServerMessage): void;
  sendAudio(mulaw: Uint8Array): void;
}

export interface StreamEnd {
  by: "caller" | "edge";
  /** The edge's close code and reason, when it closed the stream. */
  detail: string;
}

/** How long to wait for the edge to answer our close before dropping the connection. */
const CLOSE_GRACE_MS = 2000;

export class MediaRelay {
  private sequence = 0;
  private frames = 0;
  private hangingUp = false;
  /** Resolves once the stream is over, either side having ended it. */
  readonly ended: Promise<StreamEnd>;

  constructor(
    private readonly edge: WebSocket,
    private readonly ids: StreamIds,
    parameters: Record<string, string>,
    private readonly page: PageLink,
    private readonly report: (problem: string) => void,
  ) {
    this.ended = new Promise((resolve) => {
      edge.on("close", (code, reason) => resolve(this.hangingUp ? { by: "caller", detail: "" } : { by: "edge", detail: `code ${code}${reason.length ? `: ${reason}` : ""}` }));
    });
    edge.on("message", (data, isBinary) => this.fromEdge(data, isBinary));
    edge.on("error", (error) => report(`media stream error: ${error.message}`));
    this.send(connectedMessage());
    this.send(startMessage(++this.sequence, ids, parameters));
  }

  /** A microphone frame from the page: the next 20 ms of the stream. */
  microphone(frame: Uint8Array): void {
    if (frame.length !== FRAME_BYTES) return this.report(`a microphone frame must be ${FRAME_BYTES} bytes of mu-law (${FRAME_MS} ms), got ${frame.length}`);
    this.send(mediaMessage(++this.sequence, this.ids.streamSid, this.frames++, frame));
  }

  /** The page's playback reached (or a clear dropped) mark `name`. */
  echo(name: string): void {
    this.send(markMessage(++this.sequence, this.ids.streamSid, name));
  }

  /** Twilio's hang-up: `stop`, then the close; resolves once the stream is over. */
  async hangUp(): Promise<StreamEnd> {
    if (this.edge.readyState === WebSocket.OPEN && !this.hangingUp) {
      this.hangingUp = true;
      this.send(stopMessage(++this.sequence, this.ids));
      this.edge.close(1000, "call ended");
      const timer = setTimeout(() => this.edge.terminate(), CLOSE_GRACE_MS);
      void this.ended.then(() => clearTimeout(timer));
    }
    return this.ended;
  }

  private fromEdge(data: RawData, isBinary: boolean): void {
    const read = readEdgeFrame(data, isBinary, this.ids.streamSid);
    if (!read.ok) return this.report(read.problem);
    const { frame } = read;
    if (frame.event === "media") this.page.sendAudio(Buffer.from(frame.media.payload, "base64"));
    else if (frame.event === "mark") this.page.send({ type: "mark", name: frame.mark.name });
    else this.page.send({ type: "clear" });
  }

  private send(frame: object): void {
    if (this.edge.readyState === WebSocket.OPEN) this.edge.send(JSON.stringify(frame));
  }
}
