// `npm run phone:webhook`: points the Twilio number of the .env (TWILIO_PHONE_NUMBER) at the edge
// that `npm start` runs behind a tunnel (PUBLIC_URL), so calling the number reaches the local agent.
// Settings from the .env (ENV_FILE names another); one line out, exit 1 on any problem.
import { envFilePath, readEnvFile } from "../local/env-file.js";
import { pointVoiceWebhook, webhookSettings } from "./phone-webhook-api.js";

try {
  const { file } = envFilePath(process.env);
  const env = readEnvFile(file);
  if (env === undefined) throw new Error(`${file}: no such file (copy .env.example to .env and fill in the Twilio keys and PUBLIC_URL)`);
  const settings = webhookSettings(env, process.env.TWILIO_API_BASE);
  if (!settings.ok) throw new Error(`${file}: ${settings.error}`);
  const change = await pointVoiceWebhook(settings.settings);
  process.stdout.write(`${change.phoneNumber} (${change.sid}): calls now go to POST ${change.voiceUrl} (before: ${change.previous ?? "no voice webhook"})\n`);
} catch (error) {
  process.stderr.write(`phone:webhook failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
