/**
 * A streaming RFC 4180 reader for the CSV artifact, strict enough to be evidence: text arrives in
 * chunks of any size, rows leave one at a time, and anything the encoder (csv-encoder.ts) cannot
 * have written (a stray quote, an unterminated quoted cell) is an error naming the line. Rows end
 * in LF (CRLF is read too); CR and LF inside quotes are part of the value.
 */

/** The file is not CSV as the export writes it. */
export class CsvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvSyntaxError';
  }
}

/** No cell of a stored event comes near this (an event is at most 16 KiB): past it, a quote is unterminated. */
const MAX_CELL_CHARS = 1024 * 1024;

/** What ends a run of plain characters outside quotes. */
const SPECIAL = /[,\r\n"]/g;

type State = 'start' | 'unquoted' | 'quoted' | 'quote' | 'cr';

export class CsvRowReader {
  private state: State = 'start';
  private cell = '';
  private cells: string[] = [];
  /** Line where the current row started, and the current line (they differ inside quotes). */
  private rowLine = 1;
  private line = 1;

  constructor(private readonly onRow: (cells: readonly string[], line: number) => void) {}

  push(text: string): void {
    let i = 0;
    while (i < text.length) {
      // Runs of plain characters are taken in one slice: per-character work would dominate big files.
      if (this.state === 'quoted') {
        const quote = text.indexOf('"', i);
        const end = quote === -1 ? text.length : quote;
        this.appendRun(text.slice(i, end));
        if (quote === -1) return;
        this.state = 'quote';
        i = quote + 1;
      } else if (this.state === 'unquoted') {
        SPECIAL.lastIndex = i;
        const end = SPECIAL.exec(text)?.index ?? text.length;
        this.appendRun(text.slice(i, end));
        i = end;
        if (i < text.length) this.unquoted(text[i++]!);
      } else {
        this.step(text[i++]!);
      }
    }
  }

  /** The end of the input: a last row without its line end still counts. */
  end(): void {
    if (this.state === 'quoted') throw new CsvSyntaxError('a quoted cell is never closed', this.rowLine);
    if (this.state === 'cr') this.endRow();
    else if (this.state !== 'start' || this.cells.length > 0) this.endRow();
  }

  private step(char: string): void {
    switch (this.state) {
      case 'start':
        if (char === '"') this.state = 'quoted';
        else this.unquoted(char);
        return;
      case 'unquoted':
        this.unquoted(char);
        return;
      case 'quoted':
        if (char === '"') this.state = 'quote';
        else this.append(char);
        return;
      case 'quote':
        // After a quote inside quotes: another quote is an escaped quote, else the cell has ended.
        if (char === '"') {
          this.append('"');
          this.state = 'quoted';
        } else if (char === ',' || char === '\n' || char === '\r') {
          this.unquoted(char);
        } else {
          throw new CsvSyntaxError(
            `a quoted cell is followed by ${JSON.stringify(char)} instead of , or a line end`,
            this.line,
          );
        }
        return;
      case 'cr':
        if (char !== '\n')
          throw new CsvSyntaxError('a carriage return outside quotes is not a line end', this.line);
        this.endRow();
        return;
    }
  }

  /** A character outside quotes. */
  private unquoted(char: string): void {
    if (char === ',') {
      this.cells.push(this.cell);
      this.cell = '';
      this.state = 'start';
    } else if (char === '\n') {
      this.endRow();
    } else if (char === '\r') {
      this.state = 'cr';
    } else if (char === '"') {
      throw new CsvSyntaxError('a quote inside a cell that is not quoted', this.line);
    } else {
      this.append(char);
      this.state = 'unquoted';
    }
  }

  private append(char: string): void {
    this.appendRun(char);
  }

  /** Characters of the current cell; newlines among them are inside quotes. */
  private appendRun(run: string): void {
    if (run === '') return;
    if (this.cell.length + run.length > MAX_CELL_CHARS) {
      throw new CsvSyntaxError(
        `a cell longer than ${MAX_CELL_CHARS} characters (an unterminated quote?)`,
        this.rowLine,
      );
    }
    this.cell += run;
    for (let at = run.indexOf('\n'); at !== -1; at = run.indexOf('\n', at + 1)) this.line += 1;
  }

  private endRow(): void {
    this.cells.push(this.cell);
    const cells = this.cells;
    const line = this.rowLine;
    this.cells = [];
    this.cell = '';
    this.state = 'start';
    this.line += 1;
    this.rowLine = this.line;
    this.onRow(cells, line);
  }
}
