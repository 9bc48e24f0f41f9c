import { describe, expect, it } from 'vitest';
import { GroupStates } from './groups.js';
import type { GroupKey } from './wire/group-key.js';

/**
 * The key of a group whose UTF-8 bytes are buf[start, end), its string read from `named` (as a view reads its own);
 * a key of an even length has a DataView of buf, as a view of a long read has, so that both ways of reading are used.
 */
const bytesKey = (buf: Uint8Array, start: number, end: number, named: { readonly group: string }): GroupKey => ({
  buf,
  groupAt: start,
  groupEnd: end,
  words: (end - start) % 2 === 0 ? new DataView(buf.buffer, buf.byteOffset, buf.byteLength) : null,
  get group() {
    return named.group;
  },
});

describe('GroupStates', () => {
  it('keeps at most maxGroups, evicting a group not seen since it reached the front', () => {
    let made = 0;
    const g = new GroupStates(() => ({ n: made++ }), 3);
    g.get('a');
    g.get('b');
    g.get('c');
    g.get('a'); // a seen again: survives the next eviction
    g.get('d'); // evicts b
    expect(g.size).toBe(3);
    expect(g.evicted).toBe(1);
    expect([...g.entries()].map(([k]) => k).sort()).toEqual(['a', 'c', 'd']);
    expect(g.get('a')).toEqual({ n: 0 }); // the same state object, not a fresh one
  });

  it('never evicts the group it is creating, even when every other group was seen', () => {
    const g = new GroupStates(() => ({}), 1);
    g.get('a');
    g.get('a');
    const b = g.get('b');
    expect([...g.entries()]).toEqual([['b', b]]);
  });

  it('stays bounded under many distinct groups', () => {
    const g = new GroupStates(() => 0, 100);
    for (let i = 0; i < 10_000; i++) g.get(`g${i % 1000}`);
    expect(g.size).toBe(100);
  });

  it('finds the same state by bytes as by name, across table growth, and forgets evicted groups', () => {
    let made = 0;
    const g = new GroupStates(() => ({ n: made++ }), 500);
    const utf8 = (s: string) => Buffer.from(`..${s}..`, 'utf8'); // the bytes sit inside a larger buffer
    const byBytes = (name: string, lookups = { count: 0 }) => {
      const b = utf8(name);
      return g.get(
        bytesKey(b, 2, b.length - 2, {
          get group() {
            lookups.count++;
            return name;
          },
        }),
      );
    };
    // ASCII groups and others: compared as UTF-8 bytes either way.
    const names = Array.from({ length: 400 }, (_, i) => (i % 2 ? `host=h${i},région=ü` : `host=h${i}`));
    for (const name of names) expect(byBytes(name)).toBe(g.get(name));
    // Found again by bytes alone (no string asked for) for most groups; every one the same state.
    const lookups = { count: 0 };
    for (const name of names) expect(byBytes(name, lookups)).toBe(g.get(name));
    expect(lookups.count).toBe(0); // a known group is found by its bytes alone
    // Past the bound, an evicted group comes back fresh, by bytes too.
    for (let i = 0; i < 600; i++) g.get(`other${i}`);
    const before = made;
    expect(byBytes(names[0])).toEqual({ n: before });
    expect(g.size).toBe(500);
  });

  it('after replaceAll, looks groups up by bytes in the restored states only', () => {
    const g = new GroupStates(() => 'fresh', 10);
    const b = Buffer.from('host=a');
    const named = { group: 'host=a' };
    expect(g.get(bytesKey(b, 0, b.length, named))).toBe('fresh');
    g.replaceAll([['host=a', 'restored']]);
    expect(g.get(bytesKey(b, 0, b.length, named))).toBe('restored');
    g.replaceAll([]);
    expect(g.get(bytesKey(b, 0, b.length, named))).toBe('fresh');
  });

  it("under random traffic past the bound, never loses a group nor hands out another group's state", () => {
    // Small bound, many names: the table evicts (backward-shift deletion), grows, and compacts its byte arena
    // over and over; a lookup by name and one by bytes must agree throughout.
    let created = 0;
    const g = new GroupStates((): { name: string | null; hits: number } => (created++, { name: null, hits: 0 }), 37);
    let seed = 1;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let op = 0; op < 20_000; op++) {
      const name = `host=h${Math.floor(random() * random() * 300)}${op % 7 === 0 ? ',zone=ü' : ''}`;
      const bytes = Buffer.from(`#${name}#`, 'utf8');
      const state = random() < 0.5 ? g.get(name) : g.get(bytesKey(bytes, 1, bytes.length - 1, { group: name }));
      state.name ??= name;
      expect(state.name).toBe(name);
      state.hits++;
      expect(g.size).toBeLessThanOrEqual(37);
    }
    const entries = [...g.entries()];
    expect(entries.length).toBe(g.size);
    expect(created).toBe(g.size + g.evicted);
    for (const [name, state] of entries) {
      expect(state.name).toBe(name);
      const bytes = Buffer.from(name, 'utf8');
      expect(g.get(bytesKey(bytes, 0, bytes.length, { group: name }))).toBe(state);
      expect(g.get(name)).toBe(state);
    }
    expect(created).toBe(g.size + g.evicted); // the lookups above found every group: nothing new was made
  });

  it('reads a new group as a string only when its bytes are not ASCII, and stores nothing when that read fails', () => {
    const g = new GroupStates(() => ({}), 10);
    let reads = 0;
    const ascii = Buffer.from('host=a,region=eu');
    g.get(
      bytesKey(ascii, 0, ascii.length, {
        get group(): string {
          reads++;
          return 'host=a,region=eu';
        },
      }),
    );
    expect(reads).toBe(0);
    const invalid = Buffer.from([0x68, 0x3d, 0xc3]); // 'h=' and half a character
    expect(() =>
      g.get(
        bytesKey(invalid, 0, invalid.length, {
          get group(): string {
            throw new Error('not UTF-8');
          },
        }),
      ),
    ).toThrow('not UTF-8');
    expect(g.size).toBe(1);
    expect([...g.entries()].map(([name]) => name)).toEqual(['host=a,region=eu']); // made from the bytes when asked
  });

  it('tells apart groups whose bytes differ only in length or trailing zero bytes, the empty group included', () => {
    const g = new GroupStates((): { name: string | null } => ({ name: null }), 100);
    const names = ['', '\0', '\0\0', 'a', 'a\0', 'ab', 'ab\0', 'abc', 'abcd', 'abcd\0', 'abcde', 'abcdefgh', 'abcdefgh\0'];
    for (const round of [0, 1]) {
      for (const name of names) {
        const bytes = Buffer.from(`<${name}>`, 'utf8');
        const state = round === 0 ? g.get(bytesKey(bytes, 1, bytes.length - 1, { group: name })) : g.get(name);
        state.name ??= name;
        expect(state.name).toBe(name);
      }
    }
    expect(g.size).toBe(names.length);
    expect([...g.entries()].map(([name]) => name)).toEqual(names);
  });

  it('tells apart a group from the one found last when their bytes differ only in order within a word', () => {
    const g = new GroupStates((): { name: string | null } => ({ name: null }), 100);
    const names = ['abcd', 'dcba', 'badc', 'abcdefgh', 'dcbahgfe', 'abcdefgh'];
    for (const name of names) {
      const bytes = Buffer.from(`<${name}>`, 'utf8');
      const state = g.get(bytesKey(bytes, 1, bytes.length - 1, { group: name })); // even lengths: read a word at a time
      state.name ??= name;
      expect(state.name).toBe(name);
    }
    expect(g.size).toBe(5);
  });
});
