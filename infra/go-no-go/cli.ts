// npm run go-no-go -- FILE|- [FILE|- ...] [--thresholds FILE.json] [--json]
// Decides GO or NO-GO for a rollout from the core's TURN lines and the smoke calls' simulator
// output. Exit 0 GO, 1 NO-GO, 2 unusable input. See run.ts.
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { run } from "./run.js";

process.exitCode = await run(process.argv.slice(2), {
  readFile: (path) => readFile(path, "utf8"),
  readStdin: () => text(process.stdin),
  out: (report) => process.stdout.write(`${report}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
