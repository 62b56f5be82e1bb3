/**
 * Demo card face artwork: a diagonal two-colour gradient with a band, as PNG (pngjs). Real
 * issuers upload their own images; this only gives the demo catalogue something to print.
 */
import { PNG } from 'pngjs';

export function demoFacePng(from: [number, number, number], to: [number, number, number], width = 508, height = 324): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x / width + y / height) / 2;
      const band = y > height * 0.62 && y < height * 0.7;
      const i = (width * y + x) << 2;
      for (let c = 0; c < 3; c++) png.data[i + c] = band ? 255 : Math.round(from[c] * (1 - t) + to[c] * t);
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}
