// The five actions a decision can take, in the order they are stacked and listed everywhere, with
// their labels. Their colours live in style.css (--accept, --add_header, ...; classes
// `action-NAME` for fills and badges), so a chart, a legend and a table badge always agree:
// accept green, add_header amber, greylist blue, defer purple, reject red.
import { h } from './dom.js';

export const ACTIONS = ['accept', 'add_header', 'greylist', 'defer', 'reject'] as const;
export type ActionName = (typeof ACTIONS)[number];

export const ACTION_LABELS: Record<ActionName, string> = {
  accept: 'accept',
  add_header: 'add header',
  greylist: 'greylist',
  defer: 'defer',
  reject: 'reject',
};

export function actionLabel(action: string): string {
  return (ACTION_LABELS as Record<string, string>)[action] ?? action;
}

/** A coloured badge naming an action (text, so colour is never the only cue). */
export function actionBadge(action: string): HTMLSpanElement {
  return h('span', { class: `badge action-${action}`, 'data-action': action }, actionLabel(action));
}
