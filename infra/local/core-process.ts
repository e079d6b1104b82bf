// Runs the core as its own Node process, as Cloud Run does, and reads its structured stdout.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { signCoreToken } from "@voice/protocol";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CORE_MAIN = fileURLToPath(new URL("../../core-node/src/main.ts", import.meta.url));

/** One line the core wrote: parsed when it is one of its JSON log lines. */
export interface CoreLogLine {
  text: string;
  json?: Record<string, unknown> & { message?: string; severity?: string };
  stream: "stdout" | "stderr";
}

export interface CoreProcess {
  url: string;
  port: number;
  /** The core's process id (benchmarks read its CPU time and memory from /proc). */
  pid: number;
  /** Every line the core has written so far, in order. */
  lines: CoreLogLine[];
  onLine(listener: (line: CoreLogLine) => void): void;
  /** Sends a signal without waiting: SIGKILL for a crash, SIGTERM for a Cloud Run rollout (the core drains). */
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit code (null when a signal ended it) once the process is gone. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface StartCoreOptions {
  env: Record<string, string>;
  /** 0 (default) lets the core pick a free port; it reports it in APP_START. */
  port?: number;
  startTimeoutMs?: number;
  /** A built bundle (infra/cloudrun/build.ts) to run with plain node, as the image does; default: main.ts through tsx. */
  entry?: string;
  /** CPUs the process may run on, as taskset's list ("0", "0-1"): a benchmark pins the core to one core. */
  cpus?: string;
}

export function parseCoreLine(text: string, stream: CoreLogLine["stream"]): CoreLogLine {
  if (!text.startsWith("{")) return { text, stream };
  try {
    return { text, stream, json: JSON.parse(text) as CoreLogLine["json"] };
  } catch {
    return { text, stream };
  }
}

export async function startCore(options: StartCoreOptions): Promise<CoreProcess> {
  const node = [process.execPath, ...(options.entry ? [options.entry] : ["--import", "tsx", CORE_MAIN])];
  // taskset execs node in its own process, so the child's pid is the core's.
  const [command, ...args] = options.cpus === undefined ? node : ["taskset", "-c", options.cpus, ...node];
  const child = spawn(command!, args, {
    cwd: REPO_ROOT,
    // Loopback only, as every local core (a HOST in the shell's environment must not open it wider).
    env: { ...process.env, HOST: "127.0.0.1", ...options.env, PORT: String(options.port ?? 0) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: CoreLogLine[] = [];
  const listeners: ((line: CoreLogLine) => void)[] = [];
  // Whatever way this process ends (Ctrl-C handled by Miniflare's own exit hook, a crash), the core
  // must not outlive it: SIGTERM lets it close its calls and exit on its own.
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      process.removeListener("exit", killOnExit);
      resolve(code);
    }),
  );
  for (const stream of ["stdout", "stderr"] as const) {
    createInterface({ input: child[stream] }).on("line", (text) => {
      const line = parseCoreLine(text, stream);
      lines.push(line);
      for (const listener of listeners) listener(line);
    });
  }

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`core did not log APP_START within ${options.startTimeoutMs ?? 30_000} ms`)),
      options.startTimeoutMs ?? 30_000,
    );
    listeners.push((line) => {
      if (line.json?.message === "APP_START") {
        clearTimeout(timer);
        resolve(Number(line.json.port));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      const tail = lines.slice(-5).map((l) => l.text).join("\n");
      reject(new Error(`core exited with code ${code} before APP_START:\n${tail}`));
    });
  }).catch(async (error: unknown) => {
    await stopChild(child, exited);
    throw error;
  });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    lines,
    onLine: (listener) => void listeners.push(listener),
    kill: (signal) => void child.kill(signal),
    exited,
    stop: () => stopChild(child, exited),
  };
}

/** SIGTERM (the core drains and exits), then SIGKILL if it has not gone within 5 s. */
async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The core's GET /health with its details (warmup failures, calls, counts, constructions): those
 * need a health token signed with the core's secret; without one the core answers `status` alone.
 */
export async function coreHealth(coreUrl: string, secret: string): Promise<Record<string, unknown> & { status: string }> {
  const token = await signCoreToken(secret, "health", "health", Date.now());
  const response = await fetch(`${coreUrl}/health`, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`core /health answered HTTP ${response.status}`);
  return (await response.json()) as Record<string, unknown> & { status: string };
}
