// HTML tricks (end of message): active content mail clients block (scripts, frames, plug-ins,
// forms), tracking pixels, text hidden from the reader (invisible, tiny, coloured like its
// background), and messages that show images with (almost) no text. Reads the HTML analysis of
// src/content/html.ts (done once per message); scores only.
//
// Thresholds, chosen so that legitimate newsletters stay clear:
// - hidden text counts from 200 letters/digits on: longer than any inbox preview text (the
//   "preheader" that newsletters hide with display:none, a 1px font or white-on-white); invisible
//   text must also amount to half the visible text, as responsive templates hide a mobile variant;
// - a web bug is a remote image whose declared size is at most 2x2 px (one side may be undeclared).
//   Legitimate newsletters use them as well, hence the low score;
// - image-only: images (HTML images that are not web bugs, and image attachments) with at most 10
//   letters/digits of text (the HTML's visible text, or the text parts' when there is no HTML).
//   "Sent from my iPhone" under a photo has 15;
// - little text: HTML with under 150 letters/digits of visible text that shows a remote image (not
//   a web bug) or has 100 elements or more.
import type { SymbolHit } from '../../core/check.js';
import { contentRuleCheck } from './rule-check.js';
import type { ParsedMessage } from '../../core/message.js';
import { countLetters, htmlOf, type HtmlAnalysis, type HtmlImage } from '../../content/html.js';

/** Default scores (SpamAssassin-like weights; override with `scores:`). */
export const HTML_SCORES = {
  /** JavaScript: <script>, on* event attributes or javascript: URLs. */
  HTML_SCRIPT: 1.5,
  /** <iframe>, <frame> or <frameset>. */
  HTML_IFRAME: 1.0,
  /** <object>, <embed> or <applet>. */
  HTML_OBJECT_EMBED: 1.0,
  /** A <form> (phishing forms post credentials from the message itself). */
  HTML_FORM: 1.0,
  /** A remote image of at most 2x2 px: a tracking pixel. */
  HTML_WEB_BUG: 0.5,
  /** Text hidden with display:none, visibility:hidden, opacity:0 or the hidden attribute. */
  HTML_INVISIBLE_TEXT: 1.5,
  /** Text in a font of at most 1px/1pt. */
  HTML_TINY_FONT: 1.5,
  /** Text coloured like its background. */
  HTML_TEXT_LIKE_BACKGROUND: 1.5,
  /** HTML with little visible text but a remote image or heavy markup. */
  HTML_LITTLE_TEXT: 1.0,
  /** Images and (almost) no text. */
  HTML_IMAGE_ONLY: 1.5,
} as const;

/** Letters/digits of hidden text from which it counts (longer than a preview text). */
const HIDDEN_TEXT_MIN_LETTERS = 200;
/** Invisible text must also be at least this share of the visible text (responsive templates). */
const INVISIBLE_TEXT_MIN_SHARE_OF_VISIBLE = 0.5;
/** Largest side of a web bug, in CSS pixels. */
const WEB_BUG_MAX_PX = 2;
/** Most letters/digits of an image-only message. */
const IMAGE_ONLY_MAX_LETTERS = 10;
/** Little text: fewer letters/digits than this... */
const LITTLE_TEXT_MAX_LETTERS = 150;
/** ...with a remote image, or at least this many elements. */
const LITTLE_TEXT_MIN_ELEMENTS = 100;

const hit = (name: keyof typeof HTML_SCORES, description: string): SymbolHit => ({ name, score: HTML_SCORES[name], description });
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const hostOf = (src: string): string => /^\s*(?:https?:)?\/\/([^/?#:]+)/i.exec(src)?.[1]?.toLowerCase() ?? src;

function isWebBug(image: HtmlImage): boolean {
  if (!image.remote || (image.width === undefined && image.height === undefined)) return false;
  return (image.width ?? 0) <= WEB_BUG_MAX_PX && (image.height ?? 0) <= WEB_BUG_MAX_PX;
}

/** Images and text as the reader sees them, for the image-only and little-text rules. */
function imageFindings(message: ParsedMessage, html: HtmlAnalysis): SymbolHit[] {
  const shownImages = html.images.filter((image) => !isWebBug(image));
  const imageAttachments = message.attachments.filter((a) => !a.nested && a.contentType.startsWith('image/'));
  // An inline image is both an HTML image and an attachment: attachments count only without HTML images.
  const images = shownImages.length > 0 ? shownImages.length : imageAttachments.length;
  const letters = html.parts > 0 ? html.textLength : message.textParts.filter((p) => p.kind === 'text').reduce((n, p) => n + countLetters(p.content), 0);
  if (images > 0 && letters <= IMAGE_ONLY_MAX_LETTERS) {
    return [hit('HTML_IMAGE_ONLY', `${plural(images, 'image')} and ${plural(letters, 'letter')} of text`)];
  }
  if (html.parts === 0 || html.textLength >= LITTLE_TEXT_MAX_LETTERS) return [];
  const remote = shownImages.filter((image) => image.remote).length;
  if (remote > 0) return [hit('HTML_LITTLE_TEXT', `HTML with ${plural(html.textLength, 'letter')} of text and ${plural(remote, 'remote image')}`)];
  if (html.elements >= LITTLE_TEXT_MIN_ELEMENTS) return [hit('HTML_LITTLE_TEXT', `HTML with ${plural(html.textLength, 'letter')} of text in ${html.elements} elements`)];
  return [];
}

function hiddenTextFindings(html: HtmlAnalysis): SymbolHit[] {
  const found: SymbolHit[] = [];
  const { invisible, tiny, likeBackground } = html;
  if (invisible.letters >= HIDDEN_TEXT_MIN_LETTERS && invisible.letters >= html.textLength * INVISIBLE_TEXT_MIN_SHARE_OF_VISIBLE) {
    found.push(hit('HTML_INVISIBLE_TEXT', `${invisible.letters} letters of invisible text: "${invisible.sample}"`));
  }
  if (tiny.letters >= HIDDEN_TEXT_MIN_LETTERS) found.push(hit('HTML_TINY_FONT', `${tiny.letters} letters in a tiny font: "${tiny.sample}"`));
  if (likeBackground.letters >= HIDDEN_TEXT_MIN_LETTERS) {
    found.push(hit('HTML_TEXT_LIKE_BACKGROUND', `${likeBackground.letters} letters coloured like their background: "${likeBackground.sample}"`));
  }
  return found;
}

function activeContentFindings(html: HtmlAnalysis): SymbolHit[] {
  const found: SymbolHit[] = [];
  if (html.scripts > 0) found.push(hit('HTML_SCRIPT', `HTML holds ${plural(html.scripts, 'script')} (script elements, event handlers, javascript: URLs)`));
  if (html.frames > 0) found.push(hit('HTML_IFRAME', `HTML holds ${plural(html.frames, 'frame')}`));
  if (html.plugins > 0) found.push(hit('HTML_OBJECT_EMBED', `HTML holds ${plural(html.plugins, 'plug-in object')} (object, embed, applet)`));
  if (html.forms > 0) {
    const target = html.formActions[0] ? ` posting to ${hostOf(html.formActions[0])}` : '';
    found.push(hit('HTML_FORM', `HTML holds ${plural(html.forms, 'form')}${target}`));
  }
  const bugs = html.images.filter(isWebBug);
  if (bugs.length > 0) found.push(hit('HTML_WEB_BUG', `${plural(bugs.length, 'tracking pixel')} from ${[...new Set(bugs.map((b) => hostOf(b.src)))].slice(0, 3).join(', ')}`));
  return found;
}

export const htmlCheck = contentRuleCheck('content-html', () => undefined, (message) => {
  const html = htmlOf(message);
  return [...activeContentFindings(html), ...hiddenTextFindings(html), ...imageFindings(message, html)];
});
