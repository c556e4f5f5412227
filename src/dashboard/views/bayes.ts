// Bayes: what the classifier has learned (messages and tokens per database, and whether it is
// ready to give verdicts), learning from uploaded .eml or mbox files as spam or ham (each file's
// bytes posted to POST /api/bayes/learn), and checking a pasted or uploaded message (POST
// /api/check): its action, score, symbols and Bayes probability. A check learns nothing.
import { actionBadge } from '../actions.js';
import { api, type BayesInfo, type CheckResult } from '../api.js';
import { errorMessage, type AppContext, type View } from '../context.js';
import { field, formatCount, formatPercent, formatScore, h, replaceChildren, select } from '../dom.js';

/** The content type to send a file as: an mbox (by name or by its first "From " line) or one message. */
async function contentTypeOf(file: File): Promise<string> {
  if (/\.mbox$/i.test(file.name)) return 'application/mbox';
  if (/\.eml$/i.test(file.name)) return 'message/rfc822';
  const start = await file.slice(0, 5).text();
  return start === 'From ' ? 'application/mbox' : 'message/rfc822';
}

function countsPanel(info: BayesInfo): HTMLElement {
  const global = info.scopes.find((s) => s.scope === '') ?? { scope: '', spamMessages: 0, hamMessages: 0, tokens: 0 };
  const readiness = info.enabled === false
    ? h('p', { class: 'readiness not-ready', 'data-ready': 'false' }, 'The classifier is switched off (bayes.enabled: false): it learns, but gives no verdicts.')
    : info.ready
    ? h('p', { class: 'readiness ready', 'data-ready': 'true' }, `Ready: the classifier gives verdicts (at least ${formatCount(info.minMessages)} spam and ${formatCount(info.minMessages)} ham messages learned).`)
    : h(
        'p',
        { class: 'readiness not-ready', 'data-ready': 'false' },
        `Not ready yet: it needs ${formatCount(info.minMessages)} spam and ${formatCount(info.minMessages)} ham messages before it gives verdicts (global database: ${formatCount(global.spamMessages)} spam, ${formatCount(global.hamMessages)} ham).`,
      );
  const rows = (info.scopes.length ? info.scopes : [global]).map((scope) =>
    h(
      'tr',
      { 'data-scope': scope.scope },
      h('th', { scope: 'row' }, scope.scope || 'global'),
      h('td', { class: 'number', 'data-spam': scope.spamMessages }, formatCount(scope.spamMessages)),
      h('td', { class: 'number', 'data-ham': scope.hamMessages }, formatCount(scope.hamMessages)),
      h('td', { class: 'number' }, formatCount(scope.tokens)),
    ),
  );
  return h(
    'div',
    {},
    readiness,
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'bayes-counts' },
        h('caption', { class: 'visually-hidden' }, 'Messages learned per database'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Database'), h('th', { scope: 'col' }, 'Spam messages'), h('th', { scope: 'col' }, 'Ham messages'), h('th', { scope: 'col' }, 'Tokens'))),
        h('tbody', {}, rows),
      ),
    ),
  );
}

function learnForm(context: AppContext, learned: () => void): HTMLElement {
  const files = h('input', { type: 'file', id: 'learn-files', name: 'files', multiple: true, accept: '.eml,.mbox,.txt,message/rfc822,application/mbox', required: true });
  const messageClass = select('class', [
    ['spam', 'spam'],
    ['ham', 'ham (good mail)'],
  ]);
  messageClass.id = 'learn-class';
  const scope = h('input', { type: 'email', id: 'learn-scope', name: 'scope', autocomplete: 'off', placeholder: 'bob@example.org' });
  const unlearn = h('input', { type: 'checkbox', id: 'learn-unlearn', name: 'unlearn' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Learn');
  const outcomes = h('ul', { class: 'outcomes', id: 'learn-outcomes', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'add-form', id: 'learn-form' },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Learn from messages'),
      h(
        'div',
        { class: 'form-grid' },
        field('Message files (.eml, .mbox)', files, 'one message per .eml file; an mbox holds many'),
        field('Learn as', messageClass),
        field('For recipient (optional)', scope, "empty: the global database; else that user's own"),
      ),
      h('div', { class: 'checkbox' }, unlearn, h('label', { for: 'learn-unlearn' }, 'Unlearn (take back an earlier learning of these messages)')),
      h('div', { class: 'form-actions' }, submit),
      outcomes,
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = [...(files.files ?? [])];
    if (chosen.length === 0) return;
    submit.disabled = true;
    outcomes.replaceChildren();
    const learnAs = messageClass.value === 'ham' ? 'ham' : 'spam';
    void (async () => {
      let total = 0;
      for (const file of chosen) {
        const item = h('li', { 'data-file': file.name }, `${file.name}: learning…`);
        outcomes.append(item);
        try {
          const answer = await api.learn(file, { class: learnAs, unlearn: unlearn.checked, scope: scope.value.trim(), contentType: await contentTypeOf(file) });
          total += answer.messages;
          const detail = Object.entries(answer.outcomes)
            .filter(([, n]) => n > 0)
            .map(([outcome, n]) => `${outcome} ${formatCount(n)}`)
            .join(', ');
          item.className = 'ok';
          item.textContent = `${file.name}: ${formatCount(answer.messages)} message${answer.messages === 1 ? '' : 's'} — ${detail || 'nothing to do'}`;
        } catch (error) {
          item.className = 'error';
          item.textContent = `${file.name}: ${errorMessage(error)}`;
        }
      }
      context.notify(`${unlearn.checked ? 'Unlearned' : 'Learned'} ${formatCount(total)} message${total === 1 ? '' : 's'} as ${learnAs}.`);
      submit.disabled = false;
      files.value = '';
      learned();
    })();
  });
  return form;
}

function checkResult(result: CheckResult): HTMLElement {
  return h(
    'div',
    { class: 'check-result', id: 'check-result', 'data-action': result.action },
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Action'),
      h('dd', {}, actionBadge(result.action)),
      h('dt', {}, 'Score'),
      h('dd', { 'data-score': result.score }, formatScore(result.score)),
      h('dt', {}, 'Bayes'),
      h('dd', {}, result.bayes ? `${result.bayes.verdict}, spam probability ${formatPercent(result.bayes.probability, 1)}` : 'no verdict (not trained enough, or the message was too short)'),
    ),
    result.symbols.length
      ? h(
          'div',
          { class: 'table-scroll' },
          h(
            'table',
            { class: 'symbols-table' },
            h('caption', { class: 'visually-hidden' }, 'Symbols'),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Symbol'), h('th', { scope: 'col' }, 'Score'), h('th', { scope: 'col' }, 'What it means'))),
            h(
              'tbody',
              {},
              result.symbols.map((symbol) => h('tr', { 'data-symbol': symbol.name }, h('th', { scope: 'row' }, h('code', {}, symbol.name)), h('td', { class: 'number' }, formatScore(symbol.score)), h('td', {}, symbol.description ?? '—'))),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No symbol fired.'),
  );
}

function checkForm(context: AppContext): HTMLElement {
  const text = h('textarea', { id: 'check-text', name: 'message', rows: 10, spellcheck: 'false', placeholder: 'From: …\nSubject: …\n\nBody…' });
  const file = h('input', { type: 'file', id: 'check-file', name: 'file', accept: '.eml,.txt,message/rfc822' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Check');
  const output = h('div', { class: 'results', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'add-form', id: 'check-form' },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Check a message'),
      h('p', { class: 'hint' }, 'Runs the content checks and the classifier on one message, as the milter would. Nothing is learned or recorded.'),
      field('Paste a message (headers and body)', text),
      field('Or choose a file', file),
      h('div', { class: 'form-actions' }, submit),
      output,
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    const message: Blob | string | undefined = chosen ?? (text.value.trim() ? text.value.replace(/\r?\n/g, '\r\n') : undefined);
    if (message === undefined) {
      replaceChildren(output, h('p', { class: 'form-error' }, 'Paste a message or choose a file first.'));
      return;
    }
    submit.disabled = true;
    replaceChildren(output, h('p', {}, 'Checking…'));
    api
      .check(message)
      .then((result) => replaceChildren(output, checkResult(result)))
      .catch((error: unknown) => {
        replaceChildren(output, h('p', { class: 'form-error' }, `Not checked: ${errorMessage(error)}`));
        context.showError(error);
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  return form;
}

export const bayesView: View = (container, context) => {
  const counts = h('div', { class: 'panel-body', 'aria-live': 'polite' }, h('p', {}, 'Loading…'));
  const loadCounts = async () => {
    try {
      replaceChildren(counts, countsPanel(await api.bayes()));
    } catch (error) {
      context.showError(error);
    }
  };
  replaceChildren(
    container,
    h('div', { class: 'view-head' }, h('h1', {}, 'Bayes')),
    h('section', { class: 'panel', 'aria-labelledby': 'bayes-counts-heading' }, h('h2', { id: 'bayes-counts-heading' }, 'What it has learned'), counts),
    context.canEdit
      ? h('section', { class: 'panel', 'aria-labelledby': 'bayes-learn-heading' }, h('h2', { id: 'bayes-learn-heading' }, 'Learn'), learnForm(context, () => void loadCounts()))
      : h('p', { class: 'note' }, 'Read-only access: log in with the administrator password to train the classifier.'),
    h('section', { class: 'panel', 'aria-labelledby': 'bayes-check-heading' }, h('h2', { id: 'bayes-check-heading' }, 'Check'), checkForm(context)),
  );
  void loadCounts();
};
