/**
 * What `npm pack` (and so `npm publish` and a git install, which packs) hands a user: a tarball with the built CLI, the
 * licence package.json names, and a `--version` that agrees with package.json. Packed from a copy of the tracked files
 * only, as a fresh clone has them: no dist/ until a lifecycle script builds it.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; license: string };

describe('npm pack from a fresh clone', () => {
  let work: string;
  let unpacked: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'udf-pack-'));
    const clone = join(work, 'clone');
    for (const f of execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean)) {
      if (!existsSync(join(root, f))) continue; // deleted in the work tree, not yet committed
      mkdirSync(dirname(join(clone, f)), { recursive: true });
      cpSync(join(root, f), join(clone, f));
    }
    symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'));
    const out = join(work, 'out');
    mkdirSync(out);
    const [{ filename }] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: clone, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    ) as { filename: string }[];
    unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', join(out, filename), '-C', unpacked]);
    symlinkSync(join(root, 'node_modules'), join(unpacked, 'package/node_modules'));
  }, 180_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('ships the built CLI', () => {
    expect(existsSync(join(unpacked, 'package/dist/cli.js'))).toBe(true);
    expect(existsSync(join(unpacked, 'package/src'))).toBe(false);
  });

  it('ships the licence package.json names', () => {
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(unpacked, 'package/LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  });

  it('answers --version with the version in package.json', () => {
    const out = execFileSync(process.execPath, [join(unpacked, 'package/dist/cli.js'), '--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe(pkg.version);
  });
});
