/**
 * Reading a task node back from the state dir (see state-store.ts): its header checked against the Init, then its base
 * and the log segments after it run through a session of the function. The answers are discarded, but for those made
 * in the last AGAIN_WINDOW_MS before the log's last write (dated by the Keepalives in it, the state store's marks and
 * Kapacitor's own): a crash may have kept them from Kapacitor, so they are sent again (answers-again.ts).
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { AGAIN_WINDOW_MS, joinAnswers, RecentAnswers } from './answers-again.js';
import { RequestDecoder, ResponseWriter } from './codec.js';
import { FrameDecoder } from './framer.js';
import type { ServedFunction } from './handler.js';
import type { InitOption, Response } from './messages.js';
import { Session, type SessionPersistence } from './session.js';
import { decodeSnapshot } from './snapshot.js';
import { fromJson, REC_BYTES, REC_HEAD, REC_SKIPPED_RESTORE, type Recovered, STATE_FORMAT, StateFileError, type TaskHeader } from './state-files.js';

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
  let answers: Uint8Array | null = null;
  const stateFile = path.join(dir, 'state.json');
  if (existsSync(stateFile)) {
    const text = readFileSync(stateFile);
    const nl = text.indexOf(10);
    if (nl < 0) throw new StateFileError(`${stateFile} has no header line`);
    let head: { format?: string; segment?: unknown; at?: unknown; answers?: unknown };
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
    if (typeof head.answers === 'string') answers = Buffer.from(head.answers, 'base64');
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
  let lastWrite = 0;
  const logs = segments.map((n) => {
    const file = path.join(dir, `log.${n}`);
    lastWrite = Math.max(lastWrite, statSync(file).mtimeMs);
    return { file, bytes: readFileSync(file) };
  });
  at = Math.max(at, lastWrite);
  // Answers are encoded only from the time they may be sent again; `time` is the latest time the log has told.
  const since = lastWrite - AGAIN_WINDOW_MS;
  const decoder = new RequestDecoder();
  const writer = new ResponseWriter(decoder);
  let time = 0;
  const dated = (ns: bigint) => (time = Math.max(time, Number(ns / 1_000_000n)));
  const sink = { push: (r: Response) => (time >= since ? writer.push(r) : undefined) };
  const session = new Session(fn, sink, { persistence: replay });
  session.handle({ kind: 'init', options, taskId, nodeId });
  if (session.failed || session.optionsFingerprint === '') throw new StateFileError(`the Init options in ${dir}/task.json are refused now`);
  writer.take();
  const recent = new RecentAnswers();
  let sentAgain = false;
  for (const { file, bytes } of logs) {
    const framer = new FrameDecoder();
    const openBatch: Uint8Array[] = []; // a segment's unfinished batch is dropped with it
    forRecords(bytes, file, (type, start, end) => {
      if (type === REC_SKIPPED_RESTORE) skipNextRestore = true;
      else {
        if (feed(session, decoder, framer, bytes.subarray(start, end), file, openBatch, dated)) sentAgain = true;
        if (writer.pending > 0) recent.add(writer.take(), time);
      }
    });
  }
  return {
    entries: session.stateEntries(),
    at,
    nextSegment: segments.length ? segments[segments.length - 1] + 1 : first,
    // The base's answers were the next connection's to send before its first point or batch.
    answers: sentAgain ? recent.dataFrames(lastWrite) : joinAnswers(answers, recent.dataFrames(lastWrite)),
  };
}

/** Each whole record of a segment; a torn tail (the write a crash interrupted) ends it. */
function forRecords(bytes: Buffer, file: string, onRecord: (type: number, start: number, end: number) => void): void {
  for (let i = 0; i + REC_HEAD <= bytes.length; ) {
    const type = bytes[i];
    const start = i + REC_HEAD;
    const end = start + bytes.readUInt32LE(i + 1);
    if (end > bytes.length) return;
    if (type !== REC_BYTES && type !== REC_SKIPPED_RESTORE) throw new StateFileError(`${file}: unknown record type ${type} at byte ${i}`);
    onRecord(type, start, end);
    i = end;
  }
}

/**
 * The connection's frame loop. A batch is applied only once its EndBatch is read: a batch whose end never came (the
 * connection died inside it) was never answered, and Kapacitor's next query brings its points again. True when a
 * point or a batch was applied (the connection then sent what it had to send again). A Keepalive's time goes to
 * `dated`.
 */
function feed(
  session: Session,
  decoder: RequestDecoder,
  framer: FrameDecoder,
  bytes: Uint8Array,
  file: string,
  openBatch: Uint8Array[],
  dated: (ns: bigint) => void,
): boolean {
  let data = false;
  const apply = (frame: Uint8Array) => {
    if (session.failed) return;
    const req = decoder.decode(frame);
    if (req.kind === 'point') session.handlePoint(req.point);
    else session.handle(req);
    if (req.kind === 'point' || req.kind === 'begin') data = true;
    else if (req.kind === 'keepalive') dated(req.time);
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
  return data;
}
