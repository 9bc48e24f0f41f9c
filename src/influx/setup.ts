/**
 * `udf-sidecar influx setup`: read the org, plan, print or apply. Where new token secrets go is decided here and only
 * here: into `--token-file` (mode 0600, written atomically, other lines kept) or, without one, onto stdout once, as
 * `NAME=secret` lines that can be redirected into an env file. The plan and progress go to stderr.
 */
import { accessSync, chmodSync, closeSync, constants, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ConfigSection } from '../config.js';
import { ConfigError, SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import { InfluxAdmin, type CreatedToken } from './client.js';
import { formatPlan, isNoop, planSetup, PlanError, TOKEN_VARIABLES } from './plan.js';

export interface SetupOptions {
  url: string;
  token: string;
  org: string;
  feederBuckets?: string[];
  kapacitorBuckets?: string[];
  tokenPrefix: string;
  tokenFile?: string;
  /** Where tokenFile was set, for errors: the flag or the config key. */
  tokenFileKey?: { key: string; source: string };
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
    tokenFileKey: flags.tokenFile !== undefined ? { key: '--token-file', source: 'argv' } : { key: 'influxSetup.tokenFile', source: root.source },
    rotateTokens: flags.rotateTokens ?? false,
    dryRun: flags.dryRun ?? false,
  };
}

export interface SetupIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  logger: Logger;
}

/**
 * Runs setup; resolves to the exit code: 0 done (or nothing to do), 1 when a conflicting mapping was left alone.
 * A token file that cannot be written is found before anything changes on the server (a ConfigError: exit 2); if
 * writing it still fails, the new secrets go to stdout once and the command fails (exit 1) saying so.
 */
export async function runSetup(options: SetupOptions, io: SetupIO, configSource = 'env'): Promise<number> {
  const admin = new InfluxAdmin({ url: options.url, token: options.token });
  await admin.checkServer();
  const state = await admin.readState(options.org);
  let plan;
  try {
    plan = planSetup(state, options);
  } catch (err) {
    if (err instanceof PlanError) throw new ConfigError(`influxSetup.${err.key}`, configSource, err.message);
    throw err;
  }
  if (options.tokenFile && plan.steps.some((s) => s.kind === 'create-token')) {
    const problem = tokenFileProblem(options.tokenFile);
    if (problem) {
      const { key, source } = options.tokenFileKey ?? { key: 'influxSetup.tokenFile', source: configSource };
      throw new ConfigError(key, source, `${problem}; nothing was changed in InfluxDB`);
    }
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
  let unwritten: string | undefined;
  const deliver = (tokens: CreatedToken[]) => {
    unwritten = deliverTokens(tokens, options.tokenFile, io);
  };
  let result;
  try {
    result = await admin.apply(plan, io.logger, deliver);
  } catch (err) {
    if (unwritten) io.logger.error(unwritten, { code: 'TOKEN_FILE_UNWRITTEN' });
    throw err;
  }
  if (unwritten) throw new SidecarError('TOKEN_FILE_UNWRITTEN', unwritten);
  return result.conflicts > 0 ? 1 : 0;
}

/**
 * Hands new secrets over exactly once: into the token file, or onto stdout when there is none or it cannot be
 * written. Never throws; returns the one-line reason when the file was wanted and not written.
 */
export function deliverTokens(tokens: CreatedToken[], tokenFile: string | undefined, io: Pick<SetupIO, 'stdout' | 'logger'>): string | undefined {
  if (tokenFile) {
    try {
      writeTokenFile(tokenFile, tokens);
      io.logger.info('tokens written', { file: tokenFile, roles: tokens.map((t) => t.role) });
      return undefined;
    } catch (err) {
      io.stdout.write(tokenLines(tokens).join('\n') + '\n');
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return `the new tokens could not be written to ${tokenFile} (${why}) and were printed on stdout instead, once: save them now (they are not shown again) and fix the path`;
    }
  }
  io.stdout.write(tokenLines(tokens).join('\n') + '\n');
  return undefined;
}

/**
 * Why `path` cannot take the token file, or undefined: its directory must exist and let us create a file (tried, as
 * the write will: a 0600 file beside it, removed at once), and an existing file must be a readable regular file.
 */
export function tokenFileProblem(path: string): string | undefined {
  const dir = dirname(path);
  let dirStat;
  try {
    dirStat = statSync(dir);
  } catch (err) {
    return `cannot write ${path}: directory ${dir} ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist: create it' : `is not usable (${(err as NodeJS.ErrnoException).code})`} or choose another path`;
  }
  if (!dirStat.isDirectory()) return `cannot write ${path}: ${dir} is not a directory`;
  try {
    const existing = statSync(path);
    if (!existing.isFile()) return `cannot write ${path}: it exists and is not a regular file`;
    accessSync(path, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `cannot read ${path} to keep its other lines (${code})`;
  }
  const probe = join(dir, `.${basename(path)}.${process.pid}.probe`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (err) {
    return `cannot create files in ${dir} (${(err as NodeJS.ErrnoException).code}): choose a writable path`;
  }
  return undefined;
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
  try {
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
