/**
 * The built CLI on bad input: every failure is one line naming the thing and the fix, with its code and the exit
 * status of docs/errors.md, never a stack trace. Nothing here needs a server: an unreachable one is a closed port.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (npm test does)`);
});

// Each case spawns node a few times: seconds on a loaded machine. Generous, and no assertion is about time.
const SLOW = { timeout: 60_000 };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], opts: { env?: NodeJS.ProcessEnv; closeStdoutAfterFirstChunk?: boolean } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      // What `| head -1` does: read a little, then close the pipe while the command still writes.
      if (opts.closeStdoutAfterFirstChunk) child.stdout.destroy();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The last stderr line: the command's verdict. Logs before it are JSON lines. */
function verdict(r: Run): string {
  const lines = r.stderr.trim().split('\n');
  return lines[lines.length - 1];
}

function expectNoStack(r: Run): void {
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain('"stack"');
}

const dir = mkdtempSync(path.join(tmpdir(), 'errors-cli-'));
const file = (name: string, content: string | Buffer) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('a closed stdout', SLOW, () => {
  it('ends replay quietly with status 0 (replay … | head -1)', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `cpu,host=h${i % 7} value=${i} ${i + 1}`).join('\n');
    const r = await run(['replay', 'movingAverage', file('big.lp', lines), '-o', 'field=value', '-o', 'size=2'], { closeStdoutAfterFirstChunk: true });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('bad paths and ports', SLOW, () => {
  it('a --socket-dir that is a file: exit 2, named, with the fix', async () => {
    const r = await run(['serve', '--socket-dir', file('not-a-dir', '')]);
    expect(r.code).toBe(2);
    expect(verdict(r)).toBe(
      `udf-sidecar: --socket-dir ${dir}/not-a-dir: exists and is not a directory: give a directory, or remove the file (EEXIST) [PATH_INVALID]`,
    );
    expectNoStack(r);
  });

  it('a metrics port in use: exit 1, and the sockets it created are removed', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const { port } = holder.address() as net.AddressInfo;
    const socketDir = mkdtempSync(path.join(tmpdir(), 'errors-cli-sock-'));
    try {
      const r = await run(['serve', '--socket-dir', socketDir, '--metrics-port', String(port)]);
      expect(r.code).toBe(1);
      expect(verdict(r)).toBe(`udf-sidecar: metrics server: 127.0.0.1:${port} is in use: pick another --metrics-port, or stop what holds it [PORT_IN_USE]`);
      expect(readdirSync(socketDir)).toEqual([]);
      expectNoStack(r);
    } finally {
      holder.close();
    }
  });

  it('a missing replay file: exit 2, the path named', async () => {
    const r = await run(['replay', 'edgeDetect', path.join(dir, 'nope.lp'), '-o', 'field=value']);
    expect(r.code).toBe(2);
    expect(verdict(r)).toBe(`udf-sidecar: ${dir}/nope.lp: no such file [PATH_INVALID]`);
  });
});

describe('bad input files', SLOW, () => {
  it('bad line protocol: the file and the line number', async () => {
    const r = await run(['replay', 'movingAverage', file('bad.lp', 'cpu value=1 1\n\ncpu,host=a value= 2\n'), '-o', 'field=value', '-o', 'size=2']);
    expect(r.code).toBe(2);
    expect(verdict(r)).toBe(`udf-sidecar: ${dir}/bad.lp line 3: bad field 'value=' in: cpu,host=a value= 2 [INPUT_INVALID]`);
  });

  it('a bad record inside a .srpl: its line', async () => {
    const srpl = gzipSync('db\nautogen\ncpu value=1 1\ndb\nautogen\ncpu value=x 2\n');
    const r = await run(['replay', 'movingAverage', file('rec.srpl', srpl), '-o', 'field=value', '-o', 'size=2']);
    expect(verdict(r)).toBe(`udf-sidecar: ${dir}/rec.srpl line 6: bad field value 'value=x' in: cpu value=x 2 [INPUT_INVALID]`);
  });
});

describe('config that means what it says', SLOW, () => {
  it('a typo: exit 2, every unknown key at once with the nearest known one', async () => {
    const r = await run(['feed', 'redis', '--stdout', '--once', '--config', file('typo.yaml', 'intervall: 1m\nredis:\n  urll: redis://127.0.0.1:1/0\n')]);
    expect(r.code).toBe(2);
    expect(verdict(r)).toBe(
      `udf-sidecar: ${dir}/typo.yaml: intervall: unknown key: did you mean interval?; redis.urll: unknown key: did you mean url? [CONFIG_INVALID]`,
    );
  });

  it('a bare number as a duration: shows it with a unit', async () => {
    const r = await run(['feed', 'redis', '--stdout', '--once', '--config', file('bare.yaml', 'interval: 60\n')]);
    expect(r.code).toBe(2);
    expect(verdict(r)).toContain('interval: a duration needs a unit: write 60s for seconds');
  });

  it('${VAR} and ${VAR:-default} in values; an unset one is named', async () => {
    const port = await closedPort();
    const cfg = file('vars.yaml', 'redis:\n  url: redis://${REDIS_HOST:-127.0.0.1}:${REDIS_TEST_PORT}/0\n');
    const unset = await run(['feed', 'redis', '--stdout', '--once', '--config', cfg], { env: { REDIS_TEST_PORT: undefined } });
    expect(unset.code).toBe(2);
    expect(verdict(unset)).toContain('redis.url: environment variable REDIS_TEST_PORT is not set');
    const set = await run(['feed', 'redis', '--stdout', '--once', '--config', cfg], { env: { REDIS_TEST_PORT: String(port) } });
    expect(verdict(set)).toContain(`Redis at 127.0.0.1:${port}/0: connection refused`);
  });

  it('--sample-config prints a commented config that the command itself accepts', async () => {
    const port = await closedPort();
    for (const [name, env] of [
      ['redis', { REDIS_URL: `redis://127.0.0.1:${port}/0` }],
      ['kafka', { KAFKA_BROKERS: `127.0.0.1:${port}` }],
    ] as const) {
      const sample = await run(['feed', name, '--sample-config']);
      expect(sample.code).toBe(0);
      expect(sample.stdout).toMatch(/^# udf-sidecar feed /);
      const r = await run(['feed', name, '--stdout', '--once', '--config', file(`${name}-sample.yaml`, sample.stdout)], { env });
      // Past the config: it got as far as connecting.
      expect(verdict(r), r.stderr).toMatch(/\[SERVER_UNREACHABLE\]$/);
      expect(r.code).toBe(1);
      expectNoStack(r);
    }
  });
});

describe('unreachable servers', SLOW, () => {
  it('Redis down: the address, not "Connection is closed."', async () => {
    const port = await closedPort();
    const r = await run(['feed', 'redis', '--stdout', '--once', '--config', file('redis.yaml', `redis:\n  url: redis://127.0.0.1:${port}/0\n`)]);
    expect(r.code).toBe(1);
    expect(verdict(r)).toBe(
      `udf-sidecar: Redis at 127.0.0.1:${port}/0: connection refused: is the server running at that address? (ECONNREFUSED); check redis.url (env REDIS_URL) [SERVER_UNREACHABLE]`,
    );
  });

  it('a bad REDIS_URL: a config error naming the variable, never the password', async () => {
    const r = await run(['feed', 'redis', '--stdout', '--once', '--config', file('r.yaml', 'interval: 1m\n')], { env: { REDIS_URL: 'localhost:6379' } });
    expect(r.code).toBe(2);
    expect(verdict(r)).toContain('redis.url: expected redis://host:port/db or rediss://… (env REDIS_URL sets it), got "localhost:6379"');
    const secret = await run(['feed', 'redis', '--stdout', '--once', '--config', file('r.yaml', 'interval: 1m\n')], {
      env: { REDIS_URL: 'http://:hunter2@x' },
    });
    expect(secret.stderr).not.toContain('hunter2');
  });
});

describe('kapacitor-conf', SLOW, () => {
  it('prints only the functions given with --functions, as serve --functions takes them', async () => {
    const r = await run(['kapacitor-conf', '--socket-dir', '/run/udf', '--functions', 'rate,edgeDetect']);
    expect(r.code).toBe(0);
    expect([...r.stdout.matchAll(/socket = "(.*)"/g)].map((m) => m[1])).toEqual(['/run/udf/rate.sock', '/run/udf/edgeDetect.sock']);
  });

  it('refuses an unknown function and a timeout Kapacitor cannot read, with exit 2', async () => {
    const fn = await run(['kapacitor-conf', '--socket-dir', '/run/udf', '--functions', 'rat']);
    expect(fn.code).toBe(2);
    expect(fn.stderr).toContain('unknown function rat (known: edgeDetect');
    for (const timeout of ['1d', '10', '0s', 'soon']) {
      const t = await run(['kapacitor-conf', '--socket-dir', '/run/udf', '--timeout', timeout]);
      expect(t.code, timeout).toBe(2);
      expect(verdict(t)).toMatch(/^udf-sidecar: --timeout .* \[USAGE\]$/);
    }
  });
});

describe('bad arguments', SLOW, () => {
  it('exit 2 for a bad flag value, an unknown command and a missing --config', async () => {
    expect((await run(['serve', '--socket-dir', dir, '--max-groups', '-1'])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
    const noConfig = await run(['feed', 'redis']);
    expect(noConfig.code).toBe(2);
    expect(verdict(noConfig)).toBe('udf-sidecar: feed redis needs --config FILE (--sample-config prints an example) [USAGE]');
    expect((await run(['--help'])).code).toBe(0);
    const env = await run(['serve', '--socket-dir', dir], { env: { METRICS_PORT: 'abc' } });
    expect(env.code).toBe(2);
    expect(verdict(env)).toBe('udf-sidecar: METRICS_PORT=abc is not a TCP port (0-65535) [USAGE]');
    const run1 = await run(['run', 'nope']);
    expect(run1.code).toBe(2);
    expect(verdict(run1)).toMatch(/^udf-sidecar: unknown function nope \(known: .*\) \[USAGE\]$/);
  });
});

describe('kapacitor sync', SLOW, () => {
  /** kapacitor sync reports through its logger: its verdict is a JSON line. */
  const logged = (r: Run) => JSON.parse(verdict(r)) as { code: string; message: string };

  it('a --tickscripts that is missing or a file: exit 2, the flag and the path named, with the fix', async () => {
    // Discovery is configured but never reached: the tickscripts are read first.
    const env = { INFLUXDB_URL: `http://127.0.0.1:${await closedPort()}` };
    const missing = await run(['kapacitor', 'sync', '--tickscripts', path.join(dir, 'no-tickscripts')], { env });
    expect(missing.code).toBe(2);
    expect(logged(missing)).toMatchObject({
      code: 'PATH_INVALID',
      message: `--tickscripts ${dir}/no-tickscripts: no such file or directory: check the path (ENOENT)`,
    });
    const notDir = await run(['kapacitor', 'sync', '--tickscripts', file('a.tick', '')], { env });
    expect(notDir.code).toBe(2);
    expect(logged(notDir)).toMatchObject({
      code: 'PATH_INVALID',
      message: `--tickscripts ${dir}/a.tick: is a file: give the directory of the *.tick files (ENOTDIR)`,
    });
    for (const r of [missing, notDir]) expect(r.stderr).not.toContain('scandir');
  });

  it('kapacitor.sync.tickscripts missing: a config error naming the key, the file and the path', async () => {
    const cfg = file('sync.yaml', `kapacitor:\n  sync:\n    tickscripts: ${dir}/none\n    databases: [db]\n`);
    const r = await run(['kapacitor', 'sync', '-c', cfg]);
    expect(r.code).toBe(2);
    expect(logged(r)).toMatchObject({
      code: 'CONFIG_INVALID',
      message: `${cfg}: kapacitor.sync.tickscripts: ${dir}/none: no such file or directory: check the path (ENOENT)`,
    });
  });
});
