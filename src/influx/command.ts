/**
 * `udf-sidecar influx setup`: the commander wiring. Exit codes: 0 done, 1 failed (or a conflicting DBRP mapping was
 * left alone), 2 configuration error (the message names the key and the file).
 */
import type { Command } from 'commander';
import { loadConfigFile, parseConfigText } from '../config.js';
import { exitCodeOf } from '../errors.js';
import { createLogger } from '../log.js';
import { TOKEN_VARIABLES } from './plan.js';

export function registerInfluxCommands(program: Command): void {
  const influx = program.command('influx').description('InfluxDB 2 provisioning');
  influx
    .command('setup')
    .description(
      'Create the missing DBRP mappings (database = bucket, rp = bucket retention) for every bucket of an org, and ' +
        'least-privilege tokens for the feeders (write) and Kapacitor (read/write). Idempotent.',
    )
    .option('-c, --config <file>', 'YAML config file (env INFLUXDB_URL, INFLUXDB_ORG, INFLUXDB_TOKEN override/complete it)')
    .option('--org <name>', 'org name (default: influxdb.org or INFLUXDB_ORG)')
    .option('--dry-run', 'print the plan (+ create, - delete, = keep, ! conflict) and change nothing')
    .option('--token-file <path>', 'write new tokens to this file (mode 0600) instead of stdout')
    .option('--rotate-tokens', 'replace the feeders and Kapacitor tokens even when they are up to date')
    .addHelpText(
      'after',
      `\nNew tokens are printed once, as ${Object.values(TOKEN_VARIABLES).join('=… and ')}=… lines; existing tokens are never printed again.`,
    )
    .action(async function (this: Command) {
      const opts = this.optsWithGlobals<{ config?: string; org?: string; dryRun?: boolean; tokenFile?: string; rotateTokens?: boolean }>();
      const logger = createLogger('influx-setup');
      process.exitCode = await exitCodeOf(logger, async () => {
        const { root, source } = opts.config ? loadConfigFile(opts.config) : parseConfigText('', 'env');
        // Loaded here: the InfluxDB client is needed by this command alone, not by every process of the program.
        const { runSetup, setupOptionsFromConfig } = await import('./setup.js');
        const options = setupOptionsFromConfig(root, opts);
        root.checkKnownKeys();
        return runSetup(options, { stdout: process.stdout, stderr: process.stderr, logger }, source);
      });
    });
}
