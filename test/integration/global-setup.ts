// vitest globalSetup of the integration project: remembers which stack servers were already running before the run
// and, at teardown, stops those that the tests started (ensureInfluxDB/ensureRedis/ensureKafka/..., and the router
// tests' sshd). Servers that were running before are left alone, so a developer's `scripts/stack/start.sh all`
// survives test runs.
// UDF_STACK_KEEP=1 keeps every server running after the run (faster repeated runs); stop with scripts/stack/stop.sh all.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { SERVICES, isServiceRunning, stopService, type ServiceName } from './stack.js';

const sshdScript = path.resolve(import.meta.dirname, '../../scripts/stack/sshd.sh');
const sshdRunning = (): boolean => {
  try {
    execFileSync('bash', [sshdScript, 'status'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export default function setup(): () => Promise<void> {
  const before = new Set<ServiceName>(SERVICES.filter((s) => isServiceRunning(s)));
  const sshdBefore = sshdRunning();
  return async () => {
    if (process.env.UDF_STACK_KEEP === '1') return;
    for (const s of SERVICES) {
      if (!before.has(s) && isServiceRunning(s)) await stopService(s);
    }
    if (!sshdBefore && sshdRunning()) execFileSync('bash', [sshdScript, 'stop'], { stdio: 'ignore' });
  };
}
