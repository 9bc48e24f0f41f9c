/**
 * Reading a task node back from the state dir (see state-store.ts): its header checked against the Init, then its base
 * and the log segments after it run through a session of the function, answers discarded.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { RequestDecoder } from './codec.js';
import { FrameDecoder } from './framer.js';
import type { ServedFunction } from './handler.js';
import type { InitOption, Response } from './messages.js';
import { Session, type SessionPersistence } from './session.js';
import { decodeSnapshot } from './snapshot.js';
import { fromJson, REC_BYTES, REC_HEAD, REC_SKIPPED_RESTORE, type Recovered, STATE_FORMAT, StateFileError, type TaskHeader } from './state-files.js';

const nullSink = { push(_r: Response): void {} };

/**
 * What a task node has on disk, rebuilt; null when nothing usable (none, redefined, or damaged — then moved aside).
 * Exported for tests.
 */
export function readTaskDir(
  dir: string,
  fn: ServedFunction,
  taskId: string,
  nodeId: string,
  fingerprint: string,
  options: InitOption[],
  log?: Logger,
  handed?: Recovered,
): Recovered | null {
  const headerFile = path.join(dir, 'task.json');
  if (!existsSync(headerFile)) return null;
  try {
    const header = fromJson(readFileSync(headerFile, 'utf8')) as TaskHeader;
    if (header.format !== STATE_FORMAT || header.version !== 1) throw new StateFileError(`${headerFile} is not a ${STATE_FORMAT} version 1 file`);
    if (header.function !== fn.name || header.options !== fingerprint) {
      log?.info('task redefined with other options: its old state is removed', { task: taskId, node: nodeId, function: fn.name });
      rmSync(dir, { recursive: true, force: true });
      return null;
    }
    if (handed) return handed;
    // A predecessor process may be compacting this directory right now (an upgrade): a file that vanished between
    // listing and reading is read again, not taken for damage.
    for (let attempt = 1; ; attempt++) {
      try {
        return rebuild(dir, fn, taskId, nodeId, options);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
      }
    }
  } catch (err) {
    const aside = `${dir}.damaged-${Date.now()}`;
    log?.error('state file damaged: moved aside, the task starts fresh', { task: taskId, node: nodeId, movedTo: aside, error: (err as Error).message });
    renameSync(dir, aside);
    return null;
  }
}

function rebuild(dir: string, fn: ServedFunction, taskId: string, nodeId: string, options: InitOption[]): Recovered {
  let base: [string, unknown][] = [];
  let baseVersion = 1;
  let first = 0;
  let at = 0;
  const stateFile = path.join(dir, 'state.json');
  if (existsSync(stateFile)) {
    const text = readFileSync(stateFile);
    const nl = text.indexOf(10);
    if (nl < 0) throw new StateFileError(`${stateFile} has no header line`);
    let head: { format?: string; segment?: unknown; at?: unknown };
    try {
      head = JSON.parse(text.subarray(0, nl).toString('utf8'));
    } catch (err) {
      throw new StateFileError(`${stateFile}: header is not JSON`, err);
    }
    if (head.format !== STATE_FORMAT || !Number.isSafeInteger(head.segment)) throw new StateFileError(`${stateFile}: not a ${STATE_FORMAT} base`);
    const snapshot = decodeSnapshot(text.subarray(nl + 1));
    base = snapshot.groups;
    baseVersion = snapshot.stateVersion ?? 1;
    first = head.segment as number;
    at = typeof head.at === 'number' ? head.at : statSync(stateFile).mtimeMs;
  }
  const segments = readdirSync(dir)
    .flatMap((f) => {
      const m = /^log\.(\d+)$/.exec(f);
      return m ? [Number(m[1])] : [];
    })
    .filter((n) => n >= first)
    .sort((a, b) => a - b);

  let skipNextRestore = false;
  const replay: SessionPersistence = {
    attach: () => ({ groups: base, stateVersion: baseVersion }),
    admitRestore: () => {
      const admit = !skipNextRestore;
      skipNextRestore = false;
      return admit;
    },
  };
  const session = new Session(fn, nullSink, { persistence: replay });
  session.handle({ kind: 'init', options, taskId, nodeId });
  if (session.failed || session.optionsFingerprint === '') throw new StateFileError(`the Init options in ${dir}/task.json are refused now`);
  for (const n of segments) {
    const file = path.join(dir, `log.${n}`);
    const bytes = readFileSync(file);
    at = Math.max(at, statSync(file).mtimeMs);
    const framer = new FrameDecoder();
    const openBatch: Uint8Array[] = []; // a segment's unfinished batch is dropped with it
    for (let i = 0; i + REC_HEAD <= bytes.length; ) {
      const type = bytes[i];
      const len = bytes.readUInt32LE(i + 1);
      const start = i + REC_HEAD;
      if (start + len > bytes.length) break; // torn tail: the write a crash interrupted
      if (type === REC_SKIPPED_RESTORE) skipNextRestore = true;
      else if (type === REC_BYTES) feed(session, framer, bytes.subarray(start, start + len), file, openBatch);
      else throw new StateFileError(`${file}: unknown record type ${type} at byte ${i}`);
      i = start + len;
    }
  }
  return { entries: session.stateEntries(), at, nextSegment: segments.length ? segments[segments.length - 1] + 1 : first };
}

/**
 * The connection's frame loop, answers discarded. A batch is applied only once its EndBatch is read: a batch whose end
 * never came (the connection died inside it) was never answered, and Kapacitor's next query brings its points again.
 */
function feed(session: Session, framer: FrameDecoder, bytes: Uint8Array, file: string, openBatch: Uint8Array[]): void {
  const decoder = new RequestDecoder();
  const apply = (frame: Uint8Array) => {
    if (session.failed) return;
    const req = decoder.decode(frame);
    if (req.kind === 'point') session.handlePoint(req.point);
    else session.handle(req);
  };
  framer.pushRanges(bytes, (buf, start, end) => {
    const frame = buf.subarray(start, end);
    if (session.fn.edge === 'stream') return apply(frame);
    if (openBatch.length > 0 || decoder.decode(frame).kind === 'begin') {
      openBatch.push(frame);
      if (openBatch.length > 1 && decoder.decode(frame).kind === 'end') {
        for (const f of openBatch.splice(0)) apply(f);
      }
      return;
    }
    apply(frame);
  });
  if (session.failed) throw new StateFileError(`${file}: the logged input no longer runs through ${session.fn.name}`);
}
