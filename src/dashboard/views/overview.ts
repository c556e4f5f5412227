// The overview: decisions per time bucket stacked by action, the share of each action, top symbols,
// top rejected clients and senders, greylist pass rate and current bans, for a chosen window
// (1h/24h/7d/30d). It polls GET /api/stats once a second while the tab is visible (one light
// request per tick) and redraws only when the answer changed; leaving the view stops the timer.
import { ACTIONS, actionLabel } from '../actions.js';
import { api, type Stats } from '../api.js';
import { actionLegend, bucketLabel, horizontalBars, ratioBar, shareBar, stackedBarChart } from '../charts.js';
import { visiblePoller, type View } from '../context.js';
import { debounce, field, formatCount, formatExpiry, formatPercent, formatSeconds, formatTime, h, replaceChildren, select } from '../dom.js';

const WINDOWS: Array<[string, string]> = [
  ['1h', 'Last hour'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
];
const WINDOW_STORAGE_KEY = 'rempart.overview.window';
const POLL_INTERVAL_MS = 1000;

function panel(title: string, className = ''): { element: HTMLElement; body: HTMLDivElement } {
  const body = h('div', { class: 'panel-body' });
  const headingId = `panel-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  const element = h('section', { class: `panel ${className}`, 'aria-labelledby': headingId }, h('h2', { id: headingId }, title), body);
  return { element, body };
}

/** Width available inside a panel body, for drawing charts at their real size. */
const widthOf = (element: HTMLElement) => Math.max(200, element.clientWidth || 600);

/** History filtered by one field, e.g. #/history?client=192.0.2.7&action=reject. */
const historyLink = (filter: Record<string, string>) => `#/history?${new URLSearchParams(filter).toString()}`;

function topList(body: HTMLElement, items: Stats['symbols'], title: string, barClass: string, emptyText: string, filterOf: (value: string) => Record<string, string>): void {
  const chart = horizontalBars(items, { width: widthOf(body), title, barClass, emptyText });
  const links = items.length
    ? h(
        'ol',
        { class: 'top-links' },
        items.map((item) => h('li', {}, h('a', { href: historyLink(filterOf(item.value)) }, item.value || '(empty)'), ` ${formatCount(item.count)}`)),
      )
    : null;
  replaceChildren(body, chart, links ? h('details', { class: 'top-details' }, h('summary', {}, 'Open in history'), links) : null);
}

export const overviewView: View = (container, context) => {
  const initialWindow = sessionStorage.getItem(WINDOW_STORAGE_KEY) ?? '1h';
  const windowSelect = select('window', WINDOWS, WINDOWS.some(([w]) => w === initialWindow) ? initialWindow : '1h');
  windowSelect.id = 'overview-window';
  const updated = h('p', { class: 'updated', 'aria-live': 'off' }, 'Loading…');

  const totals = h('div', { class: 'cards', 'aria-label': 'Decisions per action' });
  const series = panel('Decisions over time', 'wide');
  const share = panel('Share of each action', 'wide');
  const symbols = panel('Top symbols');
  const clients = panel('Top rejected clients');
  const senders = panel('Top rejected senders');
  const greylist = panel('Greylist');
  const bans = panel('Current bans');
  const checks = panel('Check errors and timeouts');
  checks.element.hidden = true;

  replaceChildren(
    container,
    h('div', { class: 'view-head' }, h('h1', {}, 'Overview'), h('div', { class: 'toolbar' }, field('Window', windowSelect), updated)),
    totals,
    h('div', { class: 'grid' }, series.element, share.element, symbols.element, clients.element, senders.element, greylist.element, bans.element, checks.element),
  );

  let last: Stats | undefined;
  let lastKey = '';
  let lastWidth = 0;
  let controller: AbortController | undefined;
  let failing = false;

  const draw = (stats: Stats) => {
    const total = ACTIONS.reduce((sum, action) => sum + (stats.actions[action] ?? 0), 0);
    replaceChildren(
      totals,
      h('div', { class: 'card card-total' }, h('span', { class: 'card-label' }, 'decisions'), h('span', { class: 'card-value', 'data-total': total }, formatCount(total))),
      ACTIONS.map((action) =>
        h(
          'div',
          { class: `card card-action card-${action}`, 'data-action': action },
          h('span', { class: 'card-label' }, h('span', { class: `swatch action-${action}`, 'aria-hidden': 'true' }), actionLabel(action)),
          h('span', { class: 'card-value', 'data-count': stats.actions[action] ?? 0 }, formatCount(stats.actions[action] ?? 0)),
          h('span', { class: 'card-share' }, total ? formatPercent((stats.actions[action] ?? 0) / total) : '—'),
        ),
      ),
      h(
        'div',
        { class: 'card card-protocols' },
        h('span', { class: 'card-label' }, 'by protocol'),
        h('span', { class: 'card-detail' }, Object.entries(stats.protocols).filter(([, n]) => n > 0).map(([name, n]) => `${name} ${formatCount(n)}`).join(' · ') || '—'),
      ),
    );

    const windowLabel = WINDOWS.find(([w]) => w === windowSelect.value)?.[1].toLowerCase() ?? '';
    series.element.querySelector('h2')!.textContent = `Messages ${bucketLabel(stats.bucketSeconds)} by action`;
    replaceChildren(
      series.body,
      h('div', { class: 'chart-scroll' }, stackedBarChart({ series: stats.series, bucketSeconds: stats.bucketSeconds, width: widthOf(series.body), title: `Decisions ${bucketLabel(stats.bucketSeconds)} by action, ${windowLabel}` })),
      actionLegend(),
    );
    replaceChildren(share.body, shareBar(stats.actions, widthOf(share.body)), actionLegend(stats.actions));

    topList(symbols.body, stats.symbols, 'Top symbols', 'bar-symbol', 'No symbol fired in this window.', (value) => ({ symbol: value }));
    topList(clients.body, stats.topRejectedClients, 'Top rejected clients', 'action-reject', 'No client was rejected in this window.', (value) => ({ client: value, action: 'reject' }));
    topList(senders.body, stats.topRejectedSenders, 'Top rejected senders', 'action-reject', 'No sender was rejected in this window.', (value) => ({ sender: value, action: 'reject' }));

    const grey = stats.greylist;
    replaceChildren(
      greylist.body,
      grey
        ? [
            h('p', { class: 'metric-title' }, 'Pass rate (triplets that retried and passed)'),
            ratioBar(grey.passRate, { width: widthOf(greylist.body), label: 'Greylist pass rate', barClass: 'action-greylist' }),
            h(
              'dl',
              { class: 'facts' },
              h('dt', {}, 'Triplets'),
              h('dd', {}, formatCount(grey.triplets)),
              h('dt', {}, 'Waiting'),
              h('dd', {}, formatCount(grey.waiting)),
              h('dt', {}, 'Passed'),
              h('dd', {}, formatCount(grey.passed)),
              h('dt', {}, 'Clients counted'),
              h('dd', {}, formatCount(grey.clients)),
              h('dt', {}, 'Auto-allowed clients'),
              h('dd', {}, formatCount(grey.autoAllowed)),
            ),
            h('p', {}, h('a', { href: '#/lists/greylist' }, 'Greylist entries')),
          ]
        : h('p', { class: 'empty' }, 'No greylist figures.'),
    );

    const banInfo = stats.bans;
    replaceChildren(
      bans.body,
      banInfo
        ? [
            h('p', { class: 'metric' }, h('span', { class: 'metric-value', 'data-bans': banInfo.active }, formatCount(banInfo.active)), ' active'),
            banInfo.newest.length
              ? h(
                  'div',
                  { class: 'table-scroll' },
                  h(
                    'table',
                    {},
                    h('caption', { class: 'visually-hidden' }, 'Newest bans'),
                    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Network'), h('th', { scope: 'col' }, 'Reason'), h('th', { scope: 'col' }, 'Source'), h('th', { scope: 'col' }, 'Since'), h('th', { scope: 'col' }, 'Expires'))),
                    h(
                      'tbody',
                      {},
                      banInfo.newest.map((ban) =>
                        h('tr', {}, h('th', { scope: 'row' }, h('code', {}, ban.network)), h('td', {}, ban.reason), h('td', {}, ban.source), h('td', {}, formatSeconds(ban.createdAt)), h('td', {}, formatExpiry(ban.expiresAt))),
                      ),
                    ),
                  ),
                )
              : h('p', { class: 'empty' }, 'No client is banned.'),
            h('p', {}, h('a', { href: '#/lists/bans' }, 'All bans')),
          ]
        : h('p', { class: 'empty' }, 'No ban figures.'),
    );

    const problems = stats.checks ? [...Object.entries(stats.checks.errors).map(([name, n]) => ({ name, n, kind: 'errors' })), ...Object.entries(stats.checks.timeouts).map(([name, n]) => ({ name, n, kind: 'timeouts' }))].filter((p) => p.n > 0) : [];
    checks.element.hidden = problems.length === 0;
    replaceChildren(checks.body, h('ul', { class: 'plain' }, problems.map((p) => h('li', {}, h('code', {}, p.name), `: ${formatCount(p.n)} ${p.kind}`))));
  };

  const refresh = async () => {
    controller?.abort();
    controller = new AbortController();
    try {
      const stats = await api.stats(windowSelect.value, controller.signal);
      // The window moves every tick; redraw only when the figures (or the room) changed.
      const key = JSON.stringify({ ...stats, since: 0, until: 0 });
      const width = container.clientWidth;
      if (key !== lastKey || width !== lastWidth) {
        lastKey = key;
        lastWidth = width;
        draw(stats);
      }
      last = stats;
      updated.textContent = `Updated ${formatTime(Date.now()).slice(11)}`;
      if (failing) context.clearError();
      failing = false;
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') return;
      failing = true;
      context.showError(error);
    }
  };

  windowSelect.addEventListener('change', () => {
    sessionStorage.setItem(WINDOW_STORAGE_KEY, windowSelect.value);
    lastKey = '';
    void refresh();
  });
  const onResize = debounce(() => {
    if (last && container.clientWidth !== lastWidth) {
      lastWidth = container.clientWidth;
      draw(last);
    }
  }, 150);
  window.addEventListener('resize', onResize);

  const stopPolling = visiblePoller(refresh, POLL_INTERVAL_MS, true);
  return () => {
    stopPolling();
    controller?.abort();
    window.removeEventListener('resize', onResize);
  };
};
