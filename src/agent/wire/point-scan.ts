/**
 * The check a point Request gets on arrival, which makes it a view (FramePoint):
 *
 *   Request  := PointFrame0 PointFrame1 | length varint32 | Point     (the length reaching exactly the frame's end)
 *   Point    := 1:time int64 | 2:name | 3:database | 4:retentionPolicy | 5:group | 6:dimensions (strings, UTF-8)
 *             | 7:tags Entry<string> | 8:fieldsDouble Entry<double> | 9:fieldsInt Entry<int64>
 *             | 10:fieldsString Entry<string> | 11:byName bool | 12:fieldsBool Entry<bool> | unknown fields (skipped)
 *   Entry<V> := 1:key string | 2:value V | unknown fields (skipped)
 *
 * Every tag, length and varint is checked, and every string is valid UTF-8 (a point passed through unread must be one
 * Kapacitor can decode); only the time's halves and byName are read, and where the group, the envelope (fields 2–7)
 * and each field entry lie is noted. Anything else — a frame that is not exactly one Point, a field key that is not
 * ASCII, a corrupt body — returns null or throws (the reader's GIVE_UP), and the frame is left to protobufjs.
 *
 * This runs for every point, so it keeps its position in a local and reads one-byte tags and lengths inline; the
 * reader takes the rest, from the position it is given. Checking strings is most of its work: the envelope's, one run
 * as Kapacitor writes it, are checked together after the loop, a word at a time when the read is long.
 */
import { isUtf8 } from 'node:buffer';
import type { EntryTable } from './entries.js';
import { MAX_ENTRIES } from './entries.js';
import { FramePoint, type ViewReader } from './frame-point.js';
import type { Reader } from './reader.js';
import { EntryTag, Tag } from './tags.js';

/**
 * A view of the Request buf[start, end) when it is exactly one Point (see above); the reader is at buf, and `words` is
 * a DataView of buf, or null (see isAscii).
 */
export function scanPoint(
  r: Reader,
  table: EntryTable,
  views: ViewReader,
  buf: Uint8Array,
  words: DataView | null,
  start: number,
  end: number,
): FramePoint | null {
  if (end - start < 3 || buf[start] !== Tag.PointFrame0 || buf[start + 1] !== Tag.PointFrame1) return null;
  let p = start + 2;
  let n = buf[p++];
  if (n >= 0x80) {
    r.pos = p - 1;
    n = r.varint32(end);
    p = r.pos;
  }
  if (p + n !== end) return null;
  const bodyAt = p;
  r.strings.index = 0;
  table.of = null;
  let timeLo = 0;
  let timeHi = 0;
  let timeAt = -1;
  let timeEnd = -1;
  let groupAt = 0;
  let groupEnd = 0;
  let byName = false;
  let envAt = -1;
  let envEnd = -1;
  let envSplit = false;
  let fieldsAt = end;
  let entries = 0;
  while (p < end) {
    const at = p;
    let t = buf[p++];
    if (t >= 0x80) {
      r.pos = at;
      t = r.varint32(end);
      p = r.pos;
    }
    if ((t & 7) !== 2 || t > Tag.FieldsBool) {
      r.pos = p;
      if (t === Tag.Time) {
        r.int64(end);
        timeLo = r.lo;
        timeHi = r.hi;
        timeAt = at;
        timeEnd = r.pos;
      } else if (t === Tag.ByName) byName = r.bool(end);
      else r.skip(t, end);
      p = r.pos;
      continue;
    }
    // Length-delimited, fields 0 to 12.
    if (p >= end) return null;
    let len = buf[p++];
    if (len >= 0x80) {
      r.pos = p - 1;
      len = r.varint32(end);
      p = r.pos;
    }
    const stop = p + len;
    if (stop > end) return null;
    // Bytes passed through unread must be what Kapacitor can decode: strings valid UTF-8. The envelope's are checked
    // after the loop, as one run (see envelopeUtf8); ASCII, the usual case, is seen by or-ing the bytes; anything else
    // is checked exactly, or left to the codec, which refuses invalid UTF-8.
    if (t === Tag.FieldsDouble || t === Tag.FieldsInt || t === Tag.FieldsBool) {
      if (buf[p] !== EntryTag.Key || buf[p + 1] >= 0x80) return null;
      let bits = 0;
      for (let i = p + 2, keyEnd = p + 2 + buf[p + 1]; i < keyEnd; i++) bits |= buf[i];
      if (bits >= 0x80) return null;
    } else if (t < Tag.Name || t > Tag.Tags) {
      let bits = 0;
      for (let i = p; i < stop; i++) bits |= buf[i];
      if (bits >= 0x80 && !(t === Tag.FieldsString ? entryStringsUtf8(r, buf, p, stop) : isUtf8(buf.subarray(p, stop)))) return null;
    }
    switch (t) {
      case Tag.Group:
        groupAt = p;
        groupEnd = stop;
        break;
      case Tag.Name:
      case Tag.Database:
      case Tag.RetentionPolicy:
      case Tag.Dimensions:
        break;
      case Tag.Tags: {
        // A tag as every encoder writes it (key, then value, short lengths) is checked here; any other, by entryAt.
        const keyLen = buf[p + 1];
        const valueLen = buf[p + 3 + keyLen];
        const usual =
          buf[p] === EntryTag.Key && keyLen < 0x80 && buf[p + 2 + keyLen] === EntryTag.String && valueLen < 0x80 && p + 4 + keyLen + valueLen === stop;
        if (!usual && !entryAt(r, table, buf, p, stop, t, -1)) return null;
        break;
      }
      case Tag.FieldsDouble:
      case Tag.FieldsInt:
      case Tag.FieldsString:
      case Tag.FieldsBool: {
        if (fieldsAt === end) fieldsAt = at;
        const k = entries < MAX_ENTRIES ? entries : -1;
        // A double as every encoder writes it (key, then value; the key's tag and length were checked above) is noted
        // here; any other entry by entryAt.
        const keyLen = buf[p + 1];
        if (t === Tag.FieldsDouble && buf[p + 2 + keyLen] === EntryTag.Double && p + 11 + keyLen === stop) table.set(k, t, p + 2, keyLen, p + 3 + keyLen);
        else if (!entryAt(r, table, buf, p, stop, t, k)) return null;
        entries++;
        p = stop;
        continue;
      }
      case Tag.FieldZero:
        return null;
      default:
        p = stop; // field 1 or 11 with the wrong wire type: skipped, as protobufjs does
        continue;
    }
    p = stop;
    // Fields 2–7, the envelope: note whether they form one run.
    if (envAt < 0) envAt = at;
    else if (envEnd !== at) envSplit = true;
    envEnd = p;
  }
  // No envelope: an empty run. Else its strings, as one run when they are.
  if (envAt < 0) envAt = envEnd = bodyAt;
  else if ((envSplit || !isAscii(words, buf, envAt, envEnd)) && !envelopeUtf8(r, buf, bodyAt, end)) return null;
  const point = new FramePoint(
    views,
    buf,
    start,
    end,
    bodyAt,
    timeLo,
    timeHi,
    groupAt,
    groupEnd,
    byName,
    envSplit ? -1 : envAt,
    envEnd,
    fieldsAt,
    // The time field right before the envelope (as Kapacitor writes a point: fields in order) is copied with it.
    !envSplit && timeEnd === envAt ? timeAt : -1,
  );
  table.count = entries;
  if (entries <= MAX_ENTRIES) table.of = point;
  return point;
}

/**
 * Whether buf[at, end) is ASCII. Loops of one byte a turn spend most of their time on checks, so: four bytes a turn
 * through `words` (a DataView of buf, or null), or else eight single bytes a turn.
 */
function isAscii(words: DataView | null, buf: Uint8Array, at: number, end: number): boolean {
  let bits = 0;
  let i = at;
  if (words !== null && end - i >= 4) {
    for (const last = end - 4; i < last; i += 4) bits |= words.getInt32(i, true);
    bits |= words.getInt32(end - 4, true); // overlapping the word before: or-ing a byte twice does no harm
  } else {
    for (const last = end - 8; i <= last; i += 8) bits |= buf[i] | buf[i + 1] | buf[i + 2] | buf[i + 3] | buf[i + 4] | buf[i + 5] | buf[i + 6] | buf[i + 7];
    for (; i < end; i++) bits |= buf[i];
  }
  return (bits & 0x80808080) === 0;
}

/**
 * Whether the strings of the envelope (fields 2–7) of the body buf[at, end), which the scan found well formed, are
 * UTF-8. Read field by field: for an envelope that is not one run, or not ASCII throughout. (Its tags are one byte
 * below 0x80 and its lengths too when under 128, so a run that is ASCII throughout holds only ASCII strings.)
 */
function envelopeUtf8(r: Reader, buf: Uint8Array, at: number, end: number): boolean {
  r.pos = at;
  while (r.pos < end) {
    const t = r.varint32(end);
    if ((t & 7) !== 2 || t < Tag.Name || t > Tag.Tags) {
      r.skip(t, end);
      continue;
    }
    const len = r.varint32(end);
    const p = r.pos;
    const stop = p + len;
    if (!(t === Tag.Tags ? entryStringsUtf8(r, buf, p, stop) : isUtf8(buf.subarray(p, stop)))) return false;
    r.pos = stop;
  }
  return true;
}

/** Whether every length-delimited part (key, string value) of the map entry buf[p, e) is UTF-8; false if corrupt. */
function entryStringsUtf8(r: Reader, buf: Uint8Array, p: number, e: number): boolean {
  while (p < e) {
    const t = buf[p++];
    if (t >= 0x80) return false; // no field of an entry has a tag this long: corrupt, or left to the codec
    r.pos = p;
    if ((t & 7) !== 2) {
      r.skip(t, e);
      p = r.pos;
      continue;
    }
    const len = r.varint32(e);
    p = r.pos;
    if (p + len > e || !isUtf8(buf.subarray(p, p + len))) return false;
    p += len;
  }
  return true;
}

/**
 * Checks the map entry buf[p, e) of the map with tag `map` the way the whole decode reads one (key, a value of the
 * map's type, anything else skipped) and records it in the entry table at k (k < 0: not recorded). False when it is
 * corrupt.
 */
function entryAt(r: Reader, table: EntryTable, buf: Uint8Array, p: number, e: number, map: number, k: number): boolean {
  const valueTag = map === Tag.FieldsDouble ? EntryTag.Double : map === Tag.FieldsString || map === Tag.Tags ? EntryTag.String : EntryTag.Varint;
  // The shape every encoder writes — key, then value, short lengths — checked without the loop.
  const keyLen0 = buf[p + 1];
  if (buf[p] === EntryTag.Key && keyLen0 < 0x80 && buf[p + 2 + keyLen0] === valueTag) {
    const v = p + 3 + keyLen0;
    let last = -1;
    if (valueTag === EntryTag.String) {
      const n = buf[v];
      if (n < 0x80) last = v + 1 + n;
    } else if (valueTag === EntryTag.Double) last = v + 8;
    else {
      let q = v; // a varint of at most 10 bytes, as the reader's int64 reads it
      while (q < e && q - v < 9 && buf[q] >= 0x80) q++;
      if (buf[q] < (q - v === 9 ? 2 : 0x80)) last = q + 1; // a tenth byte above 1 overflows: the loop below refuses it
    }
    if (last === e) {
      table.set(k, map, p + 2, keyLen0, v);
      return true;
    }
  }
  let keyAt = p;
  let keyLen = 0;
  let valueAt = -2;
  while (p < e) {
    let t = buf[p++];
    if (t >= 0x80) {
      r.pos = p - 1;
      t = r.varint32(e);
      p = r.pos;
    }
    if (t === EntryTag.Key || t === EntryTag.String) {
      // The key, or a string value: length-delimited. (a string value in a map of another type is skipped, the same way.)
      const at = p;
      if (p >= e) return false;
      let len = buf[p++];
      if (len >= 0x80) {
        r.pos = p - 1;
        len = r.varint32(e);
        p = r.pos;
      }
      if (t === EntryTag.Key) {
        keyAt = p;
        keyLen = len;
      } else if (valueTag === EntryTag.String) valueAt = at;
      p += len;
      if (p > e) return false;
    } else if (t === valueTag) {
      valueAt = p;
      if (t === EntryTag.Double) p += 8;
      else {
        r.pos = p; // ints and bools: a varint of at most 10 bytes
        r.int64(e);
        p = r.pos;
      }
      if (p > e) return false;
    } else {
      r.pos = p;
      r.skip(t, e);
      p = r.pos;
    }
  }
  table.set(k, map, keyAt, keyLen, valueAt);
  return true;
}
