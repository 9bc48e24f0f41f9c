/**
 * The README keeps working for a newcomer: the scripts it names exist, what `npm test` needs is listed (every tool the
 * install scripts stop without), throughput is quoted only from docs/benchmarks.md, which `npm run bench` writes, and
 * the layout names the files an author or a maintainer starts from, each with what it is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

describe('README.md', () => {
  it('names only npm scripts that exist, the unit-only run among them, building first', () => {
    const named = [...readme.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]);
    expect(named).toContain('test:unit');
    for (const script of named) expect(pkg.scripts, `npm run ${script}`).toHaveProperty(script);
    expect(pkg.scripts['test:unit']).toMatch(/^npm run build\b.*&& vitest run --project unit$/);
  });

  it("lists every tool the stack's install scripts refuse to go on without, root, and the cache size", () => {
    const scripts = ['install.sh', 'sshd.sh'].map((f) => readFileSync(join(root, 'scripts/stack', f), 'utf8')).join('\n');
    // What they stop without, less what they apt-get themselves, and sudo (the root requirement, checked below).
    const installed = new Set([...scripts.matchAll(/apt-get install [^\n]*?([\w-]+) *(?:>|\|\||;|$)/gm)].map((m) => m[1]));
    const tools = new Set(
      [...scripts.matchAll(/command -v ([\w-]+) >\/dev\/null \|\| stack_die/g)].map((m) => m[1]).filter((t) => !installed.has(t) && t !== 'sudo'),
    );
    expect(installed).toContain('redis-server');
    expect([...tools].sort()).toEqual(['cargo', 'go', 'java', 'mvn']);
    const spelled: Record<string, RegExp> = { go: /\*\*Go\*\*/, cargo: /\*\*cargo\*\*/, java: /\*\*Java \d+/, mvn: /Maven/ };
    for (const t of tools) expect(readme, t).toMatch(spelled[t]);
    expect(scripts).toMatch(/must run as root/);
    expect(readme).toMatch(/\*\*root\*\*/);
    expect(readme).toMatch(/about \*\*[\d.]+ GB\*\* \(measured with `du -sh ~\/\.cache\/kapacitor-udf-sidecar`/);
  });

  it('quotes no throughput figure of its own: docs/benchmarks.md is the one place', () => {
    expect(readme).not.toMatch(/\d[\d,.]*\s*[kM]?\s*points\/s/);
    expect(readme).not.toMatch(/\b0\.\d+ of the echo/);
    expect(readme).toContain('[docs/benchmarks.md](docs/benchmarks.md)');
  });

  it('names in its layout every file to start from, each with what it is, and only paths that exist', () => {
    const block = /```\n(proto\/udf\.proto[\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const entries = block
      .trimEnd()
      .split('\n')
      .map((line) => /^(\S+(?: \S+)*?) {2,}(\S.*)$/.exec(line));
    expect(entries.every((e) => e !== null)).toBe(true);
    const paths = entries.flatMap((e) => (e as RegExpExecArray)[1].split(' '));
    const startFrom = ['src/agent/handler.ts', 'src/agent/errors.ts', 'src/errors.ts', 'src/serve.ts', 'src/replay.ts', 'src/recording.ts'];
    startFrom.push('src/line-protocol.ts', 'src/bench/run.ts', 'src/agent/wire/', 'docs/writing-a-function.md');
    for (const p of startFrom) expect(paths).toContain(p);
    // Named ahead of their arrival from another branch: the check below fails once one exists, to take it off here.
    const pending = new Set<string>();
    for (const p of paths) expect(existsSync(join(root, p)), p).toBe(!pending.has(p));
  });
});
