/**
 * Reading an analysis dataset written as CSV (RFC 4180) into named text columns, the way R's
 * read.csv sees it: a header line; a first column with an empty name (R's write.csv) or a header
 * one field short (write.table) holds row names; quoted fields may contain commas, doubled quotes
 * and line breaks; `NA` and empty fields are missing (R treats an empty *character* field as "",
 * we treat it as missing everywhere because an analysis dataset has no use for empty labels).
 */
import { buildDesign, type Design, type DesignSpec } from './design.js';

/** A parsed CSV file: text cells by column, `null` where missing. */
export interface CsvTable {
  /** Column names, row-name column excluded. */
  readonly header: readonly string[];
  /** Row names: from the file, or "1", "2", … as R numbers rows. */
  readonly rowNames: readonly string[];
  readonly columns: ReadonlyMap<string, readonly (string | null)[]>;
}

/** Thrown for a file that is not well-formed CSV; the message gives the line. */
export class CsvFormatError extends Error {
  override name = 'CsvFormatError';
}

const MISSING = new Set(['NA', '']);

/** Splits text into records of fields, honouring quotes; reports each field's quotedness. */
function tokenize(text: string): { value: string; line: number }[][] {
  const records: { value: string; line: number }[][] = [];
  let record: { value: string; line: number }[] = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  let line = 1;
  let fieldLine = 1;
  const endField = (): void => {
    record.push({ value: quoted ? field : field.trim(), line: fieldLine });
    field = '';
    quoted = false;
    fieldLine = line;
  };
  const endRecord = (): void => {
    endField();
    // A blank line is no record (read.csv's blank.lines.skip).
    if (!(record.length === 1 && record[0]?.value === '')) records.push(record);
    record = [];
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"') {
      if (field.trim() !== '') throw new CsvFormatError(`line ${line}: quote inside an unquoted field`);
      inQuotes = true;
      quoted = true;
      field = '';
    } else if (ch === ',') {
      endField();
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      fieldLine = line;
    } else {
      field += ch;
    }
  }
  if (inQuotes) throw new CsvFormatError(`line ${fieldLine}: unterminated quoted field`);
  if (field !== '' || quoted || record.length > 0) endRecord();
  return records;
}

/**
 * Parses CSV text into columns.
 * @param text - The file's text (a UTF-8 byte-order mark is ignored).
 * @returns The table.
 * @throws CsvFormatError for ragged rows, duplicate or missing column names, or broken quoting.
 */
export function parseCsv(text: string): CsvTable {
  const records = tokenize(text.replace(/^\uFEFF/, ''));
  const headerRecord = records[0];
  if (!headerRecord) throw new CsvFormatError('the file is empty');
  let header = headerRecord.map((f) => f.value);
  const body = records.slice(1);
  const width = body[0]?.length ?? header.length;
  let hasRowNames = false;
  if (header[0] === '' && header.length === width) {
    hasRowNames = true;
    header = header.slice(1);
  } else if (header.length === width - 1) {
    hasRowNames = true;
  }
  const seen = new Set<string>();
  for (const name of header) {
    if (name === '') throw new CsvFormatError('line 1: a column has no name');
    if (seen.has(name)) throw new CsvFormatError(`line 1: column "${name}" appears twice`);
    seen.add(name);
  }
  const expected = header.length + (hasRowNames ? 1 : 0);
  const rowNames: string[] = [];
  const cells: (string | null)[][] = header.map(() => []);
  body.forEach((record, r) => {
    if (record.length !== expected) {
      throw new CsvFormatError(`line ${record[0]?.line ?? '?'}: ${record.length} fields where the header implies ${expected}`);
    }
    const values = hasRowNames ? record.slice(1) : record;
    rowNames.push(hasRowNames ? (record[0]?.value ?? '') : String(r + 1));
    values.forEach((f, c) => (cells[c] as (string | null)[]).push(MISSING.has(f.value) ? null : f.value));
  });
  return { header, rowNames, columns: new Map(header.map((name, c) => [name, cells[c] as (string | null)[]])) };
}

/**
 * Reads an analysis dataset: parses the CSV and builds the design matrix for a logistic model.
 * @param text - CSV text.
 * @param spec - Outcome, predictors and factor columns.
 * @returns The design, rows with a missing value in any used column dropped.
 * @example
 * readAnalysisCsv(text, { outcome: 'admit', predictors: ['gre', 'gpa', 'rank'], factors: ['rank'] });
 */
export function readAnalysisCsv(text: string, spec: DesignSpec): Design {
  return buildDesign(parseCsv(text), spec);
}
