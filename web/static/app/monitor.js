// IT quality dashboard ("Giám sát chất lượng"): joins a meeting as
// it_admin without publishing, subscribes to the quality feed and shows
// every point's link and the alerts (docs/protocol.md §15).
import { MeetingClient } from '../meeting.js';
import { api } from './api.js';
import { h } from './dom.js';
import { t, errorText, fmtMs, fmtPct, fmtRate, fmtClock } from './i18n.js';

const COLS = ['q.point', 'q.online', 'q.rtt', 'q.lossUp', 'q.lossDown', 'q.jitterUp', 'q.jitterDown',
  'q.rateUp', 'q.rateDown', 'q.layers', 'q.alerts'];
const MAX_ALERTS = 200;

// layerText shows the layers a point receives: "m→h" is layer m forwarded
// while congestion control targets h.
const RIDS = ['l', 'm', 'h'];
function layerText(layers) {
  return (layers ?? []).map((l) => {
    const cur = l.layer < 0 ? '–' : (l.rid || RIDS[l.layer] || String(l.layer));
    const target = l.target >= 0 && l.target !== l.layer ? '→' + (RIDS[l.target] ?? l.target) : '';
    return cur + target;
  }).join(' ');
}

export async function render(v, ctx) {
  const meetingID = ctx.arg;
  const j = await api('POST', `/meetings/${meetingID}/join`);
  const tbody = h('tbody');
  const summary = h('p', { id: 'q-summary', class: 'count' });
  const alerts = h('ol', { id: 'alerts', class: 'alerts', reversed: true });
  const updated = h('span', { class: 'hint' });

  v.append(h('section', { class: 'card wide' },
    h('div', { class: 'section-head' }, h('h2', {}, h('span', { i18n: 'mon.heading' }), ': ', h('span', { text: j.meeting.title })),
      h('span', { class: 'badge state-' + j.meeting.state, i18n: 'state.' + j.meeting.state }), updated),
    summary,
    h('div', { class: 'scroll' }, h('table', { id: 'quality-table', class: 'data' },
      h('thead', {}, h('tr', {}, ...COLS.map((k) => h('th', { i18n: k })))), tbody))),
  h('section', { class: 'card wide' }, h('h2', { i18n: 'mon.alerts' }), alerts));

  function onReport(d) {
    const pts = d.points ?? [];
    window.cauQuality = d; // for tests and debugging
    updated.textContent = ' ' + fmtClock(d.at);
    let online = 0;
    let alerting = 0;
    tbody.replaceChildren(...pts.map((p) => {
      if (p.online) online++;
      if (p.alerts?.length) alerting++;
      return h('tr', { dataset: { point: p.point }, class: (p.alerts?.length ? 'alerting' : '') + (p.online ? '' : ' offline') },
        h('td', {}, h('span', { text: p.name || p.point }), h('br'), h('span', { class: 'mono hint', text: p.point })),
        h('td', {}, h('span', { class: 'badge ' + (p.online ? 'ok' : 'off'), i18n: p.online ? 'q.on' : 'q.off' })),
        h('td', { class: 'num', text: fmtMs(p.rtt_ms) }),
        h('td', { class: 'num', text: fmtPct(p.up?.loss) }), h('td', { class: 'num', text: fmtPct(p.down?.loss) }),
        h('td', { class: 'num', text: fmtMs(p.up?.jitter_ms) }), h('td', { class: 'num', text: fmtMs(p.down?.jitter_ms) }),
        h('td', { class: 'num', text: fmtRate(p.up?.bitrate_bps) }), h('td', { class: 'num', text: fmtRate(p.down?.bitrate_bps) }),
        h('td', { class: 'mono', text: layerText(p.layers) }),
        h('td', {}, ...(p.alerts ?? []).map((k) => h('span', { class: 'badge alert', i18n: 'alert.' + k }))));
    }));
    summary.replaceChildren(h('span', { i18n: 'mon.summary', vars: { n: pts.length, online, alerting } }));
  }

  function onAlert(d) {
    const raised = d.state === 'raised';
    alerts.prepend(h('li', { class: raised ? 'raised' : 'cleared', dataset: { point: d.point, kind: d.kind } },
      h('span', { class: 'hint', text: fmtClock(d.at) + ' ' }),
      h('strong', { text: d.name || d.point }), ' — ',
      h('span', { i18n: 'alert.' + d.kind }), ' ',
      h('span', { class: 'badge ' + (raised ? 'alert' : 'ok'), i18n: raised ? 'alert.raised' : 'alert.cleared' }),
      d.message ? h('span', { class: 'hint', text: ` (${d.message})` }) : ''));
    while (alerts.children.length > MAX_ALERTS) alerts.lastChild.remove();
  }

  const client = new MeetingClient({
    message: (msg) => {
      const d = msg.data ?? {};
      if (msg.type === 'joined') client.send('quality_subscribe', {}, 'qs');
      else if (msg.type === 'quality_report') onReport(d);
      else if (msg.type === 'alert') onAlert(d);
      else if (msg.type === 'error') ctx.status(new Error(errorText(d)));
    },
    close: (e, leaving) => { if (!leaving) ctx.status('room.closed', { code: e.code, reason: e.reason }, 'error'); },
  });
  window.cau = client;
  client.join(j.token, null); // it_admin receives, never publishes
  summary.replaceChildren(h('span', { i18n: 'mon.waiting' }));
  return () => client.close();
}
