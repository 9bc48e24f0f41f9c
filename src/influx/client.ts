/**
 * The InfluxDB 2 admin I/O of `influx setup`: read an org's buckets, DBRP mappings and tokens into an OrgState, and
 * carry out a Plan. Thin on purpose: every decision is in plan.ts. Token secrets only ever leave through the return
 * value of `apply` — never through the logger or an error message.
 */
import { HttpError, InfluxDB } from '@influxdata/influxdb-client';
import { AuthorizationsAPI, BucketsAPI, DbrpsAPI, OrgsAPI, type Permission } from '@influxdata/influxdb-client-apis';
import { SidecarError } from '../errors.js';
import type { Logger } from '../log.js';
import type { OrgState, Plan, TokenRole } from './plan.js';

export class InfluxApiError extends SidecarError {
  constructor(what: string, cause: unknown) {
    const status = cause instanceof HttpError ? cause.statusCode : undefined;
    const detail = cause instanceof HttpError ? `HTTP ${cause.statusCode}: ${cause.body || cause.statusMessage}` : String((cause as Error)?.message ?? cause);
    super('INFLUX_API', `InfluxDB: ${what} failed: ${detail}`, {
      cause,
      retriable: status === undefined || status === 429 || status >= 500,
    });
  }
}

export interface CreatedToken {
  role: TokenRole;
  description: string;
  id: string;
  token: string;
}

export interface ApplyResult {
  createdTokens: CreatedToken[];
  conflicts: number;
}

const PAGE = 100;

export class InfluxAdmin {
  private readonly orgs: OrgsAPI;
  private readonly buckets: BucketsAPI;
  private readonly dbrps: DbrpsAPI;
  private readonly auths: AuthorizationsAPI;

  private readonly url: string;
  private readonly timeoutMs: number;

  constructor(options: { url: string; token: string; timeoutMs?: number }) {
    this.url = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const influx = new InfluxDB({ url: options.url, token: options.token, timeout: this.timeoutMs });
    this.orgs = new OrgsAPI(influx);
    this.buckets = new BucketsAPI(influx);
    this.dbrps = new DbrpsAPI(influx);
    this.auths = new AuthorizationsAPI(influx);
  }

  /**
   * Makes sure the URL is an InfluxDB 2 before anything else is asked: InfluxDB 1.x and other servers answer the
   * org lookup with 404, which would read as "org not found". Resolves to the server's version.
   */
  async checkServer(): Promise<string> {
    const where = `${this.url}/health`;
    let res: Response;
    try {
      res = await fetch(where, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
      throw new SidecarError('INFLUX_UNREACHABLE', `InfluxDB at ${this.url} cannot be reached (${cause}): start it, or fix influxdb.url (INFLUXDB_URL)`, {
        cause: err,
        retriable: true,
      });
    }
    const text = await res.text();
    let health: { name?: unknown; version?: unknown } | undefined;
    try {
      health = JSON.parse(text) as typeof health;
    } catch {
      health = undefined;
    }
    const version = typeof health?.version === 'string' ? health.version.replace(/^v/, '') : (res.headers.get('x-influxdb-version') ?? '').replace(/^v/, '');
    if (health?.name !== 'influxdb' && !res.headers.has('x-influxdb-version')) {
      const other = res.headers.get('x-kapacitor-version') ? ` (it is Kapacitor ${res.headers.get('x-kapacitor-version')})` : '';
      throw new SidecarError(
        'INFLUX_NOT_INFLUXDB',
        `${this.url} is not an InfluxDB server${other}: GET /health answered HTTP ${res.status}: point influxdb.url (INFLUXDB_URL) at InfluxDB 2`,
      );
    }
    if (!/^2\./.test(version)) {
      throw new SidecarError(
        'INFLUX_NOT_V2',
        `${this.url} is InfluxDB ${version || '(version unknown)'}, which has no orgs, buckets or tokens: influx setup is for InfluxDB 2.x (on 1.x create databases and users with InfluxQL)`,
      );
    }
    return version;
  }

  async readState(orgName: string): Promise<OrgState> {
    const notFound = () => new SidecarError('INFLUX_ORG_NOT_FOUND', `InfluxDB: org ${JSON.stringify(orgName)} not found or not visible to this token`);
    const orgs = await this.orgs.getOrgs({ org: orgName }).catch((err: unknown) => {
      if (err instanceof HttpError && err.statusCode === 404) throw notFound();
      if (err instanceof HttpError && err.statusCode === 401) {
        throw new SidecarError(
          'INFLUX_UNAUTHORIZED',
          `InfluxDB at ${this.url} refused the operator token (HTTP 401): set INFLUXDB_TOKEN (or influxdb.tokenFile) to an operator or all-access token`,
        );
      }
      throw new InfluxApiError(`looking up org ${JSON.stringify(orgName)}`, err);
    });
    const org = orgs.orgs?.find((o) => o.name === orgName);
    if (!org?.id) throw notFound();
    const orgID = org.id;

    const buckets: OrgState['buckets'] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await call('listing buckets', () => this.buckets.getBuckets({ orgID, limit: PAGE, offset }));
      for (const b of page.buckets ?? []) {
        const rule = b.retentionRules?.find((r) => (r.type ?? 'expire') === 'expire');
        buckets.push({ id: b.id!, name: b.name, retentionSeconds: rule?.everySeconds ?? 0, system: b.type === 'system' });
      }
      if ((page.buckets?.length ?? 0) < PAGE) break;
    }

    const mappings = await call('listing DBRP mappings', () => this.dbrps.getDBRPs({ orgID }));
    // Virtual mappings are InfluxDB's implicit bucket-name fallbacks, not stored: they are what we are replacing.
    const dbrps = (mappings.content ?? [])
      .filter((m) => !m.virtual)
      .map((m) => ({ id: m.id, bucketID: m.bucketID, database: m.database, retentionPolicy: m.retention_policy, default: m.default }));

    const auths = await call('listing tokens', () => this.auths.getAuthorizations({ orgID }));
    const tokens = (auths.authorizations ?? []).map((a) => ({
      id: a.id!,
      description: a.description ?? '',
      active: a.status !== 'inactive',
      permissions: (a.permissions ?? []).map((p) => ({ action: p.action, type: p.resource.type, id: p.resource.id })),
    }));
    return { orgID, orgName, buckets, dbrps, tokens };
  }

  /**
   * Creates before it deletes, so a replaced token's successor exists before the old one goes. `deliver` (which must
   * not throw) gets the new secrets once every creation is done, before anything is deleted — or, when a creation
   * fails, those created so far, before the error is thrown: a secret that exists on the server is always handed over.
   */
  async apply(plan: Plan, logger: Logger, deliver: (tokens: CreatedToken[]) => void): Promise<ApplyResult> {
    const createdTokens: CreatedToken[] = [];
    let conflicts: number;
    try {
      conflicts = await this.create(plan, logger, createdTokens);
    } catch (err) {
      if (createdTokens.length > 0) deliver(createdTokens);
      throw err;
    }
    if (createdTokens.length > 0) deliver(createdTokens);
    await this.deleteReplaced(plan, logger);
    return { createdTokens, conflicts };
  }

  private async create(plan: Plan, logger: Logger, createdTokens: CreatedToken[]): Promise<number> {
    let conflicts = 0;
    for (const step of plan.steps) {
      switch (step.kind) {
        case 'create-dbrp':
          await call(`creating DBRP ${step.database}/${step.retentionPolicy}`, () =>
            this.dbrps.postDBRP({
              body: { orgID: plan.orgID, bucketID: step.bucketID, database: step.database, retention_policy: step.retentionPolicy, default: step.default },
            }),
          );
          logger.info('DBRP mapping created', { database: step.database, retentionPolicy: step.retentionPolicy, bucket: step.bucketName });
          break;
        case 'conflict-dbrp':
          conflicts++;
          logger.warn('DBRP mapping points at another bucket; left alone', {
            database: step.database,
            retentionPolicy: step.retentionPolicy,
            mappedBucketID: step.mappedBucketID,
            bucket: step.bucketName,
          });
          break;
        case 'create-token': {
          const permissions: Permission[] = step.permissions.map((p) => ({
            action: p.action,
            resource: { type: 'buckets', id: p.bucketID, orgID: plan.orgID },
          }));
          const auth = await call(`creating token ${step.description}`, () =>
            this.auths.postAuthorizations({ body: { orgID: plan.orgID, description: step.description, permissions } }),
          );
          if (!auth.id || !auth.token) throw new SidecarError('INFLUX_API', `InfluxDB: creating token ${step.description} returned no token`);
          createdTokens.push({ role: step.role, description: step.description, id: auth.id, token: auth.token });
          logger.info('token created', { description: step.description, id: auth.id, permissions: step.permissions.length });
          break;
        }
        case 'keep-dbrp':
        case 'keep-token':
          break;
      }
    }
    return conflicts;
  }

  private async deleteReplaced(plan: Plan, logger: Logger): Promise<void> {
    for (const step of plan.steps) {
      if (step.kind !== 'delete-token') continue;
      await call(`deleting token ${step.description} (${step.id})`, () => this.auths.deleteAuthorizationsID({ authID: step.id }));
      logger.info('token deleted', { description: step.description, id: step.id, reason: step.reason });
    }
  }
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new InfluxApiError(what, err);
  }
}
