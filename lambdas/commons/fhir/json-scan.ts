/**
 * Cheap structural checks over JSON text that `JSON.parse` accepted, plus a diagnostic pass for text it
 * rejected. Kept apart from the parser so that the hot path (valid JSON) pays only for one linear scan.
 *
 * See: [FHIR JSON representation](https://hl7.org/fhir/R4/json.html)
 */

/** A structural problem found in JSON text; `position` is a 0-based UTF-16 offset. */
export interface JsonProblem {
  readonly message: string;
  readonly position: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;

function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Returns the index of the closing quote of the string that opens at `start`. Uses `indexOf`, so long
 * strings (narrative, attachments) are skipped natively instead of char by char.
 * @param text - The JSON text.
 * @param start - Index of the opening quote.
 * @returns Index of the closing quote, or -1 when unterminated.
 */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) {
      return -1;
    }
    let backslashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) {
      backslashes++;
    }
    if (backslashes % 2 === 0) {
      return q;
    }
    from = q + 1;
  }
}

/**
 * Finds duplicate property names within one object and nesting deeper than `maxDepth` in text that is
 * already known to be valid JSON. `JSON.parse` silently keeps the last of duplicate keys; the HL7
 * validator rejects them, so we must find them in the text.
 * @param text - Valid JSON text.
 * @param maxDepth - Deepest allowed nesting of objects and arrays (the root counts as 1).
 * @returns The first problem, or undefined.
 */
export function findStructuralProblem(text: string, maxDepth: number): JsonProblem | undefined {
  // One entry per open container: the keys seen so far for objects, null for arrays.
  const stack: (string[] | Set<string> | null)[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end < 0) {
        return { message: 'unterminated string', position: i };
      }
      let k = end + 1;
      while (k < n && isJsonWhitespace(text.charCodeAt(k))) {
        k++;
      }
      if (text.charCodeAt(k) === COLON) {
        const raw = text.slice(i + 1, end);
        // Escaped keys are rare; decode them so that "\u0061" and "a" count as the same name.
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        const top = stack[stack.length - 1];
        if (top) {
          if (Array.isArray(top)) {
            if (top.includes(key)) {
              return { message: 'duplicate property name', position: i };
            }
            top.push(key);
            // Small objects dominate FHIR; a linear search beats a Set until here.
            if (top.length > 16) {
              stack[stack.length - 1] = new Set(top);
            }
          } else {
            if (top.has(key)) {
              return { message: 'duplicate property name', position: i };
            }
            top.add(key);
          }
        }
      }
      i = end + 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (stack.length >= maxDepth) {
        return { message: `nesting deeper than ${maxDepth} levels`, position: i };
      }
      stack.push(c === OPEN_BRACE ? [] : null);
      i++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      stack.pop();
      i++;
    } else {
      i++;
    }
  }
  return undefined;
}

/**
 * Explains why `JSON.parse` rejected the text, without quoting any of it (the engine's own message
 * echoes a snippet of the body, which may be patient data). Runs only on the error path.
 * @param text - Text that is not valid JSON.
 * @returns The first syntax problem found.
 */
export function diagnoseJsonSyntax(text: string): JsonProblem {
  return new SyntaxDiagnoser(text).run();
}

class SyntaxDiagnoser {
  private pos = 0;

  constructor(private readonly text: string) {}

  run(): JsonProblem {
    try {
      this.skipWhitespace();
      this.value();
      this.skipWhitespace();
      if (this.pos < this.text.length) {
        return this.problem('unexpected content after the end of the JSON value');
      }
      // Our grammar accepted what JSON.parse rejected (e.g. a lone surrogate escape); stay generic.
      return { message: 'invalid JSON', position: 0 };
    } catch (err) {
      if (err instanceof DiagnosisError) {
        return err.problem;
      }
      throw err;
    }
  }

  private problem(message: string, position = this.pos): JsonProblem {
    return { message, position };
  }

  private fail(message: string, position = this.pos): never {
    throw new DiagnosisError(this.problem(message, position));
  }

  private skipWhitespace(): void {
    const t = this.text;
    while (this.pos < t.length && isJsonWhitespace(t.charCodeAt(this.pos))) {
      this.pos++;
    }
    if (t.startsWith('//', this.pos) || t.startsWith('/*', this.pos)) {
      this.fail('comments are not allowed in JSON');
    }
  }

  /**
   * Reads one JSON value with an explicit stack of open containers: no recursion, so any nesting
   * depth (`[` a million times) costs memory proportional to the input, never the call stack.
   */
  private value(): void {
    const t = this.text;
    const open: number[] = [];
    for (;;) {
      // A value is expected here.
      this.skipWhitespace();
      if (this.pos >= t.length) {
        this.fail('unexpected end of input');
      }
      const c = t.charCodeAt(this.pos);
      let opened = false;
      if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        const close = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
        this.pos++;
        this.skipWhitespace();
        if (t.charCodeAt(this.pos) === close) {
          this.pos++;
        } else {
          open.push(c);
          if (c === OPEN_BRACE) {
            this.memberName();
          }
          opened = true;
        }
      } else {
        this.scalar(c);
      }
      if (opened) {
        continue;
      }
      // A value ended: close what it completes, until a comma asks for the next value.
      for (;;) {
        const top = open[open.length - 1];
        if (top === undefined) {
          return;
        }
        this.skipWhitespace();
        const close = top === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
        const d = t.charCodeAt(this.pos);
        if (d === close) {
          this.pos++;
          open.pop();
          continue;
        }
        if (d !== 0x2c) {
          this.fail(this.pos >= t.length ? 'unexpected end of input' : 'a comma is missing');
        }
        this.pos++;
        this.skipWhitespace();
        if (t.charCodeAt(this.pos) === close) {
          this.fail(top === OPEN_BRACE ? 'extra comma at the end of an object' : 'extra comma at the end of an array');
        }
        if (top === OPEN_BRACE) {
          this.memberName();
        }
        break;
      }
    }
  }

  /** A property name and its colon; the value follows. */
  private memberName(): void {
    this.skipWhitespace();
    const c = this.text.charCodeAt(this.pos);
    if (c !== QUOTE) {
      if (this.identCharAt(this.pos) || c === 0x27) {
        this.fail('a property name has no double quotes around it');
      }
      this.fail(this.pos >= this.text.length ? 'unexpected end of input' : 'expected a property name');
    }
    this.string();
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) !== COLON) {
      this.fail("expected ':' after a property name");
    }
    this.pos++;
  }

  private scalar(c: number): void {
    const t = this.text;
    if (c === QUOTE) {
      this.string();
    } else if (t.startsWith('true', this.pos) && !this.identCharAt(this.pos + 4)) {
      this.pos += 4;
    } else if (t.startsWith('false', this.pos) && !this.identCharAt(this.pos + 5)) {
      this.pos += 5;
    } else if (t.startsWith('null', this.pos) && !this.identCharAt(this.pos + 4)) {
      this.pos += 4;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      this.number();
    } else if (c === 0x27) {
      this.fail('strings must use double quotes');
    } else if (this.identCharAt(this.pos)) {
      this.fail('a value has no quotes around it');
    } else {
      this.fail('unexpected character');
    }
  }

  private identCharAt(i: number): boolean {
    const c = this.text.charCodeAt(i);
    return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24 || c > 0x7f;
  }

  private number(): void {
    const m = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    m.lastIndex = this.pos;
    const r = m.exec(this.text);
    if (!r || r[0] === '-' || r[0].length === 0) {
      this.fail('invalid number');
    }
    this.pos += r[0].length;
    if (this.identCharAt(this.pos) || this.text.charCodeAt(this.pos) === 0x2e) {
      this.fail('invalid number');
    }
  }

  private string(): void {
    const start = this.pos;
    const t = this.text;
    let i = start + 1;
    while (i < t.length) {
      const c = t.charCodeAt(i);
      if (c === QUOTE) {
        this.pos = i + 1;
        return;
      }
      if (c < 0x20) {
        this.fail('control character in string', i);
      }
      if (c === BACKSLASH) {
        const e = t[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(t.slice(i + 2, i + 6))) {
            this.fail('invalid unicode escape', i);
          }
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          this.fail('invalid escape in string', i);
        }
        i += 2;
        continue;
      }
      i++;
    }
    this.fail('unterminated string', start);
  }
}

class DiagnosisError extends Error {
  constructor(readonly problem: JsonProblem) {
    super(problem.message);
    this.name = 'DiagnosisError';
  }
}

/**
 * Converts an offset into a 1-based line and column, for messages a person can act on.
 * @param text - The text.
 * @param position - A 0-based offset into it.
 * @returns Line and column.
 */
export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < position; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: position - lineStart + 1 };
}
