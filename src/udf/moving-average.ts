/**
 * movingAverage: the mean of a numeric field over the last `size` points or over a time `window`, per group.
 * Kapacitor's built-in counts points only; a time window handles irregular polling.
 */
import { OptionError } from '../agent/errors.js';
import { defineUdf, handler } from '../agent/handler.js';
import { nonEmpty, option, positive } from '../agent/options.js';
import { numericField, pointLikeDouble } from '../agent/points.js';
import { countWindow, type RollingWindow, timeWindow } from '../agent/windows.js';
import type { Duration } from '../duration.js';
import { countAverageFromVersion1, timeAverageFromVersion1 } from './version-1.js';

/** The largest `size`: a full window is 8 bytes a point, per group (800 KB at this size). */
export const MAX_SIZE = 100_000;

export const movingAverage = defineUdf({
  name: 'movingAverage',
  doc: 'mean of a numeric field over the last N points (size) or a time window, per group',
  options: {
    field: option.string({ required: true, check: nonEmpty, doc: 'int or float field to average' }),
    size: option.int({ check: positive, max: BigInt(MAX_SIZE), doc: `average the last N points (at most ${MAX_SIZE}); emits once N points were seen` }),
    window: option.duration({ check: positive, doc: 'average the points with time in (t - window, t]' }),
    as: option.string({ default: 'movingAverage', check: nonEmpty, doc: 'name of the output float field' }),
  },
  create({ field, size, window, as }) {
    if ((size === undefined) === (window === undefined)) throw new OptionError(size === undefined ? 'size' : 'window', 'give exactly one of size or window');
    if (size !== undefined) return average(field, as, countWindow(Number(size)), (old) => countAverageFromVersion1(old, Number(size)));
    return average(field, as, timeWindow(window as Duration), timeAverageFromVersion1);
  },
});

/** The mean of `field` over window `w`, once the window is full; version 1 states read by `fromVersion1`. */
function average<S>(field: string, as: string, w: RollingWindow<S>, fromVersion1: (old: unknown) => unknown) {
  return handler({
    state: { version: 2, ...w.state, migrate: fromVersion1 },
    point(p, s, emit) {
      const v = numericField(p, field);
      if (v === undefined) return;
      w.add(s, Number(v), p);
      if (w.full(s)) emit(pointLikeDouble(p, as, w.sum(s) / w.count(s)));
    },
  });
}
