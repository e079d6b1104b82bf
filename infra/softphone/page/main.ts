// The softphone page: a call through the server (which plays Twilio towards the edge), the handset's
// audio in the worklet, and the live call view beside it. What the page shows of its own playback is
// also in data attributes (queue, clears, greeting, voiced microphone), for a test to read.
import type { CoreCallLine } from "../../local/core-call-log.js";
import type { HeardFacts, PastCall, ScriptState, ServerMessage } from "../wire.js";
import { browser, byId } from "./browser.js";
import { callView, heardKey, markTurn } from "./call-view.js";
import { startPhoneAudio, type PhoneAudio } from "./phone-audio.js";
import { renderConversation, renderPastCalls } from "./view.js";
import type { PlaybackState, WorkletEvent } from "./worklet-messages.js";
import { FRAME_MS } from "./capture.js";

const ui = {
  phone: byId("phone"),
  status: byId("status"),
  call: byId("call"),
  mute: byId("mute"),
  hangup: byId("hangup"),
  playback: byId("playback"),
  mic: byId("mic"),
  sayForm: byId("say-form"),
  say: byId("say"),
  sayStatus: byId("say-status"),
  viewTitle: byId("view-title"),
  conversation: byId("conversation"),
  pastCalls: byId("past-calls"),
};

interface LiveCall {
  socket: ReturnType<typeof openSocket>;
  audio: PhoneAudio | undefined;
  callSid: string | null;
  lines: CoreCallLine[];
  heard: HeardFacts;
  /** The media stream now open: its index in the call and the page frame its clock starts at. */
  stream: { index: number; firstFrame: number } | null;
  greeting: string | null;
  script: ScriptState | null;
  /** Words sent for utterances not heard yet, oldest first. */
  waitingWords: string[];
}

let live: LiveCall | null = null;
let muted = false;
/** The call the view shows: the live one, or a past one the user picked. */
let shown: { callSid: string; lines: CoreCallLine[]; heard: HeardFacts; greeting: string | null } | null = null;

ui.call.addEventListener("click", () => void placeCall());
ui.hangup.addEventListener("click", () => live?.socket.sendJson({ type: "hangup" }));
ui.mute.addEventListener("click", () => setMuted(!muted));
ui.sayForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.say.value.trim();
  if (!live || !text) return;
  live.socket.sendJson({ type: "say", text });
  live.waitingWords.push(text);
  ui.say.value = "";
  showSayStatus(`Waiting for your next utterance: “${text}”.`);
});
void refreshPastCalls();

function setMuted(value: boolean): void {
  muted = value;
  ui.mute.setAttribute("aria-pressed", String(muted));
  ui.mute.textContent = muted ? "Unmute" : "Mute";
  ui.mic.dataset.muted = String(muted);
  live?.audio?.send({ type: "mute", muted });
}

async function placeCall(): Promise<void> {
  if (live) return;
  setPhoneState("connecting", "Starting the microphone…");
  const call: LiveCall = { socket: openSocket(), audio: undefined, callSid: null, lines: [], heard: {}, stream: null, greeting: null, script: null, waitingWords: [] };
  live = call;
  shown = null;
  ui.phone.dataset.greeting = "";
  try {
    call.audio = await startPhoneAudio("/phone-worklet.js", muted, (event) => onWorklet(call, event));
  } catch (error) {
    call.socket.close();
    return endCall(call, `The microphone could not start: ${(error as Error).message}`);
  }
  call.socket.onMessage = (message) => onServer(call, message);
  call.socket.onAudio = (bytes) => call.audio?.send({ type: "audio", bytes });
  call.socket.onClose = () => endCall(call, ui.status.textContent ?? "Call ended.");
  call.socket.start();
}

function onServer(call: LiveCall, message: ServerMessage): void {
  switch (message.type) {
    case "call":
      call.callSid = message.callSid;
      ui.sayForm.hidden = !message.offline;
      setPhoneState("in-call", "Calling the agent…");
      showCall(call);
      return;
    case "status":
      ui.status.textContent = message.text;
      return;
    case "stream":
      call.stream = { index: message.index, firstFrame: message.firstFrame };
      return;
    case "mark":
      call.audio?.send({ type: "mark", name: message.name });
      return;
    case "clear":
      call.audio?.send({ type: "clear" });
      return;
    case "line":
      call.lines.push(message.line);
      showCall(call);
      return;
    case "script":
      onScript(call, message.state);
      return;
    case "ended":
      ui.status.textContent = message.text;
      return;
    case "error":
      ui.status.textContent = `Error: ${message.message}`;
      return;
  }
}

function onWorklet(call: LiveCall, event: WorkletEvent): void {
  switch (event.type) {
    case "frame":
      call.socket.sendAudio(event.frame);
      return;
    case "state":
      showPlayback(event.state);
      return;
    case "starts":
      for (const start of event.starts) noteHeard(call, start.name, start.startedAtMs);
      showCall(call);
      return;
    case "echoes":
      for (const echo of event.echoes) {
        call.socket.sendJson({ type: "played", name: echo.name });
        ui.playback.dataset.echoed = String(Number(ui.playback.dataset.echoed ?? 0) + 1);
        if (echo.name === "greeting") {
          call.greeting = echo.played ? "(the greeting, played by the edge)" : "(the greeting, cut short)";
          ui.phone.dataset.greeting = echo.played ? "heard" : "cut";
        }
        if (echo.startedAtMs !== null) noteHeard(call, echo.name, echo.startedAtMs);
      }
      showCall(call);
      return;
  }
}

/** The answer audio before mark `name` began to play at `startedAtMs` (page clock): the first such moment of a turn is when it was heard. */
function noteHeard(call: LiveCall, name: string, startedAtMs: number): void {
  const turn = markTurn(name);
  if (turn === null || !call.stream) return;
  const key = heardKey(call.stream.index, turn);
  if (call.heard[key] !== undefined) return;
  // The page's clock counts from the handset's first frame (some went out before the socket was
  // open, and were dropped); the stream's clock from the first frame it carried.
  const atMs = Math.max(0, startedAtMs - (call.socket.droppedFrames + call.stream.firstFrame) * FRAME_MS);
  call.heard[key] = atMs;
  call.socket.sendJson({ type: "heard", stream: call.stream.index, turn, atMs });
}

function onScript(call: LiveCall, state: ScriptState): void {
  const before = call.script ?? { taken: 0, waiting: 0, wordlessUtterances: 0 };
  call.script = state;
  Object.assign(ui.sayStatus.dataset, { taken: String(state.taken), waiting: String(state.waiting), wordless: String(state.wordlessUtterances) });
  if (state.taken > before.taken) {
    const heard = call.waitingWords.splice(0, state.taken - before.taken);
    showSayStatus(`The emulator heard: “${heard.at(-1)}”.`);
  } else if (state.wordlessUtterances > before.wordlessUtterances) {
    showSayStatus("The emulator heard speech but you gave it no words: type what you will say, then say it.");
  }
}

function showSayStatus(text: string): void {
  ui.sayStatus.textContent = text;
}

function showPlayback(state: PlaybackState): void {
  Object.assign(ui.playback.dataset, { queuedMs: String(Math.round(state.queuedMs)), playing: String(state.playing), clears: String(state.clears) });
  ui.playback.textContent = state.playing ? `Agent speaking · ${(state.queuedMs / 1000).toFixed(1)} s queued` : "Agent silent";
  ui.mic.dataset.voicedMs = String(state.voicedMs);
  ui.mic.textContent = muted ? "Microphone muted (sending silence)" : `Microphone live · ${(state.voicedMs / 1000).toFixed(1)} s of voice sent`;
}

function showCall(call: LiveCall): void {
  if (shown && shown.callSid !== call.callSid) return;
  ui.viewTitle.textContent = "This call";
  renderConversation(ui.conversation, callView(call.lines, call.heard), call.greeting);
}

async function endCall(call: LiveCall, text: string): Promise<void> {
  if (live !== call) return;
  live = null;
  setPhoneState("ended", text);
  ui.sayForm.hidden = true;
  await call.audio?.close();
  await refreshPastCalls();
}

function setPhoneState(state: "connecting" | "in-call" | "ended", text: string): void {
  ui.phone.dataset.state = state;
  ui.status.textContent = text;
  ui.call.disabled = state !== "ended";
  ui.hangup.disabled = state !== "in-call";
}

async function refreshPastCalls(): Promise<void> {
  const calls = (await (await fetch("/calls")).json()) as PastCall[];
  renderPastCalls(ui.pastCalls, calls.filter((call) => call.callSid !== live?.callSid), (callSid) => {
    const call = calls.find((c) => c.callSid === callSid)!;
    shown = { callSid, lines: call.lines, heard: call.heard, greeting: null };
    ui.viewTitle.textContent = `Past call …${callSid.slice(-6)}`;
    renderConversation(ui.conversation, callView(call.lines, call.heard), null);
  });
}

/** The call's socket to the server: JSON text both ways, audio as binary. */
function openSocket() {
  let socket: ReturnType<typeof connect> | undefined;
  const connect = () => new browser.WebSocket(`ws://${browser.location.host}/call`);
  const handlers = {
    /** Microphone frames made before the socket opened: the server never saw them. */
    droppedFrames: 0,
    sent: false,
    onMessage: (_message: ServerMessage) => {},
    onAudio: (_bytes: Uint8Array) => {},
    onClose: () => {},
    start() {
      socket = connect();
      socket.binaryType = "arraybuffer";
      socket.onmessage = ({ data }) => (typeof data === "string" ? handlers.onMessage(JSON.parse(data) as ServerMessage) : handlers.onAudio(new Uint8Array(data)));
      socket.onclose = () => handlers.onClose();
    },
    sendJson(message: object) {
      if (socket?.readyState === browser.WebSocket.OPEN) socket.send(JSON.stringify(message));
    },
    sendAudio(frame: Uint8Array) {
      if (socket?.readyState === browser.WebSocket.OPEN) {
        socket.send(frame);
        handlers.sent = true;
      } else if (!handlers.sent) handlers.droppedFrames++;
    },
    close: () => socket?.close(),
  };
  return handlers;
}
