/**
 * Prints the per-environment capacity tables without synthesizing anything.
 *   npm run summary                                   # all environments
 *   DEPLOYMENT_ENV=production ENABLE_AUTOSCALING=true npm run summary
 */
import { loadEnvironments } from "../config/load";
import { parseRunOptions } from "../config/run-options";
import { renderSummary } from "../stacks/summary";

try {
  const options = parseRunOptions(process.env);
  process.stdout.write(renderSummary(loadEnvironments(options.environments, options)));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
