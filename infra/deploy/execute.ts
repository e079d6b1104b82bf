// Runs a deploy plan: each step in order, no shell (arguments go to the program as they are), secrets
// from this process's environment, captured values into later steps. A failure at a step that
// guards the rollout, a NO-GO, or unusable input to the GO/NO-GO tool moves traffic back to the
// revision recorded before the deploy, and the deploy ends with a non-zero code.
import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { argText } from "./format.js";
import type { Arg, CaptureName, DeployPlan, HttpStep, Part, RunStep, SecretName, Step } from "./plan.js";

export interface ExecuteOptions {
  /** The commands' environment and where secrets come from (process.env). */
  env: Record<string, string | undefined>;
  /** Directory commands run in (the repository root). */
  cwd: string;
  /** Progress lines. */
  log: (line: string) => void;
  /** A command's own output, when the step echoes it. */
  output: (chunk: string) => void;
}

export type Outcome =
  | { status: "go"; newRevision: string }
  | { status: "failed"; step: string; reason: string; rolledBackTo: string | null; rollbackError?: string }
  | { status: "refused"; reason: string };

interface StepOutcome {
  ok: boolean;
  reason?: string;
  value?: string;
}

type Captures = Partial<Record<CaptureName, string>>;

function resolve(arg: Arg, env: ExecuteOptions["env"], captures: Captures): string {
  const parts: Part[] = Array.isArray(arg) ? arg : [arg];
  return parts
    .map((part) => {
      if (typeof part === "string") return part;
      if ("secret" in part) return env[part.secret] ?? "";
      const value = captures[part.ref];
      if (value === undefined) throw new Error(`\${${part.ref}} was not captured by an earlier step`);
      return value;
    })
    .join("");
}

function runCommand(step: RunStep, argv: string[], extraEnv: Record<string, string>, options: ExecuteOptions): Promise<{ code: number; stdout: string }> {
  return new Promise((done) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      env: { ...options.env, ...extraEnv },
      stdio: ["ignore", "pipe", "inherit"],
    });
    // Decoded as a stream, so a character split between two chunks (Hebrew in a report) stays whole.
    child.stdout.setEncoding("utf8");
    const chunks: string[] = [];
    child.stdout.on("data", (chunk: string) => {
      chunks.push(chunk);
      if (step.echo) options.output(chunk);
    });
    child.once("error", (error) => done({ code: 127, stdout: `${argv[0]}: ${error.message}` }));
    child.once("close", (code, signal) => done({ code: code ?? (signal ? 128 : 1), stdout: chunks.join("") }));
  });
}

/** Writes a file of the deploy's; a relative path is taken from the directory commands run in. */
async function save(file: string | undefined, content: string, cwd: string): Promise<void> {
  if (!file) return;
  const target = path.resolve(cwd, file);
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target, content);
}

async function runOnce(step: RunStep, options: ExecuteOptions, captures: Captures): Promise<StepOutcome> {
  const argv = step.command.map((arg) => resolve(arg, options.env, captures));
  const extraEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([name, value]) => [name, resolve(value, options.env, captures)]));
  const { code, stdout } = await runCommand(step, argv, extraEnv, options);
  await save(step.stdoutFile, stdout, options.cwd);
  const checked = step.check?.read(stdout);
  if (code !== 0) {
    const reason = step.exitMeanings?.[code] ?? (checked && !checked.ok ? checked.reason : undefined) ?? `exited with code ${code}`;
    return { ok: false, reason };
  }
  if (checked && !checked.ok) return { ok: false, reason: checked.reason };
  return { ok: true, value: checked?.ok ? checked.value : undefined };
}

async function runStep(step: RunStep, options: ExecuteOptions, captures: Captures): Promise<StepOutcome> {
  const attempts = step.retry?.attempts ?? 1;
  let outcome: StepOutcome = { ok: false, reason: "not run" };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    outcome = await runOnce(step, options, captures);
    if (outcome.ok || attempt === attempts) break;
    options.log(`    ${outcome.reason}; again in ${step.retry!.intervalMs / 1000} s (${attempt}/${attempts})`);
    await delay(step.retry!.intervalMs);
  }
  if (!outcome.ok && step.retry?.keepLast) {
    options.log(`    ${outcome.reason}; going on with what there is`);
    return { ok: true };
  }
  return outcome;
}

async function httpStep(step: HttpStep, options: ExecuteOptions, captures: Captures): Promise<StepOutcome> {
  const headers = Object.fromEntries(Object.entries(step.headers).map(([name, value]) => [name, resolve(value, options.env, captures)]));
  let status: number;
  let body: string;
  try {
    const response = await fetch(step.url, { method: step.method, headers, signal: AbortSignal.timeout(step.timeoutMs) });
    status = response.status;
    body = await response.text();
  } catch (error) {
    return { ok: false, reason: `${step.method} ${step.url}: ${error instanceof Error ? error.message : String(error)}` };
  }
  await save(step.responseFile, body, options.cwd);
  if (status !== 200) return { ok: false, reason: `${step.method} ${step.url} answered ${status}: ${body.slice(0, 200)}` };
  const checked = step.check?.read(body);
  if (checked && !checked.ok) return { ok: false, reason: checked.reason };
  return { ok: true, value: checked?.ok ? checked.value : undefined };
}

async function executeStep(step: Step, options: ExecuteOptions, captures: Captures): Promise<StepOutcome> {
  try {
    switch (step.kind) {
      case "run":
        return await runStep(step, options, captures);
      case "http":
        return await httpStep(step, options, captures);
      case "write":
        await save(step.path, step.content, options.cwd);
        return { ok: true };
    }
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** The secrets a plan needs that the environment lacks. */
export function missingSecrets(plan: DeployPlan, env: ExecuteOptions["env"]): SecretName[] {
  return plan.secrets.filter((name) => !env[name]);
}

export async function executePlan(plan: DeployPlan, options: ExecuteOptions): Promise<Outcome> {
  const missing = missingSecrets(plan, options.env);
  if (missing.length) return { status: "refused", reason: `not set in the environment: ${missing.join(", ")}` };
  const captures: Captures = {};
  for (const [i, step] of plan.steps.entries()) {
    options.log(`[${i + 1}/${plan.steps.length}] ${step.title}`);
    const outcome = await executeStep(step, options, captures);
    if (outcome.ok) {
      if (step.capture) captures[step.capture] = outcome.value ?? "";
      continue;
    }
    const reason = outcome.reason ?? "failed";
    options.log(`    FAILED: ${reason}`);
    if (!step.rollbackOnFailure) return { status: "failed", step: step.id, reason, rolledBackTo: null };
    return { status: "failed", step: step.id, reason, ...(await rollBack(plan, options, captures)) };
  }
  return { status: "go", newRevision: captures.NEW_REVISION ?? "" };
}

async function rollBack(plan: DeployPlan, options: ExecuteOptions, captures: Captures): Promise<{ rolledBackTo: string | null; rollbackError?: string }> {
  const previous = captures.PREVIOUS_REVISION;
  if (!previous) {
    options.log("    no revision served before this deploy (first deploy): nothing to roll back to");
    return { rolledBackTo: null };
  }
  options.log(`[rollback] ${plan.rollback.title}: ${plan.rollback.command.map(argText).join(" ").replace("${PREVIOUS_REVISION}", previous)}`);
  const outcome = await executeStep(plan.rollback, options, captures);
  if (!outcome.ok) return { rolledBackTo: null, rollbackError: outcome.reason ?? "failed" };
  return { rolledBackTo: previous };
}
