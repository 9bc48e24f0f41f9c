import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classify, ConfigError, ERROR_CODES, SidecarError, UsageError } from './errors.js';

const srcDir = new URL('.', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Codes given to SidecarError's constructor, directly or through a subclass's `super`. */
function raisedCodes(): Set<string> {
  const codes = new Set<string>();
  for (const file of sources(srcDir)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:new SidecarError|super)\(\s*([^,]*?),/g)) {
      for (const code of m[1].matchAll(/'([A-Z][A-Z0-9_]+)'/g)) codes.add(code[1]);
    }
  }
  return codes;
}

describe('the error catalogue', () => {
  it('is what docs/errors.md lists, code for code and exit for exit', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `([A-Z0-9_]+)` \| (\d) \| (.+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    expect(rows).toEqual(Object.entries(ERROR_CODES).map(([code, { exit, meaning }]) => [code, exit, meaning]));
  });

  it('holds every code raised in src/, and each code in it is used', () => {
    const raised = raisedCodes();
    expect(raised.size).toBeGreaterThan(10);
    expect([...raised].filter((c) => !(c in ERROR_CODES))).toEqual([]);
    const all = sources(srcDir)
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    expect(Object.keys(ERROR_CODES).filter((c) => !all.includes(`'${c}'`))).toEqual([]);
  });
});

describe('classify', () => {
  it('gives a config error exit 2 and a usage error exit 2, on one line', () => {
    expect(classify(new ConfigError('interval', 'f.yaml', 'a duration needs a unit'))).toEqual({
      code: 'CONFIG_INVALID',
      exit: 2,
      message: 'f.yaml: interval: a duration needs a unit',
    });
    expect(classify(new UsageError('--timeout x\nis bad'))).toEqual({ code: 'USAGE', exit: 2, message: '--timeout x is bad' });
  });

  it('names the path or address of a system error with the fix', () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x.lp'"), { code: 'ENOENT', path: 'x.lp', syscall: 'open' });
    expect(classify(enoent)).toEqual({ code: 'PATH_INVALID', exit: 2, message: 'x.lp: no such file or directory: check the path (ENOENT)' });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 9092 });
    expect(classify(refused)).toMatchObject({
      code: 'SERVER_UNREACHABLE',
      exit: 1,
      message: '127.0.0.1:9092: connection refused: is the server running at that address? (ECONNREFUSED)',
    });
  });

  it('keeps an unknown failure to its message, with exit 1', () => {
    expect(classify(new TypeError('x is not a function'))).toEqual({ code: 'INTERNAL', exit: 1, message: 'x is not a function' });
    expect(classify(new SidecarError('ROUTER_TIMEOUT', 'r1: no reply'))).toEqual({ code: 'ROUTER_TIMEOUT', exit: 1, message: 'r1: no reply' });
  });
});
