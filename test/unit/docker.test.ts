/**
 * No Docker engine runs here, so docker/ is validated by what can be checked without one: the compose file's
 * structure and start order; that every command a sidecar-image service runs parses as the CLI parses it; that every
 * mounted file exists and every variable has a default or is documented in example.env; that the images are the
 * versions the integration tests run; that data reaches every task (stream tasks through Telegraf's writes to
 * Kapacitor, batch tasks from measurements some service writes); that the Kapacitor conf carries exactly the [udf]
 * section the CLI prints; and the image's entrypoint running the CLI built the way the Dockerfile builds it — the
 * sidecar and the router simulator with its feeder for real.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli.js';
import { loadConfigFile, parseConfigText } from '../../src/config.js';
import { readInfluxConfig } from '../../src/feeders/influx-config.js';
import { readKafkaConfig } from '../../src/feeders/kafka/config.js';
import { readRedisConfig } from '../../src/feeders/redis/config.js';
import { readRouterConfig } from '../../src/feeders/router/config.js';
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
  healthcheck?: { test?: string[]; disable?: boolean };
  environment?: Record<string, string>;
  restart?: string;
}

const compose = parse(readFileSync(join(dockerDir, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
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
    expect(services.sidecar.healthcheck!.test!.join(' ')).toContain(`http://127.0.0.1:${port}/healthz`);
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
    const holders = Object.entries(services)
      .filter(([, s]) => JSON.stringify(s).includes('INFLUXDB_ADMIN_TOKEN'))
      .map(([n]) => n);
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
      expect.objectContaining({
        id: 'moving_average_batch.telemetry.30d',
        vars: expect.objectContaining({ query: { type: 'string', value: 'SELECT usage_user AS usage FROM "telemetry"."30d"."cpu"' } }),
      }),
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
    // The router feeder writes through Telegraf's listener (its password file exists only in the secrets volume).
    const { root: router } = loadConfigFile(join(dockerDir, 'config/router.yaml'), env);
    expect(readInfluxConfig(router.section('influxdb')).target).toMatchObject({
      url: 'http://telegraf:8186',
      bucket: 'telemetry',
      token: 'from-the-secrets-volume',
    });
    const { root: sync } = loadConfigFile(join(dockerDir, 'config/sync.yaml'), {});
    expect(sync.section('influxSetup').stringList('feederBuckets')).toEqual(['telemetry']);
  });

  it('builds every sidecar-image service from docker/Dockerfile', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.image === sidecarImage) expect(s.build, name).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
    }
  });
});

const composeText = readFileSync(join(dockerDir, 'docker-compose.yml'), 'utf8');
const telegrafConf = readFileSync(join(dockerDir, 'telegraf.conf'), 'utf8');

/** The container paths a service mounts, longest first, with the host path of a bind mount (undefined: a volume). */
function mounts(s: Service): { target: string; host?: string }[] {
  return (s.volumes ?? [])
    .map((v) => {
      const [source, target] = v.split(':');
      return { target, host: source.startsWith('.') ? resolve(dockerDir, source) : undefined };
    })
    .sort((a, b) => b.target.length - a.target.length);
}

/** Parses `args` with the real CLI, every action replaced: returns the command path and its options, or throws. */
async function parseCli(args: string[]): Promise<{ command: string; options: Record<string, unknown> }> {
  const program = buildProgram();
  let parsed: { command: string; options: Record<string, unknown> } | undefined;
  const stub = (c: Command, path: string[]) => {
    c.exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
    if (c.commands.length === 0) c.action((...a: unknown[]) => void (parsed = { command: path.join(' '), options: (a[a.length - 1] as Command).opts() }));
    for (const sub of c.commands) stub(sub, [...path, sub.name()]);
  };
  stub(program, []);
  await program.parseAsync(args, { from: 'user' });
  if (!parsed) throw new Error(`${args.join(' ')} ran no command`);
  return parsed;
}

/** KEY=VALUE lines of a shell-style file. */
function envKeys(text: string): Set<string> {
  return new Set([...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
}

describe('docker-compose.yml, checked as far as it can be without an engine', () => {
  const sidecarServices = Object.entries(services).filter(([, s]) => s.image === sidecarImage);

  it('runs, in every sidecar-image service, a CLI command that parses, with files that exist where it reads them', async () => {
    for (const [name, s] of sidecarServices) {
      const args = cliArgs(s);
      const { command, options } = await parseCli(args);
      expect(args.join(' '), name).toMatch(new RegExp(`^${command}( |$)`));
      for (const [key, value] of Object.entries(options)) {
        if (typeof value !== 'string' || !value.startsWith('/') || !/config|file/i.test(key)) continue;
        const mount = mounts(s).find((m) => value.startsWith(m.target + '/'));
        expect(mount, `${name}: --${key} ${value} is on no mount`).toBeDefined();
        // A file in a named volume is made at run time (tokens by influx setup, the routers' password by router-sim).
        if (mount!.host) expect(existsSync(join(mount!.host, value.slice(mount!.target.length))), `${name}: ${value}`).toBe(true);
      }
    }
  });

  it('refuses what the CLI refuses: a parse of a bad command fails (the check above can fail)', async () => {
    await expect(parseCli(['feed', 'redis', '--metrics-port', 'x'])).rejects.toThrow(/--metrics-port/);
    await expect(parseCli(['simulate', 'redis', '--url', 'redis://r', '--every', '10'])).rejects.toThrow(/with a unit/);
    await expect(parseCli(['serve', '--socket-dir', '/x', '--metrics-port', 'http'])).rejects.toThrow(/not a TCP port/);
  });

  it('mounts only files and directories that exist in docker/', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s)) if (m.host) expect(existsSync(m.host), `${name} mounts ${m.host}`).toBe(true);
    }
  });

  it('gives every variable it references a default, or documents it in example.env', () => {
    const documented = envKeys(readFileSync(join(dockerDir, 'example.env'), 'utf8'));
    const refs = [...composeText.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+][^}]*)?\}/g)];
    expect(refs.length).toBeGreaterThan(0);
    for (const [ref, name, modifier] of refs) {
      const hasDefault = modifier !== undefined && /^:?-/.test(modifier);
      expect(hasDefault || documented.has(name), `${ref}: give it a default or document ${name} in example.env`).toBe(true);
    }
  });

  it("gives Telegraf every variable its config references: the service's environment or its entrypoint's exports", () => {
    const t = services.telegraf;
    const exported = new Set([...(t.entrypoint ?? []).join(' ').matchAll(/export ([A-Z_]+)/g)].map((m) => m[1]));
    for (const [, name] of telegrafConf.matchAll(/\$\{([A-Z_]+)\}/g)) {
      expect(name in (t.environment ?? {}) || exported.has(name), `telegraf.conf uses ${name}`).toBe(true);
    }
  });

  it('pins the images to the versions the integration tests run', () => {
    const lib = readFileSync(join(root, 'scripts/stack/lib.sh'), 'utf8');
    const version = (v: string) => new RegExp(`^${v}="\\$\\{${v}:-([^}]+)\\}"$`, 'm').exec(lib)![1];
    expect(services.kapacitor.image).toBe(`kapacitor:${version('KAPACITOR_VERSION')}`);
    expect(services.influxdb.image).toBe(`influxdb:${version('INFLUXDB2_VERSION')}`);
    expect(services.kafka.image).toBe(`apache/kafka:${version('KAFKA_VERSION')}`);
    for (const [name, s] of Object.entries(services)) {
      if (s.image !== sidecarImage) expect(s.image, `${name}: a floating tag`).toMatch(/:v?\d+\.\d+(\.\d+)?$/);
    }
  });

  it('has a HEALTHCHECK in the image, the compose probe of the metrics port, disabled where nothing serves it', () => {
    const dockerfile = readFileSync(join(dockerDir, 'Dockerfile'), 'utf8');
    const check = /^HEALTHCHECK .*\\\n\s+CMD (\[.+\])$/m.exec(dockerfile);
    expect(check, 'a HEALTHCHECK instruction').not.toBeNull();
    expect(JSON.parse(check![1])).toEqual(services.sidecar.healthcheck!.test!.slice(1));
    for (const [name, s] of sidecarServices) {
      const args = cliArgs(s);
      const oneShot = s.restart === 'no';
      const servesHealth = args[args.indexOf('--metrics-port') + 1] === '9273';
      if (!oneShot && !servesHealth)
        expect(s.healthcheck, `${name} does not serve :9273/healthz`).toMatchObject(s.healthcheck?.disable ? { disable: true } : { test: expect.any(Array) });
    }
  });

  it('lets Prometheus scrape every service that serves /metrics, on an address outside its container', () => {
    const scrape = parse(readFileSync(join(dockerDir, 'prometheus.yml'), 'utf8')) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    const targets = scrape.scrape_configs.flatMap((c) => c.static_configs.flatMap((sc) => sc.targets)).sort();
    const serving = sidecarServices
      .filter(([, s]) => cliArgs(s).includes('--metrics-port'))
      .map(([name, s]) => {
        const args = cliArgs(s);
        expect(args[args.indexOf('--metrics-host') + 1], name).toBe('0.0.0.0');
        return `${name}:${args[args.indexOf('--metrics-port') + 1]}`;
      })
      .sort();
    expect(serving).toEqual(expect.arrayContaining(['sidecar:9273', 'feeder-redis:9273', 'feeder-kafka:9273', 'feeder-router:9273']));
    expect(targets).toEqual(serving);
  });

  it('feeds every task: stream tasks through what Telegraf writes to Kapacitor, batch tasks from what is written to InfluxDB', () => {
    // Telegraf's outputs: InfluxDB 2's telemetry bucket, and Kapacitor's /write under the DBRP the tasks are defined on.
    const kapacitorOut = /\[\[outputs\.influxdb\]\]([\s\S]*?)(?=\n\[\[|$)/.exec(telegrafConf)![1];
    expect(kapacitorOut).toMatch(/urls = \["http:\/\/kapacitor:9092"\]/);
    expect(kapacitorOut).toMatch(/database = "telemetry"/);
    expect(kapacitorOut).toMatch(/retention_policy = "30d"/);
    expect(readFileSync(join(dockerDir, 'kapacitor.conf'), 'utf8')).toMatch(/bind-address = ":9092"/);
    // What reaches Telegraf: its own inputs (a measurement per input), and the router feeder's points on its listener.
    const inputs = [...telegrafConf.matchAll(/^\[\[inputs\.(\w+)\]\]/gm)].map((m) => m[1]);
    const listener = /\[\[inputs\.influxdb_v2_listener\]\]\s+service_address = ":(\d+)"/.exec(telegrafConf)![1];
    const { root: router } = parseConfigText(
      readFileSync(join(dockerDir, 'config/router.yaml'), 'utf8').replace(/passwordFile: \S+,/g, 'passwordEnv: PW,'),
      'router.yaml',
      { PW: 'x', FEEDERS_INFLUXDB_TOKEN: 't' },
    );
    expect(readRouterConfig(router).routers.map((r) => `${r.host}:${r.port}`)).toEqual(['router-sim:2222', 'router-sim:2222', 'router-sim:2222']);
    expect(readInfluxConfig(router.section('influxdb')).target.url).toBe(`http://telegraf:${listener}`);
    const reachKapacitor = new Set([...inputs.filter((i) => i !== 'influxdb_v2_listener'), 'adsl_connection']);
    const { root: redis } = loadConfigFile(join(dockerDir, 'config/redis.yaml'), { FEEDERS_INFLUXDB_TOKEN: 't' });
    const redisMeasurements = readRedisConfig(redis).families.map((f) => f.measurement);
    const inInfluxDB = new Set([...reachKapacitor, ...redisMeasurements, 'maas_notification']);

    const { root: sync } = loadConfigFile(join(dockerDir, 'config/sync.yaml'), { INFLUXDB_URL: 'http://influxdb:8086' });
    const options = syncOptionsFromConfig(sync, {}, {});
    for (const t of loadTemplates(options.tickscripts)) {
      const source = readFileSync(join(options.tickscripts, `${t.id}.tick`), 'utf8');
      const vars = (options.vars[t.id] ?? {}) as Record<string, string>;
      if (/^stream$/m.test(source)) {
        const measurement = vars.measurement ?? /^var measurement = '([^']+)'$/m.exec(source)![1];
        expect(reachKapacitor, `${t.id} streams ${measurement}`).toContain(measurement);
      } else {
        const query = vars.query ?? /^var query = '(.+)'$/m.exec(source)![1];
        const measurement = /FROM "[^"]+"\."[^"]+"\."([^"]+)"/.exec(query)![1];
        expect(inInfluxDB, `${t.id} queries ${measurement}`).toContain(measurement);
      }
    }
  });

  it('starts the demo sources with the real servers they write to', () => {
    expect(cliArgs(services['moc-generator'])).toEqual(expect.arrayContaining(['simulate', 'redis', 'redis://redis:6379/0']));
    const producer = cliArgs(services['notification-producer']);
    const { root: kafka } = loadConfigFile(join(dockerDir, 'config/kafka.yaml'), { FEEDERS_INFLUXDB_TOKEN: 't' });
    const k = readKafkaConfig(kafka);
    expect(producer[producer.indexOf('--topic') + 1]).toBe(k.topic);
    expect(producer[producer.indexOf('--brokers') + 1]).toBe(k.brokers.join(','));
    expect(services['feeder-router'].depends_on).toMatchObject({ 'router-sim': { condition: 'service_healthy' }, telegraf: { condition: 'service_healthy' } });
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
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', join(app, 'dist')], {
      stdio: 'pipe',
    });
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

  it('has in its build every command group the compose file runs (each command is parsed in full above)', () => {
    const groups = new Set(
      Object.values(services)
        .filter((s) => s.image === sidecarImage)
        .map((s) => cliArgs(s)[0]),
    );
    expect([...groups].sort()).toEqual(['feed', 'influx', 'kapacitor', 'serve', 'simulate']);
    for (const group of groups) expect(cli(group, '--help'), group).toMatch(new RegExp(`^Usage: udf-sidecar ${group}`));
  }, 60_000);

  it('runs the sidecar as compose does, and its healthcheck passes only while every socket is served', async () => {
    const port = String(await freePort());
    const socketDir = join(app, 'sockets');
    const args = services.sidecar.command!.map((a) => (a === SOCKET_DIR ? socketDir : a === '9273' ? port : a)).map((a) => (a === '0.0.0.0' ? '127.0.0.1' : a));
    const [cmd, ...rest] = services.sidecar.healthcheck!.test!.slice(1).map((a) => a.replace('9273', port));
    const healthy = () => spawnSync(cmd === 'node' ? process.execPath : cmd, rest, { timeout: 5000 }).status === 0;
    expect(healthy()).toBe(false);
    const sidecar = spawn(process.execPath, [join(app, 'dist/cli.js'), ...args], { stdio: 'ignore' });
    try {
      const deadline = Date.now() + 15_000;
      while (!healthy()) {
        if (Date.now() > deadline) throw new Error('the compose healthcheck never passed');
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(
        readdirSync(socketDir)
          .filter((f) => f.endsWith('.sock'))
          .sort(),
      ).toEqual(servedFunctions.map((f) => `${f.name}.sock`).sort());
    } finally {
      const exited = new Promise((r) => sidecar.once('exit', r));
      sidecar.kill('SIGTERM');
      await exited;
    }
    expect(healthy()).toBe(false);
  }, 30_000);

  it('runs router-sim as compose does, and the router feeder on its compose config reads every router from it', async () => {
    const port = String(await freePort());
    const password = join(app, 'router-password');
    writeFileSync(password, 'demo-password\n');
    const args = cliArgs(services['router-sim']).map((a) => (a === '/secrets/router-password' ? password : a === '2222' ? port : a));
    const sim = spawn(process.execPath, [join(app, 'dist/cli.js'), ...args, '--host', '127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let simLog = '';
    sim.stderr!.on('data', (d) => (simLog += d));
    try {
      const deadline = Date.now() + 15_000;
      while (!simLog.includes('router simulator listening')) {
        if (sim.exitCode !== null || Date.now() > deadline) throw new Error(`router-sim did not start: ${simLog}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const config = join(app, 'router.yaml');
      writeFileSync(
        config,
        readFileSync(join(dockerDir, 'config/router.yaml'), 'utf8')
          .replaceAll('host: router-sim, port: 2222', `host: 127.0.0.1, port: ${port}`)
          .replaceAll('/secrets/router-password', password),
      );
      const feedArgs = cliArgs(services['feeder-router']).filter((a, i, all) => !a.startsWith('--metrics') && !all[i - 1]?.startsWith('--metrics'));
      const out = execFileSync(
        process.execPath,
        [join(app, 'dist/cli.js'), ...feedArgs.map((a) => (a === '/etc/udf-sidecar/router.yaml' ? config : a)), '--stdout', '--once'],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, FEEDERS_INFLUXDB_TOKEN: 'unused-with-stdout' },
        },
      );
      const lines = out.trim().split('\n');
      expect(lines.map((l) => /^adsl_connection,host=(router\d) .*value="(SHOWTIME|TRAINING)" \d+$/.exec(l)?.[1]).sort()).toEqual([
        'router1',
        'router2',
        'router3',
      ]);
    } finally {
      const exited = new Promise((r) => sim.once('exit', r));
      sim.kill('SIGTERM');
      await exited;
    }
  }, 60_000);

  it('ships a kapacitor.conf whose [udf] section is exactly what `kapacitor-conf --socket-dir` prints', () => {
    const printed = cli('kapacitor-conf', '--socket-dir', SOCKET_DIR);
    const conf = readFileSync(join(dockerDir, 'kapacitor.conf'), 'utf8');
    expect(printed).toContain('[udf.functions.edgeDetect]');
    expect(conf.endsWith(printed)).toBe(true);
    expect(conf.match(/^\[udf\]$/gm)).toHaveLength(1);
    expect(services.kapacitor.volumes).toContain('./kapacitor.conf:/etc/kapacitor/kapacitor.conf:ro');
  });
});
