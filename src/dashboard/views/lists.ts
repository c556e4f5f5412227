// Lists: the allow and block lists, the client bans and the greylist, each searchable (#/lists/allow,
// #/lists/block, #/lists/bans, #/lists/greylist). Administrators get the add forms (value, optional
// recipient scope, block reason with the usual categories, comment, expiry), remove buttons with an
// inline "Confirm remove" step, deletion of greylist triplets and a flush; the read-only role sees
// the tables only.
import { api, type Ban, type GreylistClient, type GreylistTriplet, type ListEntry, type ListKind } from '../api.js';
import { errorMessage, type AppContext, type View } from '../context.js';
import { debounce, field, formatCount, formatExpiry, formatSeconds, h, replaceChildren, select } from '../dom.js';

const PAGE_SIZE = 100;

const SECTIONS: Array<{ key: string; label: string }> = [
  { key: 'allow', label: 'Allow list' },
  { key: 'block', label: 'Block list' },
  { key: 'bans', label: 'Bans' },
  { key: 'greylist', label: 'Greylist' },
];

const EXPIRY_CHOICES = ['never', '1d', '7d', '30d', '90d'];
const BLOCK_REASONS: Array<[string, string]> = [
  ['spam', 'spam'],
  ['abusive-domain', 'abusive domain'],
  ['compromised', 'compromised account'],
];

const PAST_TENSE: Record<string, string> = { Remove: 'Removed', Lift: 'Lifted', Delete: 'Deleted' };

/**
 * A "Remove" button that turns into "Confirm remove" and "Cancel"; confirming runs `remove` and
 * then `done` (the table reloads). Errors show beside the buttons and in the banner.
 */
function removeControl(label: string, what: string, remove: () => Promise<unknown>, context: AppContext, done: () => void): HTMLElement {
  const cell = h('div', { class: 'remove-control' });
  const showInitial = () => {
    const button = h('button', { type: 'button', class: 'secondary small', 'aria-label': `${label} ${what}` }, label);
    button.addEventListener('click', () => showConfirm());
    replaceChildren(cell, button);
  };
  const showConfirm = () => {
    const confirm = h('button', { type: 'button', class: 'danger small', 'aria-label': `Confirm: ${label.toLowerCase()} ${what}` }, `Confirm ${label.toLowerCase()}`);
    const cancel = h('button', { type: 'button', class: 'link-button small' }, 'Cancel');
    confirm.addEventListener('click', () => {
      confirm.disabled = true;
      cancel.disabled = true;
      remove()
        .then(() => {
          context.notify(`${PAST_TENSE[label] ?? label} ${what}.`);
          done();
        })
        .catch((error: unknown) => {
          context.showError(error);
          showInitial();
        });
    });
    cancel.addEventListener('click', () => showInitial());
    replaceChildren(cell, confirm, cancel);
    confirm.focus();
  };
  showInitial();
  return cell;
}

/** A table with column headers, in its own horizontal scroll container. */
function table(caption: string, columns: string[], rows: HTMLTableRowElement[], emptyText: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, emptyText);
  return h(
    'div',
    { class: 'table-scroll' },
    h('table', {}, h('caption', { class: 'visually-hidden' }, caption), h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows)),
  );
}

/** A search field that calls `onSearch` as the user types (debounced) and on Enter. */
function searchField(id: string, label: string, onSearch: (text: string) => void, placeholder = ''): { element: HTMLElement; input: HTMLInputElement } {
  const input = h('input', { type: 'search', id, name: 'search', autocomplete: 'off', spellcheck: 'false', placeholder });
  const run = debounce(() => onSearch(input.value.trim()), 300);
  input.addEventListener('input', run);
  const form = h('form', { class: 'search', role: 'search' }, field(label, input));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    onSearch(input.value.trim());
  });
  return { element: form, input };
}

/** A "Show more" pager for offset-paged tables. */
function pager(shown: number, pageFull: boolean, more: () => void): HTMLElement | null {
  if (!pageFull) return null;
  return h('div', { class: 'pager' }, h('button', { type: 'button', class: 'secondary', onclick: more }, `Show more than ${formatCount(shown)}`));
}

/** The allow or block list section. */
function listSection(kind: ListKind, container: HTMLElement, context: AppContext): void {
  const label = kind === 'allow' ? 'allow list' : 'block list';
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  let searchText = '';
  let limit = PAGE_SIZE;

  const load = async () => {
    try {
      const { entries } = await api.lists({ kind, search: searchText, limit });
      const rows = entries.map((entry) => entryRow(entry));
      replaceChildren(
        results,
        h('p', { class: 'summary' }, `${formatCount(entries.length)} entr${entries.length === 1 ? 'y' : 'ies'}${searchText ? ` matching “${searchText}”` : ''}.`),
        table(
          `${kind === 'allow' ? 'Allow' : 'Block'} list entries`,
          ['Entry', 'Type', 'For', ...(kind === 'block' ? ['Reason'] : []), 'Comment', 'Added by', 'Added', 'Expires', ...(context.canEdit ? ['Action'] : [])],
          rows,
          searchText ? 'No entry matches.' : `The ${label} is empty.`,
        ),
        pager(entries.length, entries.length >= limit, () => {
          limit += PAGE_SIZE;
          void load();
        }),
      );
    } catch (error) {
      context.showError(error);
    }
  };

  const entryRow = (entry: ListEntry) =>
    h(
      'tr',
      { 'data-id': entry.id, 'data-value': entry.value },
      h('th', { scope: 'row' }, h('code', {}, entry.value)),
      h('td', {}, entry.type),
      h('td', {}, entry.scope || h('span', { class: 'muted' }, 'everyone')),
      kind === 'block' ? h('td', {}, entry.reason || h('span', { class: 'muted' }, 'Access denied')) : null,
      h('td', {}, entry.comment),
      h('td', {}, entry.addedBy),
      h('td', {}, formatSeconds(entry.createdAt)),
      h('td', {}, formatExpiry(entry.expiresAt)),
      context.canEdit ? h('td', {}, removeControl('Remove', entry.value, () => api.removeListEntry(kind, entry.id), context, () => void load())) : null,
    );

  const search = searchField(`${kind}-search`, `Search the ${label}`, (text) => {
    searchText = text;
    limit = PAGE_SIZE;
    void load();
  }, 'address, domain, IP, reason, comment');

  replaceChildren(container, context.canEdit ? addEntryForm(kind, context, () => void load()) : readOnlyNote(), search.element, results);
  void load();
}

function readOnlyNote(): HTMLElement {
  return h('p', { class: 'note' }, 'Read-only access: log in with the administrator password to change lists.');
}

function datalist(id: string, values: Array<[string, string]> | string[]): HTMLDataListElement {
  return h('datalist', { id }, values.map((v) => (Array.isArray(v) ? h('option', { value: v[0] }, v[1]) : h('option', { value: v }))));
}

/** The form adding an allow or block entry. */
function addEntryForm(kind: ListKind, context: AppContext, added: () => void): HTMLElement {
  const prefix = `add-${kind}`;
  const value = h('input', { type: 'text', id: `${prefix}-value`, name: 'value', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: '@spam.example' });
  const scope = h('input', { type: 'email', id: `${prefix}-scope`, name: 'scope', autocomplete: 'off', placeholder: 'bob@example.org' });
  const reason = kind === 'block' ? h('input', { type: 'text', id: `${prefix}-reason`, name: 'reason', list: `${prefix}-reasons`, autocomplete: 'off', placeholder: 'spam' }) : null;
  const comment = h('input', { type: 'text', id: `${prefix}-comment`, name: 'comment', autocomplete: 'off' });
  const expires = h('input', { type: 'text', id: `${prefix}-expires`, name: 'expires', list: `${prefix}-expiries`, autocomplete: 'off', placeholder: 'never' });
  const submit = h('button', { type: 'submit', class: kind === 'block' ? 'danger' : 'primary' }, `Add to the ${kind} list`);
  const result = h('p', { class: 'form-result', role: 'status', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'add-form', id: `${prefix}-form` },
    h(
      'fieldset',
      {},
      h('legend', {}, `Add to the ${kind} list`),
      h(
        'div',
        { class: 'form-grid' },
        field('Entry', value, 'user@example.org, @example.org, 192.0.2.7, 192.0.2.0/24 or helo:mx.example.net'),
        field('For recipient (optional)', scope, 'empty: for everyone'),
        reason ? field('Reason', reason, 'spam, abusive-domain, compromised, or your own text: it goes into the reply') : null,
        field('Comment', comment),
        field('Expires', expires, 'a duration (30d), a date (2026-12-31) or never'),
      ),
      reason ? datalist(`${prefix}-reasons`, BLOCK_REASONS) : null,
      datalist(`${prefix}-expiries`, EXPIRY_CHOICES),
      h('div', { class: 'form-actions' }, submit),
      result,
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    result.classList.remove('error');
    result.textContent = 'Saving…';
    api
      .addListEntry({
        kind,
        value: value.value.trim(),
        scope: scope.value.trim(),
        ...(reason && reason.value.trim() ? { reason: reason.value.trim() } : {}),
        comment: comment.value.trim(),
        ...(expires.value.trim() ? { expires: expires.value.trim() } : {}),
      })
      .then((answer) => {
        const message = `${answer.entry.value} ${answer.created ? 'added to' : 'updated in'} the ${kind} list (entry #${answer.entry.id}).`;
        result.textContent = message;
        context.notify(message);
        value.value = '';
        comment.value = '';
        added();
        value.focus();
      })
      .catch((error: unknown) => {
        result.classList.add('error');
        result.textContent = `Not added: ${errorMessage(error)}`;
        context.showError(error);
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  return form;
}

/** The bans section: search, add form, table. */
function bansSection(container: HTMLElement, context: AppContext): void {
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const expired = h('input', { type: 'checkbox', id: 'bans-expired', name: 'expired' });
  let searchText = '';
  let limit = PAGE_SIZE;

  const banRow = (ban: Ban) =>
    h(
      'tr',
      { 'data-network': ban.network },
      h('th', { scope: 'row' }, h('code', {}, ban.network)),
      h('td', {}, ban.reason),
      h('td', {}, ban.source),
      h('td', {}, formatSeconds(ban.createdAt)),
      h('td', {}, formatExpiry(ban.expiresAt)),
      context.canEdit ? h('td', {}, removeControl('Lift', `the ban of ${ban.network}`, () => api.removeBan(ban.network), context, () => void load())) : null,
    );

  const load = async () => {
    try {
      const { bans } = await api.bans({ search: searchText, expired: expired.checked, limit });
      replaceChildren(
        results,
        h('p', { class: 'summary' }, `${formatCount(bans.length)} ban${bans.length === 1 ? '' : 's'}.`),
        table('Bans', ['Network', 'Reason', 'Source', 'Since', 'Expires', ...(context.canEdit ? ['Action'] : [])], bans.map(banRow), 'No client is banned.'),
        pager(bans.length, bans.length >= limit, () => {
          limit += PAGE_SIZE;
          void load();
        }),
      );
    } catch (error) {
      context.showError(error);
    }
  };

  const search = searchField('bans-search', 'Search the bans', (text) => {
    searchText = text;
    limit = PAGE_SIZE;
    void load();
  }, 'address, network, reason, source');
  expired.addEventListener('change', () => void load());

  let addForm: HTMLElement | null = null;
  if (context.canEdit) {
    const network = h('input', { type: 'text', id: 'ban-network', name: 'network', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: '192.0.2.7 or 2001:db8::/48', inputmode: 'decimal' });
    const reason = h('input', { type: 'text', id: 'ban-reason', name: 'reason', autocomplete: 'off', placeholder: 'manual' });
    const duration = h('input', { type: 'text', id: 'ban-duration', name: 'duration', list: 'ban-durations', autocomplete: 'off', value: '7d' });
    const submit = h('button', { type: 'submit', class: 'danger' }, 'Ban');
    const result = h('p', { class: 'form-result', role: 'status', 'aria-live': 'polite' });
    const form = h(
      'form',
      { class: 'add-form', id: 'add-ban-form' },
      h(
        'fieldset',
        {},
        h('legend', {}, 'Ban a client address or network'),
        h('div', { class: 'form-grid' }, field('Address or network', network), field('Reason', reason), field('Duration', duration, 'a duration (7d) or never')),
        datalist('ban-durations', EXPIRY_CHOICES),
        h('div', { class: 'form-actions' }, submit),
        result,
      ),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      submit.disabled = true;
      result.classList.remove('error');
      api
        .addBan({ network: network.value.trim(), ...(reason.value.trim() ? { reason: reason.value.trim() } : {}), ...(duration.value.trim() ? { duration: duration.value.trim() } : {}) })
        .then((answer) => {
          result.textContent = `${answer.ban.network} banned, ${answer.ban.expiresAt ? `until ${formatSeconds(answer.ban.expiresAt)}` : 'until lifted'}.`;
          context.notify(result.textContent);
          network.value = '';
          void load();
        })
        .catch((error: unknown) => {
          result.classList.add('error');
          result.textContent = `Not banned: ${errorMessage(error)}`;
        context.showError(error);
        })
        .finally(() => {
          submit.disabled = false;
        });
    });
    addForm = form;
  }

  replaceChildren(container, addForm ?? readOnlyNote(), h('div', { class: 'search-row' }, search.element, h('div', { class: 'checkbox' }, expired, h('label', { for: 'bans-expired' }, 'Include expired bans'))), results);
  void load();
}

/** The greylist section: triplets (search, waiting/passed), delete, flush; auto-allowed clients. */
function greylistSection(container: HTMLElement, context: AppContext): void {
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const clientsBox = h('div', { class: 'results' });
  const state = select('state', [['', 'all'], ['true', 'waiting'], ['false', 'passed']]);
  state.id = 'greylist-state';
  let searchText = '';
  let limit = PAGE_SIZE;

  const tripletRow = (triplet: GreylistTriplet) =>
    h(
      'tr',
      { 'data-key': triplet.key },
      h('th', { scope: 'row' }, h('code', {}, triplet.labels.clientNet)),
      h('td', {}, triplet.labels.sender || h('span', { class: 'muted' }, '<>')),
      h('td', {}, triplet.labels.recipient),
      h('td', {}, formatSeconds(triplet.firstSeen)),
      h('td', {}, formatSeconds(triplet.lastSeen)),
      h('td', { class: 'number' }, formatCount(triplet.attempts)),
      h('td', {}, triplet.passedAt ? h('span', { class: 'badge action-accept' }, `passed ${formatSeconds(triplet.passedAt)}`) : h('span', { class: 'badge action-greylist' }, 'waiting')),
      context.canEdit ? h('td', {}, removeControl('Delete', `the triplet ${triplet.labels.clientNet} ${triplet.labels.sender} → ${triplet.labels.recipient}`, () => api.removeTriplet(triplet.key), context, () => void load())) : null,
    );

  const clientRow = (client: GreylistClient) => h('tr', {}, h('th', { scope: 'row' }, h('code', {}, client.key)), h('td', { class: 'number' }, formatCount(client.passes)), h('td', {}, formatSeconds(client.lastSeen)));

  const load = async () => {
    try {
      const [{ triplets }, { clients }] = await Promise.all([api.greylist({ search: searchText, ...(state.value ? { waiting: state.value === 'true' } : {}), limit }), api.greylistClients({ limit: PAGE_SIZE })]);
      replaceChildren(
        results,
        h('p', { class: 'summary' }, `${formatCount(triplets.length)} triplet${triplets.length === 1 ? '' : 's'}${searchText ? ` matching “${searchText}”` : ''}.`),
        table('Greylist triplets', ['Client network', 'Sender', 'Recipient', 'First seen', 'Last seen', 'Attempts', 'State', ...(context.canEdit ? ['Action'] : [])], triplets.map(tripletRow), 'No greylist triplet.'),
        pager(triplets.length, triplets.length >= limit, () => {
          limit += PAGE_SIZE;
          void load();
        }),
      );
      replaceChildren(clientsBox, table('Clients counted for auto-allow', ['Client', 'Passes', 'Last seen'], clients.map(clientRow), 'No client counted yet.'));
    } catch (error) {
      context.showError(error);
    }
  };

  const search = searchField('greylist-search', 'Search the greylist', (text) => {
    searchText = text;
    limit = PAGE_SIZE;
    void load();
  }, 'client, sender, recipient');
  state.addEventListener('change', () => void load());

  let flush: HTMLElement | null = null;
  if (context.canEdit) {
    const withClients = h('input', { type: 'checkbox', id: 'flush-clients', name: 'clients' });
    const control = h('div', { class: 'flush-control' });
    const showFlush = () => {
      const button = h('button', { type: 'button', class: 'secondary' }, 'Flush…');
      button.addEventListener('click', () => {
        const what = searchText ? `the triplets matching “${searchText}”` : 'every triplet';
        const confirm = h('button', { type: 'button', class: 'danger' }, 'Confirm flush');
        const cancel = h('button', { type: 'button', class: 'link-button' }, 'Cancel');
        confirm.addEventListener('click', () => {
          confirm.disabled = true;
          api
            .flushGreylist({ search: searchText, clients: withClients.checked })
            .then((answer) => {
              context.notify(`Flushed ${formatCount(answer.removed)} triplet${answer.removed === 1 ? '' : 's'}${withClients.checked ? ` and ${formatCount(answer.removedClients)} client tallies` : ''}.`);
              showFlush();
              void load();
            })
            .catch((error: unknown) => {
              context.showError(error);
              showFlush();
            });
        });
        cancel.addEventListener('click', () => showFlush());
        replaceChildren(control, h('span', { class: 'confirm-text' }, `Delete ${what}?`), confirm, cancel);
        confirm.focus();
      });
      replaceChildren(control, button);
    };
    showFlush();
    flush = h(
      'div',
      { class: 'panel flush' },
      h('h3', {}, 'Flush'),
      h('p', { class: 'hint' }, 'Deletes the triplets matching the search (all of them when the search is empty): those senders are greylisted again.'),
      h('div', { class: 'checkbox' }, withClients, h('label', { for: 'flush-clients' }, 'Also forget the auto-allowed clients')),
      control,
    );
  }

  replaceChildren(
    container,
    h('div', { class: 'search-row' }, search.element, field('State', state)),
    flush ?? readOnlyNote(),
    results,
    h('h3', {}, 'Clients counted for auto-allow'),
    clientsBox,
  );
  void load();
}

export const listsView: View = (container, context, params) => {
  const current = SECTIONS.some((s) => s.key === params[0]) ? params[0]! : 'allow';
  const body = h('div', { class: 'section-body', id: `lists-${current}` });
  replaceChildren(
    container,
    h('div', { class: 'view-head' }, h('h1', {}, 'Lists')),
    h(
      'nav',
      { class: 'sub-nav', 'aria-label': 'Lists' },
      h(
        'ul',
        {},
        SECTIONS.map((section) => h('li', {}, h('a', { href: `#/lists/${section.key}`, 'aria-current': section.key === current ? 'page' : null }, section.label))),
      ),
    ),
    h('h2', { class: 'section-title' }, SECTIONS.find((s) => s.key === current)!.label),
    body,
  );
  if (current === 'allow' || current === 'block') listSection(current, body, context);
  else if (current === 'bans') bansSection(body, context);
  else greylistSection(body, context);
};
