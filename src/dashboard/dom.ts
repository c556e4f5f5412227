// Small helpers to build the page without a framework: `h` makes an HTML element with attributes,
// event handlers and children (text is always inserted as text, never parsed as HTML, so values
// from mail traffic cannot inject markup); `svg` does the same in the SVG namespace. Plus the
// formatting of times, numbers and durations shared by the views.

type Child = Node | string | number | null | undefined | false | Child[];
type AttributeValue = string | number | boolean | null | undefined | EventListener;

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(parent: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

function applyAttributes(element: Element, attributes: Record<string, AttributeValue>): void {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
}

/** An HTML element: h('button', { type: 'button', onclick: fn }, 'Save'). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, AttributeValue> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  applyAttributes(element, attributes);
  append(element, children);
  return element;
}

/** An SVG element: svg('rect', { x: 0, y: 0, width: 10, height: 5 }). */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, AttributeValue> = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  applyAttributes(element, attributes);
  append(element, children);
  return element;
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A unique id for label/input pairs. */
let idCounter = 0;
export function uniqueId(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field: <div class="field"><label for>…</label><input id>…</div>. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLDivElement {
  if (!control.id) control.id = uniqueId('field');
  const hintElement = hint ? h('small', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintElement) control.setAttribute('aria-describedby', hintElement.id);
  return h('div', { class: `field field-${control.tagName.toLowerCase()}` }, h('label', { for: control.id }, label), control, hintElement);
}

/** A <select> with options given as [value, label] pairs. */
export function select(name: string, options: Array<[string, string]>, selected = ''): HTMLSelectElement {
  return h(
    'select',
    { name },
    options.map(([value, label]) => h('option', { value, selected: value === selected }, label)),
  );
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Local date and time, "2026-11-23 14:05:09", from milliseconds. */
export function formatTime(ms: number): string {
  if (!ms) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local time of day, "14:05", or "11-23 14:05" when `withDate`. */
export function formatClock(ms: number, withDate: boolean): string {
  const d = new Date(ms);
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return withDate ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock}` : clock;
}

/** A time given in seconds since the epoch (lists, bans, greylist); 0 gives `zero`. */
export function formatSeconds(seconds: number, zero = '—'): string {
  return seconds ? formatTime(seconds * 1000) : zero;
}

/** "5 s", "3 min", "2 h", "4 d": a duration in seconds, roughly. */
export function formatDuration(seconds: number): string {
  const s = Math.abs(seconds);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400 * 2) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** "never", or the date and "in 3 d" / "expired" of an expiry in seconds since the epoch. */
export function formatExpiry(expiresAt: number): string {
  if (!expiresAt) return 'never';
  const left = expiresAt - Date.now() / 1000;
  return `${formatSeconds(expiresAt)} (${left > 0 ? `in ${formatDuration(left)}` : 'expired'})`;
}

/** 1234567 → "1 234 567" (thin spaces keep columns readable without a locale guess). */
export function formatCount(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
}

/** A score with at most two decimals. */
export function formatScore(score: number): string {
  return (Math.round(score * 100) / 100).toString();
}

/** 0.784 → "78 %". */
export function formatPercent(ratio: number, digits = 0): string {
  return `${(ratio * 100).toFixed(digits)} %`;
}

/** Calls `fn` once `ms` have passed without another call (search fields). */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): (...args: A) => void {
  let timer: number | undefined;
  return (...args: A) => {
    if (timer !== undefined) window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
}
