/**
 * Card face template → front panel bitmap: a 1016 × 648 PNG (300 dpi, CR80 landscape), rendered
 * in pure JS (pngjs pixels, opentype.js outlines) so it works offline. The host renders the face
 * and downloads it to the printer, as a real card printer driver does.
 *
 * Template: a coloured header band with the title; the issuer's image at the left; the lines of
 * text beside it; the holder's photo at the right when given; the card id in the footer.
 * Fonts: DejaVu Sans (Debian fonts-dejavu-core) with IPA Gothic (fonts-ipafont-gothic) for
 * Japanese; override with CARD_FACE_FONT, CARD_FACE_FONT_BOLD, CARD_FACE_FONT_CJK.
 */
import { PNG } from 'pngjs';
import { PANEL_HEIGHT, PANEL_WIDTH } from '../../domain/printer-protocol';
import type { CardFace } from '../devices/types';
import { TextPainter, loadFont, type Rgba } from './glyph-raster';

export interface FaceAssets {
  /** The issuer's image (PNG bytes). */
  image?: Uint8Array | null;
  /** The holder's photo (PNG bytes). */
  photo?: Uint8Array | null;
}

export const FACE_BACKGROUND: [number, number, number] = [255, 255, 255];
export const HEADER_COLOR: [number, number, number] = [31, 58, 104];
/** Where the title is drawn (x, y, width, height), for tests and for the docs. */
export const TITLE_BOX = { x: 40, y: 20, width: 936, height: 110 };

function painter(bold: boolean): TextPainter {
  const env = process.env;
  const main = bold ? env.CARD_FACE_FONT_BOLD ?? '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf' : env.CARD_FACE_FONT ?? '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
  const cjk = env.CARD_FACE_FONT_CJK ?? '/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf';
  const fonts = [loadFont(main), loadFont(cjk)].filter((f) => f !== null);
  if (!loadFont(main)) throw new Error(`card face font ${main} is missing: install Debian fonts-dejavu-core (scripts/ensure-serial-tools.sh) or set CARD_FACE_FONT${bold ? '_BOLD' : ''}`);
  return new TextPainter(fonts);
}

function rect(img: Rgba, x: number, y: number, w: number, h: number, c: [number, number, number]): void {
  for (let yy = Math.max(0, y); yy < Math.min(img.height, y + h); yy++)
    for (let xx = Math.max(0, x); xx < Math.min(img.width, x + w); xx++) {
      const o = (yy * img.width + xx) * 4;
      img.data[o] = c[0]; img.data[o + 1] = c[1]; img.data[o + 2] = c[2]; img.data[o + 3] = 255;
    }
}

/** Draws a PNG scaled to fit the box (aspect kept, centred, bilinear, alpha-blended). */
function drawImage(img: Rgba, bytes: Uint8Array, bx: number, by: number, bw: number, bh: number): void {
  const src = PNG.sync.read(Buffer.from(bytes));
  const scale = Math.min(bw / src.width, bh / src.height);
  const w = Math.round(src.width * scale), h = Math.round(src.height * scale);
  const ox = bx + Math.floor((bw - w) / 2), oy = by + Math.floor((bh - h) / 2);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(src.height - 1, Math.max(0, (y + 0.5) / scale - 0.5));
    const y0 = Math.floor(sy), y1 = Math.min(src.height - 1, y0 + 1), fy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = Math.min(src.width - 1, Math.max(0, (x + 0.5) / scale - 0.5));
      const x0 = Math.floor(sx), x1 = Math.min(src.width - 1, x0 + 1), fx = sx - x0;
      const at = (xx: number, yy: number, ch: number) => src.data[(yy * src.width + xx) * 4 + ch]!;
      const px = (ch: number) => (at(x0, y0, ch) * (1 - fx) + at(x1, y0, ch) * fx) * (1 - fy) + (at(x0, y1, ch) * (1 - fx) + at(x1, y1, ch) * fx) * fy;
      const a = px(3) / 255;
      const o = ((oy + y) * img.width + ox + x) * 4;
      for (let ch = 0; ch < 3; ch++) img.data[o + ch] = Math.round(img.data[o + ch]! * (1 - a) + px(ch) * a);
    }
  }
}

/** Renders the face as RGBA pixels (PANEL_WIDTH × PANEL_HEIGHT). */
export function renderFacePixels(face: CardFace, assets: FaceAssets = {}): PNG {
  const png = new PNG({ width: PANEL_WIDTH, height: PANEL_HEIGHT });
  const img: Rgba = png;
  rect(img, 0, 0, PANEL_WIDTH, PANEL_HEIGHT, FACE_BACKGROUND);
  rect(img, 0, 0, PANEL_WIDTH, 150, HEADER_COLOR);
  const bold = painter(true), regular = painter(false);

  const titleSize = bold.fit(face.title, 64, TITLE_BOX.width, 24);
  bold.draw(img, face.title, TITLE_BOX.x, 75 + titleSize / 2.6, titleSize, [255, 255, 255]);

  let textX = 40;
  if (face.imageUrl !== null && assets.image) {
    drawImage(img, assets.image, 40, 180, 280, 340);
    textX = 350;
  }
  let textRight = PANEL_WIDTH - 40;
  if (assets.photo) {
    rect(img, 795, 175, 190, 250, [200, 200, 200]);
    drawImage(img, assets.photo, 800, 180, 180, 240);
    textRight = 770;
  }
  let baseline = 225;
  for (const line of face.lines.slice(0, 7)) {
    const size = regular.fit(line, 38, textRight - textX, 18);
    regular.draw(img, line, textX, baseline, size, [30, 30, 30]);
    baseline += 50;
  }
  rect(img, 40, 560, PANEL_WIDTH - 80, 2, [180, 180, 180]);
  regular.draw(img, face.cardId, 40, 610, 28, [110, 110, 110]);
  return png;
}

export function renderCardFace(face: CardFace, assets: FaceAssets = {}): Buffer {
  return PNG.sync.write(renderFacePixels(face, assets), { filterType: 1 });
}

/** Cuts the panel into `count` horizontal bands, each a PNG (what `Db` downloads). */
export function panelBands(panel: PNG, count: number): Buffer[] {
  const bands: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const top = Math.round((i * PANEL_HEIGHT) / count), rows = Math.round(((i + 1) * PANEL_HEIGHT) / count) - top;
    const band = new PNG({ width: PANEL_WIDTH, height: rows });
    panel.data.copy(band.data, 0, top * PANEL_WIDTH * 4, (top + rows) * PANEL_WIDTH * 4);
    bands.push(PNG.sync.write(band, { filterType: 1 }));
  }
  return bands;
}
