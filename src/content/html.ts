// What the HTML parts of a message show and hide, computed once per message (memo) with
// htmlparser2's streaming parser: the visible text (tags stripped, entities decoded; script, style,
// head and title content left out), the links with their visible text, the images, the active
// content (scripts, frames, plug-ins, forms), and the text a reader cannot see.
//
// Hidden text is read from inline styles and presentational attributes only (what mail clients
// honour; <style> sheets are not applied), inherited down the element tree:
// - invisible: `display:none`, `visibility:hidden`, `opacity:0`, or the `hidden` attribute;
// - tiny: a CSS font-size of at most 1px or 1pt, 0.1em/rem or 10% (0 included). `<font size=1>`
//   is NOT tiny: it renders about 10px and is common in legitimate footers;
// - like its background: the text colour (`color`, `<font color>`, `<body text>`) within 10 of 255
//   on every RGB channel of the nearest background (`background-color`, `background`, `bgcolor`),
//   or a fully transparent text colour. A background image makes the background unknown (no
//   comparison). Without any declared background the page is taken as white, unless the document
//   has a <style> element (its sheet may paint the page, so the background is then unknown).
//   Links without a colour of their own are drawn in the client's link blue.
// Each text run counts in one category only, first match wins: invisible, tiny, like background,
// visible. Only visible text goes to `text`; zero-width characters are dropped from it.
import { Parser } from 'htmlparser2';
import { memo, type ParsedMessage } from '../core/message.js';

export interface HtmlLink {
  /** The href as written (entities decoded, trimmed). */
  href: string;
  /** The link's visible text, whitespace collapsed. */
  text: string;
}

export interface HtmlImage {
  src: string;
  /** Fetched from the network when displayed (http, https or protocol-relative). */
  remote: boolean;
  /** Declared size in CSS pixels (width/height attributes or inline style), when given in pixels. */
  width?: number;
  height?: number;
}

/** Text a reader does not see: how much (letters and digits) and its first words. */
export interface HiddenText {
  letters: number;
  sample: string;
}

export interface HtmlAnalysis {
  /** HTML parts analysed (those of attached messages included). */
  parts: number;
  /** Visible text of every HTML part, whitespace collapsed to single spaces. */
  text: string;
  /** Letters and digits in `text`: how much there is to read (spaces and punctuation do not count). */
  textLength: number;
  /** Elements opened, as a measure of markup. */
  elements: number;
  links: HtmlLink[];
  images: HtmlImage[];
  /** Form targets (action attributes), as written. */
  formActions: string[];
  /** JavaScript: <script> elements of a script type, on* event attributes, javascript: URLs. */
  scripts: number;
  /** <iframe>, <frame> and <frameset> elements. */
  frames: number;
  /** <object>, <embed> and <applet> elements. */
  plugins: number;
  forms: number;
  invisible: HiddenText;
  tiny: HiddenText;
  likeBackground: HiddenText;
}

/** Most HTML characters parsed per message (2 MiB of text): beyond, the rest is not analysed. */
const MAX_HTML_CHARS = 2 * 1024 * 1024;
/** Most links, images and form targets kept per message (each). */
const MAX_HTML_ITEMS = 1000;
/** Characters kept as a sample of hidden text. */
const SAMPLE_CHARS = 60;
/** Two colours closer than this on every RGB channel (0-255) look the same. */
const SAME_COLOUR_CHANNEL_DISTANCE = 10;
/** Tiny font limits: a font-size at or below these is unreadable. */
const TINY_FONT_PX = 1;
const TINY_FONT_PT = 1;
const TINY_FONT_EM = 0.1;
const TINY_FONT_PERCENT = 10;

interface Rgba {
  r: number;
  g: number;
  b: number;
  a: number;
}

const WHITE: Rgba = { r: 255, g: 255, b: 255, a: 1 };
const BLACK: Rgba = { r: 0, g: 0, b: 0, a: 1 };
const LINK_BLUE: Rgba = { r: 0, g: 0, b: 238, a: 1 };

/** CSS named colours common in mail (the HTML 4 set and the whites, greys and blacks near them). */
const NAMED_COLOURS: ReadonlyMap<string, string> = new Map(Object.entries({
  white: 'ffffff', snow: 'fffafa', ivory: 'fffff0', ghostwhite: 'f8f8ff', whitesmoke: 'f5f5f5', floralwhite: 'fffaf0',
  mintcream: 'f5fffa', azure: 'f0ffff', aliceblue: 'f0f8ff', seashell: 'fff5ee', linen: 'faf0e6', honeydew: 'f0fff0',
  black: '000000', silver: 'c0c0c0', gray: '808080', grey: '808080', lightgray: 'd3d3d3', lightgrey: 'd3d3d3',
  gainsboro: 'dcdcdc', darkgray: 'a9a9a9', darkgrey: 'a9a9a9', dimgray: '696969', dimgrey: '696969',
  red: 'ff0000', maroon: '800000', yellow: 'ffff00', olive: '808000', lime: '00ff00', green: '008000',
  aqua: '00ffff', cyan: '00ffff', teal: '008080', blue: '0000ff', navy: '000080', fuchsia: 'ff00ff',
  magenta: 'ff00ff', purple: '800080', orange: 'ffa500',
}));

/**
 * A CSS or HTML colour: names above, #rgb, #rgba, #rrggbb, #rrggbbaa, rgb()/rgba() with numbers
 * or percentages, 'transparent'; bare hex digits too when `legacy` (bgcolor="ffffff").
 * Undefined when not understood.
 */
export function parseColour(value: string, legacy = false): Rgba | undefined {
  const text = value.trim().toLowerCase();
  if (text === 'transparent') return { r: 0, g: 0, b: 0, a: 0 };
  const named = NAMED_COLOURS.get(text);
  const hex = named ?? (/^#([0-9a-f]{3,8})$/.exec(text)?.[1] ?? (legacy && /^[0-9a-f]{6}$/.test(text) ? text : undefined));
  if (hex !== undefined) {
    if (hex.length === 3 || hex.length === 4) {
      const [r, g, b, a] = [...hex].map((digit) => parseInt(digit + digit, 16));
      return { r: r!, g: g!, b: b!, a: a === undefined ? 1 : a / 255 };
    }
    if (hex.length === 6 || hex.length === 8) {
      const channel = (at: number) => parseInt(hex.slice(at, at + 2), 16);
      return { r: channel(0), g: channel(2), b: channel(4), a: hex.length === 8 ? channel(6) / 255 : 1 };
    }
    return undefined;
  }
  const functional = /^rgba?\(([^)]*)\)$/.exec(text);
  if (!functional) return undefined;
  const parts = functional[1]!.split(/[\s,/]+/).filter((p) => p !== '');
  if (parts.length < 3 || parts.length > 4) return undefined;
  const numbers = parts.map((part, index) => {
    const n = parseFloat(part);
    if (Number.isNaN(n)) return Number.NaN;
    if (part.endsWith('%')) return index === 3 ? n / 100 : (n * 255) / 100;
    return n;
  });
  if (numbers.some(Number.isNaN)) return undefined;
  return { r: numbers[0]!, g: numbers[1]!, b: numbers[2]!, a: numbers[3] ?? 1 };
}

const looksAlike = (a: Rgba, b: Rgba): boolean =>
  Math.abs(a.r - b.r) <= SAME_COLOUR_CHANNEL_DISTANCE && Math.abs(a.g - b.g) <= SAME_COLOUR_CHANNEL_DISTANCE && Math.abs(a.b - b.b) <= SAME_COLOUR_CHANNEL_DISTANCE;

/** Whether a CSS font-size is unreadably small (see the limits above); undefined when not understood. */
export function isTinyFontSize(value: string): boolean | undefined {
  const match = /^([0-9]*\.?[0-9]+)\s*(px|pt|em|rem|%)?$/.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  const size = parseFloat(match[1]!);
  if (size === 0) return true;
  switch (match[2]) {
    case 'px':
      return size <= TINY_FONT_PX;
    case 'pt':
      return size <= TINY_FONT_PT;
    case 'em':
    case 'rem':
      return size <= TINY_FONT_EM;
    case '%':
      return size <= TINY_FONT_PERCENT;
    default:
      return undefined; // a unitless non-zero size is not valid CSS
  }
}

/** The inline style properties the analysis reads. */
const STYLE_PROPERTIES = new Set(['display', 'visibility', 'opacity', 'font-size', 'color', 'background', 'background-color', 'background-image', 'width', 'height']);

/** The inline style declarations the analysis reads, property names lower-cased, `!important` dropped. */
function styleDeclarations(style: string): Map<string, string> {
  const declarations = new Map<string, string>();
  for (const declaration of style.split(';')) {
    const colon = declaration.indexOf(':');
    if (colon <= 0) continue;
    const property = declaration.slice(0, colon).trim().toLowerCase();
    if (!STYLE_PROPERTIES.has(property)) continue;
    const value = declaration.slice(colon + 1);
    declarations.set(property, (value.includes('!') ? value.replace(/!\s*important/i, '') : value).trim());
  }
  return declarations;
}

/** A background colour or image: 'image' when an image paints it, undefined when nothing is declared. */
function backgroundOf(style: Map<string, string> | undefined, bgcolor: string | undefined, backgroundAttribute: string | undefined): Rgba | 'image' | undefined {
  if (backgroundAttribute !== undefined && backgroundAttribute.trim() !== '') return 'image';
  const image = style?.get('background-image');
  if (image !== undefined && /url\(/i.test(image)) return 'image';
  const shorthand = style?.get('background');
  if (shorthand !== undefined) {
    if (/url\(/i.test(shorthand)) return 'image';
    // The colour is one of the shorthand's words (an rgb() function holds spaces: try it whole first).
    const colour = parseColour(shorthand) ?? shorthand.split(/\s+(?![^(]*\))/).map((word) => parseColour(word)).find((c) => c !== undefined);
    if (colour) return colour;
  }
  const colour = style?.get('background-color');
  if (colour !== undefined) return parseColour(colour);
  return bgcolor !== undefined ? parseColour(bgcolor, true) : undefined;
}

/** A dimension in CSS pixels ("1", "1px"); undefined for other units or none. */
function pixels(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*([0-9]*\.?[0-9]+)\s*(px)?\s*$/i.exec(value);
  return match ? parseFloat(match[1]!) : undefined;
}

/** The attributes childState() reads (`text` on <body> only). */
const RENDERING_ATTRIBUTES = new Set(['style', 'hidden', 'color', 'text', 'bgcolor', 'background']);
/** Elements whose content is never shown. */
const NOT_RENDERED = new Set(['script', 'style', 'head', 'title', 'template', 'noframes', 'xml']);
/** Elements that separate words when rendered (block boxes, line breaks, cells, images). */
const WORD_BREAKING = new Set([
  'address', 'article', 'aside', 'blockquote', 'br', 'center', 'dd', 'div', 'dl', 'dt', 'fieldset', 'figcaption', 'figure',
  'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hr', 'img', 'li', 'main', 'nav', 'ol', 'p', 'pre',
  'section', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'ul',
]);
/** A <style> element, found before parsing: text colours are compared with a white page only without one. */
const STYLE_ELEMENT = /<style[\s>]/i;
const SCRIPT_TYPES = /^\s*$|javascript|ecmascript|^\s*module\s*$/i;
const ZERO_WIDTH = /[\u00ad\u034f\u180e\u200b-\u200f\u2060-\u2064\ufeff]/g;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

/** 1 for the ASCII letters and digits, 0 for the other ASCII characters. */
const ASCII_LETTER_OR_DIGIT = new Uint8Array(128);
for (const character of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789') ASCII_LETTER_OR_DIGIT[character.charCodeAt(0)] = 1;

/** Letters and digits in `text` (ASCII by table, the rest by Unicode class). */
export function countLetters(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 128) {
      count += ASCII_LETTER_OR_DIGIT[code]!;
    } else if (LETTER_OR_DIGIT.test(text[i]!)) {
      count++;
    }
  }
  return count;
}

/** White space to collapse to one space: a run of two or more, or one that is not a space already (fewer replacements than every run). */
const COLLAPSIBLE_SPACE = /\s{2,}|[^\S ]/g;
/** What collapse() changes: a zero-width character, white space to collapse, or white space at either end. */
const TO_COLLAPSE = new RegExp(`${ZERO_WIDTH.source}|\\s{2}|[^\\S ]|^ | $`);
/** `text` without zero-width characters, white space collapsed, trimmed; most link texts need nothing, and one search tells. */
const collapse = (text: string): string => (TO_COLLAPSE.test(text) ? text.replace(ZERO_WIDTH, '').replace(COLLAPSIBLE_SPACE, ' ').trim() : text);

/** What an element passes on to its content. */
interface RenderState {
  notRendered: boolean;
  invisible: boolean;
  tiny: boolean;
  /** Text colour; undefined when unknown. */
  colour: Rgba | undefined;
  /** Nearest background: a colour, 'page' (none declared yet), or undefined when unknown (an image). */
  background: Rgba | 'page' | undefined;
  /** The link being read, if any, and its visible text so far. */
  link: { entry: HtmlLink; chunks: string[] } | undefined;
}

const ROOT_STATE: RenderState = { notRendered: false, invisible: false, tiny: false, colour: BLACK, background: 'page', link: undefined };

interface HiddenCounter {
  letters: number;
  chunks: string[];
  sampleLength: number;
}

const newCounter = (): HiddenCounter => ({ letters: 0, chunks: [], sampleLength: 0 });

function addHidden(counter: HiddenCounter, text: string, letters: number): void {
  counter.letters += letters;
  if (counter.sampleLength < SAMPLE_CHARS * 2) {
    counter.chunks.push(text);
    counter.sampleLength += text.length;
  }
}

const hiddenText = (counter: HiddenCounter): HiddenText => ({ letters: counter.letters, sample: collapse(counter.chunks.join('')).slice(0, SAMPLE_CHARS) });

const isRemote = (url: string): boolean => /^\s*(https?:)?\/\//i.test(url);
const isJavascriptUrl = (url: string): boolean => /^[\s\u0000-\u001f]*j/i.test(url) && url.replace(/[\s\u0000-\u001f]/g, '').toLowerCase().startsWith('javascript:');

/** What an element passes on to its content: its parent's state, changed by its own attributes and inline style. */
function childState(parent: RenderState, name: string, attributes: Record<string, string>, style: Map<string, string> | undefined): RenderState {
  let { notRendered, invisible, tiny, colour, background } = parent;
  if (NOT_RENDERED.has(name)) notRendered = true;
  if (attributes.hidden !== undefined) invisible = true;
  if (style) {
    if (style.get('display')?.toLowerCase() === 'none' || style.get('visibility')?.toLowerCase() === 'hidden') invisible = true;
    const opacity = style.get('opacity');
    if (opacity !== undefined && parseFloat(opacity) === 0) invisible = true;
    const fontSize = style.get('font-size');
    const tinyFont = fontSize === undefined ? undefined : isTinyFontSize(fontSize);
    if (tinyFont !== undefined) tiny = tinyFont;
  }
  const colourText = style?.get('color') ?? attributes.color ?? (name === 'body' ? attributes.text : undefined);
  if (colourText !== undefined) colour = parseColour(colourText, style?.get('color') === undefined);
  else if (name === 'a') colour = LINK_BLUE;
  const declared = backgroundOf(style, attributes.bgcolor, attributes.background);
  if (declared === 'image') background = undefined;
  else if (declared !== undefined && declared.a > 0) background = declared;
  const unchanged = notRendered === parent.notRendered && invisible === parent.invisible && tiny === parent.tiny && colour === parent.colour && background === parent.background;
  return unchanged ? parent : { notRendered, invisible, tiny, colour, background, link: parent.link };
}

/** Analyses HTML documents (the parts of one message) in one pass each. */
export function analyseHtml(documents: readonly string[]): HtmlAnalysis {
  const result: HtmlAnalysis = {
    parts: documents.length,
    text: '',
    textLength: 0,
    elements: 0,
    links: [],
    images: [],
    formActions: [],
    scripts: 0,
    frames: 0,
    plugins: 0,
    forms: 0,
    invisible: { letters: 0, sample: '' },
    tiny: { letters: 0, sample: '' },
    likeBackground: { letters: 0, sample: '' },
  };
  if (documents.length === 0) return result;
  const visibleChunks: string[] = [];
  const invisible = newCounter();
  const tiny = newCounter();
  const likeBackground = newCounter();
  /** The document being parsed has a <style> element: the page's background is then unknown. */
  let hasStyleSheet = false;
  let visibleLetters = 0;
  let stack: RenderState[] = [ROOT_STATE];

  const parser = new Parser(
    {
      onopentag(name, attributes) {
        result.elements++;
        const parent = stack[stack.length - 1]!;
        // One pass over the attributes: event handlers, and whether any can change the rendering.
        let rendering = false;
        for (const attribute in attributes) {
          if (attribute.length > 3 && attribute.startsWith('on')) result.scripts++;
          else if (RENDERING_ATTRIBUTES.has(attribute)) rendering = true;
        }
        const style = rendering && attributes.style !== undefined ? styleDeclarations(attributes.style) : undefined;
        // Without such attributes, the content inherits the parent's state unless the element itself changes it.
        let state = rendering || name === 'a' || NOT_RENDERED.has(name) ? childState(parent, name, attributes, style) : parent;
        const href = attributes.href;
        if ((href !== undefined && isJavascriptUrl(href)) || (attributes.src !== undefined && isJavascriptUrl(attributes.src))) result.scripts++;
        switch (name) {
          case 'script':
            if (SCRIPT_TYPES.test(attributes.type ?? '')) result.scripts++;
            break;
          case 'iframe':
          case 'frame':
          case 'frameset':
            result.frames++;
            break;
          case 'object':
          case 'embed':
          case 'applet':
            result.plugins++;
            break;
          case 'form':
            result.forms++;
            if (attributes.action !== undefined && result.formActions.length < MAX_HTML_ITEMS) result.formActions.push(attributes.action.trim());
            break;
          case 'a':
          case 'area':
            if (href !== undefined && result.links.length < MAX_HTML_ITEMS) {
              const entry: HtmlLink = { href: href.trim(), text: '' };
              result.links.push(entry);
              state = { ...state, link: { entry, chunks: [] } };
            }
            break;
          case 'img':
            if (attributes.src !== undefined && result.images.length < MAX_HTML_ITEMS) {
              const image: HtmlImage = { src: attributes.src.trim(), remote: isRemote(attributes.src) };
              const width = pixels(style?.get('width') ?? attributes.width);
              const height = pixels(style?.get('height') ?? attributes.height);
              if (width !== undefined) image.width = width;
              if (height !== undefined) image.height = height;
              result.images.push(image);
            }
            break;
        }
        if (WORD_BREAKING.has(name)) visibleChunks.push(' ');
        stack.push(state);
      },
      onclosetag(name) {
        if (stack.length === 1) return; // htmlparser2 closes only what it opened; the root stays
        const closed = stack.pop()!;
        if (closed.link && closed.link !== stack[stack.length - 1]!.link) closed.link.entry.text = collapse(closed.link.chunks.join(''));
        if (WORD_BREAKING.has(name)) visibleChunks.push(' ');
      },
      ontext(text) {
        const state = stack[stack.length - 1]!;
        if (state.notRendered) return;
        const letters = countLetters(text);
        if (letters === 0) {
          // Whitespace and punctuation: no hidden text to count, but they still separate visible words.
          if (!state.invisible && !state.tiny) {
            visibleChunks.push(text);
            state.link?.chunks.push(text);
          }
          return;
        }
        if (state.invisible) return addHidden(invisible, text, letters);
        if (state.tiny) return addHidden(tiny, text, letters);
        const colour = state.colour;
        if (colour !== undefined) {
          if (colour.a === 0) return addHidden(likeBackground, text, letters);
          const background = state.background === 'page' ? (hasStyleSheet ? undefined : WHITE) : state.background;
          if (background !== undefined && looksAlike(colour, background)) return addHidden(likeBackground, text, letters);
        }
        visibleChunks.push(text);
        visibleLetters += letters;
        state.link?.chunks.push(text);
      },
    },
    { decodeEntities: true },
  );

  let budget = MAX_HTML_CHARS;
  for (const document of documents) {
    if (budget <= 0) break;
    stack = [ROOT_STATE];
    hasStyleSheet = STYLE_ELEMENT.test(document);
    parser.parseComplete(document.length > budget ? document.slice(0, budget) : document);
    budget -= document.length;
    visibleChunks.push(' ');
  }

  result.text = collapse(visibleChunks.join(''));
  result.textLength = visibleLetters;
  result.invisible = hiddenText(invisible);
  result.tiny = hiddenText(tiny);
  result.likeBackground = hiddenText(likeBackground);
  return result;
}

/** The analysis of the message's HTML parts (attached messages' included), computed once per message. */
export function htmlOf(message: ParsedMessage): HtmlAnalysis {
  return memo(message, 'content.html', () => analyseHtml(message.textParts.filter((p) => p.kind === 'html').map((p) => p.content)));
}
