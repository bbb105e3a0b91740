import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { errorIssue } from './issues.js';

/*
 * Narrative.div rules (https://hl7.org/fhir/R4/narrative.html#xhtml): well-formed XHTML, root <div> in
 * the XHTML namespace, only the basic HTML formatting elements and attributes, no scripts, forms,
 * event handlers or external content, and no entities other than XML's own. Only the subset of XML
 * that a narrative may contain is parsed; anything else (DOCTYPE, processing instructions) is refused.
 */

const XHTML_NS = 'http://www.w3.org/1999/xhtml';

const ELEMENTS = new Set([
  'a', 'abbr', 'acronym', 'address', 'area', 'b', 'bdo', 'big', 'blockquote', 'br', 'caption', 'cite', 'code',
  'col', 'colgroup', 'dd', 'dfn', 'div', 'dl', 'dt', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img',
  'kbd', 'li', 'map', 'ol', 'p', 'pre', 'q', 'samp', 'small', 'span', 'strong', 'sub', 'sup', 'table', 'tbody',
  'td', 'tfoot', 'th', 'thead', 'tr', 'tt', 'ul', 'var',
]);

const ATTRIBUTES = new Set([
  'title', 'style', 'class', 'id', 'lang', 'xml:lang', 'dir', 'accesskey', 'tabindex',
  // tables
  'span', 'width', 'align', 'valign', 'char', 'charoff', 'abbr', 'axis', 'headers', 'scope', 'rowspan', 'colspan',
  'summary', 'border', 'frame', 'rules', 'cellspacing', 'cellpadding', 'bgcolor',
  // links, images, lists, quotes
  'href', 'name', 'src', 'alt', 'height', 'usemap', 'ismap', 'shape', 'coords', 'nohref', 'start', 'type', 'value',
  'compact', 'cite', 'datetime', 'xmlns', 'xmlns:xhtml', 'xml:space', 'clear', 'nowrap', 'hspace', 'vspace',
]);

const NAME = /[A-Za-z_][A-Za-z0-9_.:-]*/y;
const ENTITY = /&(?:#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|quot|apos);/y;

class XhtmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XhtmlError';
  }
}

function checkEntities(text: string): void {
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
    ENTITY.lastIndex = i;
    if (!ENTITY.test(text)) {
      throw new XhtmlError('Invalid entity in the XHTML: only &lt; &gt; &amp; &quot; &apos; and numeric references are allowed');
    }
  }
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\n' || c === '\r' || c === '\t';
}

/**
 * Parses one start tag at `pos` (just after '<').
 * @returns The element name, whether it self-closes, and the index after '>'.
 */
function readStartTag(s: string, pos: number, isRoot: boolean): { name: string; selfClosing: boolean; next: number } {
  NAME.lastIndex = pos;
  const m = NAME.exec(s);
  if (!m) {
    throw new XhtmlError('Malformed XHTML: invalid element name');
  }
  const name = m[0];
  if (!ELEMENTS.has(name)) {
    throw new XhtmlError(`Illegal element name in the XHTML ('${name.slice(0, 20)}')`);
  }
  let i = pos + name.length;
  const seen = new Set<string>();
  let xmlns: string | undefined;
  for (;;) {
    const before = i;
    while (isSpace(s[i])) {
      i++;
    }
    if (s.startsWith('/>', i)) {
      return finish(name, true, i + 2);
    }
    if (s[i] === '>') {
      return finish(name, false, i + 1);
    }
    if (i === before) {
      throw new XhtmlError('Malformed XHTML: attributes must be separated by white space');
    }
    NAME.lastIndex = i;
    const a = NAME.exec(s);
    if (!a) {
      throw new XhtmlError('Malformed XHTML: invalid attribute');
    }
    const attr = a[0];
    i += attr.length;
    while (isSpace(s[i])) {
      i++;
    }
    if (s[i] !== '=') {
      throw new XhtmlError('Malformed XHTML: attribute without a value');
    }
    i++;
    while (isSpace(s[i])) {
      i++;
    }
    const quote = s[i];
    if (quote !== '"' && quote !== "'") {
      throw new XhtmlError('Malformed XHTML: attribute value without quotes');
    }
    const end = s.indexOf(quote, i + 1);
    if (end < 0) {
      throw new XhtmlError('Malformed XHTML: unterminated attribute value');
    }
    const value = s.slice(i + 1, end);
    i = end + 1;
    if (seen.has(attr)) {
      throw new XhtmlError('Malformed XHTML: duplicate attribute');
    }
    seen.add(attr);
    if (value.includes('<')) {
      throw new XhtmlError("Malformed XHTML: '<' in an attribute value");
    }
    checkEntities(value);
    if (/^on/i.test(attr) || !ATTRIBUTES.has(attr)) {
      throw new XhtmlError(`Illegal attribute name in the XHTML ('${attr.slice(0, 20)}' on ${name})`);
    }
    if ((attr === 'href' || attr === 'src') && /^\s*(javascript|vbscript):/i.test(value)) {
      throw new XhtmlError('Script URLs are not allowed in the XHTML');
    }
    if (attr === 'xmlns') {
      xmlns = value;
    }
  }

  function finish(n: string, selfClosing: boolean, next: number): { name: string; selfClosing: boolean; next: number } {
    if (isRoot ? xmlns !== XHTML_NS : xmlns !== undefined && xmlns !== XHTML_NS) {
      throw new XhtmlError(`Wrong namespace on the XHTML: the narrative must be in the ${XHTML_NS} namespace`);
    }
    return { name: n, selfClosing, next };
  }
}

/**
 * Finds the first problem in a narrative's XHTML.
 * @param div - The Narrative.div string.
 * @returns A message, or undefined when the XHTML is acceptable.
 */
export function findXhtmlProblem(div: string): string | undefined {
  try {
    parseXhtml(div);
    return undefined;
  } catch (err) {
    if (err instanceof XhtmlError) {
      return err.message;
    }
    throw err;
  }
}

function parseXhtml(s: string): void {
  const stack: string[] = [];
  let roots = 0;
  let pos = 0;
  while (pos < s.length) {
    const lt = s.indexOf('<', pos);
    const text = s.slice(pos, lt < 0 ? s.length : lt);
    if (stack.length === 0 && text.trim() !== '') {
      throw new XhtmlError('Malformed XHTML: text outside the root <div>');
    }
    checkEntities(text);
    if (lt < 0) {
      break;
    }
    if (s.startsWith('<!--', lt)) {
      const end = s.indexOf('-->', lt + 4);
      if (end < 0) {
        throw new XhtmlError('Malformed XHTML: unterminated comment');
      }
      pos = end + 3;
    } else if (s.startsWith('<![CDATA[', lt) && stack.length > 0) {
      const end = s.indexOf(']]>', lt + 9);
      if (end < 0) {
        throw new XhtmlError('Malformed XHTML: unterminated CDATA section');
      }
      pos = end + 3;
    } else if (s[lt + 1] === '!' || s[lt + 1] === '?') {
      throw new XhtmlError('DOCTYPE declarations and processing instructions are not allowed in the XHTML');
    } else if (s[lt + 1] === '/') {
      const gt = s.indexOf('>', lt);
      const name = gt < 0 ? '' : s.slice(lt + 2, gt).trim();
      if (name !== stack.pop()) {
        throw new XhtmlError('Malformed XHTML: mismatched end tag');
      }
      pos = gt + 1;
    } else {
      const isRoot = stack.length === 0;
      if (isRoot && roots++ > 0) {
        throw new XhtmlError('Malformed XHTML: more than one root element');
      }
      const tag = readStartTag(s, lt + 1, isRoot);
      if (isRoot && tag.name !== 'div') {
        throw new XhtmlError('The narrative root element must be a <div>');
      }
      if (!tag.selfClosing) {
        stack.push(tag.name);
      }
      pos = tag.next;
    }
  }
  if (stack.length > 0) {
    throw new XhtmlError('Malformed XHTML: unclosed element');
  }
  if (roots === 0) {
    throw new XhtmlError('The narrative must be a <div> element');
  }
}

/**
 * Checks a Narrative.div value.
 * @param div - The xhtml string.
 * @param path - Its location.
 * @returns Issues found.
 */
export function checkNarrativeDiv(div: unknown, path: string): OperationOutcomeIssue[] {
  if (typeof div !== 'string') {
    return [];
  }
  const problem = findXhtmlProblem(div);
  return problem ? [errorIssue('value', problem, path)] : [];
}
