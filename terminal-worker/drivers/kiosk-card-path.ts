/**
 * The kiosk's card path: the serial card printer (stocker, transport, print head, bezel, reject
 * bin) with the IC reader at its contact station. Feeding a card stops it under the contact
 * station, and its UID is the one the reader reads there (`FF CA 00 00 00`): the card is bound by
 * the chip's own UID, not by anything the printer says. Everything else is the printer's, read
 * from the printer itself (`Rst`), so a restarted worker sees where the card is and what the
 * printer already did.
 */
import { DeviceError, type CardFace, type CardPath, type CardPathStatus, type OnProgress } from '../devices/types';
import type { SerialCardPrinter } from './serial-card-printer';
import type { StationChipEncoder } from './station-chip-encoder';

export class KioskCardPath implements CardPath {
  constructor(
    readonly printer: SerialCardPrinter,
    readonly chip: StationChipEncoder,
  ) {}

  status(): Promise<CardPathStatus> {
    return this.printer.status();
  }

  feed(): Promise<string> {
    return this.toStation(() => this.printer.feed());
  }

  /**
   * A pre-loaded prepaid card from the printer's stock hopper (docs/prepaid.md). A printer without
   * one refuses the command: the sale is refunded like an empty stocker.
   */
  feedStock(): Promise<string> {
    return this.toStation(() => this.printer.feedStock());
  }

  /** Has the printer move a card to the contact station; the UID is the one the reader reads there. */
  private async toStation(move: () => Promise<string>): Promise<string> {
    const mark = await this.chip.insertionMark();
    const printerUid = await move();
    await this.chip.waitForArrival(mark);
    const uid = await this.chip.uidAtStation(printerUid || null).catch((err: unknown) => {
      throw err instanceof DeviceError ? err : new DeviceError('NO_CARD', `the fed card did not answer at the contact station: ${(err as Error).message}`);
    });
    return uid;
  }

  print(face: CardFace, onProgress: OnProgress): Promise<void> {
    return this.printer.print(face, onProgress);
  }

  present(onProgress: OnProgress): Promise<void> {
    return this.printer.present(onProgress);
  }

  reject(reason: string): Promise<void> {
    return this.printer.reject(reason);
  }

  dispensedUids(): Promise<string[]> {
    return this.printer.dispensedUids();
  }
}
