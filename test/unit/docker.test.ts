/**
 * No Docker engine runs here, so docker/ is validated by what can be checked without one: the compose file's
 * structure and start order, that the Kapacitor conf in docker/ carries exactly the [udf] section the CLI prints, and
 * that the image's entrypoint (node /app/dist/cli.js) runs the CLI built the way the Dockerfile builds it, for every
 * command the compose file uses.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFile } from '../../src/config.js';
import { readInfluxConfig } from '../../src/feeders/influx-writer.js';
import { readKafkaConfig } from '../../src/feeders/kafka/config.js';
import { readRedisConfig } from '../../src/feeders/redis/config.js';
import { planSync } from '../../src/kapacitor/plan.js';
import { syncOptionsFromConfig } from '../../src/kapacitor/sync.js';
import { loadTemplates } from '../../src/kapacitor/tickscript.js';
import { servedFunctions } from '../../src/udf/registry.js';

const root = resolve(import.meta.dirname, '../..');
const dockerDir = join(root, 'docker');
const SOCKET_DIR = '/var/run/udf-sidecar';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  user?: string;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  environment?: Record<string, string>;
}

const compose = parse(readFileSync(join(dockerDir, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
const sidecarImage = services.sidecar.image!;

/** The CLI arguments a sidecar-image service runs: its command, or what its sh -c entrypoint execs. */
function cliArgs(s: Service): string[] {
  if (s.entrypoint) {
    const script = s.entrypoint[s.entrypoint.length - 1];
    const m = /exec node \/app\/dist\/cli\.js (.+)$/.exec(script);
    if (!m) throw new Error(`entrypoint does not exec the CLI: ${script}`);
    return m[1].split(/\s+/);
  }
  return s.command ?? [];
}

describe('docker-compose.yml', () => {
  it('has the whole pipeline: InfluxDB, Kapacitor, the sidecar, Redis, Kafka, the feeders, setup and sync', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['influxdb', 'kapacitor', 'sidecar', 'redis', 'kafka', 'feeder-redis', 'feeder-kafka', 'influx-setup', 'kapacitor-sync']),
    );
  });

  it('depends only on services that exist, on named volumes that are declared, and has no cycle', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const dep of Object.keys(s.depends_on ?? {})) expect(services, `${name} depends on ${dep}`).toHaveProperty(dep);
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0];
        if (!source.startsWith('.')) expect(compose.volumes, `${name} mounts ${source}`).toHaveProperty(source);
      }
    }
    const order: string[] = [];
    const visiting = new Set<string>();
    const visit = (n: string) => {
      if (order.includes(n)) return;
      if (visiting.has(n)) throw new Error(`dependency cycle through ${n}`);
      visiting.add(n);
      for (const d of Object.keys(services[n].depends_on ?? {})) visit(d);
      order.push(n);
    };
    Object.keys(services).forEach(visit);
    expect(order.indexOf('sidecar')).toBeLessThan(order.indexOf('kapacitor'));
  });

  it('waits on a healthcheck wherever it depends on a long-running service, and on completion for one-shots', () => {
    const oneShots = new Set(['influx-setup', 'kapacitor-sync', 'volume-owner']);
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        if (oneShots.has(dep)) expect(condition, `${name} → ${dep}`).toBe('service_completed_successfully');
        else {
          expect(condition, `${name} → ${dep}`).toBe('service_healthy');
          expect(services[dep].healthcheck, `${dep} needs a healthcheck`).toBeDefined();
        }
      }
    }
  });

  it('starts Kapacitor only once the sidecar is healthy, probed on the metrics port the sidecar serves', () => {
    expect(services.kapacitor.depends_on?.sidecar).toEqual({ condition: 'service_healthy' });
    const command = services.sidecar.command!;
    const port = command[command.indexOf('--metrics-port') + 1];
    expect(command[command.indexOf('--metrics-host') + 1]).toBe('0.0.0.0');
    expect(services.sidecar.healthcheck!.test.join(' ')).toContain(`http://127.0.0.1:${port}/healthz`);
  });

  it('shares one socket volume at the same path: written by the sidecar, read-only for Kapacitor', () => {
    expect(services.sidecar.command!.slice(0, 3)).toEqual(['serve', '--socket-dir', SOCKET_DIR]);
    const mount = (s: Service) => s.volumes!.find((v) => v.split(':')[1] === SOCKET_DIR);
    expect(mount(services.sidecar)).toBe(`udf-sockets:${SOCKET_DIR}`);
    expect(mount(services.kapacitor)).toBe(`udf-sockets:${SOCKET_DIR}:ro`);
  });

  it('runs Kapacitor and the sidecar image unprivileged', () => {
    expect(services.kapacitor.user).toBe('1000:1000');
    const dockerfile = readFileSync(join(dockerDir, 'Dockerfile'), 'utf8');
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(finalStage).toMatch(/^USER node$/m);
    expect(finalStage).toMatch(new RegExp(`^VOLUME \\["${SOCKET_DIR}"\\]$`, 'm'));
  });

  it('keeps the operator token to influxdb and influx-setup, and out of the file itself', () => {
    const text = readFileSync(join(dockerDir, 'docker-compose.yml'), 'utf8');
    const holders = Object.entries(services).filter(([, s]) => JSON.stringify(s).includes('INFLUXDB_ADMIN_TOKEN')).map(([n]) => n);
    expect(holders.sort()).toEqual(['influx-setup', 'influxdb']);
    expect(text).toMatch(/\$\{INFLUXDB_ADMIN_TOKEN:\?/);
  });

  it('loads the tickscripts once Kapacitor is up, with the sync command', () => {
    expect(services['kapacitor-sync'].depends_on?.kapacitor).toEqual({ condition: 'service_healthy' });
    expect(cliArgs(services['kapacitor-sync']).slice(0, 2)).toEqual(['kapacitor', 'sync']);
  });

  it('has a sync config that plans cleanly against the packaged tickscripts (every var declared and well typed)', () => {
    const { root: config } = loadConfigFile(join(dockerDir, 'config/sync.yaml'), { INFLUXDB_URL: 'http://influxdb:8086' });
    const options = syncOptionsFromConfig(config, {}, {});
    const templates = loadTemplates(options.tickscripts);
    expect(templates.map((t) => t.id).sort()).toEqual(Object.keys(options.vars).sort());
    const plan = planSync({ ...options, templates, databases: [{ db: 'telemetry', rp: '30d' }] }, [], []);
    expect(plan.steps.filter((s) => s.kind === 'create-task').map((s) => s.id)).toHaveLength(templates.length);
    expect(plan.steps).toContainEqual(
      expect.objectContaining({ id: 'moving_average_batch.telemetry.30d', vars: expect.objectContaining({ query: { type: 'string', value: 'SELECT usage FROM "telemetry"."30d"."cpu"' } }) }),
    );
  });

  it('has feeder configs the feeders accept, writing to the bucket influx setup grants them, with the token it writes', () => {
    const env = { FEEDERS_INFLUXDB_TOKEN: 'from-the-secrets-volume' };
    const readers = { 'redis.yaml': readRedisConfig, 'kafka.yaml': readKafkaConfig };
    for (const [file, read] of Object.entries(readers)) {
      const { root: config } = loadConfigFile(join(dockerDir, 'config', file), env);
      expect(() => read(config), file).not.toThrow();
      const { target } = readInfluxConfig(config.section('influxdb'));
      expect(target, file).toMatchObject({ url: 'http://influxdb:8086', bucket: 'telemetry', token: 'from-the-secrets-volume' });
    }
    const { root: sync } = loadConfigFile(join(dockerDir, 'config/sync.yaml'), {});
    expect(sync.section('influxSetup').stringList('feederBuckets')).toEqual(['telemetry']);
  });

  it('builds every sidecar-image service from docker/Dockerfile', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.image === sidecarImage) expect(s.build, name).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
    server.once('error', fail);
  });
}

describe('the image', () => {
  let app: string;

  beforeAll(() => {
    // The Dockerfile's layout: /app/{package.json, node_modules, dist, proto, tickscripts}, dist from `tsc -p tsconfig.json`.
    app = mkdtempSync(join(tmpdir(), 'udf-image-'));
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', join(app, 'dist')], { stdio: 'pipe' });
    for (const f of ['package.json', 'proto', 'tickscripts']) cpSync(join(root, f), join(app, f), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'));
  }, 120_000);

  afterAll(() => rmSync(app, { recursive: true, force: true }));

  const cli = (...args: string[]) => execFileSync(process.execPath, [join(app, 'dist/cli.js'), ...args], { encoding: 'utf8', cwd: app });

  it('has an entrypoint that runs the built CLI', () => {
    const dockerfile = readFileSync(join(dockerDir, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/cli\.js"\]$/m);
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(cli('--help')).toMatch(/^Usage: udf-sidecar/);
  });

  it('accepts every command the compose file runs', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.image !== sidecarImage) continue;
      const args = cliArgs(s);
      const words = args.slice(0, args.findIndex((a) => a.startsWith('-')));
      expect(cli(...words, '--help'), `${name}: ${words.join(' ')}`).toMatch(new RegExp(`^Usage: udf-sidecar ${words.join(' ')}`));
    }
  });

  it('runs the sidecar as compose does, and its healthcheck passes only while every socket is served', async () => {
    const port = String(await freePort());
    const socketDir = join(app, 'sockets');
    const args = services.sidecar.command!.map((a) => (a === SOCKET_DIR ? socketDir : a === '9273' ? port : a)).map((a) => (a === '0.0.0.0' ? '127.0.0.1' : a));
    const [cmd, ...rest] = services.sidecar.healthcheck!.test.slice(1).map((a) => a.replace('9273', port));
    const healthy = () => spawnSync(cmd === 'node' ? process.execPath : cmd, rest, { timeout: 5000 }).status === 0;
    expect(healthy()).toBe(false);
    const sidecar = spawn(process.execPath, [join(app, 'dist/cli.js'), ...args], { stdio: 'ignore' });
    try {
      const deadline = Date.now() + 15_000;
      while (!healthy()) {
        if (Date.now() > deadline) throw new Error('the compose healthcheck never passed');
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(readdirSync(socketDir).sort()).toEqual(servedFunctions.map((f) => `${f.name}.sock`).sort());
    } finally {
      const exited = new Promise((r) => sidecar.once('exit', r));
      sidecar.kill('SIGTERM');
      await exited;
    }
    expect(healthy()).toBe(false);
  }, 30_000);

  it('ships a kapacitor.conf whose [udf] section is exactly what `kapacitor-conf --socket-dir` prints', () => {
    const printed = cli('kapacitor-conf', '--socket-dir', SOCKET_DIR);
    const conf = readFileSync(join(dockerDir, 'kapacitor.conf'), 'utf8');
    expect(printed).toContain('[udf.functions.edgeDetect]');
    expect(conf.endsWith(printed)).toBe(true);
    expect(conf.match(/^\[udf\]$/gm)).toHaveLength(1);
    expect(services.kapacitor.volumes).toContain('./kapacitor.conf:/etc/kapacitor/kapacitor.conf:ro');
  });
});
