// The text of a message as body rules read it: its text parts and the visible text of its HTML
// parts (attached messages' included), whitespace collapsed to single spaces so that a phrase
// matches across line breaks. Computed once per message.
import { memo, type ParsedMessage } from '../core/message.js';
import { htmlOf } from './html.js';

export function bodyTextOf(message: ParsedMessage): string {
  return memo(message, 'content.body', () => {
    const texts = message.textParts.filter((p) => p.kind === 'text').map((p) => p.content.replace(/\s+/g, ' ').trim());
    const html = htmlOf(message).text;
    return [...texts, html].filter((t) => t !== '').join(' ');
  });
}
