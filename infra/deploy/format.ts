// The plan as text (`--dry-run`, and the header of a real run): each step's command as a shell
// line. Secrets print as <secret:NAME>, captured values as ${NAME}: a printed plan never holds a
// secret's value because the plan never does.
import type { Arg, DeployPlan, Part, Step } from "./plan.js";

function partText(part: Part): string {
  if (typeof part === "string") return part;
  return "secret" in part ? `<secret:${part.secret}>` : `\${${part.ref}}`;
}

export function argText(arg: Arg): string {
  return Array.isArray(arg) ? arg.map(partText).join("") : partText(arg);
}

/** Quotes a word for a POSIX shell when it needs it (for reading; the executor never uses a shell). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./${}-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function commandLine(command: Arg[]): string {
  return command.map((arg) => shellQuote(argText(arg))).join(" ");
}

function stepLines(step: Step): string[] {
  switch (step.kind) {
    case "run": {
      const env = Object.entries(step.env ?? {}).map(([name, value]) => `${name}=${shellQuote(argText(value))} `);
      // An echoed output is shown and saved, as tee does.
      const redirect = step.stdoutFile ? (step.echo ? ` | tee ${shellQuote(step.stdoutFile)}` : ` > ${shellQuote(step.stdoutFile)}`) : "";
      const lines = [`${env.join("")}${commandLine(step.command)}${redirect}`];
      if (step.retry) {
        const after = step.retry.keepLast ? "; then goes on with the last output" : "";
        lines.push(`(repeated up to ${step.retry.attempts} times, ${step.retry.intervalMs / 1000} s apart, until the check passes${after})`);
      }
      return lines;
    }
    case "http": {
      const headers = Object.entries(step.headers).map(([name, value]) => `-H ${shellQuote(`${name}: ${argText(value)}`)}`);
      return [`curl -fsS ${headers.join(" ")} ${shellQuote(step.url)} > ${shellQuote(step.responseFile)}`];
    }
    case "write":
      return [`write ${step.path}: ${step.summary}`];
  }
}

export function formatPlan(plan: DeployPlan): string {
  const out: string[] = [];
  const firstGuarded = plan.steps.findIndex((step) => step.rollbackOnFailure);
  plan.steps.forEach((step, i) => {
    const capture = step.capture ? ` -> \${${step.capture}}` : "";
    out.push(`${String(i + 1).padStart(2)}. ${step.title}${capture}`);
    for (const line of stepLines(step)) out.push(`    ${line}`);
    if (step.check) out.push(`    check: ${step.check.describe}`);
  });
  out.push("");
  out.push(`On a failure from step ${firstGuarded + 1} on, on NO-GO, or on unusable input to the GO/NO-GO tool: ${plan.rollback.title}`);
  for (const line of stepLines(plan.rollback)) out.push(`    ${line}`);
  return out.join("\n");
}
