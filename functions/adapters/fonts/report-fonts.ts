import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ReportFonts } from '../../core/export/report/report-text.ts';
import { bundledFontName, REPORT_FONT_FILES } from './report-font-files.ts';

/**
 * Reads the report's fonts: in Lambda from the `fonts/` folder the bundle carries beside the
 * handler (LAMBDA_TASK_ROOT), elsewhere (local stack, tests, benchmarks) from the npm packages
 * that ship them. Loaded once per process: a warm render function reuses them.
 */
let loaded: Promise<ReportFonts> | undefined;

export function loadReportFonts(): Promise<ReportFonts> {
  loaded ??= readFonts().catch((error: unknown) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}

async function readFonts(): Promise<ReportFonts> {
  const locate = fontLocator();
  const faces = await Promise.all(
    REPORT_FONT_FILES.map(async (font) => ({
      name: font.name,
      regular: await readFile(locate(font.regular)),
      ...(font.bold === undefined ? {} : { bold: await readFile(locate(font.bold)) }),
      ...(font.shaping === undefined ? {} : { shaping: true }),
    })),
  );
  return { faces };
}

function fontLocator(): (packagePath: string) => string {
  const taskRoot = process.env.LAMBDA_TASK_ROOT;
  if (taskRoot !== undefined && taskRoot !== '') {
    return (packagePath) => path.join(taskRoot, 'fonts', bundledFontName(packagePath));
  }
  // Resolved as the project resolves its own dependencies (no import.meta: jest loads CommonJS).
  const require = createRequire(path.join(process.cwd(), 'package.json'));
  return (packagePath) => require.resolve(packagePath);
}
