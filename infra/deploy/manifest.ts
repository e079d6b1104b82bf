// Fills the ${NAME} placeholders of infra/cloudrun/service.yaml (the same syntax envsubst takes, so
// the file can be applied by hand too). Every placeholder must be given and every value used, so a
// renamed placeholder fails the deploy here rather than reaching Cloud Run as literal text.
export type ManifestValues = Record<"IMAGE" | "PROJECT_ID", string>;

const PLACEHOLDER = /\$\{([A-Z_][A-Z0-9_]*)\}/g;

export function manifestPlaceholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((match) => match[1]!))].sort();
}

export function renderServiceManifest(template: string, values: ManifestValues): string {
  const found = manifestPlaceholders(template);
  const given = Object.keys(values).sort();
  const unknown = found.filter((name) => !(name in values));
  const unused = given.filter((name) => !found.includes(name));
  if (unknown.length || unused.length) {
    throw new Error(`service.yaml placeholders: not given ${JSON.stringify(unknown)}, not in the file ${JSON.stringify(unused)}`);
  }
  for (const [name, value] of Object.entries(values)) {
    // A value lands inside YAML unquoted: it must not be able to change the document's structure.
    if (!/^[A-Za-z0-9._\-/:@]+$/.test(value)) throw new Error(`${name} has characters a manifest value may not: ${JSON.stringify(value)}`);
  }
  return template.replace(PLACEHOLDER, (_, name: keyof ManifestValues) => values[name]);
}
