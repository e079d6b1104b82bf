// The handset: the microphone (echo cancellation on) into the phone worklet, the worklet into the
// speakers. Everything audio happens in the worklet (phone-worklet.ts); this starts and stops it and
// carries messages to and from it.
import { browser, type PageAudioContext, type PageMediaStream, type PageWorkletNode } from "./browser.js";
import { PHONE_PROCESSOR, type WorkletCommand, type WorkletEvent } from "./worklet-messages.js";

export interface PhoneAudio {
  readonly sampleRate: number;
  send(command: WorkletCommand): void;
  close(): Promise<void>;
}

/** Asks for the microphone and starts the handset; `onEvent` gets the worklet's frames, echoes and state. */
export async function startPhoneAudio(workletUrl: string, muted: boolean, onEvent: (event: WorkletEvent) => void): Promise<PhoneAudio> {
  const microphone: PageMediaStream = await browser.navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
  let context: PageAudioContext | undefined;
  try {
    context = new browser.AudioContext();
    await context.audioWorklet.addModule(workletUrl);
    const node: PageWorkletNode = new browser.AudioWorkletNode(context, PHONE_PROCESSOR, { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
    node.port.onmessage = (event) => onEvent(event.data as WorkletEvent);
    node.port.postMessage({ type: "mute", muted } satisfies WorkletCommand);
    const source = context.createMediaStreamSource(microphone);
    source.connect(node);
    node.connect(context.destination);
    await context.resume();
    const running = context;
    return {
      sampleRate: running.sampleRate,
      send: (command) => node.port.postMessage(command, command.type === "audio" ? [command.bytes.buffer as ArrayBuffer] : []),
      close: async () => {
        source.disconnect();
        node.disconnect();
        for (const track of microphone.getTracks()) track.stop();
        await running.close();
      },
    };
  } catch (error) {
    for (const track of microphone.getTracks()) track.stop();
    await context?.close();
    throw error;
  }
}
