/**
 * The provisioning plan: what `influx setup` wants (one DBRP mapping per user bucket, two least-privilege tokens)
 * diffed against what the org already has. Pure: the I/O that reads the state and applies the plan lives in client.ts,
 * and `--dry-run` prints exactly this plan.
 *
 * Tokens are recognised by their description (`<prefix>:feeders`, `<prefix>:kapacitor`). A token whose permissions are
 * exactly the wanted ones is kept (its secret is not printed again); otherwise a new one is created and the stale ones
 * deleted afterwards, so no token ever holds more than it should. `rotateTokens` replaces even matching tokens.
 */
import { formatRetention } from './duration.js';

export type TokenRole = 'feeders' | 'kapacitor';

/** The variable each role reads its token from: the feeders' INFLUXDB_TOKEN under a prefix, Kapacitor's own env name. */
export const TOKEN_VARIABLES: Readonly<Record<TokenRole, string>> = {
  feeders: 'FEEDERS_INFLUXDB_TOKEN',
  kapacitor: 'KAPACITOR_INFLUXDB_0_TOKEN',
};
export type Action = 'read' | 'write';

export interface BucketInfo {
  id: string;
  name: string;
  /** 0 means keep forever. */
  retentionSeconds: number;
  /** `_monitoring`, `_tasks`: InfluxDB's own, never mapped nor granted. */
  system: boolean;
}

export interface DbrpInfo {
  id: string;
  bucketID: string;
  database: string;
  retentionPolicy: string;
  default: boolean;
}

export interface BucketPermission {
  action: Action;
  bucketID: string;
  /** For people reading the plan; not compared. */
  bucketName?: string;
}

export interface TokenInfo {
  id: string;
  description: string;
  active: boolean;
  /** Permissions as InfluxDB reports them, flattened; `bucketID` undefined means "every bucket of the org" or another resource type. */
  permissions: Array<{ action: Action; type: string; id?: string }>;
}

export interface OrgState {
  orgID: string;
  orgName: string;
  buckets: BucketInfo[];
  dbrps: DbrpInfo[];
  tokens: TokenInfo[];
}

export interface SetupWants {
  /** Bucket names the feeders write to; undefined = every user bucket; [] = no feeders token. */
  feederBuckets?: string[];
  /** Bucket names Kapacitor reads and writes; undefined = every user bucket; [] = no Kapacitor token. */
  kapacitorBuckets?: string[];
  tokenPrefix: string;
  rotateTokens: boolean;
}

export type Step =
  | { kind: 'create-dbrp'; bucketID: string; bucketName: string; database: string; retentionPolicy: string; default: boolean }
  | { kind: 'keep-dbrp'; id: string; bucketName: string; database: string; retentionPolicy: string }
  | { kind: 'conflict-dbrp'; id: string; database: string; retentionPolicy: string; mappedBucketID: string; bucketName: string }
  | { kind: 'create-token'; role: TokenRole; description: string; permissions: BucketPermission[] }
  | { kind: 'keep-token'; role: TokenRole; id: string; description: string }
  | { kind: 'delete-token'; role: TokenRole; id: string; description: string; reason: string };

export interface Plan {
  orgID: string;
  orgName: string;
  steps: Step[];
}

export class PlanError extends Error {
  constructor(
    readonly key: 'feederBuckets' | 'kapacitorBuckets',
    message: string,
  ) {
    super(message);
  }
}

export function planSetup(state: OrgState, wants: SetupWants): Plan {
  const userBuckets = state.buckets.filter((b) => !b.system).sort((a, b) => a.name.localeCompare(b.name));
  const steps: Step[] = [...planDbrps(userBuckets, state.dbrps)];
  const roles: Array<[TokenRole, 'feederBuckets' | 'kapacitorBuckets', Action[]]> = [
    ['feeders', 'feederBuckets', ['write']],
    ['kapacitor', 'kapacitorBuckets', ['read', 'write']],
  ];
  for (const [role, key, actions] of roles) {
    const buckets = pickBuckets(userBuckets, wants[key], key);
    const permissions = buckets.flatMap((b) => actions.map((action) => ({ action, bucketID: b.id, bucketName: b.name })));
    steps.push(...planToken(role, `${wants.tokenPrefix}:${role}`, permissions, state.tokens, wants.rotateTokens));
  }
  return { orgID: state.orgID, orgName: state.orgName, steps };
}

function planDbrps(buckets: BucketInfo[], existing: DbrpInfo[]): Step[] {
  const steps: Step[] = [];
  for (const bucket of buckets) {
    const database = bucket.name;
    const retentionPolicy = formatRetention(bucket.retentionSeconds);
    const same = existing.find((m) => m.database === database && m.retentionPolicy === retentionPolicy);
    if (same && same.bucketID === bucket.id) {
      steps.push({ kind: 'keep-dbrp', id: same.id, bucketName: bucket.name, database, retentionPolicy });
    } else if (same) {
      steps.push({ kind: 'conflict-dbrp', id: same.id, database, retentionPolicy, mappedBucketID: same.bucketID, bucketName: bucket.name });
    } else {
      // InfluxQL without an explicit RP uses the database's default mapping: make ours the default unless one exists.
      const hasDefault = existing.some((m) => m.database === database && m.default);
      steps.push({ kind: 'create-dbrp', bucketID: bucket.id, bucketName: bucket.name, database, retentionPolicy, default: !hasDefault });
    }
  }
  return steps;
}

function pickBuckets(userBuckets: BucketInfo[], names: string[] | undefined, key: 'feederBuckets' | 'kapacitorBuckets'): BucketInfo[] {
  if (names === undefined) return userBuckets;
  const missing = names.filter((n) => !userBuckets.some((b) => b.name === n));
  if (missing.length > 0) {
    throw new PlanError(key, `no such bucket in the org: ${missing.join(', ')} (buckets: ${userBuckets.map((b) => b.name).join(', ') || 'none'})`);
  }
  return userBuckets.filter((b) => names.includes(b.name));
}

function planToken(role: TokenRole, description: string, wanted: BucketPermission[], tokens: TokenInfo[], rotate: boolean): Step[] {
  const ours = tokens.filter((t) => t.description === description);
  const wantedKey = permissionKey(wanted.map((p) => ({ action: p.action, type: 'buckets', id: p.bucketID })));
  const keep = rotate ? undefined : ours.find((t) => t.active && permissionKey(t.permissions) === wantedKey);
  const steps: Step[] = [];
  if (keep) steps.push({ kind: 'keep-token', role, id: keep.id, description });
  else if (wanted.length > 0) steps.push({ kind: 'create-token', role, description, permissions: wanted });
  for (const t of ours) {
    if (t === keep) continue;
    const reason = wanted.length === 0 ? 'no buckets wanted' : rotate ? 'rotated' : !t.active ? 'inactive' : 'permissions differ';
    steps.push({ kind: 'delete-token', role, id: t.id, description, reason });
  }
  return steps;
}

function permissionKey(permissions: TokenInfo['permissions']): string {
  return [...new Set(permissions.map((p) => `${p.action}:${p.type}:${p.id ?? '*'}`))].sort().join(',');
}

/** True when applying the plan would change nothing. */
export function isNoop(plan: Plan): boolean {
  return plan.steps.every((s) => s.kind === 'keep-dbrp' || s.kind === 'keep-token' || s.kind === 'conflict-dbrp');
}

/** The plan as `--dry-run` prints it: `+` create, `-` delete, `=` keep, `!` conflict left alone. */
export function formatPlan(plan: Plan): string {
  const lines = [`org ${plan.orgName} (${plan.orgID})`];
  for (const s of plan.steps) {
    switch (s.kind) {
      case 'create-dbrp':
        lines.push(`+ dbrp ${s.database}/${s.retentionPolicy} -> bucket ${s.bucketName}${s.default ? ' (default)' : ''}`);
        break;
      case 'keep-dbrp':
        lines.push(`= dbrp ${s.database}/${s.retentionPolicy} -> bucket ${s.bucketName}`);
        break;
      case 'conflict-dbrp':
        lines.push(`! dbrp ${s.database}/${s.retentionPolicy} already maps to bucket id ${s.mappedBucketID}, not to bucket ${s.bucketName}: left alone`);
        break;
      case 'create-token': {
        const byBucket = new Map<string, string[]>();
        for (const p of s.permissions) byBucket.set(p.bucketName ?? p.bucketID, [...(byBucket.get(p.bucketName ?? p.bucketID) ?? []), p.action]);
        const grants = [...byBucket].map(([b, actions]) => `${actions.join('+')} ${b}`).join(', ');
        lines.push(`+ token ${s.description}: ${grants}`);
        break;
      }
      case 'keep-token':
        lines.push(`= token ${s.description} (id ${s.id})`);
        break;
      case 'delete-token':
        lines.push(`- token ${s.description} (id ${s.id}): ${s.reason}`);
        break;
    }
  }
  return lines.join('\n');
}
