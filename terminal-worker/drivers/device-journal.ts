/**
 * A driver's small durable journal: one JSON document, rewritten whole on every change (write a
 * temporary file, fsync it, rename it over the old one, fsync the directory), so after a crash or
 * a power cut the file holds either the old or the new document, never a torn one. Used for what
 * a device cannot tell a restarted driver by itself: which tag a payout or a receipt belongs to,
 * and which acceptor events the driver already turned into credits.
 */
import fs from 'node:fs';
import path from 'node:path';

export class DeviceJournal<T extends object> {
  private doc: T;

  constructor(readonly file: string, initial: () => T) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.doc = fs.existsSync(file) ? { ...initial(), ...(JSON.parse(fs.readFileSync(file, 'utf8')) as T) } : initial();
    if (!fs.existsSync(file)) this.write();
  }

  get(): T {
    return this.doc;
  }

  /** Applies `fn` to the document and makes the result durable before returning. */
  update<R>(fn: (doc: T) => R): R {
    const next = structuredClone(this.doc);
    const result = fn(next);
    const before = this.doc;
    this.doc = next;
    try {
      this.write();
    } catch (err) {
      this.doc = before;
      throw err;
    }
    return result;
  }

  private write(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, JSON.stringify(this.doc, null, 1));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    try {
      const dir = fs.openSync(path.dirname(this.file), 'r');
      fs.fsyncSync(dir);
      fs.closeSync(dir);
    } catch {
      // some file systems cannot fsync a directory; the rename is still atomic
    }
  }
}
