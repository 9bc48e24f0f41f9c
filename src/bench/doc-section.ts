import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * docs/benchmarks.md is written by more than one benchmark: each owns a section between `<!-- NAME:begin -->` and
 * `<!-- NAME:end -->` and rewrites only that one; the agent benchmark's text is what lies outside every section.
 */
const SECTION = /<!-- ([\w-]+):begin -->[\s\S]*?<!-- \1:end -->\n?/g;

const marked = (name: string, body: string) => `<!-- ${name}:begin -->\n${body.trimEnd()}\n<!-- ${name}:end -->\n`;

/** Puts `body` in section `name` of `file`, replacing its old text, or appends it (under `heading`) when absent. */
export function replaceSection(file: string, name: string, body: string, heading = `## ${name[0].toUpperCase()}${name.slice(1)}`): void {
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const begin = `<!-- ${name}:begin -->`;
  if (old.includes(begin)) {
    writeFileSync(file, old.replace(new RegExp(`<!-- ${name}:begin -->[\\s\\S]*?<!-- ${name}:end -->\\n?`), () => marked(name, body)));
  } else {
    writeFileSync(file, `${old.trimEnd()}\n\n${heading}\n\n${marked(name, body)}`);
  }
}

/** Writes `text` as the file's unsectioned part, keeping every section the old file had after it. */
export function writeKeepingSections(file: string, text: string): void {
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const kept: string[] = [];
  for (const m of old.matchAll(SECTION)) {
    const start = m.index ?? 0;
    // The section's heading is the line just before its begin marker.
    const heading = /(^|\n)(#+ [^\n]*)\n\n$/.exec(old.slice(Math.max(0, start - 200), start))?.[2];
    kept.push(`${heading ? `${heading}\n\n` : ''}${m[0]}`);
  }
  writeFileSync(file, kept.length === 0 ? text : `${text.trimEnd()}\n\n${kept.join('\n')}`);
}
