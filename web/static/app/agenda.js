// The agenda (docs/AGENDA.md): the secretary's editor (items, PDF
// documents with their signature status, publishing, the seal) and the
// published agenda as participants read it.
import { api, link, list } from './api.js';
import { h, field, notice } from './dom.js';
import { fmtTime, errorText } from './i18n.js';

// sigStatus shows a document's signature: hợp lệ / không hợp lệ (lý do) / chưa ký.
export function sigStatus(sig) {
  const state = sig?.state ?? 'unsigned';
  const el = h('span', { class: 'badge sig-' + state, dataset: { sig: state } }, h('span', { i18n: 'sig.' + state }));
  if (state === 'valid') {
    const who = list(sig.signers).map((s) => s.signer).filter(Boolean).join(', ');
    if (who) el.append(` (${who})`);
  } else if (state === 'invalid') {
    el.append(` (${list(sig.reasons).join('; ')})`);
  }
  return el;
}

const docLink = (meeting, d, token) => h('a', {
  href: link(`/meetings/${meeting}/documents/${d.id}/content`, token), target: '_blank', rel: 'noopener',
  class: 'doc', text: d.title || d.file_name,
});

// editor is the secretary's (and the chair's) view of the draft.
export async function editor(meeting, ctx) {
  const box = h('div', { class: 'agenda' });
  const msg = h('div', { class: 'notice', hidden: true, role: 'status' });
  const items = h('ol', { id: 'agenda-items', class: 'items' });
  const versions = h('ul', { id: 'agenda-versions', class: 'versions' });
  const title = h('input', { id: 'item-title', required: true, maxLength: 300 });
  const presenter = h('input', { id: 'item-presenter', maxLength: 200 });
  const duration = h('input', { id: 'item-duration', type: 'number', min: '0', max: '1440', value: '15' });
  const fail = (err) => notice(msg, h('span', { text: errorText(err) }), null, 'error');

  async function addItem(e) {
    e.preventDefault();
    try {
      await api('POST', `/meetings/${meeting}/agenda/items`,
        { title: title.value.trim(), presenter: presenter.value.trim(), duration_min: Number(duration.value) || 0 });
      title.value = presenter.value = '';
      await load();
    } catch (err) { fail(err); }
  }

  async function upload(item, file, docTitle) {
    if (!file) { notice(msg, 'agenda.chooseFile', null, 'error'); return; }
    const form = new FormData();
    form.append('title', docTitle || file.name.replace(/\.pdf$/i, ''));
    form.append('role', 'document');
    form.append('item', item.id);
    form.append('file', file, file.name);
    try {
      const d = await api('POST', `/meetings/${meeting}/documents`, form);
      notice(msg, 'agenda.uploaded', { name: d.file_name }, 'ok');
      await load();
    } catch (err) { fail(err); }
  }

  async function publish() {
    try {
      const v = await api('POST', `/meetings/${meeting}/agenda/publish`);
      notice(msg, 'agenda.published', { n: v.version }, 'ok');
      await load();
    } catch (err) { fail(err); }
  }

  async function seal(n) {
    try {
      await api('POST', `/meetings/${meeting}/agenda/versions/${n}/seal`);
      notice(msg, 'agenda.sealed', { n }, 'ok');
      await load();
    } catch (err) { fail(err); }
  }

  function itemRow(it, canWrite) {
    const file = h('input', { type: 'file', accept: 'application/pdf,.pdf', class: 'doc-file', label: 'agenda.pdf' });
    const docTitle = h('input', { class: 'doc-title', ph: 'agenda.docTitle', label: 'agenda.docTitle' });
    return h('li', { dataset: { id: it.id } },
      h('div', { class: 'item-head' }, h('strong', { text: it.title }),
        it.presenter ? h('span', { class: 'hint', text: ' — ' + it.presenter }) : '',
        h('span', { class: 'hint', i18n: 'agenda.minutes', vars: { n: it.duration_min } })),
      h('ul', { class: 'docs' }, ...list(it.documents).map((d) => h('li', { dataset: { doc: d.id } },
        docLink(meeting, d, ctx.session.token), ' ', h('span', { class: 'hint', text: d.file_name }), ' ', sigStatus(d.signature)))),
      canWrite ? h('div', { class: 'toolbar upload' }, docTitle, file,
        h('button', { type: 'button', class: 'small', i18n: 'agenda.upload', onclick: () => upload(it, file.files[0], docTitle.value.trim()) })) : '');
  }

  async function load() {
    const canWrite = ctx.session.role === 'secretary';
    const draft = list(await api('GET', `/meetings/${meeting}/agenda/draft`));
    items.replaceChildren(...draft.map((it) => itemRow(it, canWrite)));
    if (!draft.length) items.replaceChildren(h('li', { class: 'empty', i18n: 'agenda.empty' }));
    const vs = list(await api('GET', `/meetings/${meeting}/agenda/versions`));
    versions.replaceChildren(...vs.map((v) => h('li', { dataset: { version: v.version, sig: v.signature.state } },
      h('strong', { i18n: 'agenda.version', vars: { n: v.version } }),
      h('span', { class: 'hint', text: ` · ${fmtTime(v.published_at)} · ${v.published_by} · ` }),
      h('span', { class: 'badge ver-' + v.signature.state, i18n: 'ver.' + v.signature.state }),
      v.signature.state === 'signed' ? h('span', { class: 'hint', text: ` ${v.signature.signer || ''} ${v.signature.organisation ? '— ' + v.signature.organisation : ''}` }) : '',
      v.signature.state !== 'signed' ? h('button', { type: 'button', class: 'small', i18n: 'agenda.seal', onclick: () => seal(v.version) }) : '')));
    if (!vs.length) versions.replaceChildren(h('li', { class: 'empty', i18n: 'agenda.noVersions' }));
  }

  const canWrite = ctx.session.role === 'secretary';
  box.append(msg, items,
    canWrite ? h('form', { id: 'item-form', class: 'grid-form', onsubmit: addItem },
      field('agenda.itemTitle', title), field('agenda.presenter', presenter), field('agenda.duration', duration),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', i18n: 'agenda.addItem' }))) : '',
    h('h3', { i18n: 'agenda.versions' }), versions,
    canWrite ? h('div', { class: 'toolbar' }, h('button', { id: 'agenda-publish', type: 'button', class: 'primary', i18n: 'agenda.publish', onclick: publish })) : '');
  await load();
  return box;
}

// viewer shows the latest published agenda with links to the documents the
// reader may open (token: an API or meeting token for the downloads).
export async function viewer(meeting, token) {
  const box = h('div', { class: 'agenda', id: 'agenda-view' });
  let pa;
  try {
    pa = await api('GET', `/meetings/${meeting}/agenda`, undefined, { token });
  } catch (err) {
    box.append(err.status === 404 ? h('p', { class: 'empty', i18n: 'agenda.none' }) : h('p', { class: 'notice error', text: errorText(err) }));
    return box;
  }
  const readable = new Set(list(pa.readable));
  box.append(h('p', { class: 'hint' }, h('span', { i18n: 'agenda.version', vars: { n: pa.version.version } }), ' · ',
    h('span', { class: 'badge ver-' + pa.version.signature.state, i18n: 'ver.' + pa.version.signature.state })),
  h('ol', { class: 'items' }, ...list(pa.manifest?.items).map((it) => h('li', {},
    h('div', { class: 'item-head' }, h('strong', { text: it.title }),
      it.presenter ? h('span', { class: 'hint', text: ' — ' + it.presenter }) : '',
      h('span', { class: 'hint', i18n: 'agenda.minutes', vars: { n: it.duration_min } })),
    h('ul', { class: 'docs' }, ...list(it.documents).map((d) => h('li', {},
      readable.has(d.id) ? docLink(meeting, d, token) : h('span', { class: 'hint', text: d.title }),
      readable.has(d.id) ? '' : h('span', { class: 'hint', i18n: 'agenda.noAccess' }))))))));
  return box;
}
