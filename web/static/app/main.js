// Cầu app shell: sign-in, the session, the navigation by role and the
// hash router (#/admin, #/secretary, #/meeting/<id>, #/room/<id>,
// #/monitor/<id>). Each screen is a module whose render(view, ctx) may
// return a cleanup function, called when the route changes.
import { api, session, onUnauthorized } from './api.js';
import { t, lang, setLang, relabel, errorText } from './i18n.js';
import { h, field, notice } from './dom.js';
import * as admin from './admin.js';
import * as secretary from './secretary.js';
import * as manage from './manage.js';
import * as room from './room.js';
import * as monitor from './monitor.js';
import * as meetings from './meetings.js';

const view = document.getElementById('view');
const statusLine = document.getElementById('status');
let cleanup = null;

// status shows a line at the bottom: a dictionary key, or an error.
export function status(keyOrErr, vars, kind = 'info') {
  if (keyOrErr instanceof Error) {
    statusLine.dataset.i18n = '';
    statusLine.textContent = keyOrErr.code ? errorText(keyOrErr) : keyOrErr.message;
    statusLine.className = 'status error';
    return;
  }
  statusLine.dataset.i18n = keyOrErr ?? '';
  statusLine.dataset.i18nVars = JSON.stringify(vars ?? {});
  statusLine.textContent = keyOrErr ? t(keyOrErr, vars) : '';
  statusLine.className = 'status ' + kind;
}

// Screens by route; roles say who sees the link in the navigation.
const ROUTES = {
  signin: { render: renderSignIn },
  meetings: { render: meetings.render, nav: 'nav.meetings', roles: ['chair', 'viewer', 'operator', 'secretary', 'it_admin'] },
  admin: { render: admin.render, nav: 'nav.admin', roles: ['it_admin'] },
  secretary: { render: secretary.render, nav: 'nav.secretary', roles: ['secretary', 'it_admin'] },
  meeting: { render: manage.render },
  room: { render: room.render },
  monitor: { render: monitor.render },
};

function home(s) {
  if (!s) return 'signin';
  if (s.role === 'it_admin') return 'admin';
  if (s.role === 'secretary') return 'secretary';
  return 'meetings';
}

function route() {
  if (cleanup) { try { cleanup(); } catch (e) { console.warn(e); } cleanup = null; }
  status('');
  const s = session.get();
  const [, name = '', arg = ''] = location.hash.match(/^#\/?([^/]*)\/?(.*)$/) ?? [];
  let r = ROUTES[name] ? name : home(s);
  if (!s) r = 'signin';
  renderHeader(s, r);
  view.replaceChildren();
  view.dataset.screen = r;
  const ctx = { session: s, arg: decodeURIComponent(arg), status, go };
  const out = ROUTES[r].render(view, ctx);
  Promise.resolve(out).then((fn) => { if (typeof fn === 'function') cleanup = fn; })
    .catch((e) => status(e));
}

export function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

function renderHeader(s, current) {
  const nav = document.getElementById('nav');
  nav.replaceChildren(...Object.entries(ROUTES)
    .filter(([, r]) => r.nav && s && r.roles.includes(s.role))
    .map(([name, r]) => h('a', { href: '#/' + name, i18n: r.nav, class: name === current ? 'current' : '' })));
  const who = document.getElementById('who');
  who.replaceChildren();
  if (s) {
    who.append(h('span', { class: 'name', text: s.name }), ' · ',
      h('span', { class: 'role', dataset: { role: s.role }, i18n: 'role.' + s.role }));
    if (s.kind === 'point') who.append(' · ', h('span', { i18n: 'device', vars: { id: s.id } }));
  }
  document.getElementById('signout').hidden = !s;
}

// ---- Sign-in -------------------------------------------------------------

function renderSignIn(v) {
  const msg = h('p', { class: 'notice', hidden: true, role: 'alert' });
  const user = h('input', { name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const cred = h('input', { name: 'credential', autocomplete: 'off', required: true, ph: 'signin.credentialPh' });

  async function signIn(e, path, body, toSession) {
    e.preventDefault();
    const btn = e.submitter;
    btn.disabled = true;
    try {
      const r = await api('POST', path, body);
      session.set(toSession(r));
      go('#/');
    } catch (err) {
      notice(msg, h('span', { text: errorText(err) }), null, 'error');
    } finally { btn.disabled = false; }
  }

  v.append(h('section', { class: 'signin' },
    h('h2', { i18n: 'signin.title' }),
    msg,
    h('div', { class: 'cols' },
      h('form', { id: 'signin-user', class: 'card', onsubmit: (e) => signIn(e, '/auth/login',
        { username: user.value.trim(), password: pass.value },
        (r) => ({ token: r.token, kind: 'user', role: r.user.role, name: r.user.name, id: r.user.id })) },
      h('h3', { i18n: 'signin.people' }),
      field('signin.username', user), field('signin.password', pass),
      h('button', { type: 'submit', class: 'primary', i18n: 'signin.submit' })),
      h('form', { id: 'signin-point', class: 'card', onsubmit: (e) => signIn(e, '/auth/point',
        { credential: cred.value.trim() },
        (r) => ({ token: r.token, kind: 'point', role: 'operator', name: r.point.name, id: r.point.id })) },
      h('h3', { i18n: 'signin.device' }),
      h('p', { class: 'hint', i18n: 'signin.deviceHint' }),
      field('signin.credential', cred),
      h('button', { type: 'submit', class: 'primary', i18n: 'signin.submit' })))));
  user.focus();
}

// ---- Start -----------------------------------------------------------------

const langBtn = document.getElementById('lang');
function renderLang() {
  langBtn.textContent = t('otherLang');
  langBtn.lang = lang() === 'vi' ? 'en' : 'vi';
  document.documentElement.lang = lang();
  document.title = t('title');
}
langBtn.addEventListener('click', () => {
  setLang(lang() === 'vi' ? 'en' : 'vi');
  relabel(document);
  renderLang();
});
document.getElementById('signout').addEventListener('click', () => {
  session.clear();
  go('#/signin');
});
onUnauthorized((err) => {
  session.clear();
  go('#/signin');
  status(err);
});
window.addEventListener('hashchange', route);
renderLang();
relabel(document);
route();
