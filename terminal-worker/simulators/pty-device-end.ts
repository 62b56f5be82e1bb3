/**
 * The device end of a pseudo-terminal pair, as the emulators hold it: Node's own tty streams
 * (libuv reads the pty like any stream) rather than serialport. The drivers under test keep
 * serialport on the host end, so the real driver code still runs.
 *
 * Why not serialport here too: its Linux binding waits for data with a native poller whose
 * `poll()` re-arms only the events of the latest call (uv_poll_start with the new flags alone) and
 * delivers them outside a callback scope (serialport/bindings-cpp#239). An emulator holding the
 * device end was seen, about once in a hundred fault-matrix cells, to stop reading for good
 * mid-print while its process ran on: the driver's next commands sat unread in the pty, each timed
 * out, and the cell ran out of time. The device end has no reason to share that risk.
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import tty from 'node:tty';
import type { Readable } from 'node:stream';

export interface PtyDeviceEnd {
  /** Bytes the host sends; pipe it into a parser or listen to 'data'. */
  readonly input: Readable;
  write(bytes: Buffer | string): void;
  close(): Promise<void>;
}

/** How long a reply may wait for room in the pty before it is dropped (the host end is gone). */
const WRITE_GIVE_UP_MS = 2000;

/** Opens the emulator's end of the pair (already in raw mode: socat `pty,raw,echo=0`). */
export function openPtyDeviceEnd(ptyPath: string, log: (line: string) => void): PtyDeviceEnd {
  const inFd = fs.openSync(ptyPath, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  if (!tty.isatty(inFd)) {
    fs.closeSync(inFd);
    throw new Error(`${ptyPath} is not a terminal`);
  }
  // Writes go through a non-blocking descriptor of their own: tty.WriteStream would block the
  // whole emulator process once the pty is full (a dead host end that nobody reads).
  const outFd = fs.openSync(ptyPath, fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
  const input = new tty.ReadStream(inFd);
  input.on('error', (err) => log(`port error: ${err.message}`));
  let open = true;
  let writing: Promise<void> = Promise.resolve();
  const writeAll = async (bytes: Buffer): Promise<void> => {
    let off = 0;
    const giveUpAt = Date.now() + WRITE_GIVE_UP_MS;
    while (open && off < bytes.length) {
      try {
        off += await new Promise<number>((resolve, reject) => fs.write(outFd, bytes, off, bytes.length - off, null, (err, n) => (err ? reject(err) : resolve(n))));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > giveUpAt) {
          log(`port error: ${(err as Error).message}; ${bytes.length - off} bytes of a reply dropped`);
          return;
        }
        await sleep(5);
      }
    }
  };
  return {
    input,
    write(bytes) {
      const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes; // strings as UTF-8, as a stream writes them
      writing = writing.then(() => writeAll(b));
    },
    async close() {
      if (!open) return;
      await writing;
      open = false;
      input.destroy();
      fs.closeSync(outFd);
    },
  };
}
