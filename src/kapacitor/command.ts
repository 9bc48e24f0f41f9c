/**
 * `udf-sidecar kapacitor sync`: the commander wiring. Exit codes: 0 done, 1 failed, 2 configuration error (the message
 * names the key and the file).
 */
import type { Command } from 'commander';
import { loadConfigFile, parseConfigText } from '../config.js';
import { exitCodeOf } from '../errors.js';
import { createLogger } from '../log.js';

export function registerKapacitorCommands(program: Command): void {
  const kapacitor = program.command('kapacitor').description('Kapacitor task management');
  kapacitor
    .command('sync')
    .description(
      'Define the tickscripts as Kapacitor templates and create or update one task per template and matching ' +
        'database/retention policy, through the HTTP API. Idempotent.',
    )
    .option('-c, --config <file>', 'YAML config file (kapacitor.url, kapacitor.sync.*, influxdb.* for discovery)')
    .option('--kapacitor-url <url>', 'Kapacitor HTTP API (default: KAPACITOR_URL, kapacitor.url, http://127.0.0.1:9092)')
    .option('--tickscripts <dir>', 'directory of *.tick files (default: kapacitor.sync.tickscripts, the packaged tickscripts/)')
    .option('--prune', 'delete tasks made from these templates that no database wants any more')
    .option('--dry-run', 'print the plan (+ create, ~ update, = keep, - delete) and change nothing')
    .action(async function (this: Command) {
      const opts = this.optsWithGlobals<{ config?: string; kapacitorUrl?: string; tickscripts?: string; prune?: boolean; dryRun?: boolean }>();
      const logger = createLogger('kapacitor-sync');
      process.exitCode = await exitCodeOf(logger, async () => {
        const { root } = opts.config ? loadConfigFile(opts.config) : parseConfigText('', 'env');
        const { runSync, syncOptionsFromConfig } = await import('./sync.js');
        const options = syncOptionsFromConfig(root, opts);
        root.checkKnownKeys();
        return runSync(options, { stdout: process.stdout, stderr: process.stderr, logger });
      });
    });
}
