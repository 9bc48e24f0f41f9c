import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replaceSection, writeKeepingSections } from './doc-section.js';

const file = () => join(mkdtempSync(join(tmpdir(), 'doc-section-')), 'benchmarks.md');

describe('benchmark doc sections', () => {
  it('appends a section once, then replaces only its text', () => {
    const f = file();
    writeFileSync(f, '# Benchmarks\n\nagent tables\n');
    replaceSection(f, 'feeders', 'run 1');
    expect(readFileSync(f, 'utf8')).toBe('# Benchmarks\n\nagent tables\n\n## Feeders\n\n<!-- feeders:begin -->\nrun 1\n<!-- feeders:end -->\n');
    replaceSection(f, 'feeders', 'run 2 $& $1');
    expect(readFileSync(f, 'utf8')).toBe('# Benchmarks\n\nagent tables\n\n## Feeders\n\n<!-- feeders:begin -->\nrun 2 $& $1\n<!-- feeders:end -->\n');
  });

  it('lets the agent benchmark rewrite its part and keeps the sections, headings included', () => {
    const f = file();
    writeFileSync(f, '# Benchmarks\n\nold agent tables\n');
    replaceSection(f, 'feeders', 'feeder tables');
    writeKeepingSections(f, '# Benchmarks\n\nnew agent tables\n');
    expect(readFileSync(f, 'utf8')).toBe('# Benchmarks\n\nnew agent tables\n\n## Feeders\n\n<!-- feeders:begin -->\nfeeder tables\n<!-- feeders:end -->\n');
    writeKeepingSections(join(f, '..', 'new.md'), 'only text\n');
    expect(readFileSync(join(f, '..', 'new.md'), 'utf8')).toBe('only text\n');
  });
});
