/**
 * The layout of the field-map entries of the point scanned last, one row per entry:
 *
 *   Entry := map (its tag: fieldsDouble, fieldsInt, fieldsString, fieldsBool) | keyAt | keyLen | valueAt (-2: none)
 *
 * The scan fills it for the point it reads, so a function's field lookups on that point walk no bytes but the keys.
 * One per decoder; a point with more entries than it holds is looked up by reading its frame whole.
 */
import type { FramePoint } from './frame-point.js';

export const MAX_ENTRIES = 64;

export class EntryTable {
  readonly kind = new Int32Array(MAX_ENTRIES);
  readonly keyAt = new Int32Array(MAX_ENTRIES);
  readonly keyLen = new Int32Array(MAX_ENTRIES);
  readonly valueAt = new Int32Array(MAX_ENTRIES);
  count = 0;
  /** The point the table describes (null: none, or more entries than it holds). */
  of: FramePoint | null = null;

  /** Records entry k (k >= 0; a negative k is an entry past the table, not recorded). */
  set(k: number, kind: number, keyAt: number, keyLen: number, valueAt: number): void {
    if (k < 0) return;
    this.kind[k] = kind;
    this.keyAt[k] = keyAt;
    this.keyLen[k] = keyLen;
    this.valueAt[k] = valueAt;
  }
}
