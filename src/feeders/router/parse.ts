import type { FeedPoint, FieldValue } from '../point.js';

/**
 * `show adsl status` text → the numeric line-quality fields and the connection state. The output is a list of
 * `Label : value` lines; quality lines carry two columns, downstream then upstream, each a number with an optional
 * unit (`16384 kbps   1023 kbps`). Field names are the label in snake case plus `_down`/`_up`; a single-value
 * line gives the bare name. `Status` (or `State`) is the connection state (SHOWTIME, TRAINING, …) and becomes the
 * string field `value` that edge_detect.tick reduces to changes.
 *
 * Output with no recognisable state is garbled: the parse fails with the reason and the poll is counted, never fatal.
 * A single unreadable line in otherwise good output is skipped and reported.
 */
export type ParseResult = { ok: true; state: string; fields: Record<string, FieldValue>; skipped: string[] } | { ok: false; reason: string };

const LINE = /^\s*([A-Za-z][A-Za-z0-9 ()/_.-]*?)\s*:\s*(.*?)\s*$/;
const NUMBER_WITH_UNIT = /^(-?\d+(?:\.\d+)?)\s*([A-Za-z%/]+)?$/;
const STATE = /^[A-Z][A-Z0-9_]*( [A-Z0-9_]+)*$/;
const NOT_AVAILABLE = new Set(['N/A', 'n/a', '-', '--']);

export function snakeCase(label: string): string {
  return label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** Splits `16384 kbps      1023 kbps` / `6.2 dB 12.1 dB` / `127   3` into the numbers; undefined if any part is not one. */
export function columnValues(text: string): Array<number | null> | undefined {
  const tokens = text.split(/\s+/).filter((t) => t !== '');
  const values: Array<number | null> = [];
  for (let i = 0; i < tokens.length; i++) {
    if (NOT_AVAILABLE.has(tokens[i])) {
      values.push(null);
      continue;
    }
    const joined = NUMBER_WITH_UNIT.exec(tokens[i]);
    if (!joined) return undefined;
    values.push(Number(joined[1]));
    // A unit written apart (`16384 kbps`) belongs to the number before it.
    if (joined[2] === undefined && i + 1 < tokens.length && /^[A-Za-z%][A-Za-z%/]*$/.test(tokens[i + 1]) && !NOT_AVAILABLE.has(tokens[i + 1])) i++;
  }
  return values.length > 0 ? values : undefined;
}

/** `2 days, 03:14:07` or `03:14:07` → seconds. */
export function uptimeSeconds(text: string): number | undefined {
  const m = /^(?:(\d+)\s+days?,?\s*)?(\d+):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

export function parseAdslStatus(output: string): ParseResult {
  let state: string | undefined;
  const fields: Record<string, FieldValue> = {};
  const skipped: string[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const m = LINE.exec(raw);
    if (!m) continue;
    const name = snakeCase(m[1]);
    const value = m[2];
    if (name === 'status' || name === 'state') {
      if (STATE.test(value)) state = value;
      else skipped.push(raw.trim());
      continue;
    }
    if (name === 'mode') {
      if (value !== '') fields.mode = value;
      continue;
    }
    if (name === 'uptime') {
      const s = uptimeSeconds(value);
      if (s === undefined) skipped.push(raw.trim());
      else fields.uptime_s = s;
      continue;
    }
    const values = columnValues(value);
    if (!values || values.length > 2) {
      if (value !== '') skipped.push(raw.trim());
      continue;
    }
    if (values.length === 1) {
      if (values[0] !== null) fields[name] = values[0];
    } else {
      if (values[0] !== null) fields[`${name}_down`] = values[0];
      if (values[1] !== null) fields[`${name}_up`] = values[1];
    }
  }
  if (state === undefined) return { ok: false, reason: output.trim() === '' ? 'empty reply' : 'no connection state in the reply' };
  return { ok: true, state, fields, skipped };
}

/** The point of one poll: measurement `adsl_connection`, tag host, string field `value` = state. */
export function adslPoint(host: string, parsed: Extract<ParseResult, { ok: true }>, time: bigint): FeedPoint {
  return { measurement: 'adsl_connection', tags: { host }, fields: { ...parsed.fields, value: parsed.state }, time };
}
