import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, dropDatabase, ensureInfluxDB, influxQuery } from '../stack.js';
import { buildOnce, spawnFeeder, uniqueName, waitFor, writeConfig, type FeederProcess } from './helpers.js';

let influxUrl: string;
const databases: string[] = [];
const running: FeederProcess[] = [];

function script(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** A pid that is gone, or a zombie nobody reaped (a container's init may not): either way it runs no more. */
function stillRunning(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

beforeAll(async () => {
  buildOnce();
  influxUrl = (await ensureInfluxDB()).url;
});

afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const db of databases) await dropDatabase(db).catch(() => undefined);
});

describe('exec feeder with real scripts and a real InfluxDB', () => {
  it('writes stack values, counter rates across a reset, line protocol as it is, and each run’s exit status; kills a hanging script', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exec-checks-'));
    const db = uniqueName('feed_exec');
    await createDatabase(db);
    databases.push(db);
    // The counter reads 1000, 1050, then 20 (reset), then counts on by 50: rates 50/dt, 20/dt, 50/dt.
    const metrics = script(
      dir,
      'metrics.sh',
      `n=$(cat "$STATE" 2>/dev/null || echo 0); echo $((n + 1)) > "$STATE"
case $n in 0) c=1000 ;; 1) c=1050 ;; *) c=$((20 + 50 * (n - 2))) ;; esac
echo "# disk and mail queue"
echo "disk.used_pct 81.5 OS stack"
echo "mail.sent $c APP rate"
echo "jobs,queue=mail depth=42i,oldest=\\"3 min\\""
echo "OK - everything fine"`,
    );
    const failing = script(dir, 'failing.sh', 'echo "backup.age_hours 30 APP stack"; echo "backup too old" >&2; exit 3');
    const pidFile = join(dir, 'sleep.pid');
    const hanging = script(dir, 'hanging.sh', `echo "hang.before 1 OS stack"\nsleep 300 &\necho $! > "${pidFile}"\nwait`);
    const config = writeConfig(`interval: 1s
timeout: 20s
host: testhost
checks:
  - name: metrics
    command: [${metrics}]
    env: { STATE: ${join(dir, 'state')} }
  - name: failing
    command: [${failing}]
    interval: 1h
  - name: hanging
    command: [${hanging}]
    interval: 1h
    timeout: 1s
  - name: shell
    shell: "echo shell.ok $((6 * 7)) OS stack"
    interval: 1h
  - name: noshell
    command: [/usr/bin/printf, "%s 7 OS stack\\n", "nosubst$(id)"]
    interval: 1h
  - name: missing
    command: [${join(dir, 'no-such-check')}]
    interval: 1h
influxdb:
  url: ${influxUrl}
  database: ${db}
  retentionPolicy: autogen
  flushInterval: 100ms
`);
    const p = spawnFeeder(['exec', '--config', config]);
    running.push(p);
    const runsOf = async (check: string) =>
      (await influxQuery(db, `SELECT exit_code, timed_out, lines, bad_lines, error FROM exec_check WHERE "check" = '${check}'`))[0]?.values ?? [];
    await waitFor(
      () => runsOf('metrics'),
      (rows) => rows.length >= 4,
      60_000,
      'four runs of the metrics check',
    );
    await waitFor(
      () => runsOf('hanging'),
      (rows) => rows.length >= 1,
      30_000,
      'the hanging check’s status',
    );
    p.child.kill('SIGTERM');
    const { code } = await p.exited;
    expect(code, p.stderr()).toBe(0);

    const [disk] = await influxQuery(db, `SELECT value, host, "check", "type" FROM "disk.used_pct" LIMIT 1`);
    expect(disk.values[0].slice(1)).toEqual([81.5, 'testhost', 'metrics', 'OS']);

    const runs = await runsOf('metrics');
    const times = runs.map((r) => r[0] as bigint);
    expect(runs.map((r) => r.slice(1))).toEqual(runs.map(() => [0, false, 3, 1, null]));
    const [rates] = await influxQuery(db, `SELECT value FROM "mail.sent"`);
    const increases = [50, 20, 50, 50, 50, 50, 50, 50, 50, 50];
    expect(rates.values.map((r) => r[0])).toEqual(times.slice(1, rates.values.length + 1));
    expect(rates.values.map((r) => r[1])).toEqual(rates.values.map((_r, i) => increases[i] / (Number(times[i + 1] - times[i]) / 1e9)));

    // Line protocol kept as it is: an integer field stays an integer, a string a string, stamped with the run's time.
    const [fieldKeys] = await influxQuery(db, 'SHOW FIELD KEYS FROM jobs');
    expect(Object.fromEntries(fieldKeys.values.map(([k, t]) => [k, t]))).toEqual({ depth: 'integer', oldest: 'string' });
    const [jobs] = await influxQuery(db, `SELECT depth, oldest FROM jobs`);
    expect(jobs.values[0]).toEqual([times[0], 42, '3 min']);

    expect((await runsOf('failing')).map((r) => r.slice(1, 4))).toEqual([[3, false, 1]]);
    const [hang] = (await runsOf('hanging')).map((r) => r.slice(1, 4));
    expect(hang).toEqual([128 + 15, true, 1]);
    expect((await influxQuery(db, `SELECT value FROM "hang.before"`))[0].values).toHaveLength(1);
    expect(stillRunning(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
    const [missing] = await runsOf('missing');
    expect(missing[1]).toBe(127);
    expect(String(missing[5])).toContain('ENOENT');

    // A shell check goes through /bin/sh; a command never does: its `$(id)` is text.
    expect((await influxQuery(db, `SELECT value FROM "shell.ok"`))[0].values[0][1]).toBe(42);
    expect((await influxQuery(db, `SELECT value FROM "nosubst$(id)"`))[0].values[0][1]).toBe(7);

    const logs = p
      .stderr()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const badLines = logs.filter((l) => l.reason && String(l.message).startsWith('skipped'));
    expect(badLines[0]).toMatchObject({ check: 'metrics', count: 1, examples: ['OK - everything fine'] });
    expect(logs.find((l) => l.check === 'failing')).toMatchObject({ level: 'warn', exitCode: 3, stderr: 'backup too old' });
    const stopped = logs.find((l) => l.message === 'stopped') as { counters: { droppedBy: Record<string, number>; read: number; written: number } };
    expect(stopped.counters.droppedBy.bad_line).toBe(runs.length);
    expect(stopped.counters.written).toBe(stopped.counters.read);
  });
});
