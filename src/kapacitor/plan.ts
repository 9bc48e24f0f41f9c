/**
 * The sync plan: the tickscripts/ as Kapacitor templates, and one task per (template, database/rp), diffed against
 * what Kapacitor has. Pure; `--dry-run` prints it and client.ts applies it.
 *
 * Naming convention: a task's ID is `taskName` with {template}, {db} and {rp} filled in (default
 * `{template}.{db}.{rp}`). Only tasks made from one of our templates are ever updated or (with prune) deleted.
 * Vars: the values in config, typed by the template's declarations; `{db}` and `{rp}` in a string, lambda or regex
 * value become the task's database and retention policy, so one line of config serves every database (a batch query's
 * FROM, an influxDBOut's database).
 *
 * Derived vars: what depends on the task's database is never left to a template default written for one database.
 * Unless config sets them, `outputDB` and `outputRP` are the task's database and retention policy (a stream task
 * writes beside what it reads), and a string var whose default is a query reading `FROM "db"."rp".measurement` reads
 * the task's database and retention policy instead. A batch query that reads another database than its task's is
 * refused here: Kapacitor would answer it with HTTP 500 and leave the task enabled but not executing.
 */
import { influxqlDuration } from '../duration.js';
import type { LocalTemplate, TaskType, VarType } from './tickscript.js';

export interface Dbrp {
  db: string;
  rp: string;
}

export interface VarValue {
  type: VarType;
  value: unknown;
}

export interface RemoteTemplate {
  id: string;
  type: TaskType;
  script: string;
}

export interface RemoteTask {
  id: string;
  templateID: string;
  type: TaskType;
  dbrps: Dbrp[];
  vars: Record<string, VarValue>;
  status: 'enabled' | 'disabled';
  /** False for an enabled task that stopped (its UDF refused Init, the sidecar went away): it needs a restart. */
  executing?: boolean;
  error?: string;
}

export interface SyncWants {
  templates: LocalTemplate[];
  databases: Dbrp[];
  taskName: string;
  /** Raw config values per template ID. */
  vars: Record<string, Record<string, unknown>>;
  status: 'enabled' | 'disabled';
  prune: boolean;
}

export interface TaskSpec {
  id: string;
  templateID: string;
  dbrps: Dbrp[];
  vars: Record<string, VarValue>;
  status: 'enabled' | 'disabled';
}

/** A task as Kapacitor had it before the sync: what undoing a step puts back. */
export type TaskBefore = Omit<TaskSpec, 'id'>;

export type SyncStep =
  | { kind: 'create-template'; id: string; type: TaskType; script: string }
  | { kind: 'update-template'; id: string; type: TaskType; script: string; changed: string[]; before?: { type: TaskType; script: string } }
  | { kind: 'keep-template'; id: string }
  | ({ kind: 'create-task' } & TaskSpec)
  | ({ kind: 'update-task'; changed: string[]; varChanges?: string[]; before?: TaskBefore } & TaskSpec)
  | { kind: 'keep-task'; id: string }
  | { kind: 'delete-task'; id: string; templateID: string; before?: TaskBefore };

export interface SyncPlan {
  steps: SyncStep[];
}

/** A problem with the wanted state; `key` is the config key (below `kapacitor.sync`) it comes from. */
export class SyncPlanError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

const TASK_ID = /^[-._\p{L}0-9]+$/u;

/** The `changed` entry of an enabled task that is not executing: applying the plan disables and re-enables it. */
export const NOT_RUNNING = 'not running';

export function taskId(pattern: string, template: string, dbrp: Dbrp): string {
  const id = pattern.replaceAll('{template}', template).replaceAll('{db}', dbrp.db).replaceAll('{rp}', dbrp.rp);
  if (!TASK_ID.test(id)) {
    throw new SyncPlanError('taskName', `task ID ${JSON.stringify(id)} (from ${JSON.stringify(pattern)}) may hold only letters, digits, '-', '_' and '.'`);
  }
  return id;
}

export function planSync(wants: SyncWants, remoteTemplates: RemoteTemplate[], remoteTasks: RemoteTask[]): SyncPlan {
  const steps: SyncStep[] = [];
  for (const t of wants.templates) {
    const remote = remoteTemplates.find((r) => r.id === t.id);
    if (!remote) {
      steps.push({ kind: 'create-template', id: t.id, type: t.type, script: t.script });
      continue;
    }
    const changed = [...(remote.type !== t.type ? ['type'] : []), ...(remote.script !== t.script ? ['script'] : [])];
    steps.push(
      changed.length
        ? { kind: 'update-template', id: t.id, type: t.type, script: t.script, changed, before: { type: remote.type, script: remote.script } }
        : { kind: 'keep-template', id: t.id },
    );
  }
  for (const id of Object.keys(wants.vars)) {
    if (!wants.templates.some((t) => t.id === id))
      throw new SyncPlanError(`vars.${id}`, `no template ${id} (templates: ${wants.templates.map((t) => t.id).join(', ')})`);
  }

  const wanted = new Map<string, TaskSpec>();
  for (const t of wants.templates) {
    for (const dbrp of wants.databases) {
      const id = taskId(wants.taskName, t.id, dbrp);
      const previous = wanted.get(id);
      if (previous) {
        throw new SyncPlanError(
          'taskName',
          `${JSON.stringify(wants.taskName)} gives the same task ID ${id} to ${previous.templateID} on ${fmt(previous.dbrps[0])} and ${t.id} on ${fmt(dbrp)}: add {template}, {db} and {rp}`,
        );
      }
      wanted.set(id, { id, templateID: t.id, dbrps: [dbrp], vars: taskVars(t, wants.vars[t.id] ?? {}, dbrp), status: wants.status });
    }
  }
  for (const spec of wanted.values()) {
    const remote = remoteTasks.find((r) => r.id === spec.id);
    if (!remote) {
      steps.push({ kind: 'create-task', ...spec });
      continue;
    }
    const changed: string[] = [];
    if (remote.templateID !== spec.templateID) changed.push('template');
    if (!sameDbrps(remote.dbrps, spec.dbrps)) changed.push('dbrps');
    const varChanges = diffVars(remote.vars, spec.vars);
    if (varChanges.length > 0) changed.push('vars');
    if (remote.status !== spec.status) changed.push('status');
    else if (spec.status === 'enabled' && remote.executing === false) changed.push(NOT_RUNNING);
    steps.push(changed.length ? { kind: 'update-task', ...spec, changed, varChanges, before: beforeOf(remote) } : { kind: 'keep-task', id: spec.id });
  }
  if (wants.prune) {
    const ours = new Set(wants.templates.map((t) => t.id));
    for (const r of remoteTasks) {
      if (ours.has(r.templateID) && !wanted.has(r.id)) steps.push({ kind: 'delete-task', id: r.id, templateID: r.templateID, before: beforeOf(r) });
    }
  }
  return { steps };
}

function beforeOf(r: RemoteTask): TaskBefore {
  return { templateID: r.templateID, dbrps: r.dbrps, vars: r.vars, status: r.status };
}

/** Config values → Kapacitor vars, typed by the template's declarations, plus the vars derived from the task's database. */
export function taskVars(template: LocalTemplate, values: Record<string, unknown>, dbrp: Dbrp): Record<string, VarValue> {
  const vars: Record<string, VarValue> = {};
  for (const [name, raw] of Object.entries(values)) {
    const type = template.vars[name];
    const key = `vars.${template.id}.${name}`;
    if (!type) throw new SyncPlanError(key, `${template.file} declares no var ${name} (declared: ${Object.keys(template.vars).join(', ') || 'none'})`);
    const value = varValue(type, raw, key);
    vars[name] = { type, value: typeof value === 'string' ? value.replaceAll('{db}', dbrp.db).replaceAll('{rp}', dbrp.rp) : value };
  }
  for (const [name, value] of Object.entries(derivedVars(template, dbrp))) {
    if (!(name in vars)) vars[name] = { type: 'string', value };
  }
  if (template.type === 'batch') {
    for (const [name, v] of Object.entries(vars)) {
      const from = v.type === 'string' && typeof v.value === 'string' ? queryFrom(v.value) : undefined;
      if (from && (from.db !== dbrp.db || from.rp !== dbrp.rp)) {
        const set = name in values ? 'reads' : `reads by default (${template.file})`;
        throw new SyncPlanError(
          `vars.${template.id}.${name}`,
          `${set} "${from.db}"."${from.rp}", but task ${template.id} runs on ${fmt(dbrp)}: Kapacitor refuses a batch query outside its task's database; write "{db}"."{rp}"`,
        );
      }
    }
  }
  return vars;
}

/** The string vars that follow the task's database (see the module comment). Pure. */
export function derivedVars(template: LocalTemplate, dbrp: Dbrp): Record<string, string> {
  const derived: Record<string, string> = {};
  if (template.vars.outputDB === 'string') derived.outputDB = dbrp.db;
  if (template.vars.outputRP === 'string') derived.outputRP = dbrp.rp;
  for (const [name, text] of Object.entries(template.stringDefaults ?? {})) {
    if (template.vars[name] !== 'string' || name in derived) continue;
    const rewritten = withQueryFrom(text, dbrp);
    if (rewritten !== undefined) derived[name] = rewritten;
  }
  return derived;
}

const IDENT = String.raw`(?:"(?:[^"\\]|\\.)*"|[A-Za-z_]\w*)`;
const QUALIFIED_FROM = new RegExp(String.raw`(\bFROM\s+)(${IDENT})\.(${IDENT})\.`, 'i');

function unquote(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replace(/\\(.)/g, '$1') : ident;
}

function quote(name: string): string {
  return `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** The database and retention policy an InfluxQL `SELECT … FROM db.rp.m` reads, when it names them. */
export function queryFrom(query: string): Dbrp | undefined {
  const m = QUALIFIED_FROM.exec(query);
  return m ? { db: unquote(m[2]), rp: unquote(m[3]) } : undefined;
}

function withQueryFrom(query: string, dbrp: Dbrp): string | undefined {
  if (!QUALIFIED_FROM.test(query)) return undefined;
  return query.replace(QUALIFIED_FROM, (_m, from: string) => `${from}${quote(dbrp.db)}.${quote(dbrp.rp)}.`);
}

function varValue(type: VarType, raw: unknown, key: string): unknown {
  const bad = (what: string) => new SyncPlanError(key, `expected ${what} for a ${type} var, got ${JSON.stringify(raw)}`);
  switch (type) {
    case 'string':
    case 'lambda':
    case 'regex':
      if (typeof raw !== 'string') throw bad('a string');
      return raw;
    case 'int':
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) throw bad('an integer');
      return raw;
    case 'float':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) throw bad('a number');
      return raw;
    case 'bool':
      if (typeof raw !== 'boolean') throw bad('true or false');
      return raw;
    case 'duration':
      if (typeof raw !== 'string' || durationNs(raw) === undefined) throw bad('a duration literal like 10s or 1h30m');
      return raw;
    case 'list':
      if (!Array.isArray(raw) || !raw.every((v) => typeof v === 'string')) throw bad('a list of strings');
      return raw.map((v) => (v === '*' ? { type: 'star', value: '' } : { type: 'string', value: v }));
    case 'star':
      return '';
  }
}

/** A duration var's value as Kapacitor gives it (a number of nanoseconds) or as the config writes it (a literal). */
export function durationNs(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  return typeof v === 'string' ? influxqlDuration(v) : undefined;
}

function normalVar(v: VarValue): string {
  if (v.type === 'duration') return `duration:${durationNs(v.value) ?? String(v.value)}`;
  if (v.type === 'list') return `list:${JSON.stringify(((v.value as VarValue[] | null) ?? []).map(normalVar))}`;
  if (v.type === 'star') return 'star';
  return `${v.type}:${JSON.stringify(v.value)}`;
}

/** `name: old → new` for each var that differs; `default` where Kapacitor or the config has none. */
function diffVars(remote: Record<string, VarValue>, wanted: Record<string, VarValue>): string[] {
  const keys = [...new Set([...Object.keys(remote), ...Object.keys(wanted)])].sort();
  return keys
    .filter((k) => remote[k] === undefined || wanted[k] === undefined || normalVar(remote[k]) !== normalVar(wanted[k]))
    .map((k) => `${k}: ${showVar(remote[k])} → ${showVar(wanted[k])}`);
}

function showVar(v: VarValue | undefined): string {
  if (v === undefined) return 'default';
  if (v.type === 'list') return `[${((v.value as VarValue[] | null) ?? []).map((i) => (i.type === 'star' ? '*' : showVar(i))).join(', ')}]`;
  if (v.type === 'star') return '*';
  return typeof v.value === 'string' && v.type !== 'duration' ? `'${v.value}'` : String(v.value);
}

function sameDbrps(a: Dbrp[], b: Dbrp[]): boolean {
  const key = (l: Dbrp[]) => l.map(fmt).sort().join(',');
  return key(a) === key(b);
}

function fmt(d: Dbrp): string {
  return `${d.db}.${d.rp}`;
}

export function isNoop(plan: SyncPlan): boolean {
  return plan.steps.every((s) => s.kind === 'keep-template' || s.kind === 'keep-task');
}

/** `+` create, `~` update (with what changed), `=` keep, `-` delete. */
export function formatSyncPlan(plan: SyncPlan): string {
  return plan.steps
    .map((s) => {
      switch (s.kind) {
        case 'create-template':
          return `+ template ${s.id} (${s.type})`;
        case 'update-template':
          return `~ template ${s.id}: ${s.changed.join(', ')}`;
        case 'keep-template':
          return `= template ${s.id}`;
        case 'create-task':
          return `+ task ${s.id} from ${s.templateID} on ${s.dbrps.map(fmt).join(', ')}${varsText(s.vars)} (${s.status})`;
        case 'update-task':
          return `~ task ${s.id}: ${s.changed.map((c) => (c === 'vars' && s.varChanges?.length ? `vars (${s.varChanges.join(', ')})` : c)).join(', ')}`;
        case 'keep-task':
          return `= task ${s.id}`;
        case 'delete-task':
          return `- task ${s.id} (from ${s.templateID}, no longer wanted)`;
      }
    })
    .join('\n');
}

function varsText(vars: Record<string, VarValue>): string {
  const entries = Object.entries(vars);
  if (entries.length === 0) return '';
  return (
    ' with ' +
    entries
      .map(([k, v]) => `${k}=${v.type === 'list' ? (v.value as VarValue[]).map((i) => (i.type === 'star' ? '*' : i.value)).join('|') : String(v.value)}`)
      .join(' ')
  );
}
