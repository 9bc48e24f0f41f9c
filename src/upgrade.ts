/**
 * Upgrade in place: `serve --takeover` on the socket dir of a running sidecar binds its sockets over the old ones
 * (src/agent/server.ts), then tells the previous process, named by the socket dir's pid file, to drain (SIGUSR2). The
 * previous one stops accepting and serves its open connections until Kapacitor closes them — the new process's
 * healing restarts each task, which stops it cleanly first — then writes its states and exits 0, leaving the sockets
 * that are no longer its own. SIGHUP makes a sidecar start that successor itself (systemd's ExecReload).
 */
import { spawn } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const DRAIN_SIGNAL = 'SIGUSR2';

export const pidFileOf = (socketDir: string) => path.join(socketDir, 'udf-sidecar.pid');

export function readPid(socketDir: string): number | null {
  try {
    const pid = Number(readFileSync(pidFileOf(socketDir), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function writePid(socketDir: string): void {
  const file = pidFileOf(socketDir);
  writeFileSync(`${file}.${process.pid}.tmp`, `${process.pid}\n`);
  renameSync(`${file}.${process.pid}.tmp`, file);
}

/** Removes the pid file when it still names this process (a successor wrote its own). */
export function removeOwnPid(socketDir: string): void {
  if (readPid(socketDir) === process.pid) rmSync(pidFileOf(socketDir), { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A pid file can outlive its process and its pid be reused: signal only a process that is a `serve`. */
export function looksLikeSidecar(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return isAlive(pid); // no /proc: the pid file is all there is
  }
  return cmdline.split('\0').includes('serve');
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * Under systemd with Type=notify and NotifyAccess=all: READY=1, and MAINPID so that a successor started by SIGHUP
 * becomes the unit's main process before its predecessor exits. Through systemd-notify(1); without NOTIFY_SOCKET
 * nothing is sent.
 */
export function notifySystemd(log: { warn(m: string, meta: object): unknown }): void {
  if (!process.env.NOTIFY_SOCKET) return;
  const c = spawn('systemd-notify', [`MAINPID=${process.pid}`, 'READY=1'], { stdio: 'ignore' });
  c.once('error', (err) => log.warn('systemd-notify failed', { error: err.message }));
  c.once('exit', (code) => {
    if (code !== 0) log.warn('systemd-notify failed', { code });
  });
}
