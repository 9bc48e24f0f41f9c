import type { FeedPoint } from '../point.js';
import { outputLines, parseExecLine } from './parse.js';
import type { CounterRates } from './rate.js';

/** How one run of a check ended, as the status point reports it. */
export interface RunOutcome {
  /** The exit code; for a process ended by a signal, 128 + the signal's number (as shells report it). */
  exitCode: number;
  signal?: string;
  timedOut: boolean;
  /** Stdout past maxOutputBytes was not read. */
  truncated: boolean;
  durationMs: number;
  /** Set when the program could not be started at all (not found, not executable). */
  spawnError?: string;
}

export interface RunPoints {
  points: FeedPoint[];
  bad: Array<{ line: string; reason: string }>;
  /** Rate lines that made no point yet: the first reading of a series, or a time that did not advance. */
  firstReadings: number;
}

export const STATUS_MEASUREMENT = 'exec_check';

/**
 * A run's stdout → points, at the run's start time `timeNs`: metric lines become `<name> value=<v>` tagged with host,
 * check and type (`rate` ones through `rates`), line-protocol lines are kept as they are (stamped with `timeNs`
 * when they carry no time), and one `exec_check` point says how the run ended.
 */
export function runPoints(check: string, host: string, stdout: string, outcome: RunOutcome, timeNs: bigint, rates: CounterRates): RunPoints {
  const out: RunPoints = { points: [], bad: [], firstReadings: 0 };
  let good = 0;
  for (const text of outputLines(stdout)) {
    const item = parseExecLine(text);
    if (item.kind === 'ignored') continue;
    if (item.kind === 'bad') {
      out.bad.push({ line: text.length > 200 ? `${text.slice(0, 200)}…` : text, reason: item.reason });
      continue;
    }
    good++;
    if (item.kind === 'line_protocol') {
      const time = item.parsed.time ?? timeNs;
      const raw = item.parsed.time === null ? `${item.line} ${timeNs}` : item.line;
      out.points.push({ measurement: item.parsed.measurement, tags: item.parsed.tags, fields: {}, time, raw });
      continue;
    }
    const tags = { host, check, type: item.type };
    let value: number | undefined = item.value;
    if (item.style === 'rate') {
      value = rates.rate(`${check}\u0000${item.name}\u0000${item.type}`, item.value, timeNs);
      if (value === undefined) {
        out.firstReadings++;
        continue;
      }
    }
    out.points.push({ measurement: item.name, tags, fields: { value }, time: timeNs });
  }
  const fields: FeedPoint['fields'] = {
    exit_code: outcome.exitCode,
    timed_out: outcome.timedOut,
    duration_seconds: Math.round(outcome.durationMs) / 1000,
    lines: good,
    bad_lines: out.bad.length,
  };
  if (outcome.truncated) fields.truncated = true;
  if (outcome.signal) fields.signal = outcome.signal;
  if (outcome.spawnError) fields.error = outcome.spawnError;
  out.points.push({ measurement: STATUS_MEASUREMENT, tags: { host, check }, fields, time: timeNs });
  return out;
}
