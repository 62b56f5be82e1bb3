/**
 * The emulated kiosk's customer card slot: a manual contact reader on vpcd's second reader (port
 * 35964, "Virtual PCD 00 01" by default) where a customer inserts their own card. The terminal
 * drives it with drivers/pcsc-customer-card-slot.ts.
 *
 * The customer's hand is the control channel (EmulatedKiosk.control `customer …`):
 *   insert card <cardId>      — an issued card: its chip image from `chips/<uid>.bin` (the card
 *                               this kiosk made; found by the card id in its record)
 *   insert uid <UID>          — the card with that UID from `chips/`
 *   insert raw <UID> <base64> — any card: these chip bytes (also kept in `chips/<UID>.bin`)
 *   remove                    — the customer pulls the card out
 *   tear-after N              — the card is pulled out after N more written bytes (tearing)
 *   status
 * Writes land in `chips/<uid>.bin` at once, so the card carries them on to the printer's contact
 * station or another insertion. GlobalPlatform applications live on the card while it is in the slot.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseCardRecord } from '../../../domain/card-record';
import { Iso7816Card } from '../virtual-card/iso7816-card';
import { VpcdLink } from '../virtual-card/vpcd-link';
import { saveChipImage } from './chip-images';
import type { ChipSpec } from './kiosk';

interface Inserted {
  uid: string;
  card: Iso7816Card;
  link: VpcdLink;
}

/** pcscd polls vpcd's slot: a card pulled and another inserted faster than this looks like one card. */
const SWAP_GAP_MS = 1000;

export class CustomerSlot {
  private current: Inserted | null = null;
  private inserting = false;
  private freeAt = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly dir: string,
    private readonly spec: ChipSpec,
    private readonly host: string,
    readonly port: number,
    private readonly log: (line: string) => void,
  ) {
    // Keeps the card in the reader while it is inserted (pcscd, and so vpcd, may restart).
    this.timer = setInterval(() => this.keepInserted(), 100);
  }

  control(arg: string): string {
    const [verb, kind, a, b] = arg.trim().split(/\s+/);
    switch (verb) {
      case 'insert':
        return this.insert(kind, a, b);
      case 'remove': {
        const uid = this.current?.uid;
        this.pull();
        return uid ? `ok removed ${uid}` : 'ok the slot was empty';
      }
      case 'tear-after': {
        const n = Number(kind);
        if (!Number.isInteger(n) || n < 0) return 'error tear-after takes a byte count';
        if (!this.current) return 'error no card in the customer slot';
        this.current.card.faults.tearAfterBytes = n;
        return `ok tear-after ${n}`;
      }
      case 'status':
        return `ok ${JSON.stringify(this.describe())}`;
      default:
        return 'error customer takes insert card <cardId> | insert uid <UID> | insert raw <UID> <base64> | remove | tear-after N | status';
    }
  }

  describe() {
    return { port: this.port, uid: this.current?.uid ?? null, inserted: this.current?.link.connected ?? false };
  }

  private insert(kind: string | undefined, a: string | undefined, b: string | undefined): string {
    if (this.current) return `error the customer slot already holds card ${this.current.uid}`;
    let uid: string;
    let memory: Buffer;
    if (kind === 'card' && a) {
      const found = this.findByCardId(a);
      if (!found) return `error no chip in ${this.dir} holds card ${a}`;
      ({ uid, memory } = found);
    } else if (kind === 'uid' && a && /^[0-9A-Fa-f]{2,20}$/.test(a)) {
      uid = a.toUpperCase();
      const file = path.join(this.dir, `${uid}.bin`);
      if (!fs.existsSync(file)) return `error no chip ${uid} in ${this.dir}`;
      memory = fs.readFileSync(file);
    } else if (kind === 'raw' && a && /^[0-9A-Fa-f]{2,20}$/.test(a) && b && /^[A-Za-z0-9+/]+=*$/.test(b)) {
      uid = a.toUpperCase();
      memory = Buffer.from(b, 'base64');
      if (memory.length > this.spec.memorySize) return `error ${memory.length} bytes do not fit a chip of ${this.spec.memorySize}`;
    } else {
      return 'error insert takes card <cardId>, uid <UID> (hex) or raw <UID> <base64>';
    }
    const card = new Iso7816Card({ uid: Buffer.from(uid, 'hex'), memorySize: Math.max(this.spec.memorySize, memory.length), pageSize: this.spec.pageSize, pageWriteMs: this.spec.pageWriteMs });
    card.memory.set(memory);
    const link = new VpcdLink(card, this.host, this.port, (l) => this.log(`${uid}: ${l}`));
    const inserted: Inserted = { uid, card, link };
    card.isPresent = () => link.connected && this.current === inserted;
    card.onTear = () => {
      this.log(`${uid}: pulled out of the customer slot mid-write (tearing)`);
      this.pull();
    };
    const apdu = card.apdu.bind(card);
    card.apdu = async (raw: Uint8Array) => {
      const res = await apdu(raw);
      if (raw[1] === 0xd6) this.persist(uid, card);
      return res;
    };
    this.current = inserted;
    this.persist(uid, card);
    this.keepInserted();
    this.log(`${uid}: inserted into the customer slot`);
    return `ok inserted ${uid}`;
  }

  private findByCardId(cardId: string): { uid: string; memory: Buffer } | null {
    for (const name of fs.readdirSync(this.dir)) {
      if (!name.endsWith('.bin')) continue;
      const memory = fs.readFileSync(path.join(this.dir, name));
      try {
        if (parseCardRecord(memory).record.cardId === cardId) return { uid: name.slice(0, -4), memory };
      } catch {
        // blank, torn or foreign: not this card
      }
    }
    return null;
  }

  private pull(): void {
    const c = this.current;
    if (!c) return;
    this.persist(c.uid, c.card);
    this.current = null;
    c.link.remove();
    this.freeAt = Date.now() + SWAP_GAP_MS;
    this.log(`${c.uid}: out of the customer slot`);
  }

  private keepInserted(): void {
    const c = this.current;
    if (!c || c.link.connected || this.inserting || Date.now() < this.freeAt) return;
    this.inserting = true;
    c.link
      .insert()
      .catch(() => {}) // vpcd not listening (pcscd down): try again on the next tick
      .finally(() => {
        this.inserting = false;
        if (this.current !== c) c.link.remove();
      });
  }

  private persist(uid: string, card: Iso7816Card): void {
    saveChipImage(this.dir, uid, card.memory);
  }

  stop(): void {
    clearInterval(this.timer);
    this.pull();
  }
}
