import { describe, expect, it } from 'vitest';
import { encodeRequestBody, RequestDecoder } from './codec.js';
import { defineUdf, handler } from './handler.js';
import type { Point } from './messages.js';
import { option } from './options.js';
import { plainPoint } from './points.js';
import { FramePoint } from './wire/frame-point.js';

const point: Point = {
  time: 5n,
  name: 'm',
  database: 'db',
  retentionPolicy: 'rp',
  group: 'g=1',
  dimensions: ['g'],
  byName: false,
  tags: { g: '1' },
  fieldsDouble: { v: 1 },
  fieldsInt: {},
  fieldsString: {},
  fieldsBool: {},
};

interface Held {
  last: Point | null;
  nested: { points: Point[] };
}

const holder = (holdsPoints: boolean) =>
  defineUdf({
    name: 'holder',
    doc: 'keeps the last point',
    options: { n: option.int({ doc: 'n' }) },
    create: () =>
      handler({
        state: {
          version: 3,
          create: (): Held => ({ last: null, nested: { points: [] } }),
          valid: (s: unknown): s is Held => typeof s === 'object' && s !== null && 'last' in s,
          migrate: (old, from) => ({ last: null, nested: { points: [] }, from, old }),
        },
        holdsPoints,
        point(p, s) {
          s.last = p;
          s.nested.points.push(p);
        },
      }),
  }).create({ n: undefined }, 'stream');

describe('the agent around a handler', () => {
  it('copies the views a state holds after the call, when the function says it holds points', () => {
    const frame = encodeRequestBody({ kind: 'point', point });
    const chunk = new Uint8Array(frame.length + 100);
    chunk.set(frame, 50);
    const view = new RequestDecoder().decode(chunk, 50, 50 + frame.length);
    if (view.kind !== 'point') throw new Error('not a point');
    const logic = holder(true);
    const s = logic.newState() as Held;
    logic.point(view.point, s, () => {});
    for (const held of [s.last, s.nested.points[0]]) {
      expect(held).not.toBe(view.point);
      expect(held).toBeInstanceOf(FramePoint);
      expect((held as FramePoint).buf.buffer.byteLength).toBeLessThan(chunk.length);
      expect(plainPoint(held as Point)).toEqual(point);
    }
    const copy = s.last;
    logic.point(plainPoint(point), s, () => {}); // a plain point is kept as it is, a copy is not copied again
    expect(s.nested.points[0]).toBe(copy);
    expect(s.last).toEqual(point);
    // Without the declaration nothing is walked: the state holds the view itself.
    const bare = holder(false);
    const b = bare.newState() as Held;
    bare.point(view.point, b, () => {});
    expect(b.last).toBe(view.point);
  });

  it('restores states by version: this one checked, older ones migrated, newer ones refused', () => {
    const logic = holder(false);
    expect(logic.stateVersion).toBe(3);
    expect(logic.restored({ last: null, nested: { points: [] } }, 3)).toEqual({ last: null, nested: { points: [] } });
    expect(() => logic.restored({ nothing: 1 }, 3)).toThrow(/not a holder state of version 3/);
    expect(logic.restored({ shape: 'old' }, 1)).toEqual({ last: null, nested: { points: [] }, from: 1, old: { shape: 'old' } });
    expect(() => logic.restored({ last: null }, 4)).toThrow(/state version 4 is newer than this build's 3/);
  });
});
