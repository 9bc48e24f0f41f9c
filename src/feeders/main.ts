#!/usr/bin/env node
/** A stand-alone entry for the feeders (`node dist/feeders/main.js kafka --config F`), independent of the main CLI. */
import { Command } from 'commander';
import { SidecarError } from '../errors.js';
import { registerFeedCommands } from './cli.js';

const program = new Command('udf-sidecar-feed');
registerFeedCommands(program);
try {
  await program.parseAsync(['node', 'feed', 'feed', ...process.argv.slice(2)]);
} catch (err) {
  process.stderr.write(`udf-sidecar feed: ${(err as Error).message}\n`);
  process.exit(err instanceof SidecarError && err.code === 'CONFIG_INVALID' ? 2 : 1);
}
