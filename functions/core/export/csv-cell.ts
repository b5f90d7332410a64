/**
 * Spreadsheets run a cell starting with one of these as a formula (CSV injection), tab and CR
 * included because some strip them and then see the next character.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * A text value as one RFC 4180 cell, with a leading `'` when a spreadsheet would otherwise run
 * it as a formula. The `'` is the only change, so a reader can undo it exactly.
 */
export function textCell(value: string): string {
  const neutralised = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(neutralised) ? `"${neutralised.replaceAll('"', '""')}"` : neutralised;
}

/**
 * Numbers are never neutralised: `-5` is a number to a spreadsheet, not a formula, and a `'`
 * would turn it into text that no longer sums.
 */
export function numberCell(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`cannot write ${value} to a CSV cell`);
  return String(value);
}
