import { describe, expect, it } from 'vitest';
import { GroupStates } from './groups.js';

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
});
