// What applying infra/observability to a project means, as data: for each metric, the dashboard
// and each alert policy, a look-up and the create or update command it leads to (gcloud argument
// lists), and the rendered files the commands read. apply.ts runs the plan; --dry-run prints it.
import path from "node:path";
import { NOTIFICATION_CHANNELS_PLACEHOLDER, type AlertPolicy, type Dashboard, type ObservabilityFiles } from "./config.js";

/** The dashboard's id in every project, so that a second run finds and updates it. */
export const DASHBOARD_ID = "voice-agent";

export interface ApplyOptions {
  project: string;
  /** Notification channel resource names (projects/P/notificationChannels/ID) every alert notifies. */
  channels: string[];
  /** Cloud Run service the dashboard shows first (its service_name filter); all services when absent. */
  service?: string;
  /** Where the rendered dashboard and policies are written. */
  outDir: string;
}

/** A gcloud invocation, and a file it reads that must be written first. */
export interface Command {
  args: string[];
  write?: { path: string; content: string };
}

/** A resource created if absent, else updated in place. */
export interface Upsert {
  what: string;
  /** Prints what the update needs (a name or an etag) when the resource exists, nothing otherwise. */
  lookup: string[];
  create: Command;
  update(found: string): Command;
}

export function renderPolicy(policy: AlertPolicy, channels: string[]): AlertPolicy {
  return { ...policy, notificationChannels: policy.notificationChannels.flatMap((c) => (c === NOTIFICATION_CHANNELS_PLACEHOLDER ? channels : [c])) };
}

export function renderDashboard(dashboard: Dashboard, project: string, service: string | undefined, etag?: string): Dashboard & { name: string; etag?: string } {
  const dashboardFilters = dashboard.dashboardFilters?.map((f) => (f.labelKey === "service_name" && service ? { ...f, stringValue: service } : f));
  return { name: `projects/${project}/dashboards/${DASHBOARD_ID}`, ...dashboard, ...(dashboardFilters && { dashboardFilters }), ...(etag && { etag }) };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** The steps, in order: metrics, then the dashboard, then the policies. */
export function planApply(files: ObservabilityFiles, options: ApplyOptions): Upsert[] {
  const project = `--project=${options.project}`;
  const metrics = files.metrics.map(({ path: file, value }): Upsert => ({
    what: `log metric ${value.name}`,
    lookup: ["logging", "metrics", "describe", value.name, project, "--format=value(name)"],
    create: { args: ["logging", "metrics", "create", value.name, project, `--config-from-file=${file}`] },
    update: () => ({ args: ["logging", "metrics", "update", value.name, project, `--config-from-file=${file}`] }),
  }));

  const dashboardName = `projects/${options.project}/dashboards/${DASHBOARD_ID}`;
  const dashboardFile = path.join(options.outDir, "dashboard.json");
  const updateFile = path.join(options.outDir, "dashboard.update.json");
  const dashboard: Upsert = {
    what: `dashboard ${files.dashboard.value.displayName} (${DASHBOARD_ID})`,
    lookup: ["monitoring", "dashboards", "describe", dashboardName, project, "--format=value(etag)"],
    create: {
      args: ["monitoring", "dashboards", "create", project, `--config-from-file=${dashboardFile}`],
      write: { path: dashboardFile, content: json(renderDashboard(files.dashboard.value, options.project, options.service)) },
    },
    // The API takes an update only with the etag of the version it replaces.
    update: (etag) => ({
      args: ["monitoring", "dashboards", "update", dashboardName, project, `--config-from-file=${updateFile}`],
      write: { path: updateFile, content: json(renderDashboard(files.dashboard.value, options.project, options.service, etag)) },
    }),
  };

  const policies = files.policies.map(({ path: file, value }): Upsert => {
    const rendered = path.join(options.outDir, `policy-${path.basename(file).replace(/\.ya?ml$/, "")}.json`);
    const write = { path: rendered, content: json(renderPolicy(value, options.channels)) };
    return {
      what: `alert policy ${value.displayName}`,
      lookup: ["monitoring", "policies", "list", project, `--filter=displayName="${value.displayName}"`, "--format=value(name)"],
      create: { args: ["monitoring", "policies", "create", project, `--policy-from-file=${rendered}`], write },
      update: (name) => ({ args: ["monitoring", "policies", "update", name, project, `--policy-from-file=${rendered}`], write }),
    };
  });
  return [...metrics, dashboard, ...policies];
}

/** A POSIX shell word: bare when safe, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

export const shownCommand = (args: string[]): string => ["gcloud", ...args].map(shellWord).join(" ");

/** What --dry-run prints: each look-up and the command each of its outcomes leads to. */
export function describePlan(plan: Upsert[]): string {
  return plan
    .map((step) =>
      [
        `# ${step.what}`,
        shownCommand(step.lookup),
        `#   found  -> ${shownCommand(step.update("<found>").args)}`,
        `#   absent -> ${shownCommand(step.create.args)}`,
      ].join("\n"),
    )
    .join("\n");
}
