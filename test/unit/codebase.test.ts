/**
 * The shape of the codebase, held by tests: small files, an import graph without cycles, no module-level mutable
 * state in the agent, the wire's field tags named in one place, and a program whose start loads what `serve` and `run`
 * need and no more. Each check takes a root directory and is first
 * shown to catch what it guards against in a small fixture tree, so a check that can no longer fail is noticed.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const MAX_LINES = 400;
const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/** Every .ts file under `root`, as paths relative to it; test files only when asked for. */
function sources(root: string, withTests = false): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && (withTests || !entry.name.endsWith('.test.ts'))) out.push(relative(root, path));
    }
  };
  walk(root);
  return out.sort();
}

const read = (root: string, file: string): string => readFileSync(join(root, file), 'utf8');
const lineCount = (text: string): number => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

/** Files over `max` lines, with their length. */
function longFiles(root: string, max = MAX_LINES): string[] {
  return sources(root)
    .map((file) => ({ file, lines: lineCount(read(root, file)) }))
    .filter((f) => f.lines > max)
    .map((f) => `${f.file} (${f.lines} lines)`);
}

/** The relative imports of a file (static, re-exports, side-effect and dynamic; type-only ones too). */
function importsOf(text: string): string[] {
  const patterns = [
    /^(?:import|export)\s[^;]*?\sfrom\s*['"](\.{1,2}\/[^'"]+)['"]/gm,
    /^import\s*['"](\.{1,2}\/[^'"]+)['"]/gm,
    /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[1]));
}

/** Each cycle of the import graph, once, as the files along it (the first repeated at the end). */
function importCycles(root: string): string[][] {
  const files = new Set(sources(root));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = importsOf(read(root, file))
      .map((spec) => relative(root, resolve(root, dirname(file), spec.replace(/\.js$/, '.ts'))))
      .filter((target) => files.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  const cycles: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string): void => {
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) cycles.push([...path.slice(at), next]);
      else if (!done.has(next)) visit(next);
    }
    path.pop();
    done.add(file);
  };
  for (const file of files) if (!done.has(file)) visit(file);
  return cycles;
}

/**
 * What loading `entry` loads before any of its code runs: the files and the npm packages reached through static
 * imports and re-exports (side-effect ones too), type-only and dynamic ones aside.
 */
function loadedAtStart(root: string, entry: string): { files: string[]; packages: string[] } {
  const patterns = [
    /^import\s+(?!type\s)[^;]*?\sfrom\s*['"]([^'"]+)['"]/gm,
    /^import\s*['"]([^'"]+)['"]/gm,
    /^export\s+(?!type\s)[^;]*?\sfrom\s*['"]([^'"]+)['"]/gm,
  ];
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const [, spec] of patterns.flatMap((p) => [...read(root, file).matchAll(p)])) {
      if (spec.startsWith('.')) todo.push(relative(root, resolve(root, dirname(file), spec.replace(/\.js$/, '.ts'))));
      else if (!spec.startsWith('node:'))
        packages.add(
          spec
            .split('/')
            .slice(0, spec.startsWith('@') ? 2 : 1)
            .join('/'),
        );
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

/** `let` or `var` at the top level of a module (biome formats top-level statements at column 0), as file:line. */
function moduleLets(root: string): string[] {
  return sources(root).flatMap((file) =>
    read(root, file)
      .split('\n')
      .flatMap((line, i) => (/^(?:export\s+)?(?:let|var)\s/.test(line) ? [`${file}:${i + 1}`] : [])),
  );
}

/** The files, tests included, that spell a point's field tags as bytes (0x4a fieldsInt, 0x52 fieldsString). */
function filesSpellingTags(root: string): string[] {
  return sources(root, true).filter((file) => /0x4a|0x52/i.test(read(root, file)));
}

/** The files, tests aside, that know how many nanoseconds an hour is: a duration parser of their own. */
function filesWithDurationUnits(root: string): string[] {
  return sources(root).filter((file) => /3_?600_?000_?000_?000n/.test(read(root, file)));
}

describe('the checks catch what they guard against', () => {
  const fixture = mkdtempSync(join(tmpdir(), 'codebase-'));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));
  const write = (file: string, text: string): void => {
    mkdirSync(dirname(join(fixture, file)), { recursive: true });
    writeFileSync(join(fixture, file), text);
  };
  write('a.ts', "import { b } from './dir/b.js';\nexport const a = b;\n");
  write('dir/b.ts', "import type { C } from '../c.js';\nexport const b = 1;\nexport type B = C;\n");
  write('c.ts', "export {\n  a,\n} from './a.js';\nexport type C = number;\n");
  write('leaf.ts', "import './dir/b.js';\nexport async function later() {\n  return import('./lazy.js');\n}\n");
  write('lazy.ts', "import { later } from './leaf.js';\nexport const lazy = later;\n");
  write('long.ts', 'export const x = 1;\n'.repeat(MAX_LINES + 1));
  write('just.ts', 'export const x = 1;\n'.repeat(MAX_LINES));
  write('long.test.ts', 'export const x = 1;\n'.repeat(MAX_LINES + 1));
  write('state.ts', 'let count = 0;\nexport var total = 0;\nexport function f() {\n  let local = count;\n  return local;\n}\n');
  write('state.test.ts', 'let inTest = 0;\n');
  write('tags.ts', 'const FIELDS_INT = 0x4A;\n');
  write('tags.test.ts', 'expect(bytes[0]).toBe(0x52);\n');
  write('units.ts', 'const UNITS = { h: 3_600_000_000_000n };\n');
  write('dir/units.ts', 'const hour = 3600000000000n;\n');
  write(
    'start/entry.ts',
    "import { x } from 'pkg-a';\nimport type { Y } from 'pkg-b';\nimport './side.js';\nexport { z } from './re.js';\n" +
      "export async function later() {\n  return import('./lazy.js');\n}\n",
  );
  write('start/side.ts', "import { readFileSync } from 'node:fs';\nimport { c } from '@scope/pkg-c/sub';\n");
  write('start/re.ts', 'export const z = 1;\n');
  write('start/lazy.ts', "import { d } from 'pkg-d';\n");

  it('finds files over the limit, tests aside', () => {
    expect(longFiles(fixture)).toEqual([`long.ts (${MAX_LINES + 1} lines)`]);
  });

  it('finds import cycles through every kind of import, and only those', () => {
    expect(importCycles(fixture)).toEqual([
      ['a.ts', 'dir/b.ts', 'c.ts', 'a.ts'],
      ['lazy.ts', 'leaf.ts', 'lazy.ts'],
    ]);
  });

  it('finds module-level let and var, not those in functions or tests', () => {
    expect(moduleLets(fixture)).toEqual(['state.ts:1', 'state.ts:2']);
  });

  it('finds every file that spells a field tag, tests included', () => {
    expect(filesSpellingTags(fixture)).toEqual(['tags.test.ts', 'tags.ts']);
  });

  it('finds every file with a table of duration units, tests aside', () => {
    expect(filesWithDurationUnits(fixture)).toEqual(['dir/units.ts', 'units.ts']);
  });

  it('follows static imports, re-exports and side-effect imports from an entry, not type-only or dynamic ones', () => {
    expect(loadedAtStart(fixture, 'start/entry.ts')).toEqual({
      files: ['start/entry.ts', 'start/re.ts', 'start/side.ts'],
      packages: ['@scope/pkg-c', 'pkg-a'],
    });
  });

  it('finds nothing in a tree that keeps the rules', () => {
    const clean = mkdtempSync(join(tmpdir(), 'codebase-clean-'));
    try {
      writeFileSync(join(clean, 'a.ts'), "import { b } from './b.js';\nexport const a = b;\n");
      writeFileSync(join(clean, 'b.ts'), 'export const TAG = 0x4a;\nexport const b = 1;\nexport function f() {\n  let n = 0;\n  return ++n;\n}\n');
      expect([longFiles(clean), importCycles(clean), moduleLets(clean), filesSpellingTags(clean), filesWithDurationUnits(clean)]).toEqual([
        [],
        [],
        [],
        ['b.ts'],
        [],
      ]);
    } finally {
      rmSync(clean, { recursive: true, force: true });
    }
  });
});

describe('the codebase keeps its shape', () => {
  it(`has no file in src/ over ${MAX_LINES} lines`, () => {
    expect(longFiles(SRC)).toEqual([]);
  });

  it('has no import cycle in src/', () => {
    expect(importCycles(SRC)).toEqual([]);
  });

  it('has no module-level let in src/agent (state belongs to a connection)', () => {
    expect(moduleLets(join(SRC, 'agent'))).toEqual([]);
  });

  it('has one duration module (src/duration.ts)', () => {
    expect(filesWithDurationUnits(SRC)).toEqual(['duration.ts']);
  });

  it('starts the program (every `serve` and `run` process) without the feeders, replay or their clients', () => {
    const { files, packages } = loadedAtStart(SRC, 'cli.ts');
    // Adding a package here adds it to every process Kapacitor starts: import it where its command runs instead.
    expect(packages).toEqual(['commander', 'prom-client', 'protobufjs', 'winston', 'yaml']);
    expect(files.filter((f) => f === 'replay.ts' || f.startsWith('simulate/') || f.startsWith('feeders/'))).toEqual([
      'feeders/cli.ts',
      'feeders/redis/shard.ts',
      'simulate/command.ts',
    ]);
  });

  it('spells the field tags as bytes in one file of src/agent at most', () => {
    expect(filesSpellingTags(join(SRC, 'agent')).length).toBeLessThanOrEqual(1);
  });
});
