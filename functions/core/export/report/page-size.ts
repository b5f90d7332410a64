/** Paper sizes the PDF report is printed on (`--page-size`). */
export const REPORT_PAGE_SIZES = ['a4', 'letter'] as const;

export type ReportPageSize = (typeof REPORT_PAGE_SIZES)[number];

export const DEFAULT_REPORT_PAGE_SIZE: ReportPageSize = 'a4';

export function isReportPageSize(value: unknown): value is ReportPageSize {
  return typeof value === 'string' && (REPORT_PAGE_SIZES as readonly string[]).includes(value);
}

/** Width and height in points (1/72 inch): ISO 216 A4, and ANSI US Letter. */
export function pageDimensions(size: ReportPageSize): { readonly width: number; readonly height: number } {
  return size === 'letter' ? { width: 612, height: 792 } : { width: 595.28, height: 841.89 };
}
