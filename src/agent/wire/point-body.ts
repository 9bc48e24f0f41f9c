/**
 * A whole Point into plain objects, field by field as protobufjs's generated decoder reads it:
 *
 *   Point    := 1:time int64 | 2:name string | 3:database string | 4:retentionPolicy string | 5:group string
 *             | 6:dimensions string | 7:tags Entry<string> | 8:fieldsDouble Entry<double> | 9:fieldsInt Entry<int64>
 *             | 10:fieldsString Entry<string> | 11:byName bool | 12:fieldsBool Entry<bool>
 *   Entry<V> := 1:key string | 2:value V
 *
 * Last value wins for scalars, repeated fields append, map entries with absent key or value get the zero value, a
 * field with an unexpected wire type or an unknown number is skipped, "__proto__" keys become own properties. What
 * the reader declines (see reader.ts) makes this throw, and the caller leaves the frame to protobufjs.
 */
import type { Point } from '../messages.js';
import { GIVE_UP, type Reader } from './reader.js';
import { EntryTag, Tag } from './tags.js';

function setEntry<T>(map: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(map, key, { value, enumerable: true, configurable: true, writable: true });
  } else {
    map[key] = value;
  }
}

/** The end of the map entry at the cursor (its length read). */
function entryEnd(r: Reader, end: number): number {
  const len = r.varint32(end);
  const e = r.pos + len;
  if (e > end) throw GIVE_UP;
  return e;
}

function readStringEntry(r: Reader, map: Record<string, string>, end: number): void {
  const e = entryEnd(r, end);
  let k = '';
  let v = '';
  while (r.pos < e) {
    const t = r.varint32(e);
    if (t === EntryTag.Key) k = r.string(e);
    else if (t === EntryTag.String) v = r.string(e);
    else r.skip(t, e);
  }
  setEntry(map, k, v);
}

/** The Point whose body runs from the reader's cursor to `end`. */
export function readPointBody(r: Reader, end: number): Point {
  r.strings.index = 0;
  let time = 0n;
  let name = '';
  let database = '';
  let retentionPolicy = '';
  let group = '';
  const dimensions: string[] = [];
  let byName = false;
  const tags: Record<string, string> = {};
  const fieldsDouble: Record<string, number> = {};
  const fieldsInt: Record<string, bigint> = {};
  const fieldsString: Record<string, string> = {};
  const fieldsBool: Record<string, boolean> = {};
  while (r.pos < end) {
    const t = r.varint32(end);
    switch (t) {
      case Tag.Time:
        r.int64(end);
        time = r.bigint();
        continue;
      case Tag.Name:
        name = r.string(end);
        continue;
      case Tag.Database:
        database = r.string(end);
        continue;
      case Tag.RetentionPolicy:
        retentionPolicy = r.string(end);
        continue;
      case Tag.Group:
        group = r.string(end);
        continue;
      case Tag.Dimensions:
        dimensions.push(r.string(end));
        continue;
      case Tag.Tags:
        readStringEntry(r, tags, end);
        continue;
      case Tag.FieldsDouble: {
        const e = entryEnd(r, end);
        let k = '';
        let v = 0;
        while (r.pos < e) {
          const et = r.varint32(e);
          if (et === EntryTag.Key) k = r.string(e);
          else if (et === EntryTag.Double) v = r.double(e);
          else r.skip(et, e);
        }
        setEntry(fieldsDouble, k, v);
        continue;
      }
      case Tag.FieldsInt: {
        const e = entryEnd(r, end);
        let k = '';
        let v = 0n;
        while (r.pos < e) {
          const et = r.varint32(e);
          if (et === EntryTag.Key) k = r.string(e);
          else if (et === EntryTag.Varint) {
            r.int64(e);
            v = r.bigint();
          } else r.skip(et, e);
        }
        setEntry(fieldsInt, k, v);
        continue;
      }
      case Tag.FieldsString:
        readStringEntry(r, fieldsString, end);
        continue;
      case Tag.ByName:
        byName = r.bool(end);
        continue;
      case Tag.FieldsBool: {
        const e = entryEnd(r, end);
        let k = '';
        let v = false;
        while (r.pos < e) {
          const et = r.varint32(e);
          if (et === EntryTag.Key) k = r.string(e);
          else if (et === EntryTag.Varint) v = r.bool(e);
          else r.skip(et, e);
        }
        setEntry(fieldsBool, k, v);
        continue;
      }
      default:
        r.skip(t, end);
    }
  }
  return { time, name, database, retentionPolicy, group, dimensions, byName, tags, fieldsDouble, fieldsInt, fieldsString, fieldsBool };
}
