// Which services `npm start` uses, decided from the settings of a .env: per service, the real one
// when its credentials are there and the emulator otherwise; what the core and the edge are given;
// the banner's lines. Pure: the settings and a way to find files come in, the plan comes out
// (env-file.ts reads the file, start.ts runs the plan).
import type { EdgeVarOverrides } from "./edge.js";
import type { StackOptions } from "./stack.js";

/** The services the core can use for real or emulated. */
export const SERVICES = ["speech", "tts", "chat"] as const;
export type Service = (typeof SERVICES)[number];

/**
 * Core settings a .env may not hold, and why: `npm start` sets them itself (fixed ports on loopback,
 * its local secrets, the emulators' addresses), or Cloud Run does. Refused rather than overridden.
 */
export const REFUSED_KEYS: Readonly<Record<string, string>> = {
  PORT: "npm start sets the core's port itself",
  HOST: "npm start keeps the core on loopback",
  CORE_SHARED_SECRET: "npm start gives the core and the edge a local secret of its own",
  CORE_SHARED_SECRET_PREVIOUS: "npm start gives the core and the edge a local secret of its own",
  TOOL_SIGNING_SECRET: "npm start gives the core and the booking service a local secret of its own",
  SPEECH_ENDPOINT: "npm start points the core at the speech emulator, or at Google with GOOGLE_APPLICATION_CREDENTIALS",
  TTS_ENDPOINT: "npm start points the core at the TTS emulator, or at Google with GOOGLE_APPLICATION_CREDENTIALS",
  K_SERVICE: "Cloud Run sets it; a local core has none",
  K_REVISION: "Cloud Run sets it; a local core has none",
};

/** `npm start`'s own: services to keep emulated although their credentials are in the .env. */
export const START_KEYS = ["LOCAL_EMULATE"] as const;

/** The edge's, for a real number through a tunnel, and the numbers a transfer and the fallback ring. */
export const EDGE_KEYS = ["PUBLIC_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "STAFF_NUMBER", "FALLBACK_NUMBER"] as const;

/** Given to the core and to the edge alike: both must agree on them (the greeting's key in KV). */
export const SHARED_KEYS = ["GREETING_TEXT", "LANGUAGE", "TTS_VOICE"] as const;

/** Read by `npm run phone:webhook` only (with TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and PUBLIC_URL). */
export const WEBHOOK_KEYS = ["TWILIO_PHONE_NUMBER", "TWILIO_API_KEY", "TWILIO_API_SECRET"] as const;

/** Core settings that hold a path: a relative one is relative to the .env's folder. */
const PATH_KEYS = ["GOOGLE_APPLICATION_CREDENTIALS", "AGENT_FILE", "AGENT_PROMPT_FILE"] as const;

/** Every key a .env may hold, given the names of the core's settings (core-node/src/config.ts SETTING_NAMES). */
export function envFileKeys(coreSettings: readonly string[]): string[] {
  const keys = [...START_KEYS, ...coreSettings.filter((key) => !Object.hasOwn(REFUSED_KEYS, key)), ...EDGE_KEYS, ...WEBHOOK_KEYS];
  return [...new Set(keys)];
}

/** A real Twilio number's calls reach this edge through a tunnel at publicUrl. */
export interface PhonePath {
  publicUrl: string;
  accountSid: string;
  authToken: string;
}

export interface ServicePlan {
  /** The .env the settings came from; undefined when there was none. */
  source?: string;
  /** Per service: true for the real one, false for its emulator. */
  real: Record<Service, boolean>;
  /** Services whose credentials are in the .env but which LOCAL_EMULATE keeps emulated. */
  forced: Service[];
  /** The core's settings from the .env (on top of those the stack gives it). */
  coreEnv: Record<string, string>;
  /** The edge's vars from the .env (on top of wrangler.toml's and the stack's). */
  edgeVars: EdgeVarOverrides;
  /** Set when PUBLIC_URL is: the edge answers that Twilio account, over that URL. */
  phone?: PhonePath;
  /** The origin of OPENAI_BASE_URL when the real chat goes to a server other than OpenAI's. */
  chatServer?: string;
}

export interface PlanInput {
  /** The .env's settings (empty values count as unset). */
  env: Record<string, string>;
  /** The .env's path, for the banner; undefined when there is no .env. */
  source?: string;
  /** The names of the core's settings. */
  coreSettings: readonly string[];
  /** The absolute path of `path` (relative to the .env's folder) when a file is there; undefined when none is. */
  locateFile(path: string): string | undefined;
}

export type PlanResult = { ok: true; plan: ServicePlan } | { ok: false; error: string };

/** The plan with no .env: every service emulated, nothing added, as `npm start` always did. */
export const ALL_EMULATED: ServicePlan = { real: { speech: false, tts: false, chat: false }, forced: [], coreEnv: {}, edgeVars: {} };

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;

/** The number's voice webhook for an edge at `publicUrl`: the URL the edge checks Twilio's signature over (edge/src/signature.ts). */
export function voiceWebhookUrl(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, "")}/twilio/voice`;
}

/** Why `value` cannot be the edge's public URL through a tunnel; undefined when it can. */
export function publicUrlProblem(value: string): string | undefined {
  const expected = "expected the tunnel's https:// address with no path (e.g. https://example.trycloudflare.com)";
  if (!URL.canParse(value)) return expected;
  const url = new URL(value);
  if (url.protocol !== "https:" || url.pathname !== "/" || url.search || url.hash || url.username || url.password) return expected;
  return undefined;
}

/** A bad .env: the message is one line naming the key, never its value. */
class EnvProblem extends Error {
  constructor(key: string, problem: string) {
    super(`${key}: ${problem}`);
  }
}

/** Decides, from a .env's settings, what `npm start` runs; a problem is one line naming the key (never its value). */
export function planServices(input: PlanInput): PlanResult {
  try {
    return { ok: true, plan: plan(input) };
  } catch (error) {
    if (error instanceof EnvProblem) return { ok: false, error: error.message };
    throw error;
  }
}

function plan(input: PlanInput): ServicePlan {
  checkKeys(input);
  const env = Object.fromEntries(Object.entries(input.env).filter(([, value]) => value.trim() !== ""));
  const googleKey = env.GOOGLE_APPLICATION_CREDENTIALS?.trim();
  if (googleKey?.startsWith("{") && !isJsonObject(googleKey))
    throw new EnvProblem("GOOGLE_APPLICATION_CREDENTIALS", "holds text starting with { that is not a JSON object (give the key file's path, or its JSON in single quotes)");
  if (env.OPENAI_BASE_URL !== undefined) {
    if (!URL.canParse(env.OPENAI_BASE_URL)) throw new EnvProblem("OPENAI_BASE_URL", "expected a URL such as http://127.0.0.1:11434/v1");
    if (env.OPENAI_API_KEY === undefined) throw new EnvProblem("OPENAI_BASE_URL", "set without OPENAI_API_KEY (a server that needs no key still wants one: any text)");
  }

  const emulate = emulatedOnPurpose(env.LOCAL_EMULATE);
  const credentials: Record<Service, boolean> = { speech: googleKey !== undefined, tts: googleKey !== undefined, chat: env.OPENAI_API_KEY !== undefined };
  const real = { speech: false, tts: false, chat: false };
  const forced: Service[] = [];
  for (const service of SERVICES) {
    if (!credentials[service]) continue;
    if (emulate.includes(service)) forced.push(service);
    else real[service] = true;
  }

  const edgeVars: EdgeVarOverrides = {};
  for (const key of [...SHARED_KEYS, "STAFF_NUMBER", "FALLBACK_NUMBER"] as const) if (env[key] !== undefined) edgeVars[key] = env[key];
  const phone = phonePath(env);
  const chatServer = real.chat && env.OPENAI_BASE_URL !== undefined ? new URL(env.OPENAI_BASE_URL).origin : undefined;
  return {
    ...(input.source !== undefined && { source: input.source }),
    real,
    forced,
    coreEnv: coreSettings(env, input, real),
    edgeVars,
    ...(phone && { phone }),
    ...(chatServer !== undefined && { chatServer }),
  };
}

/** Every key (empty or not) must be one npm start reads. */
function checkKeys(input: PlanInput): void {
  const known = new Set(envFileKeys(input.coreSettings));
  for (const key of Object.keys(input.env)) {
    if (Object.hasOwn(REFUSED_KEYS, key)) throw new EnvProblem(key, `not read from .env: ${REFUSED_KEYS[key]}`);
    if (!known.has(key)) throw new EnvProblem(key, "not a key npm start reads (.env.example lists them all)");
  }
}

/** LOCAL_EMULATE's services. */
function emulatedOnPurpose(value: string | undefined): string[] {
  const names = (value ?? "").split(",").map((name) => name.trim()).filter((name) => name !== "");
  const unknown = names.find((name) => !(SERVICES as readonly string[]).includes(name));
  if (unknown !== undefined) throw new EnvProblem("LOCAL_EMULATE", `"${unknown}" is not one of ${SERVICES.join(", ")}`);
  return names;
}

/** The core's settings from the .env, paths made absolute, for the services as chosen. */
function coreSettings(env: Record<string, string>, input: PlanInput, real: Record<Service, boolean>): Record<string, string> {
  const coreEnv: Record<string, string> = {};
  for (const key of input.coreSettings) if (env[key] !== undefined) coreEnv[key] = env[key];
  for (const key of PATH_KEYS) {
    const value = env[key];
    if (value === undefined || (key === "GOOGLE_APPLICATION_CREDENTIALS" && value.trim().startsWith("{"))) continue;
    const located = input.locateFile(value);
    if (located === undefined) throw new EnvProblem(key, `no file at ${value}`);
    coreEnv[key] = located;
  }
  // What a real service does not use stays out of the core; what it does use is said outright ("" is
  // unset for the core), so a variable of the shell cannot point the core elsewhere than the banner says.
  if (!real.speech && !real.tts) delete coreEnv.GOOGLE_APPLICATION_CREDENTIALS;
  if (real.speech) coreEnv.SPEECH_ENDPOINT = "";
  if (real.tts) coreEnv.TTS_ENDPOINT = "";
  if (real.chat) coreEnv.OPENAI_BASE_URL = env.OPENAI_BASE_URL ?? "";
  else {
    delete coreEnv.OPENAI_API_KEY;
    delete coreEnv.OPENAI_BASE_URL;
  }
  // A prompt of one's own replaces the local agent file (the booking tools) the stack would give.
  if (env.AGENT_FILE === undefined && (env.SYSTEM_PROMPT !== undefined || env.AGENT_PROMPT_FILE !== undefined)) coreEnv.AGENT_FILE = "";
  return coreEnv;
}

/** The real number's path when PUBLIC_URL is set, with the account it needs. */
function phonePath(env: Record<string, string>): PhonePath | undefined {
  if (env.PUBLIC_URL === undefined) return undefined;
  const problem = publicUrlProblem(env.PUBLIC_URL);
  if (problem) throw new EnvProblem("PUBLIC_URL", problem);
  if (env.TWILIO_AUTH_TOKEN === undefined) throw new EnvProblem("TWILIO_AUTH_TOKEN", "needed with PUBLIC_URL: the edge checks Twilio's signatures with it");
  if (env.TWILIO_ACCOUNT_SID === undefined) throw new EnvProblem("TWILIO_ACCOUNT_SID", "needed with PUBLIC_URL: the edge answers only that account's calls");
  if (!ACCOUNT_SID.test(env.TWILIO_ACCOUNT_SID)) throw new EnvProblem("TWILIO_ACCOUNT_SID", "expected AC followed by 32 hex digits (the Twilio console's Account Info)");
  return { publicUrl: new URL(env.PUBLIC_URL).origin, accountSid: env.TWILIO_ACCOUNT_SID, authToken: env.TWILIO_AUTH_TOKEN };
}

/** The stack's options that carry out the plan (the rest, ports and services of its own, are the caller's). */
export function stackOptionsOf(plan: ServicePlan): Pick<StackOptions, "real" | "coreEnv" | "edgeVars" | "phone"> {
  return { real: plan.real, coreEnv: plan.coreEnv, edgeVars: plan.edgeVars, ...(plan.phone && { phone: plan.phone }) };
}

function isJsonObject(text: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

/** Where the emulators listen, for the banner. */
export interface EmulatorAddresses {
  speech: string;
  tts: string;
  /** The OpenAI emulator's base URL. */
  openai: string;
}

const label = (name: string) => `  ${name.padEnd(8)}`;

/** The banner's lines for the services and the phone path: which is real, which is an emulator and where. */
export function serviceLines(plan: ServicePlan, emulators: EmulatorAddresses): string[] {
  const from = plan.source === undefined ? "" : " from .env";
  const unused = (service: Service) => (plan.forced.includes(service) ? " (LOCAL_EMULATE: the credentials in .env are not used)" : "");
  const source = plan.source === undefined ? "settings: no .env, so every service is emulated (copy .env.example to .env to use real ones)" : `settings: ${plan.source}`;
  const chat = plan.chatServer
    ? `OpenAI-compatible server ${plan.chatServer} (real, OPENAI_API_KEY and OPENAI_BASE_URL${from})`
    : `OpenAI (real, OPENAI_API_KEY${from})`;
  const phone = plan.phone
    ? `Twilio calls POST ${voiceWebhookUrl(plan.phone.publicUrl)} (PUBLIC_URL and the Twilio account${from}; point the number at it: npm run phone:webhook)`
    : "simulated calls: npm run call (a real number: a tunnel and PUBLIC_URL, see README \"Real services and a real phone\")";
  return [
    `  ${source}`,
    label("speech") + (plan.real.speech ? `Google Speech-to-Text (real, credentials${from})` : `emulator ${emulators.speech}${unused("speech")}`),
    label("tts") + (plan.real.tts ? `Google Text-to-Speech (real, credentials${from})` : `emulator ${emulators.tts}${unused("tts")}`),
    label("chat") + (plan.real.chat ? chat : `emulator ${emulators.openai}${unused("chat")}`),
    label("phone") + phone,
    // The simulator signs with the local account unless told otherwise, and over the URL it calls.
    ...(plan.phone ? [`${label("")}npm run call -- --url ${plan.phone.publicUrl}   (with the account's TWILIO_AUTH_TOKEN and TWILIO_ACCOUNT_SID in its environment)`] : []),
  ];
}
