// The portal's entry: takes the token from the address, loads /portal/config, and shows
// the view the address names: #/ (the list), #/create, #/groups/<rg>/<name>/<tab>; or the
// sign-in form when the tab holds no token or the API refused it.

import { call, forgetToken, portal, resourceGroupsPath, setToken, takeTokenFromAddress, token } from './api.js';
import * as create from './create.js';
import * as groups from './groups.js';
import { announce, errorText } from './ui.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
/** Ends the shown view's refreshing and open requests. */
let cleanup = () => {};
let firstView = true;

function mount(template, title) {
  cleanup();
  cleanup = () => {};
  main.replaceChildren(document.getElementById(template).content.cloneNode(true));
  document.title = `${title} · waci portal`;
  // After a navigation, reading starts at the new view's heading.
  if (!firstView) {
    const h1 = main.querySelector('h1');
    if (h1) {
      h1.tabIndex = -1;
      h1.focus();
    }
  }
  firstView = false;
}

function route() {
  if (!token()) return signIn();
  nav.hidden = false;
  const parts = window.location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  let current = 'list';
  if (parts[0] === 'create') {
    current = 'create';
    mount('view-create', 'Create container group');
    cleanup = create.render(main);
  } else if (parts[0] === 'groups' && parts.length >= 3) {
    current = null;
    mount('view-group', parts[2]);
    cleanup = groups.renderGroup(main, parts[1], parts[2], parts[3] || 'overview');
  } else {
    mount('view-list', 'Container groups');
    cleanup = groups.renderList(main);
  }
  for (const a of nav.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function signIn(message) {
  nav.hidden = true;
  mount('view-token', 'Sign in');
  const form = main.querySelector('#token-form');
  const input = main.querySelector('#f-token');
  const error = main.querySelector('#f-token-error');
  if (message) {
    error.textContent = message;
    input.setAttribute('aria-invalid', 'true');
  }
  input.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) {
      error.textContent = 'Enter the access token.';
      input.setAttribute('aria-invalid', 'true');
      return;
    }
    setToken(t);
    try {
      await call('GET', resourceGroupsPath());
      announce('Signed in.');
      route();
    } catch (err) {
      // A refused token has already brought this form back, with the API's message.
      if (err.status !== 401) {
        error.textContent = errorText(err);
        input.setAttribute('aria-invalid', 'true');
      }
    }
  });
}

window.addEventListener('waci:unauthorized', (e) => {
  const message = `The platform refused the token: ${e.detail} Paste the token from <data dir>/token, or open the link waci serve prints.`;
  // Several calls in flight may all be refused: show the form once.
  const shown = main.querySelector('#f-token-error');
  if (shown) shown.textContent = message;
  else signIn(message);
});
window.addEventListener('hashchange', route);
document.getElementById('sign-out').addEventListener('click', () => {
  forgetToken();
  signIn();
  announce('Signed out.');
});
document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

async function boot() {
  takeTokenFromAddress();
  try {
    const resp = await fetch('/portal/config', { cache: 'no-store' });
    portal.config = await resp.json();
  } catch (err) {
    main.textContent = `The portal could not load its settings: ${err.message}. Is waci serve running?`;
    return;
  }
  route();
}

boot();
