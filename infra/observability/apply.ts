// Creates or updates the log-based metrics, the dashboard and the alert policies of
// infra/observability in one Google Cloud project; running it again updates in place.
//
//   node --import tsx infra/observability/apply.ts --project P [--notification-channel NAME]...
//        [--service NAME] [--dry-run]
//
// Every file is checked first (check.ts); nothing is applied while one has a problem. Metrics go
// first because the dashboard and the alerts read them. A resource is looked up, then updated if
// found, else created: metrics by name, the dashboard by its fixed id, policies by display name.
// --dry-run writes the rendered files, prints the look-ups and both branches, and runs nothing.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { checkAll } from "./check.js";
import { loadObservability, type ObservabilityFiles } from "./config.js";
import { describePlan, planApply, shownCommand, type Command, type Upsert } from "./plan.js";

/** Runs a look-up: its one output line, "" when absent. Two lines (two policies of one name) cannot be updated safely. */
function lookUp(step: Upsert): string {
  const result = spawnSync("gcloud", step.lookup, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (result.error) throw new Error(`cannot run gcloud: ${result.error.message}`);
  // describe fails for an absent resource; a real failure (auth, API off) shows again in create.
  if (result.status !== 0) return "";
  const lines = result.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  if (lines.length > 1) throw new Error(`${step.what}: ${lines.length} exist (${lines.join(", ")}); delete all but one, then run again`);
  return lines[0] ?? "";
}

function write(command: Command): void {
  if (command.write) writeFileSync(command.write.path, command.write.content);
}

function run(command: Command): void {
  write(command);
  console.log(`+ ${shownCommand(command.args)}`);
  const result = spawnSync("gcloud", command.args, { stdio: "inherit" });
  if (result.error) throw new Error(`cannot run gcloud: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`gcloud exited with ${result.status}`);
}

const USAGE = `usage: node --import tsx infra/observability/apply.ts --project P [options]
  --project P                  Google Cloud project id
  --notification-channel NAME  a channel every alert notifies (projects/P/notificationChannels/ID); repeatable
  --service NAME               Cloud Run service the dashboard shows (default: all)
  --dry-run                    write the rendered files, print the commands, run none`;

function main(argv: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        project: { type: "string" },
        "notification-channel": { type: "string", multiple: true, default: [] },
        service: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.project) {
    console.error(`--project is required\n${USAGE}`);
    return 2;
  }
  let files: ObservabilityFiles;
  try {
    files = loadObservability();
  } catch (error) {
    console.error((error as Error).message);
    return 1;
  }
  const problems = checkAll(files);
  if (problems.length > 0) {
    console.error(`not applied: ${problems.length} problem(s) in infra/observability\n${problems.join("\n")}`);
    return 1;
  }
  const channels = values["notification-channel"];
  if (channels.length === 0) console.error("note: no --notification-channel: alerts open incidents in the console but notify no one");
  const outDir = mkdtempSync(path.join(tmpdir(), "voice-observability-"));
  const plan = planApply(files, { project: values.project, channels, service: values.service, outDir });
  if (values["dry-run"]) {
    for (const step of plan) write(step.create);
    console.log(`# rendered files (what create would send): ${outDir}\n${describePlan(plan)}`);
    return 0;
  }
  try {
    for (const step of plan) {
      const found = lookUp(step);
      console.log(`# ${step.what}: ${found ? "update" : "create"}`);
      run(found ? step.update(found) : step.create);
    }
  } catch (error) {
    console.error(`not finished: ${(error as Error).message} (running again picks up where this stopped)`);
    return 1;
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
