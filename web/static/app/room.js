// The meeting room (chair, bridge-point operator, secretary, viewer): the
// on-air sites big with the spotlight first, the floor panel (floor.js),
// the grid of sites, the pre-meeting check and the agenda. Protocol:
// docs/protocol.md §14 (floor), §16 (check).
import { MeetingClient, getMedia } from '../meeting.js';
import { api } from './api.js';
import { h } from './dom.js';
import { t, errorText, fmtMs, fmtPct, fmtRate } from './i18n.js';
import * as agenda from './agenda.js';
import { floorPanel, gridPanel } from './floor.js';

const PUBLISHERS = ['chair', 'secretary', 'operator'];

export async function render(v, ctx) {
  const meetingID = ctx.arg;
  const j = await api('POST', `/meetings/${meetingID}/join`);
  const r = {
    id: meetingID, me: j.peer_id, role: j.role, meeting: j.meeting, token: j.token,
    names: new Map(),        // peer id -> {name, role}
    streams: new Map(),      // peer id -> MediaStream received
    floor: { chair: j.meeting.chair_point, on_air: [j.meeting.chair_point], spotlight: '', hands: [], muted: [], open_mic: [], max_on_air: 1 },
    speaker: '',
    local: null,
    send: (type, data) => client.send(type, data, type + '-' + Date.now().toString(36)),
    name: (id) => (id === j.peer_id ? t('room.you') : r.names.get(id)?.name ?? id),
    changed: () => { renderStage(); floor.render(); grid.render(); },
  };
  const canPublish = PUBLISHERS.includes(r.role);

  const client = new MeetingClient({
    message: onMessage,
    track: onTrack,
    close: onClose,
    mediaError: (e) => ctx.status('room.mediaError', { err: e.message }, 'error'),
    socketError: () => ctx.status('room.wsError', null, 'error'),
  });
  window.cau = client; // for the browser tests, like the development page

  // ---- Layout --------------------------------------------------------------

  const stage = h('div', { id: 'stage', class: 'stage' });
  const audios = h('div', { hidden: true });
  const check = h('section', { id: 'check-panel', class: 'panel', hidden: true });
  const agendaBox = h('div', { id: 'agenda-panel' });
  const floor = floorPanel(r);
  const grid = gridPanel(r);
  const mic = h('button', { id: 'mic', type: 'button', onclick: () => toggle('audio') });
  const cam = h('button', { id: 'cam', type: 'button', onclick: () => toggle('video') });
  const stageTiles = new Map(); // peer id -> {el, video, caption}
  const audioEls = new Map();   // peer id -> <audio>

  v.append(h('div', { class: 'room' },
    h('div', { class: 'room-head' },
      h('h2', { id: 'room-title', text: j.meeting.title }),
      h('span', { class: 'badge state-' + j.meeting.state, i18n: 'state.' + j.meeting.state }),
      h('span', { class: 'hint' }, h('span', { i18n: 'room.as' }), ' ', h('strong', { id: 'my-role', i18n: 'role.' + r.role }))),
    h('div', { class: 'room-body' },
      h('div', { class: 'room-main' }, stage,
        h('div', { class: 'controls', role: 'toolbar', label: 'room.controls' },
          canPublish ? [mic, cam] : '',
          floor.handButton,
          canPublish && j.meeting.state === 'open'
            ? h('button', { id: 'check-btn', type: 'button', i18n: 'check.button', onclick: runCheck }) : '',
          grid.button,
          h('button', { id: 'leave', type: 'button', class: 'danger', i18n: 'room.leave', onclick: () => { client.leave(); ctx.go('#/meetings'); } })),
        grid.el),
      h('aside', { class: 'room-side' }, check, floor.el,
        h('section', { class: 'panel' },
          h('div', { class: 'section-head' }, h('h3', { i18n: 'agenda.heading' }),
            h('button', { type: 'button', class: 'small', i18n: 'refresh', onclick: loadAgenda })),
          agendaBox))),
    audios));

  // ---- Stage: the on-air sites, the spotlight first ------------------------

  function tile(id) {
    let tl = stageTiles.get(id);
    if (tl) return tl;
    const video = h('video', { autoplay: true, playsInline: true, muted: true });
    const caption = h('figcaption');
    const empty = h('span', { class: 'novideo', i18n: 'room.noVideo' });
    tl = { el: h('figure', { class: 'tile', dataset: { peer: id } }, video, empty, caption), video, caption, empty };
    stageTiles.set(id, tl);
    return tl;
  }

  function attach(video, stream) {
    if (video.srcObject !== stream) video.srcObject = stream ?? null;
    if (stream && video.paused) video.play().catch(() => {});
  }

  function renderStage() {
    const f = r.floor;
    const ids = [...new Set([f.spotlight, ...f.on_air].filter(Boolean))];
    for (const [id, tl] of stageTiles) if (!ids.includes(id)) { tl.video.srcObject = null; tl.el.remove(); stageTiles.delete(id); }
    ids.forEach((id, i) => {
      const tl = tile(id);
      if (stage.children[i] !== tl.el) stage.insertBefore(tl.el, stage.children[i] ?? null);
      const stream = id === r.me ? r.local : r.streams.get(id);
      attach(tl.video, stream);
      const hasVideo = Boolean(stream?.getVideoTracks().some((x) => x.readyState === 'live'));
      tl.empty.hidden = hasVideo;
      tl.el.classList.toggle('self', id === r.me);
      tl.el.classList.toggle('spotlight', id === f.spotlight);
      tl.el.classList.toggle('speaking', id === r.speaker);
      tl.el.classList.toggle('muted', f.muted.includes(id));
      tl.caption.textContent = r.name(id) + (id === f.chair ? ' · ' + t('room.chairSite') : '');
    });
    stage.dataset.count = String(ids.length);
  }

  // ---- Media ---------------------------------------------------------------

  function onTrack(ev) {
    const stream = ev.streams[0];
    if (!stream) return;
    const id = stream.id; // the publishing peer's id
    r.streams.set(id, stream);
    stream.onremovetrack = () => r.changed();
    ev.track.addEventListener('ended', () => r.changed());
    ev.track.addEventListener('unmute', () => r.changed());
    let audio = audioEls.get(id);
    if (!audio) {
      audio = h('audio', { autoplay: true });
      audioEls.set(id, audio);
      audios.append(audio);
    }
    if (audio.srcObject !== stream) audio.srcObject = stream;
    audio.play().catch(() => {
      ctx.status('room.clickAudio');
      document.addEventListener('click', () => audio.play().catch(() => {}), { once: true });
    });
    r.changed();
  }

  function toggle(kind) {
    for (const x of r.local?.getTracks() ?? []) if (x.kind === kind) x.enabled = !x.enabled;
    renderToggles();
  }

  function renderToggles() {
    for (const [btn, kind, off, on] of [[mic, 'audio', 'room.micOff', 'room.micOn'], [cam, 'video', 'room.camOff', 'room.camOn']]) {
      const track = r.local?.getTracks().find((x) => x.kind === kind);
      btn.disabled = !track;
      const muted = track ? !track.enabled : true;
      btn.classList.toggle('off', muted);
      btn.dataset.i18n = muted ? on : off;
      btn.textContent = t(btn.dataset.i18n);
    }
  }

  // ---- Signaling -----------------------------------------------------------

  function onMessage(msg) {
    const d = msg.data ?? {};
    switch (msg.type) {
      case 'joined':
        for (const p of d.peers ?? []) r.names.set(p.id, { name: p.name, role: p.role });
        ctx.status('room.joined', { title: j.meeting.title }, 'ok');
        r.changed();
        break;
      case 'peer_joined':
        r.names.set(d.id, { name: d.name, role: d.role });
        r.changed();
        break;
      case 'peer_left':
        r.names.delete(d.id);
        r.streams.delete(d.id);
        audioEls.get(d.id)?.remove();
        audioEls.delete(d.id);
        r.changed();
        break;
      case 'floor':
        r.floor = { ...r.floor, ...d, on_air: d.on_air ?? [], hands: d.hands ?? [], muted: d.muted ?? [], open_mic: d.open_mic ?? [] };
        r.changed();
        break;
      case 'grid_page':
        grid.onPage(d);
        break;
      case 'speaker':
        r.speaker = d.active ?? '';
        renderStage();
        break;
      case 'check_result':
        onCheck(d);
        break;
      case 'error':
        ctx.status(new Error(errorText(d)));
        break;
    }
  }

  function onClose(e, leaving) {
    stopLocal();
    if (leaving) return;
    const reason = e.reason ? (t('reason.' + e.reason) !== 'reason.' + e.reason ? t('reason.' + e.reason) : e.reason) : '';
    ctx.status('room.closed', { code: e.code, reason }, 'error');
  }

  function stopLocal() {
    r.local?.getTracks().forEach((x) => x.stop());
    r.local = null;
  }

  // ---- Pre-meeting check ---------------------------------------------------

  let checkTries = 0;
  function runCheck() {
    checkTries = 0;
    check.hidden = false;
    check.replaceChildren(h('h3', { i18n: 'check.title' }),
      h('figure', { class: 'tile self preview' }, Object.assign(h('video', { autoplay: true, playsInline: true, muted: true }), { srcObject: r.local }),
        h('figcaption', { i18n: 'check.selfView' })),
      h('p', { id: 'check-verdict', class: 'verdict', i18n: 'check.running' }));
    client.send('check', {}, 'check');
  }

  function onCheck(d) {
    if (!d.ready && (d.problems ?? []).some((p) => p.code === 'no_sample') && checkTries++ < 5) {
      setTimeout(() => client.send('check', {}, 'check'), 1200);
      return;
    }
    const q = d.point;
    const verdict = h('p', { id: 'check-verdict', class: 'verdict ' + (d.ready ? 'ok' : 'bad'), dataset: { ready: String(d.ready) },
      i18n: d.ready ? 'check.ready' : 'check.notReady' });
    const problems = h('ul', { id: 'check-problems' }, ...(d.problems ?? []).map((p) => h('li', { dataset: { code: p.code } },
      h('span', { i18n: 'check.' + p.code }), h('span', { class: 'hint', text: ` (${p.message})` }))));
    const facts = q ? h('dl', { class: 'facts' },
      h('dt', { i18n: 'q.rtt' }), h('dd', { text: fmtMs(q.rtt_ms) }),
      h('dt', { i18n: 'q.lossUp' }), h('dd', { text: fmtPct(q.up?.loss) }),
      h('dt', { i18n: 'q.lossDown' }), h('dd', { text: fmtPct(q.down?.loss) }),
      h('dt', { i18n: 'q.rateUp' }), h('dd', { text: fmtRate(q.up?.bitrate_bps) })) : '';
    check.querySelector('#check-verdict')?.replaceWith(verdict);
    check.querySelector('#check-problems')?.remove();
    check.querySelector('.facts')?.remove();
    check.querySelector('.recheck')?.remove();
    check.append(problems, facts, h('button', { type: 'button', class: 'small recheck', i18n: 'check.again', onclick: runCheck }));
  }

  // ---- Agenda --------------------------------------------------------------

  async function loadAgenda() {
    agendaBox.replaceChildren(await agenda.viewer(meetingID, r.token));
  }

  // ---- Start ---------------------------------------------------------------

  const media = canPublish ? getMedia().then((s) => {
    if (!s) ctx.status('room.noMedia', { err: getMedia.error?.name ?? 'unavailable' }, 'error');
    r.local = s;
    renderToggles();
    renderStage();
    return s;
  }) : null;
  renderToggles();
  client.join(j.token, media);
  renderStage();
  floor.render();
  loadAgenda().catch(() => {});
  const onHide = () => client.leave();
  window.addEventListener('pagehide', onHide);
  return () => {
    window.removeEventListener('pagehide', onHide);
    client.close();
    Promise.resolve(media).then(stopLocal);
  };
}
