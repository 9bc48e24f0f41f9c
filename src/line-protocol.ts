/**
 * InfluxDB line protocol ⇄ UDF points, for `replay` and the demo. Times stay bigint nanoseconds; int fields (`12i`)
 * stay bigint; every value type survives the round trip (`u` unsigned ints are read as int). Escaping is the InfluxDB
 * client's, the same the feeders write with; only the int formatting is ours, because the client's `intField` goes
 * through a JS number and would round int64 values past 2^53.
 */
import { escape } from '@influxdata/influxdb-client';
import type { Point } from './agent/messages.js';

export interface ParsedLine {
  measurement: string;
  tags: Record<string, string>;
  fieldsDouble: Record<string, number>;
  fieldsInt: Record<string, bigint>;
  fieldsString: Record<string, string>;
  fieldsBool: Record<string, boolean>;
  time: bigint | null;
}

/** Splits at unescaped `sep` characters outside double quotes. */
function splitOutside(s: string, sep: string, limit = Infinity): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted && parts.length < limit - 1) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  return parts;
}

// As InfluxDB reads names, tags and field keys: only `\,`, `\=` and `\ ` are escapes; any other backslash is literal.
const unescape = (s: string): string => s.replace(/\\([,= ])/g, '$1');

export function parseLine(line: string): ParsedLine {
  const [head, fieldsText, timeText] = splitOutside(line.trim(), ' ', 3);
  if (!head || !fieldsText) throw new Error(`not a line-protocol point: ${line}`);
  const [measurement, ...tagParts] = splitOutside(head, ',');
  const tags: Record<string, string> = {};
  for (const t of tagParts) {
    const [k, v] = splitOutside(t, '=', 2);
    if (v === undefined) throw new Error(`bad tag '${t}' in: ${line}`);
    tags[unescape(k)] = unescape(v);
  }
  const out: ParsedLine = {
    measurement: unescape(measurement),
    tags,
    fieldsDouble: {},
    fieldsInt: {},
    fieldsString: {},
    fieldsBool: {},
    time: timeText === undefined || timeText.trim() === '' ? null : BigInt(timeText.trim()),
  };
  for (const f of splitOutside(fieldsText, ',')) {
    const [rawKey, v] = splitOutside(f, '=', 2);
    if (v === undefined || v === '') throw new Error(`bad field '${f}' in: ${line}`);
    const k = unescape(rawKey);
    if (v.startsWith('"')) {
      if (!v.endsWith('"') || v.length < 2) throw new Error(`unterminated string field '${f}' in: ${line}`);
      out.fieldsString[k] = v.slice(1, -1).replace(/\\(["\\])/g, '$1');
    } else if (/^-?\d+[iu]$/.test(v)) {
      out.fieldsInt[k] = BigInt(v.slice(0, -1));
    } else if (/^(t|T|true|True|TRUE)$/.test(v)) {
      out.fieldsBool[k] = true;
    } else if (/^(f|F|false|False|FALSE)$/.test(v)) {
      out.fieldsBool[k] = false;
    } else {
      const n = Number(v);
      if (Number.isNaN(n)) throw new Error(`bad field value '${f}' in: ${line}`);
      out.fieldsDouble[k] = n;
    }
  }
  return out;
}

function formatFloat(v: number): string {
  // Line protocol has no literal for NaN/Inf; InfluxDB rejects them, so does this.
  if (!Number.isFinite(v)) throw new Error(`cannot write non-finite float ${v} as line protocol`);
  return String(v);
}

/** A point as one line of line protocol; tags sorted, as InfluxDB stores them. */
export function formatPoint(p: Pick<Point, 'name' | 'tags' | 'fieldsDouble' | 'fieldsInt' | 'fieldsString' | 'fieldsBool' | 'time'>): string {
  let line = escape.measurement(p.name);
  for (const k of Object.keys(p.tags).sort()) {
    if (p.tags[k] !== '') line += `,${escape.tag(k)}=${escape.tag(p.tags[k])}`;
  }
  const fields: string[] = [];
  for (const [k, v] of Object.entries(p.fieldsDouble)) fields.push(`${escape.tag(k)}=${formatFloat(v)}`);
  for (const [k, v] of Object.entries(p.fieldsInt)) fields.push(`${escape.tag(k)}=${v}i`);
  for (const [k, v] of Object.entries(p.fieldsString)) fields.push(`${escape.tag(k)}=${escape.quoted(v)}`);
  for (const [k, v] of Object.entries(p.fieldsBool)) fields.push(`${escape.tag(k)}=${v}`);
  return `${line} ${fields.join(',')} ${p.time}`;
}
