// The decision history: a filterable table of result records, newest first, with "Load older"
// paging (`before`) and a live mode that polls GET /api/history once a second for records newer
// than the newest shown and puts them on top; and the detail of one record (#/history/ID): the
// reply sent, every symbol with its score and explanation, headers added, facts, errors, timing,
// and the two-click fixes: allow or block the sender or the client address (POST /api/lists).
import { ACTIONS, actionBadge, actionLabel } from '../actions.js';
import { api, ApiError, type ListKind, type ResultRecord } from '../api.js';
import { errorMessage, visiblePoller, type AppContext, type View } from '../context.js';
import { field, formatCount, formatScore, formatTime, h, replaceChildren, select } from '../dom.js';

const PAGE_SIZE = 50;
const LIVE_INTERVAL_MS = 1000;
const TEXT_FILTERS = ['client', 'sender', 'recipient', 'symbol'] as const;

type Filter = Record<string, string>;

/** datetime-local value ("2026-11-23T14:05") of a time in ms, local time. */
function toDateTimeLocal(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** The filter in the hash ("#/history?sender=a%40b.example"), as API parameters. */
function filterFromHash(): Filter {
  const query = location.hash.split('?')[1] ?? '';
  const filter: Filter = {};
  for (const [key, value] of new URLSearchParams(query)) {
    if (value && ['since', 'until', 'client', 'sender', 'recipient', 'action', 'symbol', 'node'].includes(key)) filter[key] = value;
  }
  return filter;
}

function clientCell(record: ResultRecord): HTMLTableCellElement {
  return h('td', { class: 'client', 'data-label': 'Client' }, h('span', { class: 'address' }, record.clientAddress || '—'), record.clientName && record.clientName !== 'unknown' ? h('small', { class: 'sub' }, record.clientName) : null);
}

function recordRow(record: ResultRecord, fresh: boolean): HTMLTableRowElement {
  const href = `#/history/${record.id}`;
  const row = h(
    'tr',
    { class: fresh ? 'record fresh' : 'record', 'data-id': record.id, 'data-action': record.action },
    h('th', { scope: 'row', class: 'time' }, h('a', { href, 'aria-label': `Decision ${record.id} at ${formatTime(record.time)}: details` }, formatTime(record.time))),
    h('td', { class: 'action' }, actionBadge(record.action)),
    clientCell(record),
    h('td', { class: 'sender', 'data-label': 'From' }, record.sender || h('span', { class: 'muted' }, '<>')),
    h('td', { class: 'recipients', 'data-label': 'To' }, record.recipients.join(', ') || '—'),
    h('td', { class: 'reason' }, record.reason || record.reply || '—'),
    h('td', { class: record.symbols.length ? 'number score' : 'number score none', 'data-label': 'Score' }, record.symbols.length ? formatScore(record.score) : '—'),
    h('td', { class: 'protocol', 'data-label': 'Via' }, `${record.protocol}/${record.stage}`),
  );
  // The whole row opens the detail; the link in it is what keyboards and screen readers use.
  row.addEventListener('click', (event) => {
    if ((event.target as Element).closest('a, button')) return;
    location.hash = href;
  });
  return row;
}

export const historyView: View = (container, context) => {
  const initial = filterFromHash();
  const since = h('input', { type: 'datetime-local', name: 'since', value: initial.since ? toDateTimeLocal(Number(initial.since)) : '' });
  const until = h('input', { type: 'datetime-local', name: 'until', value: initial.until ? toDateTimeLocal(Number(initial.until)) : '' });
  const textInputs = Object.fromEntries(
    TEXT_FILTERS.map((name) => [name, h('input', { type: name === 'client' ? 'text' : 'search', name, value: initial[name] ?? '', autocomplete: 'off', inputmode: name === 'client' ? 'decimal' : null, spellcheck: 'false' })]),
  ) as Record<(typeof TEXT_FILTERS)[number], HTMLInputElement>;
  const action = select('action', [['', 'any'], ...ACTIONS.map((a): [string, string] => [a, actionLabel(a)])], initial.action ?? '');
  const live = h('input', { type: 'checkbox', id: 'history-live', name: 'live', checked: true });
  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'History filters' },
    field('From', since),
    field('Until', until),
    field('Client IP', textInputs.client),
    field('Sender', textInputs.sender),
    field('Recipient', textInputs.recipient),
    field('Action', action),
    field('Symbol', textInputs.symbol),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply filters'), h('button', { type: 'button', class: 'secondary', onclick: () => clearFilters() }, 'Clear')),
  );
  const tbody = h('tbody', {});
  const summary = h('p', { class: 'summary', 'aria-live': 'polite' });
  const olderButton = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load older');
  const table = h(
    'table',
    { class: 'history-table' },
    h('caption', { class: 'visually-hidden' }, 'Decisions, newest first'),
    h(
      'thead',
      {},
      h('tr', {}, ['Time', 'Action', 'Client', 'Sender', 'Recipients', 'Reason', 'Score', 'Protocol'].map((name) => h('th', { scope: 'col' }, name))),
    ),
    tbody,
  );
  replaceChildren(
    container,
    h('div', { class: 'view-head' }, h('h1', {}, 'History'), h('div', { class: 'toolbar' }, h('div', { class: 'checkbox' }, live, h('label', { for: 'history-live' }, 'Live: new decisions appear on top')))),
    h('details', { class: 'filters-box', open: Object.keys(initial).length > 0 || window.innerWidth > 700 }, h('summary', {}, 'Filters'), form),
    summary,
    h('div', { class: 'table-scroll' }, table),
    h('div', { class: 'pager' }, olderButton),
  );

  let filter: Filter = initial;
  let records: ResultRecord[] = [];
  let nextBefore: number | null = null;
  let generation = 0;

  const currentFilter = (): Filter => {
    const next: Filter = {};
    if (since.value) next.since = String(new Date(since.value).getTime());
    if (until.value) next.until = String(new Date(until.value).getTime());
    for (const name of TEXT_FILTERS) {
      // Symbols are named in capitals (the API insists); the other fields are exact values.
      const value = name === 'symbol' ? textInputs[name].value.trim().toUpperCase() : textInputs[name].value.trim();
      if (value) next[name] = value;
    }
    if (action.value) next.action = action.value;
    return next;
  };

  const updateSummary = () => {
    summary.textContent = records.length === 0 ? 'No decision matches.' : `${formatCount(records.length)} decision${records.length === 1 ? '' : 's'} shown${nextBefore !== null ? ', older ones available' : ''}.`;
    olderButton.hidden = nextBefore === null;
  };

  let loading = false;
  const load = async () => {
    const mine = ++generation;
    loading = true;
    summary.textContent = 'Loading…';
    try {
      const page = await api.history({ ...filter, limit: PAGE_SIZE });
      if (mine !== generation) return;
      records = page.records;
      nextBefore = page.nextBefore;
      replaceChildren(tbody, records.map((record) => recordRow(record, false)));
      updateSummary();
    } catch (error) {
      if (mine === generation) {
        summary.textContent = '';
        context.showError(error);
      }
    } finally {
      if (mine === generation) loading = false;
    }
  };

  const loadOlder = async () => {
    if (nextBefore === null) return;
    olderButton.disabled = true;
    const mine = generation;
    try {
      const page = await api.history({ ...filter, limit: PAGE_SIZE, before: nextBefore });
      if (mine !== generation) return;
      const known = new Set(records.map((r) => r.id));
      const older = page.records.filter((r) => !known.has(r.id));
      records.push(...older);
      nextBefore = page.nextBefore;
      tbody.append(...older.map((record) => recordRow(record, false)));
      updateSummary();
    } catch (error) {
      context.showError(error);
    } finally {
      olderButton.disabled = false;
    }
  };

  /** Live mode: records newer than the newest shown (same filter), put on top. */
  const pollNewer = async () => {
    if (!live.checked || loading) return;
    const newest = records[0];
    if (!newest) return load();
    const mine = generation;
    try {
      const page = await api.history({ ...filter, after: newest.id ?? 0, limit: PAGE_SIZE });
      if (mine !== generation) return;
      const newer = page.records;
      if (newer.length === 0) return;
      if (newer.length === page.records.length && page.nextBefore !== null) return load(); // more than a page arrived: start over
      records = [...newer, ...records];
      tbody.prepend(...newer.map((record) => recordRow(record, true)));
      updateSummary();
    } catch (error) {
      context.showError(error);
    }
  };

  const apply = () => {
    filter = currentFilter();
    const query = new URLSearchParams(filter).toString();
    // Keep the filter in the address (bookmarkable) without re-rendering the view.
    history.replaceState(null, '', `#/history${query ? `?${query}` : ''}`);
    void load();
  };
  const clearFilters = () => {
    form.reset();
    for (const input of [since, until, ...Object.values(textInputs)]) input.value = '';
    action.value = '';
    apply();
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apply();
  });
  olderButton.addEventListener('click', () => void loadOlder());

  void load();
  return visiblePoller(pollNewer, LIVE_INTERVAL_MS);
};

/** One definition list row per [term, value], values left out when empty. */
function facts(pairs: Array<[string, string | number | Node | null | undefined]>): HTMLDListElement {
  return h(
    'dl',
    { class: 'facts' },
    pairs.filter(([, value]) => value !== '' && value !== null && value !== undefined).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value instanceof Node ? value : String(value))]),
  );
}

/** The "fix in two clicks" buttons of a record: allow or block its sender or client address. */
function fixControls(record: ResultRecord, context: AppContext): HTMLElement {
  const result = h('p', { class: 'fix-result', role: 'status', 'aria-live': 'polite' });
  const scopeBox = record.recipients.length === 1 ? h('input', { type: 'checkbox', id: 'fix-scope', name: 'scope' }) : null;
  const clientAddress = record.clientAddress && record.clientAddress !== 'unknown' ? record.clientAddress : '';

  const add = async (button: HTMLButtonElement, kind: ListKind, value: string, what: string) => {
    button.disabled = true;
    result.classList.remove('error');
    result.textContent = 'Saving…';
    const scope = scopeBox?.checked ? record.recipients[0]! : '';
    try {
      const answer = await api.addListEntry({ kind, value, scope, comment: `from decision #${record.id}`, ...(kind === 'block' ? { reason: 'spam' } : {}) });
      const message = `${what} ${answer.entry.value} ${answer.created ? 'added to' : 'updated in'} the ${kind} list${scope ? ` for ${scope}` : ''} (entry #${answer.entry.id}).`;
      result.textContent = message;
      context.notify(message);
    } catch (error) {
      result.classList.add('error');
      result.textContent = `Not saved: ${errorMessage(error)}`;
      context.showError(error);
    } finally {
      button.disabled = false;
    }
  };

  const button = (label: string, kind: ListKind, value: string, what: string, className: string) => {
    const element = h('button', { type: 'button', class: className, disabled: !value, 'data-fix': `${kind}-${what === 'Sender' ? 'sender' : 'client'}` }, label);
    element.addEventListener('click', () => void add(element, kind, value, what));
    return element;
  };

  return h(
    'section',
    { class: 'panel fix', 'aria-labelledby': 'fix-heading' },
    h('h2', { id: 'fix-heading' }, 'Fix this decision'),
    h('p', { class: 'hint' }, 'A wrong reject? Allow the sender or the client. Spam that got through? Block it. The daemon applies the change at once.'),
    scopeBox ? h('div', { class: 'checkbox' }, scopeBox, h('label', { for: 'fix-scope' }, `Only for ${record.recipients[0]}`)) : null,
    h(
      'div',
      { class: 'button-row' },
      button('Allow sender', 'allow', record.sender, 'Sender', 'allow'),
      button('Block sender', 'block', record.sender, 'Sender', 'danger'),
      button('Allow client IP', 'allow', clientAddress, 'Client', 'allow'),
      button('Block client IP', 'block', clientAddress, 'Client', 'danger'),
    ),
    record.sender ? null : h('p', { class: 'hint' }, 'The null sender (a bounce) cannot be listed: list the client address instead.'),
    result,
  );
}

export const recordView: View = (container, context, params) => {
  const id = Number(params[0]);
  const back = h('p', { class: 'back' }, h('a', { href: '#/history' }, '← History'));
  if (!Number.isInteger(id) || id <= 0) {
    replaceChildren(container, back, h('h1', {}, 'No such decision'));
    return;
  }
  replaceChildren(container, back, h('h1', {}, `Decision #${id}`), h('p', { class: 'summary' }, 'Loading…'));
  api
    .record(id)
    .then(({ record, explanation }) => {
      const symbols = explanation.length ? explanation : record.symbols;
      const descriptions = new Map(record.symbols.map((s) => [s.name, s.description]));
      replaceChildren(
        container,
        back,
        h('div', { class: 'view-head' }, h('h1', {}, `Decision #${record.id}`), h('p', { class: 'decision-line' }, actionBadge(record.action), ' ', formatTime(record.time))),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'reply-heading' },
          h('h2', { id: 'reply-heading' }, 'Reply sent'),
          record.reply ? h('pre', { class: 'reply' }, record.reply) : h('p', { class: 'muted' }, 'No reply text: the message went on.'),
          facts([
            ['Reason', record.reason],
            ['Decided by', record.decidedBy || (record.symbols.length ? 'the score' : '')],
            ['Score', record.symbols.length ? formatScore(record.score) : ''],
          ]),
        ),
        context.canEdit ? fixControls(record, context) : null,
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'symbols-heading' },
          h('h2', { id: 'symbols-heading' }, 'Symbols'),
          symbols.length
            ? h(
                'div',
                { class: 'table-scroll' },
                h(
                  'table',
                  { class: 'symbols-table' },
                  h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Symbol'), h('th', { scope: 'col' }, 'Score'), h('th', { scope: 'col' }, 'What it means'))),
                  h(
                    'tbody',
                    {},
                    symbols.map((symbol) =>
                      h('tr', { 'data-symbol': symbol.name }, h('th', { scope: 'row' }, h('code', {}, symbol.name)), h('td', { class: 'number' }, formatScore(symbol.score)), h('td', {}, symbol.description || descriptions.get(symbol.name) || '—')),
                    ),
                  ),
                  h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, 'Total'), h('td', { class: 'number' }, formatScore(record.score)), h('td', {}, ''))),
                ),
              )
            : h('p', { class: 'muted' }, 'No symbol fired.'),
        ),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'headers-heading' },
          h('h2', { id: 'headers-heading' }, 'Headers added'),
          record.headers.length ? h('pre', { class: 'headers' }, record.headers.map((header) => `${header.name}: ${header.value}`).join('\n')) : null,
          record.headers.length ? null : h('p', { class: 'muted' }, 'None.'),
        ),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'envelope-heading' },
          h('h2', { id: 'envelope-heading' }, 'Envelope and connection'),
          facts([
            ['Time', formatTime(record.time)],
            ['Node', record.node],
            ['Protocol', record.protocol],
            ['Stage', record.stage],
            ['Client address', record.clientAddress],
            ['Client name', record.clientName],
            ['HELO', record.helo],
            ['Sender', record.sender || '<> (null sender)'],
            ['Recipients', record.recipients.join(', ')],
            ['Queue ID', record.queueId],
            ['Message-ID', record.messageId],
            ['Instance', record.instance],
            ['Time taken', `${formatScore(record.durationMs)} ms`],
          ]),
        ),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'facts-heading' },
          h('h2', { id: 'facts-heading' }, 'Facts'),
          Object.keys(record.facts).length ? facts(Object.entries(record.facts)) : h('p', { class: 'muted' }, 'None.'),
        ),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'errors-heading' },
          h('h2', { id: 'errors-heading' }, 'Check errors'),
          record.errors.length ? h('ul', { class: 'errors' }, record.errors.map((e) => h('li', {}, e))) : h('p', { class: 'muted' }, 'None: every check answered.'),
        ),
      );
    })
    .catch((error: unknown) => {
      replaceChildren(container, back, h('h1', {}, `Decision #${id}`), h('p', { class: 'muted' }, error instanceof ApiError && error.status === 404 ? 'This decision is no longer in the history.' : 'Could not load this decision.'));
      if (!(error instanceof ApiError && error.status === 404)) context.showError(error);
    });
};
