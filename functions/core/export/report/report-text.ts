import type PDFDocument from 'pdfkit';

/**
 * Text for the PDF report: any Unicode string, drawn with the first embedded font that has each
 * character (font fallback, which pdfkit itself does not do), measured and cut to fit, written
 * straight into the page's content stream.
 *
 * Why not `doc.text()` for everything: pdfkit shapes every distinct string with fontkit (tens of
 * microseconds each) and caches every shaped string for the life of the document, so a table of
 * 100,000 unique ids and timestamps is both slow and an unbounded cache. Table cells are short
 * runs of one script that need no shaping, so this maps code points to glyphs through each font's
 * cmap once (cached per code point), keeps a small cache of encoded runs for the values that
 * repeat (model, policy, action, team), and writes `Tj` operators itself. Fonts marked `shaping`
 * (Arabic, whose letters join) are laid out by fontkit instead. The glyphs are registered in
 * pdfkit's font subset with their Unicode values, so text extraction (pdftotext, copy and paste,
 * screen readers) gives back exactly the characters that were drawn.
 */

/** One embedded face, in fallback order: the first face that has a character draws it. */
export interface ReportFontFace {
  readonly name: string;
  readonly regular: Uint8Array;
  /** @default - the regular face, for bold text too */
  readonly bold?: Uint8Array;
  /** Its script needs shaping (joining letters, marks): laid out by fontkit, run by run. */
  readonly shaping?: boolean;
}

/** The fonts a report embeds; the caller loads them (the renderer does no I/O). */
export interface ReportFonts {
  readonly faces: readonly ReportFontFace[];
}

/** What pdfkit keeps on an embedded font (pdfkit 0.20 EmbeddedFont); pinned by the lock file. */
interface EmbeddedFont {
  readonly id: string;
  readonly scale: number;
  readonly font: FontkitFont;
  readonly subset: { includeGlyph(glyphId: number): number };
  readonly widths: number[];
  readonly unicode: number[][];
  ref(): unknown;
}

interface FontkitGlyph {
  readonly id: number;
  readonly advanceWidth: number;
  readonly codePoints: number[];
}

interface FontkitFont {
  readonly unitsPerEm: number;
  readonly ascent: number;
  hasGlyphForCodePoint(codePoint: number): boolean;
  glyphForCodePoint(codePoint: number): FontkitGlyph;
  layout(text: string): { glyphs: FontkitGlyph[] };
}

/** A run of glyphs in one font, encoded for a `Tj` operator; widths in 1/1000 em. */
interface EncodedRun {
  readonly font: EmbeddedFont;
  readonly hex: string;
  readonly width: number;
}

/** A text as runs, with how many of its characters no font has (counted each time it is drawn). */
interface EncodedText {
  readonly runs: readonly EncodedRun[];
  readonly width: number;
  readonly missing: number;
}

interface Glyph {
  readonly hex: string;
  readonly width: number;
}

/** What the report text needs to know after rendering. */
export interface TextStats {
  /** Characters no embedded font has, drawn as the replacement mark. */
  readonly missingCharacters: number;
}

// Code points that have no glyph of their own and only modify a neighbour (joiners, variation
// selectors, bidi marks, BOM, tags): dropped when no font draws them, never counted as missing.
const IGNORABLE: readonly (readonly [number, number])[] = [
  [0x200b, 0x200f],
  [0x202a, 0x202e],
  [0x2060, 0x2064],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
  [0xe0000, 0xe007f],
  [0xe0100, 0xe01ef],
];

function isIgnorable(codePoint: number): boolean {
  return IGNORABLE.some(([low, high]) => codePoint >= low && codePoint <= high);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: making control characters visible is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const ELLIPSIS = '…';
const RUN_CACHE_LIMIT = 20_000;

/**
 * Control characters become visible escapes (`\n`, `\t`, `\u0007`): they would otherwise draw
 * nothing or break a line, and a reader must see that the value holds them.
 */
export function visibleText(text: string): string {
  return text.replace(CONTROL, (char) => {
    if (char === '\n') return '\\n';
    if (char === '\r') return '\\r';
    if (char === '\t') return '\\t';
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

export interface DrawOptions {
  readonly size: number;
  readonly bold?: boolean;
  /** Cut the text with "…" so it never runs past this width (points). */
  readonly maxWidth?: number;
  /** @default 'left' */
  readonly align?: 'left' | 'right';
}

/**
 * Draws text on a pdfkit document with font fallback. Coordinates are pdfkit's (points, origin
 * at the top left, y down); `y` is the top of the line.
 */
export class ReportText {
  private readonly regular: EmbeddedFont[];
  private readonly bold: EmbeddedFont[];
  private readonly shaping: boolean[];
  private readonly faceOf = new Map<number, number>();
  private readonly glyphs = new Map<EmbeddedFont, Map<number, Glyph>>();
  private readonly runs = new Map<string, EncodedText>();
  private readonly replacement: string;
  private missing = 0;
  private ops: string[] = [];

  constructor(
    private readonly doc: PDFKit.PDFDocument,
    fonts: ReportFonts,
  ) {
    if (fonts.faces.length === 0) throw new RangeError('a report needs at least one font');
    this.regular = fonts.faces.map((face, index) => embed(doc, `f${index}`, face.regular));
    this.bold = fonts.faces.map((face, index) =>
      face.bold === undefined ? this.regular[index]! : embed(doc, `f${index}b`, face.bold),
    );
    this.shaping = fonts.faces.map((face) => face.shaping === true);
    // A white square where some font has one, so a missing character is seen, not guessed at.
    this.replacement = this.faceFor(0x25a1) >= 0 ? '\u25a1' : '?';
  }

  stats(): TextStats {
    return { missingCharacters: this.missing };
  }

  /** The width in points the text takes at this size, as `draw` would write it (uncut). */
  width(text: string, size: number, bold = false): number {
    return (this.encode(visibleText(text), bold).width * size) / 1000;
  }

  /** Draws one line (no wrapping), cut with "…" at maxWidth; returns the width drawn. */
  draw(text: string, x: number, y: number, options: DrawOptions): number {
    const { size } = options;
    let encoded = this.encode(visibleText(text), options.bold === true);
    if (options.maxWidth !== undefined && (encoded.width * size) / 1000 > options.maxWidth) {
      encoded = this.cut(visibleText(text), options.bold === true, (options.maxWidth * 1000) / size);
    }
    const drawn = (encoded.width * size) / 1000;
    const left = options.align === 'right' ? x - drawn : x;
    this.emit(encoded, left, y, size);
    return drawn;
  }

  /**
   * Draws text wrapped to a width, breaking at spaces and, inside a word longer than the line,
   * between characters. Returns the y below the last line.
   */
  paragraph(text: string, x: number, y: number, width: number, options: DrawOptions & { lineHeight?: number }): number {
    const lineHeight = options.lineHeight ?? options.size * 1.35;
    let top = y;
    for (const line of this.wrap(visibleText(text), width, options.size, options.bold === true)) {
      this.emit(this.encode(line, options.bold === true), x, top, options.size);
      top += lineHeight;
    }
    return top;
  }

  /** Writes what was drawn since the last flush into the current page's content stream. */
  flush(): void {
    if (this.ops.length === 0) return;
    const page = this.doc.page;
    this.doc.addContent(`q 1 0 0 -1 0 ${num(page.height)} cm 0 g BT\n${this.ops.join('\n')}\nET Q`);
    this.ops = [];
  }

  private wrap(text: string, width: number, size: number, bold: boolean): string[] {
    const limit = (width * 1000) / size;
    const lines: string[] = [];
    let line = '';
    for (const word of text.split(/(?<= )/)) {
      const candidate = line + word;
      if (this.units(candidate.trimEnd(), bold) <= limit) {
        line = candidate;
        continue;
      }
      if (line !== '') lines.push(line.trimEnd());
      line = '';
      // A word wider than the line: break it between characters.
      for (const char of word) {
        if (this.units((line + char).trimEnd(), bold) > limit && line !== '') {
          lines.push(line);
          line = '';
        }
        line += char;
      }
    }
    if (line.trim() !== '' || lines.length === 0) lines.push(line.trimEnd());
    return lines;
  }

  private units(text: string, bold: boolean): number {
    return this.encode(text, bold).width;
  }

  /** The longest prefix that fits `limit` (1/1000 em) with "…" after it. */
  private cut(text: string, bold: boolean, limit: number): EncodedText {
    const ellipsis = this.units(ELLIPSIS, bold);
    const chars = [...text];
    let low = 0;
    let high = chars.length;
    // Widths only grow with the prefix: binary search for the longest one that fits.
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (this.units(chars.slice(0, mid).join(''), bold) + ellipsis <= limit) low = mid;
      else high = mid - 1;
    }
    return this.encode(`${chars.slice(0, low).join('').trimEnd()}${ELLIPSIS}`, bold);
  }

  private emit(text: EncodedText, x: number, y: number, size: number): void {
    const page = this.doc.page as PDFKit.PDFPage & { fonts: Record<string, unknown> };
    this.missing += text.missing;
    let left = x;
    for (const run of text.runs) {
      page.fonts[run.font.id] ??= run.font.ref();
      const baseline = page.height - y - (run.font.font.ascent * run.font.scale * size) / 1000;
      this.ops.push(`/${run.font.id} ${num(size)} Tf 1 0 0 1 ${num(left)} ${num(baseline)} Tm <${run.hex}> Tj`);
      left += (run.width * size) / 1000;
    }
  }

  /** The runs for a text, cached for repeated values (a table's model, policy, action, team). */
  private encode(text: string, bold: boolean): EncodedText {
    const key = bold ? `b${text}` : `r${text}`;
    const cached = this.runs.get(key);
    if (cached !== undefined) return cached;
    const runs = this.encodeUncached(text, bold);
    // Ids and timestamps never repeat: a bounded cache, emptied when full, keeps memory flat.
    if (this.runs.size >= RUN_CACHE_LIMIT) this.runs.clear();
    this.runs.set(key, runs);
    return runs;
  }

  private encodeUncached(text: string, bold: boolean): EncodedText {
    const fonts = bold ? this.bold : this.regular;
    const runs: EncodedRun[] = [];
    let missing = 0;
    let face = -1;
    let chunk = '';
    const close = () => {
      if (chunk !== '' && face >= 0) runs.push(this.run(fonts[face]!, this.shaping[face]!, chunk));
      chunk = '';
    };
    for (const char of text) {
      const codePoint = char.codePointAt(0)!;
      let index = this.faceFor(codePoint);
      let drawn = char;
      if (index < 0) {
        if (isIgnorable(codePoint)) continue;
        missing += 1;
        drawn = this.replacement;
        index = this.faceFor(drawn.codePointAt(0)!);
        if (index < 0) continue;
      }
      if (index !== face) {
        close();
        face = index;
      }
      chunk += drawn;
    }
    close();
    return { runs, width: runs.reduce((sum, run) => sum + run.width, 0), missing };
  }

  private run(font: EmbeddedFont, shaping: boolean, text: string): EncodedRun {
    let hex = '';
    let width = 0;
    if (shaping) {
      for (const glyph of font.font.layout(text).glyphs) {
        const encoded = this.register(font, glyph);
        hex += encoded.hex;
        width += encoded.width;
      }
      return { font, hex, width };
    }
    let cache = this.glyphs.get(font);
    if (cache === undefined) {
      cache = new Map();
      this.glyphs.set(font, cache);
    }
    for (const char of text) {
      const codePoint = char.codePointAt(0)!;
      let glyph = cache.get(codePoint);
      if (glyph === undefined) {
        glyph = this.register(font, font.font.glyphForCodePoint(codePoint), codePoint);
        cache.set(codePoint, glyph);
      }
      hex += glyph.hex;
      width += glyph.width;
    }
    return { font, hex, width };
  }

  /** Puts a glyph in the font's subset with its width and the characters it stands for. */
  private register(font: EmbeddedFont, glyph: FontkitGlyph, codePoint?: number): Glyph {
    const id = font.subset.includeGlyph(glyph.id);
    const width = glyph.advanceWidth * font.scale;
    font.widths[id] ??= width;
    font.unicode[id] ??= codePoint === undefined ? glyph.codePoints : [codePoint];
    return { hex: id.toString(16).padStart(4, '0'), width };
  }

  private faceFor(codePoint: number): number {
    const known = this.faceOf.get(codePoint);
    if (known !== undefined) return known;
    const index = this.regular.findIndex((font) => font.font.hasGlyphForCodePoint(codePoint));
    this.faceOf.set(codePoint, index);
    return index;
  }
}

function embed(doc: PDFKit.PDFDocument, name: string, bytes: Uint8Array): EmbeddedFont {
  doc.registerFont(name, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  doc.font(name);
  return (doc as unknown as { _font: EmbeddedFont })._font;
}

/** Numbers in content streams: at most 2 decimals, no exponent. */
export function num(value: number): string {
  return (Math.round(value * 100) / 100).toString();
}

export type { PDFDocument };
