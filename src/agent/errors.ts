import { SidecarError } from '../errors.js';

/** The byte stream cannot be split into frames: a length prefix over the limit, or a varint longer than 64 bits. */
export class FrameError extends SidecarError {
  constructor(message: string) {
    super('UDF_FRAME', message);
  }
}

/** A complete frame that is not a valid Request. */
export class DecodeError extends SidecarError {
  constructor(message: string, cause?: unknown) {
    super('UDF_DECODE', message, { cause });
  }
}

/** A valid Request at the wrong moment (a point before Init, an EndBatch with no BeginBatch, …). */
export class ProtocolError extends SidecarError {
  constructor(message: string) {
    super('UDF_PROTOCOL', message);
  }
}

/** An Init option is unknown, missing, of the wrong type or out of range; the message names the option. */
export class OptionError extends SidecarError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super('UDF_OPTION', `option ${option}: ${message}`);
  }
}

/** Snapshot bytes this function cannot read. */
export class SnapshotError extends SidecarError {
  constructor(message: string, cause?: unknown) {
    super('UDF_SNAPSHOT', message, { cause });
  }
}

/** A socket path that must not be replaced: a regular file, a directory, or a socket someone is listening on. */
export class SocketPathError extends SidecarError {
  constructor(message: string) {
    super('UDF_SOCKET_PATH', message);
  }
}

/** A task needs more memory than its connection may use (--max-connection-memory), even with its other groups evicted. */
export class MemoryBoundError extends SidecarError {
  constructor(message: string) {
    super('UDF_MEMORY', message);
  }
}
