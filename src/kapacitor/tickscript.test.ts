import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declaredVars, loadTemplates, scriptType, stringDefaults } from './tickscript.js';

const streamScript = `// Edges of a boolean-ish field; 'batch|' in a comment does not count
var measurement string
var field = 'value'
var minDuration = 2m
var limit = 10
var ratio = 0.5
var enabled = TRUE
var where = lambda: "host" != ''
var groups = [*]
var re = /^cpu/

stream
    |from()
        .measurement(measurement)
    @edgeDetect()
        .field(field)
`;

describe('scriptType', () => {
  it('tells stream from batch by the first node, ignoring comments and strings', () => {
    expect(scriptType(streamScript)).toBe('stream');
    expect(scriptType("var q = 'stream|x'\nbatch\n  |query('SELECT 1')\n")).toBe('batch');
  });

  it('is not fooled by an apostrophe in a comment or // in a string', () => {
    expect(scriptType("// the sidecar's average\nvar u = 'http://x'\nstream\n    |from()\n")).toBe('stream');
    expect(declaredVars("// it's\nvar u = 'http://x' // a URL\nvar n = 3\n")).toEqual({ u: 'string', n: 'int' });
  });

  it('refuses a script that is neither, naming the file', () => {
    expect(() => scriptType('var x = 1\n', 'x.tick')).toThrow(/x\.tick: .*neither/);
  });
});

describe('declaredVars', () => {
  it('reads declared types and infers the type of assigned literals', () => {
    expect(declaredVars(streamScript)).toEqual({
      measurement: 'string',
      field: 'string',
      minDuration: 'duration',
      limit: 'int',
      ratio: 'float',
      enabled: 'bool',
      where: 'lambda',
      groups: 'list',
      re: 'regex',
    });
  });
});

describe('loadTemplates', () => {
  it('loads every .tick file, sorted, with its ID from the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ticks-'));
    writeFileSync(join(dir, 'rate.tick'), 'batch\n  |query(q)\n');
    writeFileSync(join(dir, 'edge_detect.tick'), streamScript);
    writeFileSync(join(dir, 'README.md'), 'not a script');
    const templates = loadTemplates(dir);
    expect(templates.map((t) => [t.id, t.type])).toEqual([
      ['edge_detect', 'stream'],
      ['rate', 'batch'],
    ]);
    expect(templates[0].file).toBe(join(dir, 'edge_detect.tick'));
  });
});

describe('stringDefaults', () => {
  it('reads the string literal defaults, unescaped, and nothing else', () => {
    const script =
      "// var c = 'in a comment'\nvar query = 'SELECT \\'x\\' FROM \"db\".\"rp\".\"m\"'\nvar size = 5\nvar field string\nvar out = 'telegraf' // trailing\n";
    expect(stringDefaults(script)).toEqual({ query: `SELECT 'x' FROM "db"."rp"."m"`, out: 'telegraf' });
  });
});
