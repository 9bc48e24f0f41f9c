import { describe, expect, it } from 'vitest';
import { outputLines, parseExecLine } from './parse.js';

describe('exec output lines', () => {
  it('reads "name value type style" with style stack or rate', () => {
    expect(parseExecLine('disk.used_pct 81.5 OS stack')).toEqual({ kind: 'metric', name: 'disk.used_pct', value: 81.5, type: 'OS', style: 'stack' });
    expect(parseExecLine('  nginx.requests\t120394  APP rate \r')).toEqual({
      kind: 'metric',
      name: 'nginx.requests',
      value: 120394,
      type: 'APP',
      style: 'rate',
    });
    expect(parseExecLine('temp -4e1 HW stack')).toMatchObject({ kind: 'metric', value: -40 });
  });

  it('says why a four-word line with a style is bad', () => {
    for (const v of ['abc', 'NaN', 'Infinity', '1,5']) {
      expect(parseExecLine(`x ${v} OS stack`)).toEqual({ kind: 'bad', reason: `value ${JSON.stringify(v)} is not a finite number` });
    }
  });

  it('passes line protocol through, keeping its text and reading its name and time', () => {
    const line = 'cpu,host=web01 usage=12.5,count=3i,state="ok, fine" 1700000000000000000';
    const r = parseExecLine(line);
    expect(r.kind).toBe('line_protocol');
    expect(r.kind === 'line_protocol' && [r.line, r.parsed.measurement, r.parsed.time, r.parsed.fieldsInt.count]).toEqual([
      line,
      'cpu',
      1700000000000000000n,
      3n,
    ]);
    expect(parseExecLine('mem free=1024i')).toMatchObject({ kind: 'line_protocol', parsed: { time: null } });
  });

  it('refuses line protocol whose time is in seconds or milliseconds, and other text', () => {
    expect(parseExecLine('cpu usage=1 1700000000')).toEqual({ kind: 'bad', reason: 'line-protocol timestamp 1700000000 is not in nanoseconds' });
    expect(parseExecLine('cpu usage=1 1700000000000')).toMatchObject({ kind: 'bad' });
    expect(parseExecLine('x 1 OS gauge')).toMatchObject({ kind: 'bad', reason: expect.stringMatching(/^neither "name value type style"/) });
    expect(parseExecLine('just some words')).toMatchObject({ kind: 'bad' });
    expect(parseExecLine('cpu usage=1 12:30')).toMatchObject({ kind: 'bad', reason: expect.stringContaining('timestamp is not an integer') });
    expect(parseExecLine('OK - all fine')).toMatchObject({ kind: 'bad' });
  });

  it('ignores blank lines and comments', () => {
    expect(parseExecLine('')).toEqual({ kind: 'ignored' });
    expect(parseExecLine('   ')).toEqual({ kind: 'ignored' });
    expect(parseExecLine('# disk check v2')).toEqual({ kind: 'ignored' });
  });

  it('splits output at \\n and \\r\\n, keeping a last line without its newline', () => {
    expect(outputLines('a 1 OS stack\r\nb 2 OS stack\nc 3 OS stack')).toEqual(['a 1 OS stack', 'b 2 OS stack', 'c 3 OS stack']);
    expect(outputLines('a\n')).toEqual(['a']);
    expect(outputLines('')).toEqual([]);
  });
});
