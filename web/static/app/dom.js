// Small DOM helpers for the app's screens: an element builder that marks
// translated text so a language switch relabels the page in place.
import { t } from './i18n.js';

// h builds an element. attrs: class, i18n (a dictionary key, with vars),
// text, title/ph/label (dictionary keys for title, placeholder, aria-label),
// on* (listeners), dataset, hidden, and any other property or attribute.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'i18n') { el.dataset.i18n = v; el.textContent = t(v, attrs.vars); }
    else if (k === 'vars') el.dataset.i18nVars = JSON.stringify(v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'title') { el.dataset.i18nTitle = v; el.title = t(v); }
    else if (k === 'ph') { el.dataset.i18nPh = v; el.placeholder = t(v); }
    else if (k === 'label') { el.dataset.i18nLabel = v; el.setAttribute('aria-label', t(v)); }
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else if (k in el && ['value', 'id', 'type', 'name', 'href', 'htmlFor', 'accept', 'target', 'download'].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

// field wraps a control with its label.
export function field(key, control) {
  if (!control.id) control.id = 'f-' + Math.random().toString(36).slice(2, 9);
  return h('div', { class: 'field' }, h('label', { htmlFor: control.id, i18n: key }), control);
}

// option builds an <option> with a translated label.
export const option = (value, key, vars) => h('option', { value, i18n: key, vars });

// notice shows a message (a dictionary key or a plain text) in box.
export function notice(box, key, vars, kind = 'info') {
  box.replaceChildren(typeof key === 'string' ? h('span', { i18n: key, vars }) : key);
  box.className = 'notice ' + kind;
  box.hidden = false;
}
