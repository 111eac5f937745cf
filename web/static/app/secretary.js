// Secretary ("Thư ký"): schedule a meeting (title, time, chair and root
// points, how many levels), and the meetings to manage.
import { api, list } from './api.js';
import { h, field, option, notice } from './dom.js';
import { errorText } from './i18n.js';
import * as meetings from './meetings.js';

// pointOptions sorts points by level (top first) then id, for a <select>
// or a table.
export function pointOptions(points, levels) {
  const rank = new Map(levels.map((l, i) => [l.id, i]));
  return [...points].sort((a, b) => (rank.get(a.level) ?? 99) - (rank.get(b.level) ?? 99) || a.id.localeCompare(b.id));
}

// localInput formats a Date for <input type="datetime-local">.
const localInput = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);

export async function render(v, ctx) {
  const [pts, lv, ms] = await Promise.all([api('GET', '/points'), api('GET', '/levels'), api('GET', '/meetings')]);
  const levels = list(lv);
  const points = pointOptions(list(pts).filter((p) => p.enabled), levels);
  const levelName = new Map(levels.map((l) => [l.id, l.name]));
  const pointSelect = (id) => h('select', { id, required: true },
    ...points.map((p) => h('option', { value: p.id, text: `${p.name} (${levelName.get(p.level) ?? p.level})` })));

  const title = h('input', { id: 'm-title', required: true, maxLength: 300 });
  const start = new Date(Date.now() + 3600e3);
  start.setMinutes(0, 0, 0);
  const when = h('input', { id: 'm-when', type: 'datetime-local', required: true, value: localInput(start) });
  const duration = h('input', { id: 'm-duration', type: 'number', min: '15', max: '1440', step: '15', value: '120' });
  const chair = pointSelect('m-chair');
  const root = pointSelect('m-root');
  const depth = h('select', { id: 'm-depth' }, option('1', 'sched.levels2'), option('2', 'sched.levels3'), option('3', 'sched.levels4'));
  const onAir = h('select', { id: 'm-onair' }, ...[1, 2, 3, 4].map((n) => h('option', { value: String(n), text: String(n) })));
  const msg = h('div', { class: 'notice', hidden: true, role: 'status' });
  // Default: the first point below the top level chairs and roots it.
  const first = points.find((p) => levels.length > 1 && p.level === levels[1].id) ?? points[0];
  if (first) { chair.value = first.id; root.value = first.id; }

  async function schedule(e) {
    e.preventDefault();
    try {
      const m = await api('POST', '/meetings', {
        title: title.value.trim(), starts_at: new Date(when.value).toISOString(),
        duration_min: Number(duration.value) || 120, chair_point: chair.value, root_point: root.value,
        depth: Number(depth.value), on_air_max: Number(onAir.value),
      });
      ctx.go('#/meeting/' + m.id);
    } catch (err) { notice(msg, h('span', { text: errorText(err) }), null, 'error'); }
  }

  v.append(
    h('section', { class: 'card wide' },
      h('h2', { i18n: 'sched.heading' }),
      points.length ? '' : h('p', { class: 'notice error', i18n: 'sched.noPoints' }),
      h('form', { id: 'schedule', class: 'grid-form', onsubmit: schedule },
        field('sched.title', title), field('sched.when', when), field('sched.duration', duration),
        field('sched.chair', chair), field('sched.root', root), field('sched.levels', depth),
        field('sched.onAir', onAir),
        h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary', i18n: 'sched.submit' }))),
      msg),
    h('section', { class: 'card wide' }, h('h2', { i18n: 'meet.heading' }), meetings.table(list(ms), ctx.session.role)));
  title.focus();
}
