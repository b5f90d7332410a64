/**
 * Values that get a leading `'`. Spreadsheets run a cell starting with `= + - @` as a formula (CSV
 * injection), tab and CR included because some strip them and then see the next character. Values
 * that already look neutralised (`'=1`) get one too, so removing one `'` from a cell matching this
 * undoes the change exactly, whatever the value.
 */
const NEUTRALISED = /^'*[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * A text value as one RFC 4180 cell, with a leading `'` when a spreadsheet would otherwise run
 * it as a formula. The `'` is the only change, so a reader can undo it exactly (textOfCell).
 */
export function textCell(value: string): string {
  const neutralised = NEUTRALISED.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(neutralised) ? `"${neutralised.replaceAll('"', '""')}"` : neutralised;
}

/** The text value a cell holds once RFC 4180 quoting is removed: textCell undone. */
export function textOfCell(cell: string): string {
  return NEUTRALISED.test(cell) && cell.startsWith("'") ? cell.slice(1) : cell;
}

/**
 * Numbers are never neutralised: `-5` is a number to a spreadsheet, not a formula, and a `'`
 * would turn it into text that no longer sums.
 */
export function numberCell(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`cannot write ${value} to a CSV cell`);
  return String(value);
}
