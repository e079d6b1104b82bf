// One call of the turn-taking bench, placed straight on the core's /call WebSocket as the edge would
// relay it: `start`, the greeting as already played (its text is what the agent asked), then the
// corpus item's audio as 20 ms media frames paced in real time with Twilio's timestamps, then silence
// until the core has answered the caller's last words. Twilio's side is folded in: agent audio plays
// in real time from its arrival (Playout), each mark is echoed once the audio before it has played,
// and `clear` drops the queue and returns the pending marks at once. What the caller's line received
// is kept on the caller's audio clock (the audio sent so far), the clock the core decides on.
import { FRAME_BYTES, FRAME_MS, MULAW_SILENCE, signCoreToken } from "@voice/protocol";
import { WebSocket } from "ws";
import { Playout, type AgentAudioEvent } from "./turn-taking-score.js";

export interface ItemCallOptions {
  /** ws://host:port of the core. */
  coreWsUrl: string;
  secret: string;
  callSid: string;
  /** 8 kHz mu-law from the call's first frame. */
  audio: Uint8Array;
  greetingText: string;
  /** Polled each tick once the audio is all sent: true when the core has answered the last words. */
  answered(): boolean;
  /** Silence sent after the audio at most, waiting for `answered`. */
  maxExtraMs: number;
}

export interface ItemCallReport {
  agentAudio: AgentAudioEvent[];
  /** The core never answered the last words within maxExtraMs. */
  unanswered: boolean;
  /** The core closed the call before the caller hung up. */
  closedByCore: boolean;
  /** How late the 20 ms clock ran at worst (this process's own health). */
  maxTickLatenessMs: number;
}

const MEDIA_PREFIX = '{"event":"media"';

export async function callWithItem(options: ItemCallOptions): Promise<ItemCallReport> {
  const token = await signCoreToken(options.secret, "call", options.callSid, Date.now());
  const socket = new WebSocket(`${options.coreWsUrl}/call`, { headers: { Authorization: `Bearer ${token}` }, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => socket.once("open", () => resolve()).once("error", reject));
  const streamSid = `MZ${options.callSid}`;
  const frames = Math.ceil(options.audio.length / FRAME_BYTES);
  const lastFrame = frames + Math.ceil(options.maxExtraMs / FRAME_MS);
  const agentAudio: AgentAudioEvent[] = [];
  const playout = new Playout();
  const pendingMarks: { name: string; dueMs: number }[] = [];
  let sequence = 0;
  let sent = 0;
  let hangingUp = false;
  let closedByCore = false;
  let maxTickLatenessMs = 0;
  const send = (frame: object) => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(frame));
  const echo = (name: string) => send({ event: "mark", sequenceNumber: String(++sequence), streamSid, mark: { name } });
  const audioMs = () => sent * FRAME_MS;

  socket.on("message", (data) => {
    const text = String(data);
    if (text.startsWith(MEDIA_PREFIX)) {
      const payload = (JSON.parse(text) as { media: { payload: string } }).media.payload;
      const durationMs = (Buffer.from(payload, "base64").length / FRAME_BYTES) * FRAME_MS;
      agentAudio.push({ kind: "media", atMs: audioMs(), durationMs });
      playout.media(audioMs(), durationMs);
      return;
    }
    const frame = JSON.parse(text) as { event?: string; mark?: { name?: string } };
    if (frame.event === "mark" && typeof frame.mark?.name === "string") pendingMarks.push({ name: frame.mark.name, dueMs: playout.endAt(audioMs()) });
    else if (frame.event === "clear") {
      agentAudio.push({ kind: "clear", atMs: audioMs() });
      playout.clear(audioMs());
      for (const { name } of pendingMarks.splice(0)) echo(name);
    }
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  void closed.then(() => (closedByCore = !hangingUp));

  send({
    event: "start",
    sequenceNumber: String(++sequence),
    streamSid,
    start: {
      accountSid: "ACbench",
      streamSid,
      callSid: options.callSid,
      tracks: ["inbound"],
      customParameters: { callSid: options.callSid },
      mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
    },
  });
  // The edge played the greeting before the caller spoke; its mark comes back at once.
  send({ event: "edge.greeting", played: true, text: options.greetingText, mark: "greeting" });
  echo("greeting");

  const silence = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
  const frameAt = (n: number) => {
    if (n >= frames) return silence;
    const chunk = options.audio.subarray(n * FRAME_BYTES, (n + 1) * FRAME_BYTES);
    if (chunk.length === FRAME_BYTES) return chunk;
    const padded = new Uint8Array(silence);
    padded.set(chunk);
    return padded;
  };
  const unanswered = await new Promise<boolean>((resolve) => {
    const startedAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const finish = (value: boolean) => {
      clearTimeout(timer);
      resolve(value);
    };
    void closed.then(() => finish(!options.answered()));
    // Frame n is due at startedAt + 20 n; after a stall the missed frames go at once, as a live line's would.
    const tick = () => {
      const now = performance.now();
      maxTickLatenessMs = Math.max(maxTickLatenessMs, now - (startedAt + sent * FRAME_MS));
      while (sent <= Math.floor((now - startedAt) / FRAME_MS)) {
        if (socket.readyState !== WebSocket.OPEN) return;
        if (sent >= frames && options.answered()) return finish(false);
        if (sent >= lastFrame) return finish(true);
        const payload = Buffer.from(frameAt(sent)).toString("base64");
        socket.send(
          `{"event":"media","sequenceNumber":"${++sequence}","streamSid":"${streamSid}","media":{"track":"inbound","chunk":"${sent + 1}","timestamp":"${sent * FRAME_MS}","payload":"${payload}"}}`,
        );
        sent++;
        while (pendingMarks[0] && pendingMarks[0].dueMs <= audioMs()) echo(pendingMarks.shift()!.name);
      }
      timer = setTimeout(tick, Math.max(0, startedAt + sent * FRAME_MS - performance.now()));
    };
    tick();
  });
  hangingUp = true;
  if (socket.readyState === WebSocket.OPEN) {
    send({ event: "stop", sequenceNumber: String(++sequence), streamSid, stop: { accountSid: "ACbench", callSid: options.callSid } });
    socket.close(1000);
  }
  await closed;
  return { agentAudio, unanswered, closedByCore, maxTickLatenessMs: Math.round(maxTickLatenessMs) };
}
