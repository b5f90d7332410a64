import { execFileSync } from 'node:child_process';
import { gunzipSync, gzipSync } from 'node:zlib';

/**
 * Poppler's command-line tools, as an auditor's machine has them: pdftotext reads a PDF's text
 * the way search and copy-and-paste do, pdfinfo its page count and size, pdftoppm draws its pages.
 * `.ci/run` installs poppler-utils where they are missing.
 */

/** The text of each page (pdftotext ends every page with a form feed). */
export function pdfPages(file: string, layout = false): string[] {
  const text = execFileSync('pdftotext', [...(layout ? ['-layout'] : []), '-enc', 'UTF-8', file, '-'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const pages = text.split('\f');
  if (pages.at(-1)?.trim() === '') pages.pop();
  return pages;
}

export function pdfInfo(file: string): Record<string, string> {
  const text = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((line) => {
        const at = line.indexOf(':');
        return [line.slice(0, at).trim(), line.slice(at + 1).trim()];
      }),
  );
}

/** A greyscale picture of one page. */
export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
}

/** Draws one page in greyscale at a resolution (pdftoppm -gray, read from its PGM output). */
export function renderPage(file: string, page: number, dpi: number): GreyImage {
  const pgm = execFileSync(
    'pdftoppm',
    ['-gray', '-r', String(dpi), '-f', String(page), '-l', String(page), file],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return readPgm(pgm);
}

/** Binary PGM (P5): `P5 <width> <height> <max>` then one byte per pixel. */
export function readPgm(bytes: Buffer): GreyImage {
  const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(bytes.subarray(0, 64).toString('latin1'));
  if (header === null) throw new Error('not a binary PGM image');
  const width = Number(header[1]);
  const height = Number(header[2]);
  const pixels = bytes.subarray(header[0].length, header[0].length + width * height);
  return { width, height, pixels: new Uint8Array(pixels) };
}

export function writePgm(image: GreyImage): Buffer {
  return Buffer.concat([Buffer.from(`P5\n${image.width} ${image.height}\n255\n`, 'latin1'), image.pixels]);
}

export function packImage(image: GreyImage): Buffer {
  return gzipSync(writePgm(image), { level: 9 });
}

export function unpackImage(bytes: Buffer): GreyImage {
  return readPgm(gunzipSync(bytes));
}

/**
 * The share of pixels whose grey level differs by more than `threshold` (of 255): antialiasing
 * may shift a little between poppler versions, a moved table or a lost glyph changes far more.
 */
export function differingShare(a: GreyImage, b: GreyImage, threshold = 64): number {
  if (a.width !== b.width || a.height !== b.height) return 1;
  let differing = 0;
  for (let index = 0; index < a.pixels.length; index += 1) {
    if (Math.abs(a.pixels[index]! - b.pixels[index]!) > threshold) differing += 1;
  }
  return differing / a.pixels.length;
}
