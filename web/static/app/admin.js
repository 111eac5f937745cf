// IT admin ("Quản trị"): the bridge points (CSV import and export,
// credentials) and every meeting.
import { api, link, list } from './api.js';
import { h, field, notice } from './dom.js';
import { t, errorText } from './i18n.js';
import * as meetings from './meetings.js';
import { pointOptions } from './secretary.js';

export async function render(v, ctx) {
  const msg = h('div', { id: 'import-result', class: 'notice', hidden: true, role: 'status' });
  const file = h('input', { id: 'csv-file', type: 'file', accept: '.csv,text/csv' });
  const count = h('p', { id: 'points-count', class: 'count' });
  const filter = h('input', { id: 'points-filter', type: 'search', ph: 'admin.filter', oninput: applyFilter });
  const tbody = h('tbody');
  const secret = h('div', { id: 'secret', class: 'notice', hidden: true, role: 'status' });
  const meetingsBox = h('div');
  let levels = new Map();

  v.append(
    h('section', { class: 'card wide' },
      h('h2', { i18n: 'admin.points' }),
      h('div', { class: 'toolbar' },
        field('admin.csvFile', file),
        h('button', { id: 'csv-import', type: 'button', class: 'primary', i18n: 'admin.import', onclick: importCSV }),
        h('a', { id: 'csv-export', class: 'button', href: link('/points/export'), download: 'bridgepoints.csv', i18n: 'admin.export' })),
      h('p', { class: 'hint', i18n: 'admin.csvHint' }),
      msg, secret,
      h('div', { class: 'toolbar' }, filter, count),
      h('div', { class: 'scroll' }, h('table', { class: 'data', id: 'points-table' },
        h('thead', {}, h('tr', {}, ...['point.id', 'point.name', 'point.level', 'point.parent', 'point.enabled', 'point.credential']
          .map((k) => h('th', { i18n: k })))),
        tbody))),
    h('section', { class: 'card wide' }, h('h2', { i18n: 'meet.all' }), meetingsBox));

  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const tr of tbody.rows) {
      tr.hidden = q !== '' && !tr.textContent.toLowerCase().includes(q);
      if (!tr.hidden) shown++;
    }
    count.dataset.i18n = 'admin.count';
    count.dataset.i18nVars = JSON.stringify({ n: shown, total: tbody.rows.length });
    count.textContent = t('admin.count', { n: shown, total: tbody.rows.length });
  }

  async function loadPoints() {
    const [pts, lv] = await Promise.all([api('GET', '/points'), api('GET', '/levels')]);
    levels = new Map(list(lv).map((l) => [l.id, l.name]));
    tbody.replaceChildren(...pointOptions(list(pts), list(lv)).map((p) => h('tr', { dataset: { id: p.id } },
      h('td', { class: 'mono', text: p.id }), h('td', { text: p.name }),
      h('td', { text: levels.get(p.level) ?? p.level }), h('td', { class: 'mono', text: p.parent ?? '' }),
      h('td', {}, h('span', { class: p.enabled ? 'badge ok' : 'badge off', i18n: p.enabled ? 'yes' : 'no' })),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'small', i18n: 'admin.issue', onclick: () => issue(p, false) }),
        h('button', { type: 'button', class: 'small', i18n: 'admin.rotate', onclick: () => issue(p, true) })))));
    applyFilter();
  }

  async function importCSV() {
    const f = file.files[0];
    if (!f) { notice(msg, 'admin.chooseFile', null, 'error'); return; }
    try {
      const r = await api('POST', '/points/import', f, { type: 'text/csv' });
      notice(msg, 'admin.imported', { n: r.imported }, 'ok');
      await loadPoints();
    } catch (err) {
      if (err.code !== 'import_refused') { notice(msg, h('span', { text: errorText(err) }), null, 'error'); return; }
      notice(msg, h('div', {},
        h('p', { i18n: 'admin.importRefused', vars: { n: err.rows.length } }),
        h('ul', { id: 'import-errors' }, ...err.rows.map((r) => h('li', { dataset: { row: r.row } },
          h('span', { i18n: 'admin.row', vars: { row: r.row } }),
          r.id ? h('span', { class: 'mono', text: ` (${r.id})` }) : '',
          ': ' + r.message)))), null, 'error');
    }
  }

  async function issue(p, rotate) {
    try {
      const c = await api('POST', `/points/${encodeURIComponent(p.id)}/credentials`, rotate ? { rotate: true } : {});
      const code = h('code', { class: 'secret', text: c.secret });
      notice(secret, h('div', {},
        h('p', { i18n: rotate ? 'admin.rotated' : 'admin.issued', vars: { id: p.id, name: p.name } }),
        code, ' ',
        h('button', { type: 'button', class: 'small', i18n: 'copy', onclick: () => navigator.clipboard?.writeText(c.secret) }),
        h('p', { class: 'hint', i18n: 'admin.secretOnce' })), null, 'ok');
      secret.scrollIntoView({ block: 'nearest' });
    } catch (err) { ctx.status(err); }
  }

  await loadPoints();
  meetingsBox.replaceChildren(meetings.table(list(await api('GET', '/meetings')), ctx.session.role));
}
