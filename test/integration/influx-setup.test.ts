/**
 * `udf-sidecar influx setup` against a real InfluxDB 2.7 (scripts/stack/install.sh influxdb2): DBRP mappings that make
 * InfluxQL reads work, tokens that can do exactly their job and nothing more, secrets printed once and never logged,
 * idempotence, --dry-run, replacement and rotation, conflicts. Each run works in an org of its own, deleted at the end.
 * Needs `npm run build` first (scripts/test.sh does it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ensureInfluxDB, freePort, influxdb2Setup, kapacitorBinDir, type InfluxDB2Setup } from './stack.js';

const root = resolve(import.meta.dirname, '../..');
const cliPath = join(root, 'dist/cli.js');
// On a machine without the cached server binaries, the first start builds them from the registries (minutes).
const INSTALL_TIMEOUT_MS = 45 * 60_000;

let influx: InfluxDB2Setup;
let work: string;
let org: { id: string; name: string };
const buckets: Record<string, string> = {};

async function v2<T>(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${influx.url}${path}`, {
    method,
    headers: { authorization: `Token ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const r = await v2<T>(influx.token, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json;
}

function setup(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return cli(['influx', 'setup', ...args], env);
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      // debug: the secrets must stay out of the logs at every level
      env: { ...process.env, LOG_LEVEL: 'debug', INFLUXDB_URL: influx.url, INFLUXDB_ORG: org.name, INFLUXDB_TOKEN: influx.token, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

interface Dbrp {
  id: string;
  bucketID: string;
  database: string;
  retention_policy: string;
  default: boolean;
  virtual?: boolean;
}
interface Auth {
  id: string;
  description: string;
  status: string;
  permissions: { action: string; resource: { type: string; id?: string; orgID?: string } }[];
}

const dbrps = async () =>
  (await admin<{ content: Dbrp[] }>('GET', `/api/v2/dbrps?orgID=${org.id}`)).content
    .filter((m) => !m.virtual)
    .map(
      (m) =>
        `${m.database}/${m.retention_policy} -> ${Object.keys(buckets).find((b) => buckets[b] === m.bucketID) ?? m.bucketID}${m.default ? ' default' : ''}`,
    )
    .sort();
const ourTokens = async () =>
  (await admin<{ authorizations: Auth[] }>('GET', `/api/v2/authorizations?orgID=${org.id}`)).authorizations.filter((a) =>
    a.description.startsWith('udf-sidecar:'),
  );
const grants = (a: Auth) =>
  a.permissions.map((p) => `${p.action} ${p.resource.type} ${Object.keys(buckets).find((b) => buckets[b] === p.resource.id) ?? p.resource.id ?? '*'}`).sort();

function tokensFrom(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Z0-9_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const writeLP = (token: string, bucket: string, lp: string) =>
  fetch(`${influx.url}/api/v2/write?org=${encodeURIComponent(org.name)}&bucket=${bucket}&precision=s`, {
    method: 'POST',
    headers: { authorization: `Token ${token}` },
    body: lp,
  }).then((r) => r.status);

const influxQL = async (token: string, db: string, rp: string, q: string) => {
  const res = await fetch(`${influx.url}/query?db=${db}&rp=${rp}&q=${encodeURIComponent(q)}`, { headers: { authorization: `Token ${token}` } });
  return { status: res.status, json: (await res.json()) as { results?: { series?: { values: unknown[][] }[]; error?: string }[] } };
};

beforeAll(async () => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (scripts/test.sh does)`);
  influx = await influxdb2Setup();
  work = await mkdtemp(join(tmpdir(), 'influx-setup-'));
  const name = `setup-test-${process.pid}-${Date.now()}`;
  org = await admin<{ id: string; name: string }>('POST', '/api/v2/orgs', { name });
  for (const [bucket, everySeconds] of [
    ['telemetry', 100_000],
    ['archive', 0],
    ['alerts', 2_592_000],
  ] as const) {
    const b = await admin<{ id: string }>('POST', '/api/v2/buckets', {
      orgID: org.id,
      name: bucket,
      retentionRules: everySeconds ? [{ type: 'expire', everySeconds }] : [],
    });
    buckets[bucket] = b.id;
  }
}, INSTALL_TIMEOUT_MS);

afterAll(async () => {
  if (org) await admin('DELETE', `/api/v2/orgs/${org.id}`).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('influx setup against InfluxDB 2.7', () => {
  it('with --dry-run prints the plan and changes nothing', async () => {
    const r = await setup(['--dry-run']);
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      `org ${org.name} (${org.id})`,
      '+ dbrp alerts/30d -> bucket alerts (default)',
      '+ dbrp archive/infinite -> bucket archive (default)',
      '+ dbrp telemetry/1d3h46m40s -> bucket telemetry (default)',
      '+ token udf-sidecar:feeders: write alerts, write archive, write telemetry',
      '+ token udf-sidecar:kapacitor: read+write alerts, read+write archive, read+write telemetry',
    ]);
    expect(await dbrps()).toEqual([]);
    expect(await ourTokens()).toEqual([]);
  });

  it('refuses a token file it could not write before changing anything (a first run), exit 2 in one line', async () => {
    const missing = join(work, 'no-such-dir', 'tokens.env');
    const r = await setup(['--token-file', missing]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(
      `argv: --token-file: cannot write ${missing}: directory ${join(work, 'no-such-dir')} does not exist: create it or choose another path; nothing was changed in InfluxDB`,
    );
    expect(await dbrps()).toEqual([]);
    expect(await ourTokens()).toEqual([]);
  });

  let first: Record<string, string>;

  it('creates the mappings and two least-privilege tokens, printed once on stdout and never logged', async () => {
    const r = await setup();
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    first = tokensFrom(r.stdout);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(2);
    expect(Object.keys(first).sort()).toEqual(['FEEDERS_INFLUXDB_TOKEN', 'KAPACITOR_INFLUXDB_0_TOKEN']);
    for (const secret of Object.values(first)) {
      expect(secret.length).toBeGreaterThan(20);
      expect(r.stderr).not.toContain(secret);
    }
    expect(await dbrps()).toEqual(['alerts/30d -> alerts default', 'archive/infinite -> archive default', 'telemetry/1d3h46m40s -> telemetry default']);
    const tokens = Object.fromEntries((await ourTokens()).map((a) => [a.description, grants(a)]));
    expect(tokens).toEqual({
      'udf-sidecar:feeders': ['write buckets alerts', 'write buckets archive', 'write buckets telemetry'],
      'udf-sidecar:kapacitor': [
        'read buckets alerts',
        'read buckets archive',
        'read buckets telemetry',
        'write buckets alerts',
        'write buckets archive',
        'write buckets telemetry',
      ],
    });
  });

  it('gives tokens that do their job: feeders write, Kapacitor reads that back through InfluxQL and the mapping', async () => {
    const feeders = first.FEEDERS_INFLUXDB_TOKEN;
    const kapacitor = first.KAPACITOR_INFLUXDB_0_TOKEN;
    const now = Math.floor(Date.now() / 1000);
    expect(await writeLP(feeders, 'telemetry', `door,site=a open=1i ${now}`)).toBe(204);
    const read = await influxQL(kapacitor, 'telemetry', '1d3h46m40s', 'SELECT "open" FROM "door"');
    expect(read.status).toBe(200);
    expect(read.json.results?.[0]?.series?.[0]?.values).toHaveLength(1);
    // Kapacitor writes its results back (InfluxDBOut) through the v1 write path and the same mapping.
    const v1write = await fetch(`${influx.url}/write?db=telemetry&rp=1d3h46m40s&precision=s`, {
      method: 'POST',
      headers: { authorization: `Token ${kapacitor}` },
      body: `door_edges,site=a open=1i ${now}`,
    });
    expect(v1write.status).toBe(204);
  });

  it('gives tokens that can do nothing else', async () => {
    const feeders = first.FEEDERS_INFLUXDB_TOKEN;
    const kapacitor = first.KAPACITOR_INFLUXDB_0_TOKEN;
    const feederRead = await influxQL(feeders, 'telemetry', '1d3h46m40s', 'SELECT "open" FROM "door"');
    expect(feederRead.json.results?.[0]?.series ?? []).toEqual([]);
    for (const token of [feeders, kapacitor]) {
      expect((await v2(token, 'POST', '/api/v2/buckets', { orgID: org.id, name: `nope-${Date.now()}`, retentionRules: [] })).status).toBeGreaterThanOrEqual(
        401,
      );
      expect(
        (await v2(token, 'POST', '/api/v2/authorizations', { orgID: org.id, permissions: [{ action: 'read', resource: { type: 'buckets', orgID: org.id } }] }))
          .status,
      ).toBeGreaterThanOrEqual(401);
      // InfluxDB lets bucket write rights map that bucket; mapping anything else is refused.
      expect(
        (await v2(token, 'POST', '/api/v2/dbrps', { orgID: influx.orgID, bucketID: influx.bucketID, database: 'x', retention_policy: 'y' })).status,
      ).toBeGreaterThanOrEqual(400);
      expect(await writeLP(token, influx.bucket, 'm v=1')).toBeGreaterThanOrEqual(401);
    }
  });

  it('changes nothing and prints no secret when run again', async () => {
    const before = (await ourTokens()).map((a) => a.id).sort();
    const r = await setup();
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const plan = r.stderr.split('\n').filter((l) => /^[+=!-] /.test(l));
    expect(plan).toHaveLength(5);
    expect(plan.every((l) => l.startsWith('= '))).toBe(true);
    expect((await ourTokens()).map((a) => a.id).sort()).toEqual(before);
    expect(await dbrps()).toHaveLength(3);
  });

  it('replaces a token whose buckets changed, writes it to a 0600 file, and deletes the old one', async () => {
    const config = join(work, 'config.yaml');
    const tokenFile = join(work, 'tokens.env');
    await writeFile(config, stringify({ influxSetup: { feederBuckets: ['telemetry'], kapacitorBuckets: ['telemetry', 'alerts', 'archive'] } }));
    const dry = await setup(['--config', config, '--dry-run']);
    expect(dry.stdout).toContain('+ token udf-sidecar:feeders: write telemetry');
    expect(dry.stdout).toMatch(/^- token udf-sidecar:feeders \(id \w+\): permissions differ$/m);
    expect(dry.stdout).toContain('= token udf-sidecar:kapacitor');

    const r = await setup(['--config', config, '--token-file', tokenFile]);
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const written = tokensFrom(await readFile(tokenFile, 'utf8'));
    expect(Object.keys(written)).toEqual(['FEEDERS_INFLUXDB_TOKEN']);
    expect(r.stderr).not.toContain(written.FEEDERS_INFLUXDB_TOKEN);
    expect(await writeLP(written.FEEDERS_INFLUXDB_TOKEN, 'telemetry', 'm v=1')).toBe(204);
    expect(await writeLP(written.FEEDERS_INFLUXDB_TOKEN, 'alerts', 'm v=1')).toBeGreaterThanOrEqual(401);
    expect(await writeLP(first.FEEDERS_INFLUXDB_TOKEN, 'telemetry', 'm v=1')).toBe(401);
    expect((await ourTokens()).filter((a) => a.description === 'udf-sidecar:feeders')).toHaveLength(1);
  });

  it('rotates both tokens on request, updating the file in place', async () => {
    const config = join(work, 'config.yaml');
    const tokenFile = join(work, 'tokens.env');
    const before = tokensFrom(await readFile(tokenFile, 'utf8'));
    const r = await setup(['--config', config, '--token-file', tokenFile, '--rotate-tokens']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^- token udf-sidecar:kapacitor \(id \w+\): rotated$/m);
    const after = tokensFrom(await readFile(tokenFile, 'utf8'));
    expect(Object.keys(after).sort()).toEqual(['FEEDERS_INFLUXDB_TOKEN', 'KAPACITOR_INFLUXDB_0_TOKEN']);
    expect(after.FEEDERS_INFLUXDB_TOKEN).not.toBe(before.FEEDERS_INFLUXDB_TOKEN);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect(await writeLP(before.FEEDERS_INFLUXDB_TOKEN, 'telemetry', 'm v=1')).toBe(401);
    expect(await writeLP(after.FEEDERS_INFLUXDB_TOKEN, 'telemetry', 'm v=1')).toBe(204);
    expect((await influxQL(first.KAPACITOR_INFLUXDB_0_TOKEN, 'telemetry', '1d3h46m40s', 'SELECT * FROM "door"')).status).toBe(401);
    expect((await influxQL(after.KAPACITOR_INFLUXDB_0_TOKEN, 'telemetry', '1d3h46m40s', 'SELECT "open" FROM "door"')).status).toBe(200);
    expect(await ourTokens()).toHaveLength(2);
  });

  it('keeps the old tokens when --rotate-tokens is pointed at a destination it cannot write', async () => {
    const config = join(work, 'config.yaml');
    const tokenFile = join(work, 'tokens.env');
    const ids = (await ourTokens()).map((a) => a.id).sort();
    const before = tokensFrom(await readFile(tokenFile, 'utf8'));
    for (const bad of [join(work, 'gone', 'tokens.env'), '/proc/udf-sidecar-tokens.env', work]) {
      const r = await setup(['--config', config, '--token-file', bad, '--rotate-tokens']);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/argv: --token-file: cannot (write|create files in) .*; nothing was changed in InfluxDB/);
    }
    expect((await ourTokens()).map((a) => a.id).sort()).toEqual(ids);
    expect(await writeLP(before.FEEDERS_INFLUXDB_TOKEN, 'telemetry', 'm v=1')).toBe(204);
  });

  it('prints new tokens on stdout whatever LOG_LEVEL says (secrets are output, not log lines)', async () => {
    const config = join(work, 'config.yaml');
    const r = await setup(['--config', config, '--rotate-tokens'], { LOG_LEVEL: 'error' });
    expect(r.code).toBe(0);
    expect(Object.keys(tokensFrom(r.stdout)).sort()).toEqual(['FEEDERS_INFLUXDB_TOKEN', 'KAPACITOR_INFLUXDB_0_TOKEN']);
    expect(r.stderr).not.toMatch(/"level"/);
    // Put fresh tokens back into the file, for the tests after this one.
    expect((await setup(['--config', config, '--rotate-tokens', '--token-file', join(work, 'tokens.env')])).code).toBe(0);
  });

  it('maps a new bucket, reports a mapping held by another bucket and leaves it alone, exiting 1', async () => {
    const extra = await admin<{ id: string }>('POST', '/api/v2/buckets', {
      orgID: org.id,
      name: 'extra',
      retentionRules: [{ type: 'expire', everySeconds: 3600 }],
    });
    buckets.extra = extra.id;
    const fresh = await admin<{ id: string }>('POST', '/api/v2/buckets', {
      orgID: org.id,
      name: 'fresh',
      retentionRules: [{ type: 'expire', everySeconds: 90_061 }],
    });
    buckets.fresh = fresh.id;
    await admin('POST', '/api/v2/dbrps', { orgID: org.id, bucketID: buckets.alerts, database: 'extra', retention_policy: '1h', default: true });
    const r = await setup(['--config', join(work, 'config.yaml'), '--token-file', join(work, 'tokens.env')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`! dbrp extra/1h already maps to bucket id ${buckets.alerts}, not to bucket extra: left alone`);
    expect(r.stderr).toContain('+ dbrp fresh/1d1h1m1s -> bucket fresh (default)');
    expect(await dbrps()).toEqual([
      'alerts/30d -> alerts default',
      'archive/infinite -> archive default',
      'extra/1h -> alerts default',
      'fresh/1d1h1m1s -> fresh default',
      'telemetry/1d3h46m40s -> telemetry default',
    ]);
  });

  it('says in one line, exit 1, that InfluxDB 1.8, a server that is not InfluxDB, or nothing at all is at the URL', async () => {
    const { url: v1 } = await ensureInfluxDB();
    const other = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const closed = `http://127.0.0.1:${await freePort()}`;
    try {
      for (const [url, message] of [
        [v1, `${v1} is InfluxDB 1.8.10, which has no orgs, buckets or tokens: influx setup is for InfluxDB 2.x`],
        [otherUrl, `${otherUrl} is not an InfluxDB server: GET /health answered HTTP 404: point influxdb.url (INFLUXDB_URL) at InfluxDB 2`],
        [closed, `InfluxDB at ${closed} cannot be reached (connect ECONNREFUSED 127.0.0.1:`],
      ]) {
        const r = await setup([], { INFLUXDB_URL: url });
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect((JSON.parse(lines[0]) as { message: string }).message).toContain(message);
      }
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it('fails with exit 2 naming the key without an org, and 1 for an org that does not exist', async () => {
    const noOrg = await setup([], { INFLUXDB_ORG: '' });
    expect(noOrg.code).toBe(2);
    expect(noOrg.stderr).toContain('env: influxdb.org: the org name is required');
    const unknown = await setup(['--org', `no-such-org-${Date.now()}`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/"code":"INFLUX_ORG_NOT_FOUND"/);
    expect(unknown.stderr).not.toContain(influx.token);
  });
});

/**
 * What docker-compose.yml does, with real binaries instead of containers: kapacitord runs docker/kapacitor.conf (only
 * paths, the port and InfluxDB's address rewritten) with the token `influx setup` wrote, exported the way the compose
 * entrypoint exports it; `kapacitor sync` discovers the buckets through the DBRP mappings with Kapacitor's token; a
 * packaged batch tickscript reads what the feeders' token wrote and writes its result back — all within least privilege.
 */
describe('the compose flow: docker/kapacitor.conf + influx setup tokens + kapacitor sync on InfluxDB 2', () => {
  let sidecar: ChildProcess;
  let kapacitord: ChildProcess;
  let kapacitorUrl: string;
  let kapacitorLog = '';
  let tokens: Record<string, string>;

  beforeAll(async () => {
    tokens = tokensFrom(await readFile(join(work, 'tokens.env'), 'utf8'));
    const socketDir = join(work, 's');
    const dataDir = join(work, 'kapacitor');
    await mkdir(dataDir);
    sidecar = spawn(process.execPath, [cliPath, 'serve', '--socket-dir', socketDir], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    while (!existsSync(join(socketDir, 'rateBatch.sock')) || !existsSync(join(socketDir, 'edgeDetect.sock'))) {
      if (Date.now() > deadline) throw new Error('the sidecar did not create its sockets');
      await new Promise((r) => setTimeout(r, 100));
    }
    const port = await freePort();
    kapacitorUrl = `http://127.0.0.1:${port}`;
    const conf = (await readFile(join(root, 'docker/kapacitor.conf'), 'utf8'))
      .replaceAll('/var/run/udf-sidecar', socketDir)
      .replaceAll('/var/lib/kapacitor', dataDir)
      .replace('bind-address = ":9092"', `bind-address = "127.0.0.1:${port}"`)
      .replace('urls = ["http://influxdb:8086"]', `urls = ["${influx.url}"]`);
    await writeFile(join(work, 'kapacitor.conf'), conf);
    // The compose entrypoint: `. /secrets/tokens.env && export KAPACITOR_INFLUXDB_0_TOKEN && exec kapacitord ...`
    kapacitord = spawn(
      'sh',
      [
        '-c',
        `. "${join(work, 'tokens.env')}" && export KAPACITOR_INFLUXDB_0_TOKEN && exec "${join(kapacitorBinDir(), 'kapacitord')}" -config "${join(work, 'kapacitor.conf')}"`,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH },
      },
    );
    kapacitord.stdout!.setEncoding('utf8').on('data', (d: string) => (kapacitorLog += d));
    kapacitord.stderr!.setEncoding('utf8').on('data', (d: string) => (kapacitorLog += d));
    const up = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`${kapacitorUrl}/kapacitor/v1/ping`).then(
        (r) => r.status === 204,
        () => false,
      );
      if (ok) break;
      if (kapacitord.exitCode !== null || Date.now() > up)
        throw new Error(`kapacitord with docker/kapacitor.conf did not start:\n${kapacitorLog.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, INSTALL_TIMEOUT_MS);

  afterAll(async () => {
    for (const child of [kapacitord, sidecar]) {
      if (!child || child.exitCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('starts kapacitord on the shipped conf and runs a packaged batch tickscript over the mapped bucket', async () => {
    const now = Math.floor(Date.now() / 1000);
    const lp = [0, 1, 2, 3, 4, 5].map((i) => `cpu,host=a usage=${10 * (i + 1)} ${now - 60 + i * 5}`).join('\n');
    expect(await writeLP(tokens.FEEDERS_INFLUXDB_TOKEN, 'telemetry', lp)).toBe(204);

    const config = join(work, 'sync.yaml');
    await writeFile(
      config,
      stringify({
        influxdb: { url: influx.url },
        kapacitor: {
          url: kapacitorUrl,
          sync: {
            match: '^telemetry$',
            templates: ['moving_average_batch'],
            vars: { moving_average_batch: { query: 'SELECT usage FROM "{db}"."{rp}"."cpu"', outputDB: '{db}', outputRP: '{rp}', every: '2s', period: '10m' } },
          },
        },
      }),
    );
    // As the compose kapacitor-sync service runs it: discovery with Kapacitor's own token.
    const r = await cli(['kapacitor', 'sync', '--config', config], { INFLUXDB_TOKEN: tokens.KAPACITOR_INFLUXDB_0_TOKEN });
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('+ task moving_average_batch.telemetry.1d3h46m40s from moving_average_batch on telemetry.1d3h46m40s');

    const deadline = Date.now() + 30_000;
    let rows: unknown[][] = [];
    while (Date.now() < deadline) {
      const q = await influxQL(tokens.KAPACITOR_INFLUXDB_0_TOKEN, 'telemetry', '1d3h46m40s', 'SELECT usage_avg FROM cpu_avg_batch');
      rows = q.json.results?.[0]?.series?.[0]?.values ?? [];
      if (rows.length > 0) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(rows.length, `no cpu_avg_batch written; kapacitord log:\n${kapacitorLog.slice(-3000)}`).toBeGreaterThan(0);
  });
});
