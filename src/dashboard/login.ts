// The login form shown when GET /api/session answers 401: one labelled password field posted to
// POST /api/login, which sets the HttpOnly session cookie. Wrong passwords and the 429 of too many
// attempts show the API's message in the form; success hands the new role to the app.
import { api, ApiError, type Role } from './api.js';
import { errorMessage } from './context.js';
import { h } from './dom.js';

export function renderLogin(root: HTMLElement, onLoggedIn: (role: Role) => void): void {
  const password = h('input', { type: 'password', id: 'login-password', name: 'password', autocomplete: 'current-password', required: true });
  const message = h('p', { class: 'form-error', role: 'alert', id: 'login-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h(
    'form',
    { class: 'login-form', 'aria-labelledby': 'login-heading' },
    h('h1', { id: 'login-heading' }, 'Rempart'),
    h('p', {}, 'Log in to the anti-spam dashboard.'),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), password),
    message,
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.hidden = true;
    api
      .login(password.value)
      .then((answer) => onLoggedIn(answer.role))
      .catch((error: unknown) => {
        message.textContent = error instanceof ApiError && error.status === 401 ? 'Wrong password.' : errorMessage(error);
        message.hidden = false;
        password.select();
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  root.replaceChildren(h('main', { class: 'login-page' }, form));
  password.focus();
}
