import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The loopback sshd playing a router (scripts/stack/sshd.sh): started if needed, its coordinates read back. */
export interface RouterSim {
  port: number;
  user: string;
  passwordFile: string;
  clientKey: string;
  hostKeySha256: string;
  simDir: string;
}

const run = promisify(execFile);
const script = new URL('../../../scripts/stack/sshd.sh', import.meta.url).pathname;

export async function ensureRouterSim(): Promise<RouterSim> {
  try {
    await run('bash', [script, 'start'], { timeout: 240_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/stack/sshd.sh start failed, so the router tests cannot run: ${e.stderr || e.message}`);
  }
  const { stdout } = await run('bash', [script, 'env']);
  const env = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    port: Number(env.SSHD_PORT),
    user: env.SSHD_USER,
    passwordFile: env.SSHD_PASSWORD_FILE,
    clientKey: env.SSHD_CLIENT_KEY,
    hostKeySha256: env.SSHD_HOST_KEY_SHA256,
    simDir: env.SSHD_SIM_DIR,
  };
}

/** What the router answers from now on (showtime, training, garbled, empty, slow). */
export function setRouterMode(sim: RouterSim, mode: string, slowSeconds?: number): void {
  writeFileSync(join(sim.simDir, 'sequence'), '');
  writeFileSync(join(sim.simDir, 'mode'), `${mode}\n`);
  if (slowSeconds !== undefined) writeFileSync(join(sim.simDir, 'slow_seconds'), `${slowSeconds}\n`);
}

/** The next polls answer these modes in order, then the mode file again. */
export function setRouterSequence(sim: RouterSim, modes: string[]): void {
  writeFileSync(join(sim.simDir, 'sequence'), modes.map((m) => `${m}\n`).join(''));
}
