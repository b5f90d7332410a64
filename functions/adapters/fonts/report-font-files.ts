/**
 * The fonts the PDF report embeds, in fallback order, as files of npm packages (dependencies in
 * package.json, so `npm ci` brings them and their licences, SIL OFL 1.1). The render function's
 * bundle carries a copy of each in `fonts/` (infra/constructs/function.ts copies them); elsewhere
 * they are read from node_modules.
 *
 * Noto Sans covers Latin, Greek and Cyrillic; Noto Sans JP kana, kanji and the CJK symbols
 * (including □, drawn for a character no font has); Noto Sans SC the simplified Chinese forms and
 * Noto Sans KR Hangul; Hebrew and Arabic (shaped, right to left) and monochrome Noto Emoji cover
 * the rest of what gateways record in practice. Thai, Devanagari and other scripts are drawn as □
 * and counted in the report; adding a font here adds the script.
 */
export interface ReportFontFile {
  readonly name: string;
  /** `<package>/<path>` under node_modules. */
  readonly regular: string;
  readonly bold?: string;
  readonly shaping?: true;
}

export const REPORT_FONT_FILES: readonly ReportFontFile[] = [
  {
    name: 'Noto Sans',
    regular: '@expo-google-fonts/noto-sans/400Regular/NotoSans_400Regular.ttf',
    bold: '@expo-google-fonts/noto-sans/700Bold/NotoSans_700Bold.ttf',
  },
  { name: 'Noto Sans JP', regular: '@expo-google-fonts/noto-sans-jp/400Regular/NotoSansJP_400Regular.ttf' },
  // Simplified Chinese forms Japanese does not use (团, 队, 数据 …), then Korean Hangul.
  { name: 'Noto Sans SC', regular: '@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf' },
  { name: 'Noto Sans KR', regular: '@expo-google-fonts/noto-sans-kr/400Regular/NotoSansKR_400Regular.ttf' },
  // Shaped too: fontkit lays right-to-left scripts out in visual order (and places Hebrew points).
  {
    name: 'Noto Sans Hebrew',
    regular: '@expo-google-fonts/noto-sans-hebrew/400Regular/NotoSansHebrew_400Regular.ttf',
    shaping: true,
  },
  {
    name: 'Noto Sans Arabic',
    regular: '@expo-google-fonts/noto-sans-arabic/400Regular/NotoSansArabic_400Regular.ttf',
    shaping: true,
  },
  { name: 'Noto Emoji', regular: '@expo-google-fonts/noto-emoji/400Regular/NotoEmoji_400Regular.ttf' },
];

/** Every file of REPORT_FONT_FILES, as `<package>/<path>`. */
export function reportFontPaths(): string[] {
  return REPORT_FONT_FILES.flatMap((font) => (font.bold === undefined ? [font.regular] : [font.regular, font.bold]));
}

/** The file's name in the bundle's `fonts/` folder. */
export function bundledFontName(packagePath: string): string {
  return packagePath.slice(packagePath.lastIndexOf('/') + 1);
}

/** The render function's setting: the most rows a report's table shows (the rest: companion CSV). */
export const MAX_DETAIL_ROWS_VARIABLE = 'PDF_MAX_DETAIL_ROWS';
