/**
 * LOG_LEVEL and LOG_FORMAT as operators write them, through the built CLI: any case, the usual aliases, and a value
 * that means nothing refused at startup with one line and exit 2 (it used to silence every line, errors included).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { parseLogLevel } from '../../src/log.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` (npm test does)`);
});

/** Runs the CLI to its end; `stopWhen` (polled) sends SIGTERM to a command that would run on. */
function run(
  args: string[],
  env: NodeJS.ProcessEnv,
  stopWhen?: () => boolean,
  onStderr?: (d: string) => void,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, ...env } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    onStderr?.(d);
  });
  const poll = setInterval(() => {
    if (stopWhen?.()) child.kill('SIGTERM');
  }, 50);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

const levels = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { level: string }).level);

// Nothing listens on port 1: discovery fails, and the command logs one error line and exits 1.
const failing = ['kapacitor', 'sync', '--dry-run'];
const failingEnv = { INFLUXDB_URL: 'http://127.0.0.1:1' };

describe('LOG_LEVEL', () => {
  it.each(['ERROR', 'Warning', 'DEBUG', 'trace'])(
    '%s keeps error lines',
    async (level) => {
      const r = await run(failing, { ...failingEnv, LOG_LEVEL: level });
      expect(r.code).toBe(1);
      expect(levels(r.stderr)).toContain('error');
    },
    30_000,
  );

  it.each(['INFO', 'Info', 'debug'])(
    '%s shows info lines',
    async (level) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'log-level-'));
      let seen = '';
      const r = await run(
        ['serve', '--socket-dir', path.join(dir, 's')],
        { LOG_LEVEL: level },
        () => seen.includes('"message":"ready"'),
        (d) => (seen += d),
      );
      expect(r.stderr).toContain('"message":"ready"');
    },
    30_000,
  );

  it.each([
    ['INFO', ['warn', 'error']],
    ['WARN', ['warn', 'error']],
    ['warning', ['warn', 'error']],
    ['ERR', ['error']],
    ['error', ['error']],
  ])(
    '%s: the lines of levels %j',
    async (level, shown) => {
      // No database listed: a warning, then the unreachable Kapacitor's error.
      const dir = mkdtempSync(path.join(tmpdir(), 'log-level-'));
      const config = path.join(dir, 'c.yaml');
      writeFileSync(config, 'kapacitor:\n  url: http://127.0.0.1:1\n  sync:\n    databases: []\n');
      const r = await run(['kapacitor', 'sync', '--config', config], { LOG_LEVEL: level });
      expect(r.code).toBe(1);
      expect(levels(r.stderr)).toEqual(shown);
    },
    30_000,
  );

  it('refuses a level that means nothing, at startup, in one line naming the variable, with exit 2', async () => {
    for (const args of [failing, ['kapacitor-conf', '--socket-dir', '/tmp/x']]) {
      const r = await run(args, { ...failingEnv, LOG_LEVEL: 'loud' });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        'udf-sidecar: env: LOG_LEVEL: unknown log level "loud": use error, warn, info or debug (any case; also err, warning, trace) [CONFIG_INVALID]\n',
      );
    }
  }, 30_000);

  it('refuses a LOG_FORMAT that means nothing, the same way', async () => {
    const r = await run(['kapacitor-conf', '--socket-dir', '/tmp/x'], { LOG_FORMAT: 'pretty' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('udf-sidecar: env: LOG_FORMAT: unknown log format "pretty": use json or text [CONFIG_INVALID]\n');
  }, 30_000);

  it('parses case-insensitively; empty means info', () => {
    expect(parseLogLevel(undefined)).toBe('info');
    expect(parseLogLevel('')).toBe('info');
    expect(parseLogLevel(' Warning ')).toBe('warn');
    expect(parseLogLevel('CRITICAL')).toBe('error');
    expect(() => parseLogLevel('warnings')).toThrow(ConfigError);
  });
});
