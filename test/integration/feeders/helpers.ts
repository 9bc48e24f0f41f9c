import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The program's entry: feeders run as `node dist/cli.js feed <name> …`, exactly as installed. */
export const CLI_ENTRY = join(ROOT, 'dist', 'cli.js');

let built = false;
/** Compiles the project once per test file: the feeders run as real child processes from dist/. */
export function buildOnce(): void {
  if (built) return;
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) throw new Error(`npx tsc -p tsconfig.json failed, so the feeder cannot be spawned:\n${r.stdout}${r.stderr}`);
  built = true;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'feeder-test-'));
  const file = join(dir, 'feeder.yaml');
  writeFileSync(file, yaml);
  return file;
}

export interface FeederProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node dist/cli.js feed ARGS`. Output is kept for assertions and error messages. */
export function spawnFeeder(args: string[], env: NodeJS.ProcessEnv = {}): FeederProcess {
  const child = spawn(process.execPath, [CLI_ENTRY, 'feed', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Polls `probe` until it returns a value that `done` accepts; throws with the last value after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (done(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}; last value ${JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}${lastErr ? `, last error ${(lastErr as Error).message}` : ''}`,
  );
}

/**
 * "InfluxDB down" for the loss tests: an HTTP server on loopback that answers 503 to every request, as a proxy in
 * front of a stopped InfluxDB does. Never a stand-in for a working InfluxDB.
 */
export async function unavailableInflux(): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"service unavailable"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
