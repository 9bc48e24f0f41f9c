/**
 * What the benchmarks share: statistics, the machine line, child processes that say when they are ready, and
 * docs/benchmarks.md, where each benchmark owns one marked section and leaves the others as they are.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';

/** The value below which a fraction q of xs lies (linear between neighbours). */
export const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
};

export const median = (xs: number[]): number => quantile(xs, 0.5);

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function machine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown CPU';
  return `${cpus.length} × ${model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()} (${os.arch()}), Node ${process.version}`;
}

/** Starts `command args` and resolves once `ready(line)` is true for a line of its stdout or stderr. */
export async function startChild(
  what: string,
  command: string,
  args: string[],
  ready: (line: string) => boolean,
  /** Where the child's output goes once it is ready: shown when it was started with diagnostic options. */
  after: 'inherit' | 'ignore' = 'ignore',
): Promise<ChildProcess> {
  const env = { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info' };
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const tail: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let seen = false;
    const scan = (data: Buffer) => {
      if (seen) {
        if (after === 'inherit') process.stderr.write(data);
        return;
      }
      for (const line of data.toString('utf8').split('\n')) {
        if (!line) continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        if (!seen && ready(line)) {
          seen = true;
          resolve();
        }
      }
    };
    child.stdout?.on('data', scan);
    child.stderr?.on('data', scan);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready:\n${tail.join('\n')}`)));
  });
  return child;
}

/** SIGTERM to each child, and their exits awaited (a sidecar writes its CPU profile on the way out). */
export async function stopChildren(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map((c) => {
      const exited = c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      return exited;
    }),
  );
}

const begin = (name: string) => `<!-- begin ${name}: written by the benchmark, run it again rather than editing -->`;
const end = (name: string) => `<!-- end ${name} -->`;

/**
 * Replaces section `name` of the markdown file (between its markers) with `body`, or appends it; `title` heads a file
 * that does not exist yet.
 */
export async function writeSection(file: string, name: string, body: string, title = '# Benchmarks'): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text = `${title}\n`;
  }
  const section = `${begin(name)}\n${body.trim()}\n${end(name)}`;
  const at = text.indexOf(begin(name).slice(0, begin(name).indexOf(':')));
  const stop = text.indexOf(end(name));
  text = at >= 0 && stop > at ? text.slice(0, at) + section + text.slice(stop + end(name).length) : `${text.trimEnd()}\n\n${section}\n`;
  await writeFile(file, text);
}
