// Runs the edge worker in real workerd on 127.0.0.1, configured from wrangler.toml (entry point,
// compatibility date and flags, vars, KV binding) like `wrangler dev` would, with secrets and local
// overrides on top. It bundles with esbuild and drives Miniflare directly rather than importing
// wrangler, whose import alone takes about a second. Fully offline: no cf-object fetch, no telemetry.
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const WRANGLER_TOML = path.join(REPO_ROOT, "wrangler.toml");

/** The part of wrangler.toml the runner uses; anything else in the file is wrangler's alone. */
const wranglerConfig = z.object({
  main: z.string(),
  compatibility_date: z.string(),
  compatibility_flags: z.array(z.string()).default([]),
  vars: z.record(z.string(), z.string()).default({}),
  kv_namespaces: z.array(z.object({ binding: z.string(), id: z.string() })).default([]),
  durable_objects: z.object({ bindings: z.array(z.object({ name: z.string(), class_name: z.string() })) }).default({ bindings: [] }),
});
type WranglerConfig = z.infer<typeof wranglerConfig>;

export interface EdgeSecrets {
  TWILIO_AUTH_TOKEN: string;
  CORE_SHARED_SECRET: string;
  DEPLOY_TOKEN: string;
  STREAM_TOKEN_SECRET: string;
  /** Signs the call records the edge delivers to CALL_RECORD_URL. */
  CALL_RECORD_SECRET?: string;
}

/** Vars a local run may override; CORE_URL and PUBLIC_URL have options of their own. */
export type EdgeVarOverrides = Partial<
  Record<
    | "GREETING_TEXT"
    | "HOLD_TEXT"
    | "LANGUAGE"
    | "TTS_VOICE"
    | "RECONNECT_BUDGET_MS"
    | "STAFF_NUMBER"
    | "TRANSFER_TIMEOUT_S"
    | "FALLBACK_NUMBER"
    | "FALLBACK_TEXT"
    | "CALL_RECORD_URL"
    | "RECORD_WAIT_MS"
    | "TWILIO_ACCOUNT_SID",
    string
  >
>;

/** One console line of the worker; `json` is set when the line is one of the edge's JSON log lines. */
export interface EdgeLogLine {
  level: string;
  text: string;
  json?: Record<string, unknown>;
}

export interface StartEdgeOptions {
  /** Port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Base URL of the core, e.g. http://127.0.0.1:8080. */
  coreUrl: string;
  /** The edge's public base URL, over which Twilio signatures are checked; http://127.0.0.1:<port> by default. */
  publicUrl?: string;
  secrets: EdgeSecrets;
  vars?: EdgeVarOverrides;
  /** Entries written to the GREETINGS KV namespace (phrase audio) before the edge serves its first request. */
  kvSeed?: Record<string, Uint8Array | string>;
  /** Receives every console line of the worker; by default they go to this process's stdout/stderr. */
  onLog?: (line: EdgeLogLine) => void;
}

/** The GREETINGS KV namespace, as seen from Node. */
export interface GreetingStore {
  get(key: string): Promise<Uint8Array | null>;
  put(key: string, value: Uint8Array | string): Promise<void>;
}

export interface RunningEdge {
  /** http://127.0.0.1:<port> (no trailing slash). */
  url: string;
  port: number;
  kv: GreetingStore;
  /** Stops workerd; resolves once the process is gone. Safe to call more than once. */
  close(): Promise<void>;
}

export async function readWranglerConfig(file = WRANGLER_TOML): Promise<WranglerConfig> {
  const parsed = wranglerConfig.safeParse(parseToml(await readFile(file, "utf8")));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`${file}: ${problems}`);
  }
  return parsed.data;
}

/** Bundles the worker the way wrangler does: ESM, Workers export conditions, cloudflare:* left to workerd. */
async function bundleWorker(entry: string): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    external: ["cloudflare:*"],
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** A port on 127.0.0.1 that was free a moment ago (for a process that must be told its port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function printLogLine(line: EdgeLogLine): void {
  const stream = line.level === "error" || line.level === "warn" ? process.stderr : process.stdout;
  stream.write(`${line.text}\n`);
}

function toLogLine(level: string, text: string): EdgeLogLine {
  if (!text.startsWith("{")) return { level, text };
  try {
    return { level, text, json: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { level, text };
  }
}

export async function startEdge(options: StartEdgeOptions): Promise<RunningEdge> {
  const [config, port] = await Promise.all([readWranglerConfig(), options.port ?? freePort()]);
  const script = await bundleWorker(path.join(REPO_ROOT, config.main));
  const onLog = options.onLog ?? printLogLine;
  const mf = new Miniflare({
    host: "127.0.0.1",
    port,
    modules: [{ type: "ESModule", path: path.join(REPO_ROOT, "edge/index.mjs"), contents: script }],
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    bindings: {
      ...config.vars,
      ...options.vars,
      CORE_URL: options.coreUrl,
      PUBLIC_URL: options.publicUrl ?? `http://127.0.0.1:${port}`,
      ...options.secrets,
    },
    kvNamespaces: Object.fromEntries(config.kv_namespaces.map((ns) => [ns.binding, ns.id])),
    // The worker's own classes (the per-call ledger), kept in memory for the life of this workerd.
    durableObjects: Object.fromEntries(config.durable_objects.bindings.map((binding) => [binding.name, binding.class_name])),
    // Offline: the placeholder `request.cf` instead of downloading Cloudflare's.
    cf: false,
    // Miniflare checks that this returns nothing, hence the braces.
    handleStructuredLogs: ({ level, message }: { level: string; message: string }) => {
      onLog(toLogLine(level, message));
    },
  });
  try {
    await mf.ready;
    // Opened on first use: Miniflare's KV proxy costs ~150 ms of startup that most runs never need.
    let namespace: ReturnType<Miniflare["getKVNamespace"]> | undefined;
    const greetings = () => (namespace ??= mf.getKVNamespace("GREETINGS"));
    const kv: GreetingStore = {
      async get(key) {
        const value = await (await greetings()).get(key, "arrayBuffer");
        return value ? new Uint8Array(value) : null;
      },
      async put(key, value) {
        await (await greetings()).put(key, value);
      },
    };
    for (const [key, value] of Object.entries(options.kvSeed ?? {})) await kv.put(key, value);
    let closing: Promise<void> | undefined;
    return { url: `http://127.0.0.1:${port}`, port, kv, close: () => (closing ??= mf.dispose()) };
  } catch (error) {
    await mf.dispose();
    throw error;
  }
}
