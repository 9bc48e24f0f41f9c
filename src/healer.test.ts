import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TaskScript } from './kapacitor/client.js';
import { Healer, tasksToHeal, type HealTarget } from './healer.js';
import { servedFunctions } from './udf/registry.js';

/** Kapacitor 1.8.3's GET /kapacitor/v1/tasks right after the sidecar was killed (test/integration/heal-upgrade.test.ts). */
const recorded = (
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../test/fixtures/kapacitor/tasks-after-kill.json'), 'utf8')) as { tasks: TaskScript[] }
).tasks;
const ours = new Set(servedFunctions.map((f) => f.name));
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as never;

describe('tasksToHeal (a recorded Kapacitor task list)', () => {
  it('Kapacitor still says every task is executing: judged by our own connections, not by that', () => {
    expect(recorded.filter((t) => t.status === 'enabled').every((t) => t.executing)).toBe(true);
    // No live connection: every enabled task that calls one of our functions; not the disabled one, not the task that
    // names @edgeDetect() only in a comment and @rate() in a string.
    expect(tasksToHeal(recorded, ours, new Set())).toEqual([
      'avg_0',
      'avg_1',
      'avg_2',
      'bedges_0',
      'bedges_1',
      'bedges_2',
      'edges_0',
      'edges_1',
      'edges_2',
      'rate_0',
      'rate_1',
      'rate_2',
    ]);
    expect(tasksToHeal(recorded, ours, new Set(['avg_0', 'edges_1', 'plain']))).not.toContain('avg_0');
    expect(tasksToHeal(recorded, ours, new Set(['avg_0', 'edges_1']))).toHaveLength(10);
    // A sidecar that serves only rate and edgeDetectBatch heals only the tasks that use them.
    expect(tasksToHeal(recorded, new Set(['rate', 'edgeDetectBatch']), new Set())).toEqual(['bedges_0', 'bedges_1', 'bedges_2', 'rate_0', 'rate_1', 'rate_2']);
  });
});

/** Kapacitor as recorded; a restart "connects" the task unless it is one that fails. */
function target(fails: Set<string>) {
  const live = new Set<string>();
  const restarts: string[] = [];
  const k: HealTarget = {
    listTaskScripts: async () => recorded,
    restartTask: async (id) => {
      restarts.push(id);
      if (!fails.has(id)) live.add(id);
    },
    taskError: async (id) => (fails.has(id) ? `${id}: option size: must be > 0` : ''),
  };
  return { k, live, restarts };
}

describe('Healer', () => {
  it('restarts a missing task only when it was missing at the previous look too, one at a time, and counts it', async () => {
    const { k, live, restarts } = target(new Set());
    live.add('avg_1');
    const healed: string[] = [];
    const h = new Healer({
      kapacitor: k,
      functions: [...ours],
      liveTasks: () => live,
      log: silent,
      intervalMs: 10_000,
      confirmMs: 1000,
      settleMs: 50,
      onHealed: (t) => healed.push(t),
    });
    expect(await h.tick(0)).toEqual([]); // first look: a task that is starting right now is not restarted
    expect(restarts).toEqual([]);
    expect(await h.tick(500)).toEqual([]); // too soon to be sure
    expect(await h.tick(1000)).toHaveLength(11);
    expect(restarts).toEqual(['avg_0', 'avg_2', 'bedges_0', 'bedges_1', 'bedges_2', 'edges_0', 'edges_1', 'edges_2', 'rate_0', 'rate_1', 'rate_2']);
    expect(healed).toEqual(restarts);
    expect(await h.tick(20_000)).toEqual([]); // all live now: nothing to do
  });

  it('a task that does not come back is reported and retried with a growing delay, never in a hot loop', async () => {
    const { k, restarts } = target(new Set(['rate_1']));
    const failed: string[] = [];
    const h = new Healer({
      kapacitor: k,
      functions: ['rate'],
      liveTasks: () => new Set(['rate_0', 'rate_2']),
      log: silent,
      intervalMs: 1000,
      confirmMs: 1000,
      settleMs: 20,
      onFailed: (t, e) => failed.push(`${t}: ${e}`),
    });
    await h.tick(0);
    await h.tick(1000);
    expect(restarts).toEqual(['rate_1']);
    expect(failed).toEqual(['rate_1: rate_1: option size: must be > 0']);
    await h.tick(2000); // within the 2 s backoff
    expect(restarts).toHaveLength(1);
    await h.tick(3000);
    expect(restarts).toHaveLength(2);
    await h.tick(5000); // now 4 s
    expect(restarts).toHaveLength(2);
    await h.tick(7000);
    expect(restarts).toHaveLength(3);
  });

  it('removes the stored states of tasks Kapacitor no longer has', async () => {
    const { k } = target(new Set());
    const forgotten: string[] = [];
    const h = new Healer({
      kapacitor: k,
      functions: [...ours],
      liveTasks: () => new Set(),
      log: silent,
      intervalMs: 1000,
      settleMs: 10,
      storedTasks: () => ['edges_0', 'deleted_task', 'off_edges'],
      forgetTask: async (t) => forgotten.push(t),
    });
    await h.tick(0);
    expect(forgotten).toEqual(['deleted_task']);
  });
});
