/**
 * `udf-sidecar kapacitor sync`: read the tickscripts and the databases, plan against Kapacitor, print or apply.
 * The plan goes to stdout with --dry-run and to stderr otherwise; progress is logged.
 */
import { fileURLToPath } from 'node:url';
import type { ConfigSection } from '../config.js';
import { ConfigError, describeSystemError, SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import { KapacitorClient } from './client.js';
import { discoverDatabases, parseDbrp, selectDatabases, type InfluxQueryTarget } from './databases.js';
import { formatSyncPlan, isNoop, planSync, SyncPlanError, type Dbrp, type SyncWants } from './plan.js';
import { loadTemplates, type LocalTemplate } from './tickscript.js';

/** The tickscripts/ shipped with the package (two levels up from src/kapacitor or dist/kapacitor). */
export const DEFAULT_TICKSCRIPTS = fileURLToPath(new URL('../../tickscripts', import.meta.url));

export interface SyncOptions {
  kapacitorUrl: string;
  timeoutMs: number;
  /** How long started tasks are watched for a UDF that refuses Init. */
  settleMs: number;
  tickscripts: string;
  /** The tickscripts directory was given as --tickscripts (not by the config): errors name the flag. */
  tickscriptsFlag?: boolean;
  templates?: string[];
  /** Explicit db/rp list; when absent, databases are discovered through `influx` and filtered. */
  databases?: Dbrp[];
  influx?: InfluxQueryTarget;
  match: RegExp;
  exclude?: RegExp;
  taskName: string;
  vars: Record<string, Record<string, unknown>>;
  status: 'enabled' | 'disabled';
  prune: boolean;
  dryRun: boolean;
  configSource: string;
}

export interface SyncFlags {
  kapacitorUrl?: string;
  tickscripts?: string;
  prune?: boolean;
  dryRun?: boolean;
}

/**
 * Keys: kapacitor.url (KAPACITOR_URL, default http://127.0.0.1:9092), kapacitor.timeout, and under kapacitor.sync:
 * tickscripts, templates, databases, match (default `^[^_]`: not _internal/_monitoring), exclude, taskName
 * (default `{template}.{db}.{rp}`), vars.<template>.<var>, status, prune, settle (default 2s: how long started tasks
 * are watched for a UDF refusing Init). Discovery uses influxdb.url and
 * influxdb.token (INFLUXDB_TOKEN) or influxdb.username/password.
 */
export function syncOptionsFromConfig(root: ConfigSection, flags: SyncFlags, env: NodeJS.ProcessEnv = process.env): SyncOptions {
  const kapacitor = root.section('kapacitor');
  const sync = kapacitor.section('sync');
  const kapacitorUrl = flags.kapacitorUrl ?? env.KAPACITOR_URL ?? kapacitor.string('url', 'http://127.0.0.1:9092');
  if (!/^https?:\/\/[^/]/.test(kapacitorUrl)) throw kapacitor.error('url', `expected http(s)://host:port, got ${JSON.stringify(kapacitorUrl)}`);

  const listed = sync.stringList('databases');
  let influx: InfluxQueryTarget | undefined;
  if (listed === undefined) {
    const influxdb = root.section('influxdb');
    if (!influxdb.has('url')) throw sync.error('databases', 'list the databases (db or db.rp), or set influxdb.url (INFLUXDB_URL) so they can be discovered');
    let token = influxdb.secret('token', 'INFLUXDB_TOKEN');
    const username = influxdb.string('username');
    if (username !== undefined) token = `${username}:${influxdb.secret('password', 'INFLUXDB_PASSWORD') ?? ''}`;
    influx = { url: influxdb.requireString('url'), token, timeoutMs: influxdb.durationMs('timeout', 10_000) };
  }

  const varsSection = sync.section('vars');
  const vars: Record<string, Record<string, unknown>> = {};
  for (const template of Object.keys(varsSection.data)) vars[template] = varsSection.section(template).freeForm();

  return {
    kapacitorUrl,
    timeoutMs: kapacitor.durationMs('timeout', 10_000),
    settleMs: sync.durationMs('settle', 2000),
    tickscripts: flags.tickscripts ?? sync.string('tickscripts', DEFAULT_TICKSCRIPTS),
    tickscriptsFlag: flags.tickscripts !== undefined,
    templates: sync.stringList('templates'),
    databases: listed?.map(parseDbrp),
    influx,
    match: sync.regex('match', '^[^_]')!,
    exclude: sync.regex('exclude'),
    taskName: sync.string('taskName', '{template}.{db}.{rp}'),
    vars,
    status: sync.oneOf('status', ['enabled', 'disabled'] as const, 'enabled'),
    prune: flags.prune ?? sync.boolean('prune', false),
    dryRun: flags.dryRun ?? false,
    configSource: root.source,
  };
}

/** The tickscripts could not be read: a missing or unreadable path named with its fix, where it was given. */
function tickscriptsError(options: SyncOptions, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const detail =
    e.code === 'ENOTDIR' && e.path === options.tickscripts
      ? `${e.path}: is a file: give the directory of the *.tick files (ENOTDIR)`
      : (describeSystemError(err) ?? (err as Error).message);
  if (options.tickscriptsFlag) return new SidecarError('PATH_INVALID', `--tickscripts ${detail}`, { cause: err });
  return new ConfigError('kapacitor.sync.tickscripts', options.configSource, detail);
}

export async function runSync(options: SyncOptions, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; logger: Logger }): Promise<number> {
  let templates: LocalTemplate[];
  try {
    templates = loadTemplates(options.tickscripts);
  } catch (err) {
    throw tickscriptsError(options, err);
  }
  if (options.templates) {
    const missing = options.templates.filter((id) => !templates.some((t) => t.id === id));
    if (missing.length) throw new ConfigError('kapacitor.sync.templates', options.configSource, `no ${missing.join(', ')}.tick in ${options.tickscripts}`);
    templates = templates.filter((t) => options.templates!.includes(t.id));
  }
  const databases = options.databases ?? selectDatabases(await discoverDatabases(options.influx!), options.match, options.exclude);
  if (databases.length === 0) io.logger.warn('no database matches: no task will be created', { match: String(options.match) });

  const client = new KapacitorClient(options.kapacitorUrl, options.timeoutMs);
  const [remoteTemplates, remoteTasks] = await Promise.all([client.listTemplates(), client.listTasks()]);
  const wants: SyncWants = { templates, databases, taskName: options.taskName, vars: options.vars, status: options.status, prune: options.prune };
  let plan;
  try {
    plan = planSync(wants, remoteTemplates, remoteTasks);
  } catch (err) {
    if (err instanceof SyncPlanError) throw new ConfigError(`kapacitor.sync.${err.key}`, options.configSource, err.message);
    throw err;
  }
  const text = formatSyncPlan(plan) + '\n';
  if (options.dryRun) {
    io.stdout.write(text);
    return 0;
  }
  io.stderr.write(text);
  if (isNoop(plan)) {
    io.logger.info('nothing to do', { tasks: plan.steps.filter((s) => s.kind === 'keep-task').length });
    return 0;
  }
  await client.apply(plan, io.logger, options.settleMs);
  return 0;
}
