// Hand-drawn SVG charts of the overview (no chart library, nothing external): decisions per time
// bucket stacked by action, the share of each action as one stacked bar, horizontal bars for the
// top lists, and a pass-rate bar. Each chart is drawn at the pixel width of its container (so its
// text stays readable on a phone), has a <title>/<desc> for screen readers, axis labels, and a
// <title> tooltip on every bar. Colours come from the `action-NAME` classes of style.css.
import { ACTIONS, actionLabel } from './actions.js';
import { formatClock, formatCount, formatDuration, formatPercent, h, svg } from './dom.js';

const FONT_SIZE = 12;
/** Rough width of one character of the chart font, to shorten labels that would not fit. */
const CHAR_WIDTH = 6.8;

/** A step of 1, 2 or 5 times a power of ten, at least 1, giving about `count` ticks up to `max`. */
function tickStep(max: number, count: number): number {
  const raw = Math.max(max / count, 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const multiple of [1, 2, 5, 10]) {
    if (multiple * magnitude >= raw) return multiple * magnitude;
  }
  return 10 * magnitude;
}

/** "per minute", "per 10 min", "per hour", "per 6 h" for a bucket width in seconds. */
export function bucketLabel(bucketSeconds: number): string {
  if (bucketSeconds === 60) return 'per minute';
  if (bucketSeconds === 3600) return 'per hour';
  if (bucketSeconds === 86400) return 'per day';
  return `per ${formatDuration(bucketSeconds)}`;
}

function shorten(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  return `${text.slice(0, Math.max(1, maxChars - 1))}…`;
}

export interface SeriesChartInput {
  series: Array<{ time: number; counts: Record<string, number> }>;
  bucketSeconds: number;
  /** Width to draw at, in CSS pixels (the container's width). */
  width: number;
  /** What the chart shows, e.g. "Decisions per minute by action, last hour". */
  title: string;
}

/** Decisions per time bucket, one bar per bucket, stacked by action in ACTIONS order. */
export function stackedBarChart(input: SeriesChartInput): SVGSVGElement {
  const width = Math.max(280, Math.round(input.width));
  const height = width < 500 ? 200 : 260;
  const margin = { top: 12, right: 10, bottom: 30, left: 54 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const totals = input.series.map((bucket) => ACTIONS.reduce((sum, action) => sum + (bucket.counts[action] ?? 0), 0));
  const grandTotal = totals.reduce((a, b) => a + b, 0);
  const step = tickStep(Math.max(...totals, 0), 4);
  const top = Math.max(step, Math.ceil(Math.max(...totals, 0) / step) * step);
  const y = (value: number) => margin.top + plotHeight - (value / top) * plotHeight;
  const slot = input.series.length > 0 ? plotWidth / input.series.length : plotWidth;
  const barWidth = Math.max(1, slot > 4 ? slot * 0.8 : slot);
  const spansDays = input.series.length > 0 && input.series[input.series.length - 1]!.time - input.series[0]!.time >= 86400_000;

  const titleId = `chart-title-${Math.random().toString(36).slice(2)}`;
  const descId = `${titleId}-desc`;
  const chart = svg('svg', {
    class: 'chart chart-series',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-labelledby': `${titleId} ${descId}`,
  });
  chart.append(
    svg('title', { id: titleId }, input.title),
    svg('desc', { id: descId }, `${formatCount(grandTotal)} decisions: ${ACTIONS.map((a) => `${actionLabel(a)} ${formatCount(input.series.reduce((sum, b) => sum + (b.counts[a] ?? 0), 0))}`).join(', ')}.`),
  );

  // Y axis: grid lines and counts, and its title.
  const axis = svg('g', { class: 'axis axis-y' });
  for (let value = 0; value <= top; value += step) {
    axis.append(
      svg('line', { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value), class: value === 0 ? 'baseline' : 'grid' }),
      svg('text', { x: margin.left - 6, y: y(value) + 4, 'text-anchor': 'end', 'font-size': FONT_SIZE }, formatCount(value)),
    );
  }
  axis.append(
    svg(
      'text',
      { class: 'axis-title', x: 0, y: 0, transform: `translate(12 ${margin.top + plotHeight / 2}) rotate(-90)`, 'text-anchor': 'middle', 'font-size': FONT_SIZE },
      `messages ${bucketLabel(input.bucketSeconds)}`,
    ),
  );
  chart.append(axis);

  // X axis: about one label per 90 px, at bucket starts.
  const xAxis = svg('g', { class: 'axis axis-x' });
  const labelEvery = Math.max(1, Math.ceil(input.series.length / Math.max(1, Math.floor(plotWidth / 90))));
  input.series.forEach((bucket, index) => {
    if (index % labelEvery !== 0) return;
    const x = margin.left + index * slot + slot / 2;
    xAxis.append(
      svg('line', { x1: x, x2: x, y1: margin.top + plotHeight, y2: margin.top + plotHeight + 4, class: 'tick' }),
      svg('text', { x, y: height - 10, 'text-anchor': 'middle', 'font-size': FONT_SIZE }, formatClock(bucket.time, spansDays)),
    );
  });
  chart.append(xAxis);

  // The bars: one segment per action with a count, bottom up in ACTIONS order.
  const bars = svg('g', { class: 'bars' });
  input.series.forEach((bucket, index) => {
    let base = 0;
    const x = margin.left + index * slot + (slot - barWidth) / 2;
    const period = `${formatClock(bucket.time, spansDays)}–${formatClock(bucket.time + input.bucketSeconds * 1000, spansDays)}`;
    for (const action of ACTIONS) {
      const count = bucket.counts[action] ?? 0;
      if (count <= 0) continue;
      const y0 = y(base);
      const y1 = y(base + count);
      bars.append(
        svg(
          'rect',
          { class: `bar action-${action}`, 'data-action': action, 'data-count': count, x: x.toFixed(2), y: y1.toFixed(2), width: barWidth.toFixed(2), height: Math.max(0.5, y0 - y1).toFixed(2) },
          svg('title', {}, `${period}: ${actionLabel(action)} ${formatCount(count)} (of ${formatCount(totals[index] ?? 0)})`),
        ),
      );
      base += count;
    }
  });
  chart.append(bars);

  if (grandTotal === 0) {
    chart.append(svg('text', { class: 'empty', x: margin.left + plotWidth / 2, y: margin.top + plotHeight / 2, 'text-anchor': 'middle', 'font-size': FONT_SIZE + 2 }, 'No decisions in this window'));
  }
  return chart;
}

/** The legend of the action colours, with counts and shares when given. */
export function actionLegend(counts?: Record<string, number>): HTMLUListElement {
  const total = counts ? ACTIONS.reduce((sum, action) => sum + (counts[action] ?? 0), 0) : 0;
  return h(
    'ul',
    { class: 'legend' },
    ACTIONS.map((action) =>
      h(
        'li',
        { 'data-action': action },
        h('span', { class: `swatch action-${action}`, 'aria-hidden': 'true' }),
        h('span', { class: 'legend-label' }, actionLabel(action)),
        counts ? h('span', { class: 'legend-value' }, `${formatCount(counts[action] ?? 0)}${total > 0 ? ` · ${formatPercent((counts[action] ?? 0) / total)}` : ''}`) : null,
      ),
    ),
  );
}

/** The share of each action as one bar split in proportion to the counts. */
export function shareBar(counts: Record<string, number>, width: number): SVGSVGElement {
  const drawWidth = Math.max(200, Math.round(width));
  const height = 34;
  const total = ACTIONS.reduce((sum, action) => sum + (counts[action] ?? 0), 0);
  const chart = svg('svg', { class: 'chart chart-share', width: drawWidth, height, viewBox: `0 0 ${drawWidth} ${height}`, role: 'img', 'aria-label': `Share of each action: ${ACTIONS.map((a) => `${actionLabel(a)} ${total ? formatPercent((counts[a] ?? 0) / total) : '0 %'}`).join(', ')}` });
  if (total === 0) {
    chart.append(svg('rect', { class: 'track', x: 0, y: 4, width: drawWidth, height: height - 8, rx: 4 }), svg('text', { x: drawWidth / 2, y: height / 2 + 4, 'text-anchor': 'middle', 'font-size': FONT_SIZE, class: 'empty' }, 'No decisions'));
    return chart;
  }
  let x = 0;
  for (const action of ACTIONS) {
    const count = counts[action] ?? 0;
    if (count <= 0) continue;
    const segment = (count / total) * drawWidth;
    const share = formatPercent(count / total);
    const group = svg(
      'g',
      {},
      svg('rect', { class: `bar action-${action}`, 'data-action': action, 'data-count': count, x: x.toFixed(2), y: 4, width: Math.max(1, segment).toFixed(2), height: height - 8 }),
      svg('title', {}, `${actionLabel(action)}: ${formatCount(count)} (${share})`),
    );
    if (segment > share.length * CHAR_WIDTH + 8) {
      group.append(svg('text', { class: `on-bar on-action-${action}`, x: x + segment / 2, y: height / 2 + 4, 'text-anchor': 'middle', 'font-size': FONT_SIZE }, share));
    }
    chart.append(group);
    x += segment;
  }
  return chart;
}

/** Horizontal bars for a top list ("value: count"), the label above each bar. */
export function horizontalBars(items: Array<{ value: string; count: number }>, options: { width: number; title: string; barClass: string; emptyText: string }): SVGSVGElement {
  const width = Math.max(220, Math.round(options.width));
  const rowHeight = 36;
  const height = Math.max(1, items.length) * rowHeight + 4;
  const max = Math.max(1, ...items.map((item) => item.count));
  const countSpace = 56;
  const chart = svg('svg', { class: 'chart chart-top', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${options.title}: ${items.length ? items.map((i) => `${i.value} ${i.count}`).join(', ') : options.emptyText}` });
  if (items.length === 0) {
    chart.append(svg('text', { class: 'empty', x: 0, y: 22, 'font-size': FONT_SIZE }, options.emptyText));
    return chart;
  }
  items.forEach((item, index) => {
    const top = index * rowHeight;
    const barLength = Math.max(2, ((width - countSpace) * item.count) / max);
    chart.append(
      svg(
        'g',
        { class: 'top-row', 'data-value': item.value },
        svg('title', {}, `${item.value}: ${formatCount(item.count)}`),
        svg('text', { x: 0, y: top + 13, 'font-size': FONT_SIZE, class: 'top-label' }, shorten(item.value || '(empty)', Math.floor(width / CHAR_WIDTH))),
        svg('rect', { class: `bar ${options.barClass}`, x: 0, y: top + 18, width: barLength.toFixed(2), height: 12, rx: 2 }),
        svg('text', { x: barLength + 6, y: top + 28, 'font-size': FONT_SIZE, class: 'top-count' }, formatCount(item.count)),
      ),
    );
  });
  return chart;
}

/** A bar filled to `ratio` (0..1), labelled with the percentage. */
export function ratioBar(ratio: number, options: { width: number; label: string; barClass: string }): SVGSVGElement {
  const width = Math.max(160, Math.round(options.width));
  const height = 26;
  const clamped = Math.min(1, Math.max(0, Number.isFinite(ratio) ? ratio : 0));
  return svg(
    'svg',
    { class: 'chart chart-ratio', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${options.label}: ${formatPercent(clamped)}` },
    svg('title', {}, `${options.label}: ${formatPercent(clamped, 1)}`),
    svg('rect', { class: 'track', x: 0, y: 3, width, height: height - 6, rx: 4 }),
    svg('rect', { class: `bar ${options.barClass}`, x: 0, y: 3, width: (clamped * width).toFixed(2), height: height - 6, rx: 4 }),
    svg('text', { x: 8, y: height / 2 + 4, 'font-size': FONT_SIZE, class: clamped > 0.2 ? 'on-bar' : 'off-bar' }, formatPercent(clamped)),
  );
}
