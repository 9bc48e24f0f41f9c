import { parseLine, type ParsedLine } from '../../line-protocol.js';

/**
 * What a check script prints, one item a line (sans-IO: text in, items out):
 *
 * - `name value type style` — four words: a metric `name`, a number, the kind of check it belongs to (`type`, e.g.
 *   `OS`, `DB`: a tag), and `style`: `stack` writes the value itself, `rate` the per-second rate of a counter
 *   (see rate.ts).
 * - a line of InfluxDB line protocol, written as it is; its timestamp, if it has one, in nanoseconds.
 * - a blank line or one starting with `#`: ignored.
 *
 * Anything else is a bad line, with the reason.
 */
export type ExecLine =
  | { kind: 'metric'; name: string; value: number; type: string; style: 'stack' | 'rate' }
  | { kind: 'line_protocol'; line: string; parsed: ParsedLine }
  | { kind: 'ignored' }
  | { kind: 'bad'; reason: string };

/** Line-protocol timestamps below this (in ns: 1970-01-12) are seconds or milliseconds, which would be misplaced. */
const MIN_NS_TIMESTAMP = 1_000_000_000_000_000n;

const STYLES = new Set(['stack', 'rate']);

export function parseExecLine(text: string): ExecLine {
  const line = text.trim();
  if (line === '' || line.startsWith('#')) return { kind: 'ignored' };
  const words = line.split(/\s+/);
  if (words.length === 4 && STYLES.has(words[3])) {
    const [name, valueText, type, style] = words;
    const value = Number(valueText);
    if (valueText === '' || !Number.isFinite(value)) return { kind: 'bad', reason: `value ${JSON.stringify(valueText)} is not a finite number` };
    return { kind: 'metric', name, value, type, style: style as 'stack' | 'rate' };
  }
  let parsed: ParsedLine;
  try {
    parsed = parseLine(line);
  } catch (err) {
    const why = err instanceof SyntaxError ? 'the timestamp is not an integer' : (err as Error).message.replace(/ in: .*$/, '');
    return { kind: 'bad', reason: `neither "name value type style" (style stack or rate) nor line protocol (${why})` };
  }
  if (parsed.time !== null && parsed.time < MIN_NS_TIMESTAMP) {
    return { kind: 'bad', reason: `line-protocol timestamp ${parsed.time} is not in nanoseconds` };
  }
  return { kind: 'line_protocol', line, parsed };
}

/** Splits a script's stdout into lines (`\n` or `\r\n`); a last line without its newline counts too. */
export function outputLines(stdout: string): string[] {
  const lines = stdout.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
