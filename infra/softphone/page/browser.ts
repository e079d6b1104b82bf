// The browser APIs the page uses, typed here: the repository typechecks as one Node program, and
// adding the DOM library to it would retype Node's globals (fetch, Response) for every other file.
// Only what the page touches is described; at run time these are the browser's own objects.

export interface PageElement {
  textContent: string | null;
  hidden: boolean;
  disabled: boolean;
  value: string;
  className: string;
  title: string;
  readonly dataset: Record<string, string | undefined>;
  readonly style: { setProperty(name: string, value: string): void };
  setAttribute(name: string, value: string): void;
  append(...children: (PageElement | string)[]): void;
  replaceChildren(...children: (PageElement | string)[]): void;
  addEventListener(type: "click" | "submit", listener: (event: { preventDefault(): void }) => void): void;
}

export interface PageSocket {
  binaryType: "arraybuffer";
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: (() => void) | null;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
}

export interface PageAudioNode {
  connect(destination: PageAudioNode): void;
  disconnect(): void;
}

export interface PageWorkletNode extends PageAudioNode {
  readonly port: {
    postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
    onmessage: ((event: { data: unknown }) => void) | null;
  };
}

export interface PageMediaStream {
  getTracks(): { stop(): void }[];
}

export interface PageAudioContext {
  readonly sampleRate: number;
  readonly destination: PageAudioNode;
  readonly audioWorklet: { addModule(url: string): Promise<void> };
  createMediaStreamSource(stream: PageMediaStream): PageAudioNode;
  resume(): Promise<void>;
  close(): Promise<void>;
}

interface Browser {
  document: {
    getElementById(id: string): PageElement | null;
    createElement(tag: string): PageElement;
  };
  location: { host: string };
  navigator: { mediaDevices: { getUserMedia(constraints: { audio: Record<string, boolean> }): Promise<PageMediaStream> } };
  WebSocket: (new (url: string) => PageSocket) & { readonly OPEN: number };
  AudioContext: new () => PageAudioContext;
  AudioWorkletNode: new (context: PageAudioContext, name: string, options: { numberOfInputs: number; numberOfOutputs: number; outputChannelCount: number[] }) => PageWorkletNode;
}

export const browser = globalThis as unknown as Browser;

/** The element with `id`; the page's HTML has every one the script asks for. */
export function byId(id: string): PageElement {
  const element = browser.document.getElementById(id);
  if (!element) throw new Error(`softphone page: no element #${id}`);
  return element;
}

/** A new element with its class and children. */
export function element(tag: string, className = "", ...children: (PageElement | string)[]): PageElement {
  const created = browser.document.createElement(tag);
  if (className) created.className = className;
  created.append(...children);
  return created;
}
