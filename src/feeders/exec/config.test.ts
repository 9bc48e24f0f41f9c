import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../config.js';
import { readExecConfig } from './config.js';

const read = (yaml: string) => readExecConfig(parseConfigText(yaml, 'exec.yaml', {}).root);

describe('exec feeder config', () => {
  it('reads checks with a command list, or a shell line only when asked, and defaults from the top', () => {
    const c = read(`interval: 30s
timeout: 5s
host: web01
checks:
  - name: disk
    command: [/usr/local/bin/check_disk, "-w", 80]
    env: { LANG: C }
  - name: queue
    shell: "redis-cli llen jobs | sed 's/^/jobs.queued /; s/$/ APP stack/'"
    interval: 2m
    timeout: 20s
    cwd: /tmp
`);
    expect(c.host).toBe('web01');
    expect(c.checks[0]).toEqual({
      name: 'disk',
      argv: ['/usr/local/bin/check_disk', '-w', '80'],
      shell: false,
      intervalMs: 30_000,
      timeoutMs: 5000,
      env: { LANG: 'C' },
      cwd: undefined,
    });
    expect(c.checks[1]).toMatchObject({
      argv: ['/bin/sh', '-c', expect.stringContaining('redis-cli')],
      shell: true,
      intervalMs: 120_000,
      timeoutMs: 20_000,
      cwd: '/tmp',
    });
  });

  it('keeps a timeout within its interval by default', () => {
    expect(read('checks:\n  - name: a\n    command: [x]\n    interval: 3s\n').checks[0].timeoutMs).toBe(3000);
    expect(read('checks:\n  - name: a\n    command: [x]\n').checks[0]).toMatchObject({ intervalMs: 60_000, timeoutMs: 10_000 });
  });

  it('names the key and the fix for each mistake', () => {
    expect(() => read('interval: 1m\n')).toThrow(/exec.yaml: checks: is required/);
    expect(() => read('checks:\n  - name: a\n    command: "check_disk -w 80"\n')).toThrow(/checks\[0\].command: must be a list .* use shell:/);
    expect(() => read('checks:\n  - name: a\n')).toThrow(/checks\[0\].command: is required/);
    expect(() => read('checks:\n  - name: a\n    command: [x]\n    shell: "x"\n')).toThrow(/checks\[0\].shell: give either command/);
    expect(() => read('checks:\n  - name: a\n    command: []\n')).toThrow(/checks\[0\].command: is empty/);
    expect(() => read('checks:\n  - name: a\n    command: [x]\n  - name: a\n    command: [y]\n')).toThrow(/checks\[1\].name: check name a appears twice/);
    expect(() => read('checks:\n  - command: [x]\n')).toThrow(/checks\[0\].name: is required/);
  });
});
