/**
 * Draws a printed receipt piece as a PNG the way a 80 mm thermal printer lays it out: 576 dots
 * wide, each character in its 12-dot (half-width) or 24-dot (kanji) cell, 24 dots per line,
 * scaled by the character size; bold, underline and white-on-black as printed. Latin from
 * DejaVu Sans Mono, Japanese from IPA Gothic (fonts-ipafont-gothic), drawn by the project's own
 * glyph rasteriser. Returns null when no font is installed.
 */
import { PNG } from 'pngjs';
import { TextPainter, loadFont } from '../../drivers/glyph-raster';
import type { PrintedLine } from './escpos-interpreter';

const PAPER_DOTS = 576;
const FONTS = ['/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf', '/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf'];

export function renderReceipt(lines: PrintedLine[], areaWidth = 504): Buffer | null {
  const fonts = FONTS.map(loadFont).filter((f) => f !== null);
  if (!fonts.length) return null;
  const painter = new TextPainter(fonts);
  const margin = Math.max(0, Math.floor((PAPER_DOTS - areaWidth) / 2));
  const top = 24;
  const height = top * 2 + lines.reduce((h, l) => h + l.heightDots + 6, 0);
  const png = new PNG({ width: PAPER_DOTS, height });
  png.data.fill(255);
  const rect = (x: number, y: number, w: number, h: number, v: number) => {
    for (let yy = Math.max(0, y); yy < Math.min(height, y + h); yy++)
      for (let xx = Math.max(0, x); xx < Math.min(PAPER_DOTS, x + w); xx++) {
        const o = (yy * PAPER_DOTS + xx) * 4;
        png.data[o] = png.data[o + 1] = png.data[o + 2] = v;
      }
  };
  let y = top;
  for (const line of lines) {
    const baseline = y + line.heightDots - 5;
    for (const g of line.glyphs) {
      const x = margin + g.x;
      const h = 24 * g.height;
      if (g.invert) rect(x, y + line.heightDots - h, g.w, h, 0);
      const colour: [number, number, number] = g.invert ? [255, 255, 255] : [0, 0, 0];
      const size = 22 * g.height;
      if (g.ch.trim()) {
        painter.draw(png, g.ch, x, baseline, size, colour);
        if (g.bold) painter.draw(png, g.ch, x + 1, baseline, size, colour);
      }
      if (g.underline) rect(x, baseline + 2, g.w, 2, g.invert ? 255 : 0);
    }
    y += line.heightDots + 6;
  }
  return PNG.sync.write(png);
}
