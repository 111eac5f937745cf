// Managing one meeting (secretary; IT admins read it): its state (open,
// start, end), the invitation list, the roll call with absences, and the
// agenda editor.
import { api, list } from './api.js';
import { h, notice } from './dom.js';
import { fmtTime, errorText } from './i18n.js';
import * as agenda from './agenda.js';

// The transitions a meeting may take (docs/api.md, States).
const NEXT = { scheduled: ['open', 'live', 'ended'], open: ['live', 'ended'], live: ['ended'], ended: [] };

export async function render(v, ctx) {
  const id = ctx.arg;
  const role = ctx.session.role;
  let m = await api('GET', `/meetings/${id}`);
  const head = h('div');
  const msg = h('div', { class: 'notice', hidden: true, role: 'status' });
  const invited = h('p', { id: 'invited-count', class: 'count' });
  const roll = h('div', { id: 'rollcall' });
  const agendaBox = h('div', { id: 'agenda-editor' });
  v.append(
    h('section', { class: 'card wide' }, head, msg, invited),
    h('section', { class: 'card wide' },
      h('div', { class: 'section-head' }, h('h2', { i18n: 'roll.heading' }),
        h('button', { type: 'button', class: 'small', i18n: 'refresh', onclick: () => loadRoll() })),
      roll),
    h('section', { class: 'card wide' }, h('h2', { i18n: 'agenda.heading' }), agendaBox));

  function renderHead() {
    const canState = role === 'secretary' || role === 'chair';
    head.replaceChildren(
      h('h2', { id: 'meeting-title', text: m.title }),
      h('p', {}, h('span', { text: fmtTime(m.starts_at) + ' · ' }),
        h('span', { class: 'badge state-' + m.state, id: 'meeting-state', i18n: 'state.' + m.state }), ' ',
        h('span', { class: 'hint', i18n: 'manage.scope', vars: { chair: m.chair_point, root: m.root_point, levels: m.depth + 1 } })),
      h('div', { class: 'toolbar' },
        ...(canState ? NEXT[m.state] : []).map((s) => h('button', {
          type: 'button', id: 'state-' + s, class: s === 'ended' ? 'danger' : 'primary', i18n: 'manage.to.' + s,
          onclick: () => setState(s),
        })),
        (m.state === 'open' || m.state === 'live') && role !== 'it_admin'
          ? h('a', { class: 'button', href: '#/room/' + m.id, i18n: 'meet.enter' }) : '',
        (m.state === 'open' || m.state === 'live') && role === 'it_admin'
          ? h('a', { class: 'button', href: '#/monitor/' + m.id, i18n: 'meet.monitor' }) : ''));
  }

  async function setState(s) {
    try {
      m = await api('POST', `/meetings/${id}/state`, { state: s });
      renderHead();
      notice(msg, h('span', {}, h('span', { i18n: 'manage.nowState' }), ' ', h('strong', { i18n: 'state.' + m.state })), null, 'ok');
      await loadRoll();
    } catch (err) { notice(msg, h('span', { text: errorText(err) }), null, 'error'); }
  }

  async function loadInvited() {
    const pts = list(await api('GET', `/meetings/${id}/invited`));
    invited.replaceChildren(h('span', { i18n: 'manage.invited', vars: { n: pts.length } }));
  }

  async function loadRoll() {
    if (m.state === 'ended') {
      try {
        const rec = await api('GET', `/meetings/${id}/attendance`);
        roll.replaceChildren(h('p', { i18n: 'roll.record', vars: { present: rec.present, absent: rec.absent, missing: rec.missing } }),
          rollTable(list(rec.entries), false));
        return;
      } catch { /* no record: fall back to the roll call */ }
    }
    const entries = list(await api('GET', `/meetings/${id}/rollcall`));
    const counts = {};
    for (const e of entries) counts[e.status] = (counts[e.status] ?? 0) + 1;
    roll.replaceChildren(
      h('p', { class: 'count', i18n: 'roll.summary', vars: { n: entries.length, present: counts.present ?? 0,
        connected: counts.connected ?? 0, absent: counts.absent ?? 0, missing: (counts.missing ?? 0) + (counts.left ?? 0) } }),
      rollTable(entries, role === 'secretary' && m.state !== 'ended'));
  }

  function rollTable(entries, editable) {
    return h('div', { class: 'scroll' }, h('table', { class: 'data' },
      h('thead', {}, h('tr', {}, ...['point.id', 'point.name', 'roll.status', 'roll.reason'].map((k) => h('th', { i18n: k })))),
      h('tbody', {}, ...entries.map((e) => {
        const reason = h('input', { value: e.absent_reason ?? '', ph: 'roll.reasonPh', label: 'roll.reason' });
        const mark = async (r) => {
          try {
            await api('PUT', `/meetings/${id}/attendance/${encodeURIComponent(e.point_id)}`, { reason: r });
            await loadRoll();
          } catch (err) { ctx.status(err); }
        };
        return h('tr', { dataset: { id: e.point_id, status: e.status } },
          h('td', { class: 'mono', text: e.point_id }), h('td', { text: e.name }),
          h('td', {}, h('span', { class: 'badge roll-' + e.status, i18n: 'roll.' + e.status })),
          h('td', { class: 'actions' }, editable
            ? [reason, h('button', { type: 'button', class: 'small', i18n: 'roll.markAbsent', onclick: () => mark(reason.value.trim()) }),
              e.status === 'absent' ? h('button', { type: 'button', class: 'small', i18n: 'roll.clear', onclick: () => mark('') }) : '']
            : h('span', { text: e.absent_reason ?? '' })));
      }))));
  }

  renderHead();
  await Promise.all([loadInvited(), loadRoll()]);
  if (role === 'secretary' || role === 'chair') agendaBox.append(await agenda.editor(id, ctx));
  else agendaBox.append(await agenda.viewer(id, ctx.session.token));
  const timer = setInterval(() => { if ((m.state === 'open' || m.state === 'live') && !roll.contains(document.activeElement)) loadRoll().catch(() => {}); }, 5000);
  return () => clearInterval(timer);
}
