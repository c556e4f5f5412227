// Entry point of the dashboard: asks GET /api/session whether we are logged in (a 401 shows the
// login form), then draws the shell (header, main navigation, error banner, status line) and
// routes by the URL hash: #/overview, #/history, #/history/ID, #/lists[/allow|block|bans|greylist],
// #/bayes. Leaving a view calls its teardown, which stops its timers.
import { api, ApiError, setUnauthorizedHandler, type Session } from './api.js';
import { errorMessage, type AppContext, type View } from './context.js';
import { h } from './dom.js';
import { renderLogin } from './login.js';
import { bayesView } from './views/bayes.js';
import { historyView, recordView } from './views/history.js';
import { listsView } from './views/lists.js';
import { overviewView } from './views/overview.js';

interface Route {
  path: string;
  label: string;
}

const NAVIGATION: Route[] = [
  { path: 'overview', label: 'Overview' },
  { path: 'history', label: 'History' },
  { path: 'lists', label: 'Lists' },
  { path: 'bayes', label: 'Bayes' },
];

const root = document.getElementById('app') ?? document.body;
let teardown: (() => void) | undefined;

/** The view and its parameters for a hash such as "#/history/42" (a "?query" is the view's own). */
function resolve(hash: string): { section: string; view: View; params: string[] } {
  const path = hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  const [section = 'overview', ...params] = path.split('/').filter(Boolean).map(decodeURIComponent);
  switch (section) {
    case 'history':
      return params.length > 0 ? { section, view: recordView, params } : { section, view: historyView, params };
    case 'lists':
      return { section, view: listsView, params };
    case 'bayes':
      return { section, view: bayesView, params };
    default:
      return { section: 'overview', view: overviewView, params };
  }
}

function startApp(session: Session): void {
  const navLinks = NAVIGATION.map((route) => h('a', { href: `#/${route.path}`, 'data-route': route.path }, route.label));
  const bannerText = h('p', { class: 'banner-text' });
  const banner = h(
    'div',
    { class: 'error-banner', id: 'error-banner', role: 'alert', hidden: true },
    h('strong', {}, 'Error: '),
    bannerText,
    h('button', { type: 'button', class: 'link-button', onclick: () => (banner.hidden = true) }, 'Dismiss'),
  );
  const status = h('p', { class: 'status-line', id: 'status-line', role: 'status', 'aria-live': 'polite' });
  const storeBanner = h('div', { class: 'store-banner', id: 'store-banner', role: 'alert', hidden: true });
  watchStore(storeBanner);
  const main = h('main', { id: 'main', tabindex: '-1' });
  const logout = h('button', { type: 'button', class: 'secondary small', hidden: session.passwordRequired === false }, 'Log out');
  logout.addEventListener('click', () => {
    api.logout().finally(() => showLogin());
  });

  let statusTimer: number | undefined;
  const context: AppContext = {
    session,
    canEdit: session.role === 'admin',
    showError: (error) => {
      bannerText.textContent = errorMessage(error);
      banner.hidden = false;
    },
    clearError: () => {
      banner.hidden = true;
      bannerText.textContent = '';
    },
    notify: (message) => {
      status.textContent = message;
      if (statusTimer !== undefined) window.clearTimeout(statusTimer);
      statusTimer = window.setTimeout(() => (status.textContent = ''), 8000);
    },
  };

  document.body.classList.toggle('readonly', !context.canEdit);
  root.replaceChildren(
    h(
      'header',
      { class: 'topbar' },
      h('div', { class: 'brand' }, h('img', { src: 'favicon.svg', alt: '', width: 24, height: 24 }), h('span', { class: 'brand-name' }, 'Rempart'), session.node ? h('span', { class: 'node', title: 'node' }, session.node) : null),
      h('nav', { class: 'main-nav', 'aria-label': 'Main' }, h('ul', {}, navLinks.map((link) => h('li', {}, link)))),
      h('div', { class: 'session' }, h('span', { class: `role role-${session.role}` }, session.role === 'admin' ? 'admin' : 'read-only'), session.version ? h('span', { class: 'version' }, `v${session.version}`) : null, logout),
    ),
    storeBanner,
    banner,
    status,
    main,
  );

  let firstRoute = true;
  const route = () => {
    teardown?.();
    teardown = undefined;
    context.clearError();
    const { section, view, params } = resolve(location.hash);
    for (const link of navLinks) {
      if (link.dataset.route === section) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = `${NAVIGATION.find((r) => r.path === section)?.label ?? 'Overview'} — Rempart`;
    main.replaceChildren();
    try {
      teardown = view(main, context, params) ?? undefined;
    } catch (error) {
      context.showError(error);
    }
    if (!firstRoute) main.focus({ preventScroll: true });
    firstRoute = false;
  };
  window.onhashchange = route;
  route();
}

/** How often the store's state is read from /health, in ms. */
const STORE_WATCH_MS = 5000;
/** How the banner names a store backend. */
const STORE_NAMES: Record<string, string> = { redis: 'Redis', sqlite: 'SQLite' };
/** The timer of watchStore (one, whatever the number of logins). */
let storeWatch: number | undefined;

/** Shows a banner while the store (Redis) cannot be reached: what mail gets meanwhile, and since when. */
function watchStore(banner: HTMLElement): void {
  const look = () => {
    if (document.hidden) return;
    api
      .health()
      .then((health) => {
        const store = health.store;
        banner.hidden = store.available;
        if (store.available) return;
        const since = new Date(store.since).toLocaleString();
        const meanwhile =
          store.unavailableAction === 'defer'
            ? 'Mail is deferred (451 4.3.0) until it returns.'
            : 'Mail flows: greylisting, lists, bans and Bayes that need it count as no finding.';
        banner.replaceChildren(
          h('strong', {}, `The ${STORE_NAMES[store.backend] ?? store.backend} store is unreachable since ${since}. `),
          h('span', {}, `${meanwhile} The daemon reconnects by itself.`),
          h('span', { class: 'store-error' }, store.error ? ` Last error: ${store.error}` : ''),
        );
      })
      .catch(() => {
        // The daemon itself does not answer: the views say so.
      });
  };
  look();
  if (storeWatch !== undefined) window.clearInterval(storeWatch);
  storeWatch = window.setInterval(look, STORE_WATCH_MS);
}

function showLogin(): void {
  teardown?.();
  teardown = undefined;
  window.onhashchange = null;
  document.body.classList.remove('readonly');
  document.title = 'Log in — Rempart';
  renderLogin(root, () => void boot());
}

async function boot(): Promise<void> {
  try {
    const session = await api.session();
    startApp(session);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showLogin();
      return;
    }
    root.replaceChildren(
      h(
        'main',
        { class: 'login-page' },
        h('div', { class: 'error-banner', role: 'alert' }, h('strong', {}, 'Error: '), h('p', { class: 'banner-text' }, errorMessage(error))),
        h('button', { type: 'button', class: 'primary', onclick: () => void boot() }, 'Try again'),
      ),
    );
  }
}

setUnauthorizedHandler(showLogin);
void boot();
