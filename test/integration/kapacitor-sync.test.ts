/**
 * `udf-sidecar kapacitor sync` against a real kapacitord whose UDFs are served by the real sidecar (`serve`): templates
 * that call the UDFs are defined, tasks are created from them and run (each task's UDF node connects and is Init'ed),
 * a second run changes nothing, drift is corrected, --dry-run changes nothing, --prune removes only our stale tasks,
 * and databases are discovered from the real InfluxDB 1.8. Needs `npm run build` first (scripts/test.sh does it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, dropDatabase, ensureInfluxDB, freePort, influxQuery, influxWriteLP, startKapacitord, type Kapacitord } from './stack.js';

const root = resolve(import.meta.dirname, '../..');
const cliPath = join(root, 'dist/cli.js');
// On a machine without the cached server binaries, the first start builds them from the registries (minutes).
const INSTALL_TIMEOUT_MS = 45 * 60_000;

let work: string;
let socketDir: string;
let sidecar: ChildProcess;
let kapacitord: Kapacitord;
let sockets: string[] = [];
let udfConf = '';

/** `serve` on socketDir; resolves once every socket the [udf] section names exists. */
async function startSidecar(): Promise<void> {
  sidecar = spawn(process.execPath, [cliPath, 'serve', '--socket-dir', socketDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  sidecar.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const deadline = Date.now() + 20_000;
  while (!sockets.every((s) => existsSync(s))) {
    if (sidecar.exitCode !== null || Date.now() > deadline) throw new Error(`the sidecar did not create ${sockets.join(', ')}:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopSidecar(): Promise<void> {
  if (sidecar.exitCode !== null) return;
  const exited = new Promise((r) => sidecar.once('exit', r));
  sidecar.kill('SIGTERM');
  await exited;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${kapacitord.url}/kapacitor/v1${path}`, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

interface TaskJson {
  id: string;
  'template-id': string;
  dbrps: { db: string; rp: string }[];
  vars: Record<string, { type: string; value: unknown }>;
  status: string;
  executing: boolean;
  error: string;
  modified: string;
}

const tasks = async () => (await api<{ tasks: TaskJson[] }>('/tasks?script-format=raw')).tasks.sort((a, b) => a.id.localeCompare(b.id));
const templates = async () => (await api<{ templates: { id: string; type: string; script: string }[] }>('/templates?script-format=raw')).templates;

const EDGE = `// state changes of a field, through the sidecar's edgeDetect
var measurement string
var field = 'state'

stream
    |from()
        .measurement(measurement)
    @edgeDetect()
        .field(field)
    |httpOut('edges')
`;

const AVERAGE = `// moving average through the sidecar's movingAverage
var measurement string
var size = 5

stream
    |from()
        .measurement(measurement)
    @movingAverage()
        .field('value')
        .size(size)
    |httpOut('average')
`;

let tickDir: string;
let configPath: string;

async function writeConfig(sync: Record<string, unknown>, influxdb?: Record<string, unknown>): Promise<void> {
  const { stringify } = await import('yaml');
  await writeFile(configPath, stringify({ ...(influxdb ? { influxdb } : {}), kapacitor: { url: kapacitord.url, sync: { tickscripts: tickDir, ...sync } } }));
}

const sync = (...flags: string[]) => runCli(['kapacitor', 'sync', '--config', configPath, ...flags]);

beforeAll(async () => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (scripts/test.sh does)`);
  work = await mkdtemp(join(tmpdir(), 'udf-sync-'));
  socketDir = join(work, 's');
  tickDir = join(work, 'tickscripts');
  configPath = join(work, 'config.yaml');
  await mkdir(tickDir);
  await writeFile(join(tickDir, 'edge.tick'), EDGE);
  await writeFile(join(tickDir, 'average.tick'), AVERAGE);
  const conf = await runCli(['kapacitor-conf', '--socket-dir', socketDir]);
  if (conf.code !== 0) throw new Error(`kapacitor-conf failed: ${conf.stderr}`);
  udfConf = conf.stdout;
  sockets = [...conf.stdout.matchAll(/socket = "([^"]+)"/g)].map((m) => m[1]);
  await startSidecar();
});

afterAll(async () => {
  if (sidecar) await stopSidecar();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('kapacitor sync against kapacitord', () => {
  beforeAll(async () => {
    kapacitord = await startKapacitord({ udfConf, name: 'kapacitor-sync', port: await freePort() });
  }, INSTALL_TIMEOUT_MS);

  afterAll(async () => {
    await kapacitord?.stop();
  });

  it('with --dry-run prints the plan and defines nothing', async () => {
    await writeConfig({ databases: ['telemetry', 'plant.30d'], vars: { edge: { measurement: 'door' }, average: { measurement: 'temp' } } });
    const r = await sync('--dry-run');
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      '+ template average (stream)',
      '+ template edge (stream)',
      '+ task average.telemetry.autogen from average on telemetry.autogen with measurement=temp (enabled)',
      '+ task average.plant.30d from average on plant.30d with measurement=temp (enabled)',
      '+ task edge.telemetry.autogen from edge on telemetry.autogen with measurement=door (enabled)',
      '+ task edge.plant.30d from edge on plant.30d with measurement=door (enabled)',
    ]);
    expect(await templates()).toEqual([]);
    expect(await tasks()).toEqual([]);
  });

  it('defines the templates and one running task per template and database, their UDF nodes initialised', async () => {
    const r = await sync();
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    expect((await templates()).map((t) => [t.id, t.type, t.script]).sort()).toEqual([
      ['average', 'stream', AVERAGE],
      ['edge', 'stream', EDGE],
    ]);
    const all = await tasks();
    expect(all.map((t) => [t.id, t['template-id'], t.dbrps, t.status, t.executing, t.error])).toEqual([
      ['average.plant.30d', 'average', [{ db: 'plant', rp: '30d' }], 'enabled', true, ''],
      ['average.telemetry.autogen', 'average', [{ db: 'telemetry', rp: 'autogen' }], 'enabled', true, ''],
      ['edge.plant.30d', 'edge', [{ db: 'plant', rp: '30d' }], 'enabled', true, ''],
      ['edge.telemetry.autogen', 'edge', [{ db: 'telemetry', rp: 'autogen' }], 'enabled', true, ''],
    ]);
    expect(Object.keys(all[2].vars)).toEqual(['measurement']);
    expect(all[2].vars.measurement).toMatchObject({ type: 'string', value: 'door' });
  });

  it('changes nothing when run again', async () => {
    const before = await tasks();
    const r = await sync();
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/"message":"nothing to do"/);
    const planLines = r.stderr.split('\n').filter((l) => /^[+~=-] /.test(l));
    expect(planLines).toHaveLength(6);
    expect(planLines.every((l) => l.startsWith('= '))).toBe(true);
    expect((await tasks()).map((t) => t.modified)).toEqual(before.map((t) => t.modified));
  });

  it('corrects drift: a var changed in config, a task disabled by hand, a template edited on disk', async () => {
    await api('/tasks/edge.telemetry.autogen', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'disabled' }),
    });
    await writeConfig({
      databases: ['telemetry', 'plant.30d'],
      vars: { edge: { measurement: 'door', field: 'open' }, average: { measurement: 'temp', size: 3 } },
    });
    const edited = AVERAGE.replace("|httpOut('average')", "|httpOut('mean')");
    await writeFile(join(tickDir, 'average.tick'), edited);

    const dry = await sync('--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout.split('\n').filter(Boolean)).toEqual([
      '~ template average: script',
      '= template edge',
      '~ task average.telemetry.autogen: vars (size: default → 3)',
      '~ task average.plant.30d: vars (size: default → 3)',
      "~ task edge.telemetry.autogen: vars (field: default → 'open'), status",
      "~ task edge.plant.30d: vars (field: default → 'open')",
    ]);
    expect((await tasks()).find((t) => t.id === 'edge.telemetry.autogen')?.status).toBe('disabled');

    const r = await sync();
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    const all = await tasks();
    // `error` keeps the text of the reload's stop ("node aborted") on a running task: executing is what counts.
    expect(all.map((t) => [t.id, t.status, t.executing])).toEqual(all.map((t) => [t.id, 'enabled', true]));
    expect(all.find((t) => t.id === 'edge.telemetry.autogen')?.vars.field).toMatchObject({ type: 'string', value: 'open' });
    expect(all.find((t) => t.id === 'average.plant.30d')?.vars.size).toMatchObject({ type: 'int', value: 3 });
    expect((await templates()).find((t) => t.id === 'average')?.script).toBe(edited);
    expect((await sync()).stderr).toMatch(/"message":"nothing to do"/);
  });

  it('reloads a template whose tasks run, again and again, and kapacitord stays up', async () => {
    // kapacitord 1.8.3 can die (nil pointer in udf.(*Server).Abort) when a reload's new run is stopped by the goroutine
    // of the old one. The race is rare (it took down one CI run in many) and cannot be provoked at will: this checks
    // that reloading many running tasks again and again leaves all of them running; the order of requests that keeps
    // the race away (stop, wait, change, start) is checked in src/kapacitor/client.test.ts.
    const vars = { edge: { measurement: 'door', field: 'open' }, average: { measurement: 'temp', size: 3 } };
    // Many tasks of the template, each reload a chance for the race.
    const many = ['telemetry', 'plant.30d', ...Array.from({ length: 10 }, (_, i) => `reload${i}`)];
    await writeConfig({ databases: many, settle: '300ms', vars });
    const before = AVERAGE.replace("|httpOut('average')", "|httpOut('mean')");
    for (let i = 0; i < 6; i++) {
      await writeFile(join(tickDir, 'average.tick'), AVERAGE.replace("|httpOut('average')", `|httpOut('mean${i}')`));
      const r = await sync();
      expect(r.stderr).not.toMatch(/"level":"error"/);
      expect(r.stderr).toContain('~ template average: script');
      expect(r.code).toBe(0);
    }
    const all = await tasks();
    expect(all.map((t) => [t.id, t.status, t.executing])).toEqual(all.map((t) => [t.id, 'enabled', true]));
    expect((await templates()).find((t) => t.id === 'average')?.script).toContain("httpOut('mean5')");
    await writeFile(join(tickDir, 'average.tick'), before);
    await writeConfig({ databases: ['telemetry', 'plant.30d'], vars });
    expect((await sync('--prune')).code).toBe(0);
    expect((await tasks()).map((t) => t.id)).toEqual(['average.plant.30d', 'average.telemetry.autogen', 'edge.plant.30d', 'edge.telemetry.autogen']);
  });

  it('with --prune deletes only tasks of our templates that no database wants, never anyone else’s', async () => {
    await api('/tasks', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'hand_made',
        type: 'stream',
        dbrps: [{ db: 'plant', rp: '30d' }],
        script: "stream|from().measurement('x')|httpOut('x')",
        status: 'enabled',
      }),
    });
    await writeConfig({ databases: ['telemetry'], vars: { edge: { measurement: 'door', field: 'open' }, average: { measurement: 'temp', size: 3 } } });
    const keep = await sync();
    expect(keep.code).toBe(0);
    expect((await tasks()).map((t) => t.id)).toContain('edge.plant.30d');

    const r = await sync('--prune');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('- task edge.plant.30d (from edge, no longer wanted)');
    expect((await tasks()).map((t) => t.id)).toEqual(['average.telemetry.autogen', 'edge.telemetry.autogen', 'hand_made']);
  });

  it('exits 2 naming the key and the file when a var is not declared by its template, and changes nothing', async () => {
    const before = await tasks();
    await writeConfig({ databases: ['telemetry'], vars: { edge: { measurement: 'door', feild: 'open' } } });
    const r = await sync();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${configPath}: kapacitor.sync.vars.edge.feild: `);
    expect((await tasks()).map((t) => t.modified)).toEqual(before.map((t) => t.modified));
  });

  const state = async () => (await tasks()).map((t) => [t.id, t['template-id'], t.dbrps, t.vars, t.status, t.executing]);

  it("exits 1 with the UDF's reason when a task does not start, and undoes the whole sync, on create and on update", async () => {
    const vars = (size: number) => ({ edge: { measurement: 'door' }, average: { measurement: 'temp', size } });
    const before = await state();
    await writeConfig({ databases: ['telemetry'], taskName: 'fresh-{template}-{db}', vars: vars(-1) });
    const created = await sync();
    expect(created.code).toBe(1);
    expect(created.stderr).toMatch(
      /Kapacitor: task\(s\) did not start: fresh-average-telemetry: .*size: must be > 0.*\(every change was undone, Kapacitor is as the sync found it\)/,
    );
    // fresh-edge-telemetry started fine, but it was part of the same plan.
    expect(await state()).toEqual(before);

    await writeConfig({ databases: ['telemetry'], taskName: 'fresh-{template}-{db}', vars: vars(3) });
    const fixed = await sync();
    expect(fixed.stderr).not.toMatch(/"level":"error"/);
    expect(fixed.code).toBe(0);
    const running = async () => Object.fromEntries((await tasks()).map((t) => [t.id, t.executing]));
    expect(await running()).toMatchObject({ 'fresh-average-telemetry': true, 'fresh-edge-telemetry': true });

    const good = await state();
    await writeConfig({ databases: ['telemetry'], taskName: 'fresh-{template}-{db}', vars: vars(0) });
    const dry = await sync('--dry-run');
    expect(dry.stdout).toContain('~ task fresh-average-telemetry: vars (size: 3 → 0)');
    const updated = await sync();
    expect(updated.code).toBe(1);
    expect(updated.stderr).toMatch(/did not start: fresh-average-telemetry: .*size: must be > 0.*every change was undone/);
    // Back to size 3, running.
    expect(await state()).toEqual(good);
  });

  it('applies all of a plan or none: a template Kapacitor refuses puts back the template changed before it, its tasks running', async () => {
    await writeConfig({
      databases: ['telemetry'],
      taskName: 'fresh-{template}-{db}',
      vars: { edge: { measurement: 'door' }, average: { measurement: 'temp', size: 3 } },
    });
    expect((await sync()).code).toBe(0);
    const before = await state();
    const scripts = await templates();
    const averageFile = join(tickDir, 'average.tick');
    const average = await readFile(averageFile, 'utf8');
    await writeFile(averageFile, average.replace(/httpOut\('[^']*'\)/, "httpOut('changed')"));
    await writeFile(join(tickDir, 'zz_broken.tick'), "stream\n    |from()\n        .measurement('x')\n    |noSuchNode()\n");
    try {
      const r = await sync();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('~ template average: script');
      expect(r.stderr).toMatch(/defining template zz_broken failed: HTTP \d+: .*\(every change was undone, Kapacitor is as the sync found it\)/);
      expect((await templates()).map((t) => [t.id, t.script]).sort()).toEqual(scripts.map((t) => [t.id, t.script]).sort());
      expect(await state()).toEqual(before);
    } finally {
      await writeFile(averageFile, average);
      await rm(join(tickDir, 'zz_broken.tick'));
    }
  });

  it('discovers databases from InfluxDB and keeps only those the filter matches', async () => {
    const { url } = await ensureInfluxDB();
    for (const db of ['sync_site_a', 'sync_site_b', 'sync_scratch']) await createDatabase(db);
    try {
      await writeConfig({ match: '^sync_site_', templates: ['edge'], taskName: 'udf-{template}-{db}', vars: { edge: { measurement: 'door' } } }, { url });
      const r = await sync('--dry-run');
      expect(r.stderr).not.toMatch(/"level":"error"/);
      expect(r.stdout.split('\n').filter((l) => l.startsWith('+ task'))).toEqual([
        '+ task udf-edge-sync_site_a from edge on sync_site_a.autogen with measurement=door (enabled)',
        '+ task udf-edge-sync_site_b from edge on sync_site_b.autogen with measurement=door (enabled)',
      ]);
    } finally {
      for (const db of ['sync_site_a', 'sync_site_b', 'sync_scratch']) await dropDatabase(db);
    }
  });
});

describe('kapacitor sync of the packaged tickscripts/', () => {
  const db = 'sync_packaged';

  beforeAll(async () => {
    await ensureInfluxDB();
    await dropDatabase(db);
    // Before kapacitord starts, so that it subscribes to the database at once.
    await createDatabase(db);
    kapacitord = await startKapacitord({ udfConf, name: 'kapacitor-sync-packaged', influxdb: true, port: await freePort() });
  }, INSTALL_TIMEOUT_MS);

  afterAll(async () => {
    await kapacitord?.stop();
    await dropDatabase(db).catch(() => undefined);
  });

  it('defines all of them, one running task each on the database, and points flow through the UDF to InfluxDB', async () => {
    const out = { outputDB: '{db}', outputRP: '{rp}' };
    await writeFile(
      configPath,
      (await import('yaml')).stringify({
        kapacitor: {
          url: kapacitord.url,
          sync: {
            databases: [db],
            vars: {
              counter_rate: out,
              edge_detect: out,
              moving_average: out,
              counter_rate_batch: { ...out, query: 'SELECT bytes_recv FROM "{db}"."{rp}"."net"' },
              edge_detect_batch: { ...out, query: 'SELECT value FROM "{db}"."{rp}"."adsl_connection"' },
              moving_average_batch: { ...out, query: 'SELECT usage FROM "{db}"."{rp}"."cpu"' },
              energy_hourly: { ...out, query: 'SELECT metered_active_energy FROM "{db}"."{rp}"."electrical_busplug"' },
            },
          },
        },
      }),
    );
    const r = await sync();
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    const all = await tasks();
    expect(all.map((t) => [t.id, t['template-id'], t.executing])).toEqual(
      ['counter_rate', 'counter_rate_batch', 'edge_detect', 'edge_detect_batch', 'energy_hourly', 'moving_average', 'moving_average_batch']
        .map((t) => [`${t}.${db}.autogen`, t, true])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
    expect(all.find((t) => t.id === `moving_average_batch.${db}.autogen`)?.vars.query).toMatchObject({ value: `SELECT usage FROM "${db}"."autogen"."cpu"` });

    // moving_average.tick: mean of the last 3 `usage` values per host, written back as cpu_avg.
    const t0 = BigInt(Date.now()) * 1_000_000n;
    await influxWriteLP(
      db,
      '',
      [1, 2, 3, 4].map((v, i) => `cpu,host=a usage=${v * 10} ${t0 + BigInt(i) * 1_000_000_000n}`),
    );
    const deadline = Date.now() + 30_000;
    let values: unknown[][] = [];
    while (Date.now() < deadline) {
      values = (await influxQuery(db, 'SELECT * FROM cpu_avg'))[0]?.values ?? [];
      if (values.length >= 2) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(values.length).toBeGreaterThanOrEqual(2);
  });

  it('with the default vars and two databases gives every task its own database, and every task runs', async () => {
    // The templates' defaults name telegraf and adsl; Kapacitor refuses a batch query outside its task's database.
    const other = 'sync_packaged_other';
    await writeFile(configPath, (await import('yaml')).stringify({ kapacitor: { url: kapacitord.url, sync: { databases: [db, other] } } }));
    const dry = await sync('--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      `+ task counter_rate.${other}.autogen from counter_rate on ${other}.autogen with outputDB=${other} outputRP=autogen (enabled)`,
    );
    const r = await sync();
    expect(r.stderr).not.toMatch(/"level":"error"/);
    expect(r.code).toBe(0);
    const all = await tasks();
    expect(all).toHaveLength(14);
    expect(all.map((t) => [t.id, t.status, t.executing])).toEqual(all.map((t) => [t.id, 'enabled', true]));
    const varsOf = (id: string) => Object.fromEntries(Object.entries(all.find((t) => t.id === id)?.vars ?? {}).map(([k, v]) => [k, v.value]));
    expect(varsOf(`counter_rate_batch.${other}.autogen`)).toMatchObject({
      query: `SELECT bytes_recv FROM "${other}"."autogen"."net"`,
      outputDB: other,
      outputRP: 'autogen',
    });
    expect(varsOf(`edge_detect.${other}.autogen`)).toMatchObject({ outputDB: other, outputRP: 'autogen' });
    expect(varsOf(`moving_average.${db}.autogen`)).toMatchObject({ outputDB: db });
  });
});
