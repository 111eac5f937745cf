// The meetings a principal takes part in, with what its role may do in
// each: enter the room, manage it (secretary), watch its quality (IT).
import { api, list } from './api.js';
import { h } from './dom.js';
import { fmtTime } from './i18n.js';

const canJoin = (m) => m.state === 'open' || m.state === 'live';

// actions lists the links for one meeting and the account role.
export function actions(m, role) {
  const out = [];
  if (canJoin(m) && role !== 'it_admin') out.push(h('a', { class: 'button primary', href: '#/room/' + m.id, i18n: 'meet.enter' }));
  if (role === 'secretary' || role === 'chair' || role === 'it_admin') out.push(h('a', { class: 'button', href: '#/meeting/' + m.id, i18n: 'meet.manage' }));
  if (canJoin(m) && role === 'it_admin') out.push(h('a', { class: 'button', href: '#/monitor/' + m.id, i18n: 'meet.monitor' }));
  return out;
}

// table renders meetings newest first.
export function table(ms, role) {
  if (!ms.length) return h('p', { class: 'empty', i18n: 'meet.none' });
  return h('table', { class: 'data', id: 'meetings-table' },
    h('thead', {}, h('tr', {}, ...['meet.title', 'meet.time', 'meet.chair', 'meet.state', 'meet.actions']
      .map((k) => h('th', { i18n: k })))),
    h('tbody', {}, ...ms.map((m) => h('tr', { dataset: { id: m.id } },
      h('td', { text: m.title }), h('td', { text: fmtTime(m.starts_at) }), h('td', { text: m.chair_point }),
      h('td', {}, h('span', { class: 'badge state-' + m.state, i18n: 'state.' + m.state })),
      h('td', { class: 'actions' }, ...actions(m, role))))));
}

export async function render(v, ctx) {
  const box = h('div');
  v.append(h('section', { class: 'card wide' }, h('h2', { i18n: 'meet.heading' }), box));
  const load = async () => box.replaceChildren(table(list(await api('GET', '/meetings')), ctx.session.role));
  await load();
  const timer = setInterval(() => load().catch(() => {}), 10000);
  return () => clearInterval(timer);
}
