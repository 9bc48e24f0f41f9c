/**
 * `udf-sidecar influx setup`: read the org, plan, print or apply. Where new token secrets go is decided here and only
 * here: into `--token-file` (mode 0600, written atomically, other lines kept) or, without one, onto stdout once, as
 * `NAME=secret` lines that can be redirected into an env file. The plan and progress go to stderr.
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ConfigSection } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { InfluxAdmin, type CreatedToken } from './client.js';
import { formatPlan, isNoop, planSetup, PlanError, type TokenRole } from './plan.js';

/** The variable each role reads its token from: the feeders' INFLUXDB_TOKEN under a prefix, Kapacitor's own env name. */
export const TOKEN_VARIABLES: Readonly<Record<TokenRole, string>> = {
  feeders: 'FEEDERS_INFLUXDB_TOKEN',
  kapacitor: 'KAPACITOR_INFLUXDB_0_TOKEN',
};

export interface SetupOptions {
  url: string;
  token: string;
  org: string;
  feederBuckets?: string[];
  kapacitorBuckets?: string[];
  tokenPrefix: string;
  tokenFile?: string;
  rotateTokens: boolean;
  dryRun: boolean;
}

export interface SetupFlags {
  org?: string;
  tokenFile?: string;
  rotateTokens?: boolean;
  dryRun?: boolean;
}

/**
 * Keys: influxdb.url (INFLUXDB_URL), influxdb.org (INFLUXDB_ORG), influxdb.tokenEnv/tokenFile (default INFLUXDB_TOKEN),
 * influxSetup.feederBuckets, influxSetup.kapacitorBuckets, influxSetup.tokenPrefix (default udf-sidecar),
 * influxSetup.tokenFile. Flags win over the file.
 */
export function setupOptionsFromConfig(root: ConfigSection, flags: SetupFlags): SetupOptions {
  const influxdb = root.section('influxdb');
  const setup = root.section('influxSetup');
  const token = influxdb.secret('token', 'INFLUXDB_TOKEN');
  if (!token) throw influxdb.error('token', 'an operator token is required: set INFLUXDB_TOKEN, influxdb.tokenEnv or influxdb.tokenFile');
  const org = flags.org ?? influxdb.string('org');
  if (!org) throw influxdb.error('org', 'the org name is required: set INFLUXDB_ORG, influxdb.org or --org');
  const url = influxdb.requireString('url');
  if (!/^https?:\/\/[^/]/.test(url)) throw influxdb.error('url', `not a URL: expected http(s)://host:port, got ${JSON.stringify(url)}`);
  const tokenPrefix = setup.string('tokenPrefix', 'udf-sidecar');
  if (!/^[\w.-]+$/.test(tokenPrefix)) throw setup.error('tokenPrefix', `letters, digits, '_', '.', '-' only, got ${JSON.stringify(tokenPrefix)}`);
  return {
    url,
    token,
    org,
    feederBuckets: setup.stringList('feederBuckets'),
    kapacitorBuckets: setup.stringList('kapacitorBuckets'),
    tokenPrefix,
    tokenFile: flags.tokenFile ?? setup.string('tokenFile'),
    rotateTokens: flags.rotateTokens ?? false,
    dryRun: flags.dryRun ?? false,
  };
}

export interface SetupIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  logger: Logger;
}

/** Runs setup; resolves to the exit code: 0 done (or nothing to do), 1 when a conflicting mapping was left alone. */
export async function runSetup(options: SetupOptions, io: SetupIO, configSource = 'env'): Promise<number> {
  const admin = new InfluxAdmin({ url: options.url, token: options.token });
  const state = await admin.readState(options.org);
  let plan;
  try {
    plan = planSetup(state, options);
  } catch (err) {
    if (err instanceof PlanError) throw new ConfigError(`influxSetup.${err.key}`, configSource, err.message);
    throw err;
  }
  const text = formatPlan(plan) + '\n';
  if (options.dryRun) {
    io.stdout.write(text);
    return plan.steps.some((s) => s.kind === 'conflict-dbrp') ? 1 : 0;
  }
  io.stderr.write(text);
  if (isNoop(plan) && !plan.steps.some((s) => s.kind === 'conflict-dbrp')) {
    io.logger.info('nothing to do', { org: options.org });
    return 0;
  }
  const result = await admin.apply(plan, io.logger);
  if (result.createdTokens.length > 0) {
    if (options.tokenFile) {
      writeTokenFile(options.tokenFile, result.createdTokens);
      io.logger.info('tokens written', { file: options.tokenFile, roles: result.createdTokens.map((t) => t.role) });
    } else {
      io.stdout.write(tokenLines(result.createdTokens).join('\n') + '\n');
    }
  }
  return result.conflicts > 0 ? 1 : 0;
}

function tokenLines(tokens: CreatedToken[]): string[] {
  return tokens.map((t) => `${TOKEN_VARIABLES[t.role]}=${t.token}`);
}

/** The token file's new text: lines for the given tokens replaced or appended, every other line kept. Pure. */
export function mergeTokenFile(existing: string, tokens: CreatedToken[]): string {
  const lines = existing === '' ? [] : existing.replace(/\n$/, '').split('\n');
  for (const line of tokenLines(tokens)) {
    const name = line.slice(0, line.indexOf('=') + 1);
    const at = lines.findIndex((l) => l.startsWith(name));
    if (at >= 0) lines[at] = line;
    else lines.push(line);
  }
  return lines.join('\n') + '\n';
}

/** Written to a temporary file created 0600 in the same directory, then renamed: the secret is never world-readable. */
export function writeTokenFile(path: string, tokens: CreatedToken[]): void {
  let existing = '';
  try {
    existing = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, mergeTokenFile(existing, tokens), { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
