// Floor control in the room (docs/protocol.md §14): the hand queue and the
// chair's controls (grant, revoke, mute, open mic, spotlight), a site's own
// raised hand, and the grid of sites at low quality.
import { h } from './dom.js';
import { t, fmtClock } from './i18n.js';

const PUBLISHERS = ['chair', 'secretary', 'operator'];
const GRID_SIZE = 16;

// floorPanel is the side panel; r is the room (room.js).
export function floorPanel(r) {
  const isChair = r.role === 'chair';
  const canHand = r.role === 'operator' || r.role === 'secretary';
  const el = h('section', { id: 'floor-panel', class: 'panel' });
  const handButton = canHand ? h('button', { id: 'hand-btn', type: 'button', class: 'primary', onclick: toggleHand }) : '';

  function raised() { return r.floor.hands.some((x) => x.id === r.me); }
  function toggleHand() { r.send('hand', { raised: !raised() }); }

  function cmd(label, type, data, cls = '') {
    return h('button', { type: 'button', class: 'small ' + cls, i18n: label, dataset: { peer: data.peer ?? '' }, onclick: () => r.send(type, data) });
  }

  function render() {
    const f = r.floor;
    if (handButton) {
      handButton.dataset.i18n = raised() ? 'floor.lower' : 'floor.raise';
      handButton.textContent = t(handButton.dataset.i18n);
      handButton.classList.toggle('off', raised());
    }
    const onAir = f.on_air.filter((id) => id !== f.chair);
    const parts = [h('h3', { i18n: 'floor.heading' }),
      h('p', { id: 'on-air' }, h('span', { i18n: 'floor.onAir' }), ' ',
        h('strong', { text: f.on_air.map(r.name).join(', ') || '—' }),
        f.spotlight ? h('span', {}, ' · ', h('span', { i18n: 'floor.spotlight' }), ' ', h('strong', { text: r.name(f.spotlight) })) : '')];

    if (canHand) {
      const pos = f.hands.findIndex((x) => x.id === r.me);
      const mine = f.on_air.includes(r.me) ? h('p', { id: 'my-floor', class: 'notice ok', i18n: 'floor.youOnAir' })
        : pos >= 0 ? h('p', { id: 'my-floor', class: 'notice info', i18n: 'floor.youQueued', vars: { n: pos + 1 } }) : '';
      parts.push(mine);
      if (f.muted.includes(r.me)) parts.push(h('p', { class: 'notice error', i18n: 'floor.youMuted' }));
    }

    // The hand queue: everybody sees it; the chair acts on it.
    parts.push(h('h4', { i18n: 'floor.hands', vars: { n: f.hands.length } }),
      f.hands.length ? h('ol', { id: 'hands', class: 'hands' }, ...f.hands.map((x) => h('li', { dataset: { peer: x.id } },
        h('span', { class: 'site', text: r.name(x.id) }), h('span', { class: 'hint', text: ' ' + fmtClock(x.since) }),
        isChair ? cmd('floor.grant', 'floor_grant', { peer: x.id }, 'primary grant') : '')))
        : h('p', { id: 'hands', class: 'empty', i18n: 'floor.noHands' }));

    if (isChair) {
      if (onAir.length) {
        parts.push(h('h4', { i18n: 'floor.speaking' }), h('ul', { id: 'speaking', class: 'hands' }, ...onAir.map((id) => h('li', { dataset: { peer: id } },
          h('span', { class: 'site', text: r.name(id) }), cmd('floor.revoke', 'floor_revoke', { peer: id }, 'revoke')))));
      }
      const sites = [...r.names].filter(([, p]) => PUBLISHERS.includes(p.role)).map(([id]) => id).sort();
      parts.push(h('h4', { i18n: 'floor.sites', vars: { n: sites.length } }),
        h('ul', { id: 'sites', class: 'sites' }, ...sites.map((id) => {
          const on = f.on_air.includes(id);
          const muted = f.muted.includes(id);
          const open = f.open_mic.includes(id);
          return h('li', { dataset: { peer: id } },
            h('span', { class: 'site', text: r.name(id) }),
            muted ? h('span', { class: 'badge off', i18n: 'floor.mutedBadge' }) : '',
            open ? h('span', { class: 'badge ok', i18n: 'floor.openBadge' }) : '',
            h('span', { class: 'actions' },
              id === f.chair ? '' : on ? cmd('floor.revoke', 'floor_revoke', { peer: id }, 'revoke') : cmd('floor.grant', 'floor_grant', { peer: id }, 'grant'),
              cmd(muted ? 'floor.unmute' : 'floor.mute', 'floor_mute', { peer: id, muted: !muted }, 'mute'),
              on ? '' : cmd(open ? 'floor.closeMic' : 'floor.openMic', 'floor_mic', { peer: id, open: !open }, 'mic'),
              cmd(f.spotlight === id ? 'floor.unspot' : 'floor.spot', 'spotlight', { peer: f.spotlight === id ? '' : id }, 'spot')));
        })));
    }
    el.replaceChildren(...parts);
  }

  return { el, handButton, render };
}

// gridPanel is the grid of sites ("Lưới điểm cầu"), 16 a page at low
// quality, for the chair and IT staff.
export function gridPanel(r) {
  const canGrid = r.role === 'chair' || r.role === 'it_admin';
  const el = h('section', { id: 'grid', class: 'panel grid', hidden: true });
  const tiles = h('div', { class: 'grid-tiles' });
  const pager = h('span', { id: 'grid-pager' });
  let page = null; // the last grid_page
  let open = false;
  const button = canGrid ? h('button', { id: 'grid-btn', type: 'button', i18n: 'grid.open', onclick: () => (open ? close() : show(0)) }) : '';

  function show(n) {
    open = true;
    el.hidden = false;
    r.send('grid', { page: n, size: GRID_SIZE });
    relabel();
  }
  function close() {
    open = false;
    page = null;
    el.hidden = true;
    r.send('grid_close', {});
    for (const v of tiles.querySelectorAll('video')) v.srcObject = null;
    tiles.replaceChildren();
    relabel();
  }
  function relabel() {
    if (!button) return;
    button.dataset.i18n = open ? 'grid.close' : 'grid.open';
    button.textContent = t(button.dataset.i18n);
  }

  el.append(h('div', { class: 'section-head' }, h('h3', { i18n: 'grid.heading' }), pager,
    h('button', { type: 'button', class: 'small', i18n: 'grid.prev', onclick: () => page && page.page > 0 && show(page.page - 1) }),
    h('button', { type: 'button', class: 'small', i18n: 'grid.next', onclick: () => page && (page.page + 1) * page.size < page.total && show(page.page + 1) }),
    h('button', { type: 'button', class: 'small', i18n: 'grid.close', onclick: close })), tiles);

  function render() {
    if (!open || !page) return;
    const pages = Math.max(1, Math.ceil(page.total / page.size));
    pager.replaceChildren(h('span', { i18n: 'grid.page', vars: { n: page.page + 1, pages, total: page.total } }));
    const have = new Map([...tiles.children].map((c) => [c.dataset.peer, c]));
    const want = page.sites ?? [];
    for (const [id, c] of have) if (!want.includes(id)) { c.querySelector('video').srcObject = null; c.remove(); }
    want.forEach((id, i) => {
      let c = have.get(id);
      if (!c) {
        c = h('figure', { class: 'tile small', dataset: { peer: id } },
          h('video', { autoplay: true, playsInline: true, muted: true }), h('figcaption'));
      }
      if (tiles.children[i] !== c) tiles.insertBefore(c, tiles.children[i] ?? null);
      const video = c.querySelector('video');
      const stream = r.streams.get(id) ?? null;
      if (video.srcObject !== stream) video.srcObject = stream;
      if (stream && video.paused) video.play().catch(() => {});
      c.querySelector('figcaption').textContent = r.name(id);
    });
  }

  function onPage(d) {
    if (!open) return;
    page = d;
    render();
  }

  return { el, button, render, onPage };
}
