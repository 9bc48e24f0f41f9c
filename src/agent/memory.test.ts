import { describe, expect, it } from 'vitest';
import { FunctionRunner, initOptions, streamPoint } from '../udf/testing.js';
import { findFunction } from '../udf/registry.js';
import { MemoryBudget } from './memory.js';
import type { Request, Response } from './messages.js';
import { Session } from './session.js';

function session(name: string, options: ConstructorParameters<typeof Session>[2]) {
  const out: Response[] = [];
  const s = new Session(findFunction(name), out, options);
  const send = (r: Request) => {
    s.handle(r);
    return out.splice(0);
  };
  return { s, send };
}

const init = (fn: string, opts: Record<string, string | bigint>): Request => ({
  kind: 'init',
  taskId: 't',
  nodeId: 'n',
  options: initOptions(findFunction(fn), opts),
});

const point = (group: string, t: bigint, fields: Parameters<typeof streamPoint>[3]): Request => ({
  kind: 'point',
  point: streamPoint('m', { g: group }, t, fields),
});

describe('memory bounds', () => {
  it('movingAverage refuses a size above its documented maximum at Init, naming the option', () => {
    const f = new FunctionRunner('movingAverage');
    expect(f.init({ field: 'v', size: 2147483647n })).toBe('movingAverage: option size: must be at most 100000, got int 2147483647');
    expect(new FunctionRunner('movingAverage').init({ field: 'v', size: 100000n })).toBe('');
  });

  it('a count window grows with its content: a group that saw one point keeps one value', () => {
    const f = new FunctionRunner('movingAverage');
    f.init({ field: 'v', size: 100000n });
    f.point(streamPoint('m', { g: 'a' }, 1n, { fieldsDouble: { v: 1 } }));
    expect(f.snapshot().length).toBeLessThan(300);
  });

  it('evicts groups to stay within the connection bound when group keys are large', () => {
    const { s, send } = session('rate', { maxConnectionMemory: 64 * 1024 });
    send(init('rate', { field: 'n' }));
    for (let i = 0; i < 200; i++) expect(send(point(`${i}-${'k'.repeat(10_000)}`, 1n, { fieldsInt: { n: 1n } }))).toEqual([]);
    expect(s.memory.used).toBeLessThanOrEqual(64 * 1024);
    expect(s.memory.used).toBeGreaterThan(40 * 1024);
    expect(s.failed).toBe(false);
  });

  it('counts kept strings: edgeDetect groups holding long values are evicted to stay within the bound', () => {
    const { s, send } = session('edgeDetect', { maxConnectionMemory: 1024 * 1024 });
    send(init('edgeDetect', { field: 'state' }));
    for (let i = 0; i < 100; i++) send(point(`g${i}`, 1n, { fieldsString: { state: `${i}`.repeat(50_000) } }));
    expect(s.memory.used).toBeLessThanOrEqual(1024 * 1024);
    expect(s.failed).toBe(false);
  });

  it('shares one process bound among connections: the one that grows evicts its own groups, and closing gives back', () => {
    const process = new MemoryBudget(256 * 1024);
    const a = session('rate', { processMemory: process });
    const b = session('rate', { processMemory: process });
    a.send(init('rate', { field: 'n' }));
    b.send(init('rate', { field: 'n' }));
    for (let i = 0; i < 20; i++) a.send(point(`a${i}-${'k'.repeat(10_000)}`, 1n, { fieldsInt: { n: 1n } }));
    for (let i = 0; i < 40; i++) b.send(point(`b${i}-${'k'.repeat(10_000)}`, 1n, { fieldsInt: { n: 1n } }));
    expect(process.used).toBeLessThanOrEqual(256 * 1024);
    expect(a.s.memory.used).toBeGreaterThan(150 * 1024);
    expect(a.s.failed || b.s.failed).toBe(false);
    a.s.release();
    expect(process.used).toBe(b.s.memory.used);
  });

  it('ends a connection whose batch is never ended once its points pass the bound, with an ErrorResponse', () => {
    const { s, send } = session('edgeDetectBatch', { maxConnectionMemory: 1024 * 1024 });
    send(init('edgeDetectBatch', { field: 'v' }));
    send({ kind: 'begin', begin: { name: 'm', group: '', tags: {}, size: 0n, byName: false } });
    let out: Response[] = [];
    for (let i = 0; i < 100_000 && !s.failed; i++) {
      out = send({ kind: 'point', point: streamPoint('m', {}, BigInt(i), { fieldsInt: { v: BigInt(i) } }, []) });
    }
    expect(s.failed).toBe(true);
    expect(out).toEqual([
      {
        kind: 'error',
        error: expect.stringMatching(/^edgeDetectBatch: needs more than the memory bound of 1048576 bytes per connection .* raise --max-connection-memory/),
      },
    ]);
  });
});
