// The deploy's view of wrangler.toml: the [env.<name>] section of an environment (its public URL,
// the core's URL, the KV namespace), and whether it still holds the committed placeholders.
import { readFile } from "node:fs/promises";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";

const wranglerEnvironment = z.object({
  vars: z.object({ PUBLIC_URL: z.url(), CORE_URL: z.url(), TWILIO_ACCOUNT_SID: z.string() }).loose(),
  kv_namespaces: z.array(z.object({ binding: z.string(), id: z.string() })),
});
export type WranglerEnvironment = z.infer<typeof wranglerEnvironment>;

export async function readWranglerEnvironment(file: string, name: string): Promise<WranglerEnvironment> {
  const config = parseToml(await readFile(file, "utf8")) as { env?: Record<string, unknown> };
  const parsed = wranglerEnvironment.safeParse(config.env?.[name]);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(section)"}: ${issue.message}`).join("; ");
    throw new Error(`wrangler.toml [env.${name}]: ${problems}`);
  }
  return parsed.data;
}

/** Values that are still the committed placeholders: a deploy with them cannot work. */
export function placeholderProblems(name: string, edge: WranglerEnvironment): string[] {
  const problems: string[] = [];
  for (const key of ["PUBLIC_URL", "CORE_URL"] as const) {
    const host = new URL(edge.vars[key]).hostname;
    if (host === "example.com" || host.endsWith(".example.com") || host.includes("000000000000")) {
      problems.push(`wrangler.toml [env.${name}.vars] ${key} is a placeholder (${edge.vars[key]})`);
    }
  }
  // The committed value is all zeros: no real account has it, and every call would be refused.
  if (/^AC0+$/.test(edge.vars.TWILIO_ACCOUNT_SID)) problems.push(`wrangler.toml [env.${name}.vars] TWILIO_ACCOUNT_SID is a placeholder`);
  for (const kv of edge.kv_namespaces) {
    if (/^0+$/.test(kv.id)) problems.push(`wrangler.toml [env.${name}] KV namespace ${kv.binding} has the placeholder id`);
  }
  return problems;
}
