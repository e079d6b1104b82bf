import type { z } from "zod";

/** A zod error as one line: the first issue with the path of the key it is about. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message;
}
