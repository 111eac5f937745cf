// Cầu: minimal meeting page (development). Protocol: docs/protocol.md; the
// session and its peer connections live in meeting.js.
import { MeetingClient, getMedia } from './meeting.js';

{
  // ---- Locale ----------------------------------------------------------

  const I18N = {
    vi: {
      title: 'Cầu — Họp trực tuyến', brand: 'Cầu', tagline: 'Họp trực tuyến',
      joinTitle: 'Vào phòng họp', name: 'Tên hiển thị', meeting: 'Phòng họp', join: 'Vào họp',
      leave: 'Rời phòng', micOff: 'Tắt micro', micOn: 'Bật micro', camOff: 'Tắt camera', camOn: 'Bật camera',
      callLabel: 'Cuộc họp', controls: 'Điều khiển', otherLang: 'English', you: '{name} (bạn)',
      people: '{n} người trong phòng', needName: 'Vui lòng nhập tên hiển thị và phòng họp.',
      gettingToken: 'Đang lấy mã tham gia…', connecting: 'Đang kết nối…',
      joined: 'Đã vào phòng “{meeting}”.', peerJoined: '{name} đã vào phòng.', peerLeft: '{name} đã rời phòng.',
      noMedia: 'Không dùng được camera/micro ({err}). Bạn vẫn xem và nghe được người khác.',
      clickAudio: 'Nhấn vào trang để bật âm thanh.', closed: 'Đã ngắt kết nối ({code}{reason}).',
      left: 'Bạn đã rời phòng.', wsError: 'Lỗi kết nối tới máy chủ.', httpError: 'Lỗi máy chủ: {status}',
      networkError: 'Không kết nối được tới máy chủ.', mediaError: 'Lỗi kết nối hình/tiếng: {err}',
      'reason.left': 'đã rời phòng', 'reason.keepalive timeout': 'mất kết nối quá lâu',
      'reason.server shutting down': 'máy chủ đang tắt', 'reason.client too slow': 'mạng quá chậm',
      'reason.media connection failed': 'kết nối hình/tiếng bị lỗi',
      'reason.replaced by a newer session': 'bạn đã vào phòng từ một nơi khác',
      'reason.rate limit exceeded': 'gửi quá nhiều tin', 'reason.frame too large': 'tin nhắn quá lớn',
      'reason.unauthorized': 'mã tham gia không hợp lệ', 'reason.token_expired': 'mã tham gia đã hết hạn',
      'err.unauthorized': 'Mã tham gia không hợp lệ', 'err.token_expired': 'Mã tham gia đã hết hạn',
      'err.dev_join_disabled': 'Máy chủ không cho tự tạo mã tham gia; hãy xin mã từ cán bộ CNTT',
      'err.bad_request': 'Yêu cầu không hợp lệ', 'err.rate_limited': 'Gửi quá nhiều tin',
      'err.internal': 'Lỗi máy chủ', 'err.no_media': 'Không có hình hoặc tiếng để gửi',
      'err.bad_sdp': 'Mô tả phiên không hợp lệ', 'err.unknown_track': 'Không có luồng hình này',
      quality: 'Chất lượng hình', 'q.high': 'Cao', 'q.medium': 'Trung bình', 'q.low': 'Thấp', 'q.off': 'Tắt',
      speaking: '{name} đang nói', appLink: 'Đăng nhập hệ thống',
    },
    en: {
      title: 'Cầu — Online meetings', brand: 'Cầu', tagline: 'Online meetings',
      joinTitle: 'Join a meeting', name: 'Display name', meeting: 'Meeting room', join: 'Join',
      leave: 'Leave', micOff: 'Mute mic', micOn: 'Unmute mic', camOff: 'Camera off', camOn: 'Camera on',
      callLabel: 'Meeting', controls: 'Controls', otherLang: 'Tiếng Việt', you: '{name} (you)',
      people: '{n} in the room', needName: 'Please enter a display name and a meeting room.',
      gettingToken: 'Getting a meeting token…', connecting: 'Connecting…',
      joined: 'Joined “{meeting}”.', peerJoined: '{name} joined.', peerLeft: '{name} left.',
      noMedia: 'Camera/microphone unavailable ({err}). You can still see and hear the others.',
      clickAudio: 'Click the page to turn on sound.', closed: 'Disconnected ({code}{reason}).',
      left: 'You left the meeting.', wsError: 'Connection to the server failed.', httpError: 'Server error: {status}',
      networkError: 'Cannot reach the server.', mediaError: 'Media connection error: {err}',
      quality: 'Video quality', 'q.high': 'High', 'q.medium': 'Medium', 'q.low': 'Low', 'q.off': 'Off',
      speaking: '{name} is speaking', appLink: 'Sign in to the system',
    },
  };

  const params = new URLSearchParams(location.search);
  let lang = params.get('lang') === 'en' ? 'en' : 'vi';

  // Video qualities a subscriber may ask for (protocol message "quality").
  const QUALITIES = ['high', 'medium', 'low', 'off'];
  // ?quality=low|medium|high: ask that quality for every remote video track.
  const defaultQuality = QUALITIES.includes(params.get('quality')) ? params.get('quality') : null;

  // t translates a key, filling {placeholders}; undefined if the current
  // locale lacks it (English leaves server texts as they are).
  function t(key, vars = {}) {
    const s = I18N[lang][key];
    return s?.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
  }

  const $ = (id) => document.getElementById(id);
  const ui = {
    form: $('join-form'), fields: $('fields'), name: $('name'), meeting: $('meeting'), joinBtn: $('join-btn'),
    joinSec: $('join'), call: $('call'), tiles: $('tiles'), selfVideo: $('self-video'), selfName: $('self-name'),
    mic: $('mic'), cam: $('cam'), leave: $('leave'), status: $('status'), people: $('people'), lang: $('lang'),
    selfTile: $('self-tile'),
  };

  // ---- State -------------------------------------------------------------

  // Exposed for automated tests: pub, sub, state, speaker, layers.
  const cau = new MeetingClient({
    message: onMessage,
    track: onRemoteTrack,
    close: onClose,
    mediaError: (e) => say('mediaError', { err: e.message }, true),
    socketError: () => say('wsError', {}, true),
  });
  window.cau = cau;

  const urlToken = params.get('token');
  let me = null;                 // "joined" data
  let localStream = null;
  let mediaReady = Promise.resolve();
  const names = new Map();       // peer id -> display name
  const tiles = new Map();       // peer id -> {el, video, label, select, stream, quality, videoTracks}
  const published = new Map();   // peer id -> Set of its published video track ids ("track_published")
  let activeSpeaker = '';        // from "speaker" events; '' when nobody speaks
  let status = { fn: () => '', error: false };

  // ---- Rendering ---------------------------------------------------------

  function setStatus(fn, error = false) {
    status = { fn, error };
    ui.status.textContent = fn();
    ui.status.classList.toggle('error', error);
  }
  const say = (key, vars, error) => setStatus(() => t(key, vars), error);

  // showError shows a server error {code, message}, localized when known.
  function showError(code, message) {
    setStatus(() => {
      const label = t('err.' + code);
      return label ? `${label} (${message})` : `${message} [${code}]`;
    }, true);
  }

  function render() {
    document.documentElement.lang = lang;
    document.title = t('title');
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
    ui.lang.textContent = t('otherLang');
    ui.lang.lang = lang === 'vi' ? 'en' : 'vi';
    renderToggle(ui.mic, 'audio', 'micOff', 'micOn');
    renderToggle(ui.cam, 'video', 'camOff', 'camOn');
    ui.selfName.textContent = t('you', { name: me?.name || ui.name.value.trim() || '…' });
    ui.people.textContent = me ? t('people', { n: names.size + 1 }) : '';
    for (const [id, tile] of tiles) renderTile(id, tile);
    ui.selfTile.classList.toggle('speaking', Boolean(me) && activeSpeaker === me.peer_id);
    ui.status.textContent = status.fn();
  }

  // renderToggle labels a mute button with the action it performs.
  function renderToggle(btn, kind, offKey, onKey) {
    const track = localStream?.getTracks().find((x) => x.kind === kind);
    btn.disabled = !track;
    const muted = track ? !track.enabled : true;
    btn.classList.toggle('off', muted);
    btn.textContent = t(muted ? onKey : offKey);
  }

  ui.lang.addEventListener('click', () => {
    lang = lang === 'vi' ? 'en' : 'vi';
    const u = new URL(location.href);
    if (lang === 'en') u.searchParams.set('lang', 'en'); else u.searchParams.delete('lang');
    history.replaceState(null, '', u);
    render();
  });

  // ---- Remote tiles ------------------------------------------------------

  function tileFor(id) {
    let tile = tiles.get(id);
    if (tile) return tile;
    const el = document.createElement('figure');
    el.className = 'tile';
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    const label = document.createElement('figcaption');
    // Quality selector: hidden until the peer sends video.
    const select = document.createElement('select');
    select.className = 'quality';
    select.hidden = true;
    for (const q of QUALITIES) {
      const opt = document.createElement('option');
      opt.value = q;
      select.append(opt);
    }
    el.append(video, label, select);
    ui.tiles.append(el);
    tile = { el, video, label, select, stream: null, quality: defaultQuality, videoTracks: new Set() };
    select.value = tile.quality ?? 'high';
    select.addEventListener('change', () => {
      tile.quality = select.value;
      for (const trackId of videoIds(id)) sendQuality(trackId, tile.quality);
    });
    tiles.set(id, tile);
    renderTile(id, tile);
    return tile;
  }

  function renderTile(id, tile) {
    const name = names.get(id) ?? id;
    tile.label.textContent = name;
    tile.select.title = t('quality');
    tile.select.setAttribute('aria-label', `${t('quality')}: ${name}`);
    for (const opt of tile.select.options) opt.textContent = t('q.' + opt.value);
    tile.el.classList.toggle('speaking', id === activeSpeaker);
  }

  // sendQuality asks the server for a video track at q. The track id is the
  // one subscribers see ("<peer>:<track>", the received MediaStreamTrack.id).
  function sendQuality(trackId, q) {
    send('quality', { track: trackId, quality: q });
  }

  // videoIds lists a peer's video tracks: announced ones and received ones.
  function videoIds(id) {
    const ids = new Set(published.get(id));
    for (const track of tiles.get(id)?.videoTracks ?? []) if (track.readyState !== 'ended') ids.add(track.id);
    return ids;
  }

  // updateSelect shows a tile's quality selector while the peer has video,
  // also video turned off (so it can be turned on again).
  function updateSelect(id) {
    const tile = tiles.get(id);
    if (tile) tile.select.hidden = videoIds(id).size === 0;
  }

  function removeTile(id) {
    const tile = tiles.get(id);
    if (!tile) return;
    tile.video.srcObject = null;
    tile.videoTracks.clear();
    tile.el.remove();
    tiles.delete(id);
  }

  // dropIfEmpty removes a peer's tile once its stream has no live track,
  // unless the peer still publishes video this page may ask for again.
  function dropIfEmpty(id, stream) {
    const tile = tiles.get(id);
    if (tile?.stream !== stream) return;
    if (stream.getTracks().every((x) => x.readyState === 'ended') && !published.get(id)?.size) removeTile(id);
    else updateSelect(id);
  }

  function play(video) {
    video.muted = false;
    video.play().catch(() => {
      // Autoplay with sound refused: play muted until the user interacts.
      video.muted = true;
      video.play().catch(() => {});
      say('clickAudio');
      document.addEventListener('click', () => { video.muted = false; video.play().catch(() => {}); }, { once: true });
    });
  }

  function onRemoteTrack(ev) {
    const stream = ev.streams[0];
    if (!stream) return;
    const id = stream.id; // the publishing peer's id
    const tile = tileFor(id);
    if (tile.stream !== stream) {
      tile.stream = stream;
      tile.video.srcObject = stream;
      stream.onremovetrack = (e) => {
        tile.videoTracks.delete(e.track);
        dropIfEmpty(id, stream);
      };
    }
    ev.track.addEventListener('ended', () => {
      tile.videoTracks.delete(ev.track);
      dropIfEmpty(id, stream);
    });
    if (ev.track.kind === 'video') {
      tile.videoTracks.add(ev.track);
      updateSelect(id);
      if (tile.quality) sendQuality(ev.track.id, tile.quality);
    }
    play(tile.video);
  }

  // ---- Signaling ---------------------------------------------------------

  const send = (type, data) => cau.send(type, data);

  // onSpeaker highlights the active speaker's tile.
  function onSpeaker(d) {
    const next = d.active ?? '';
    if (next === activeSpeaker) return;
    activeSpeaker = next;
    for (const [id, tile] of tiles) tile.el.classList.toggle('speaking', id === activeSpeaker);
    ui.selfTile.classList.toggle('speaking', Boolean(me) && activeSpeaker === me.peer_id);
  }

  function onMessage(msg) {
    const d = msg.data ?? {};
    switch (msg.type) {
      case 'joined':
        me = d;
        for (const p of d.peers ?? []) names.set(p.id, p.name);
        say('joined', { meeting: d.meeting });
        render();
        break;
      case 'peer_joined':
        names.set(d.id, d.name);
        say('peerJoined', { name: d.name });
        render();
        break;
      case 'peer_left': {
        const name = names.get(d.id) ?? d.id;
        names.delete(d.id);
        published.delete(d.id);
        removeTile(d.id);
        say('peerLeft', { name });
        render();
        break;
      }
      case 'layers':
        break;
      case 'track_published':
        // In a large room video comes only on request: ask for it at once
        // when a quality is chosen for this peer (or for everyone, ?quality=).
        if (d.kind === 'video') {
          if (!published.has(d.peer_id)) published.set(d.peer_id, new Set());
          published.get(d.peer_id).add(d.track);
          updateSelect(d.peer_id);
          const q = tiles.get(d.peer_id)?.quality ?? defaultQuality;
          if (q) sendQuality(d.track, q);
        }
        break;
      case 'track_unpublished': {
        // The next "sub" offer removes the track itself, if we received it.
        const set = published.get(d.peer_id);
        if (set?.delete(d.track)) {
          const tile = tiles.get(d.peer_id);
          if (tile?.stream) dropIfEmpty(d.peer_id, tile.stream);
          else updateSelect(d.peer_id);
        }
        break;
      }
      case 'speaker':
        onSpeaker(d);
        break;
      case 'error':
        showError(d.code, d.message);
        break;
      default:
        console.warn('unknown message', msg);
    }
  }

  // ---- Join and leave ----------------------------------------------------

  async function fetchToken(name, meeting) {
    say('gettingToken');
    let res;
    try {
      res = await fetch('/api/v1/dev/token', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name, meeting }),
      });
    } catch {
      say('networkError', {}, true);
      return null;
    }
    const body = await res.json().catch(() => null);
    if (res.ok && body?.token) return body.token;
    if (body?.error) showError(body.error.code, body.error.message);
    else say('httpError', { status: res.status }, true);
    return null;
  }

  function join(token) {
    me = null;
    names.clear();
    published.clear();
    activeSpeaker = '';
    ui.joinSec.hidden = true;
    ui.call.hidden = false;
    say('connecting');

    mediaReady = getMedia().then((stream) => {
      if (!stream) say('noMedia', { err: getMedia.error?.name ?? 'unavailable' }, true);
      localStream = stream;
      ui.selfVideo.srcObject = stream;
      render();
      return stream;
    });
    cau.join(token, mediaReady);
    render();
  }

  function onClose(e, leaving) {
    const prev = status.error ? status.fn : null; // keep an error already shown (e.g. the token error)
    teardown();
    if (leaving) { say('left'); return; }
    const reason = () => (e.reason ? ': ' + (t('reason.' + e.reason) ?? e.reason) : '');
    setStatus(() => (prev ? prev() + ' ' : '') + t('closed', { code: e.code, reason: reason() }), true);
  }

  function teardown() {
    for (const id of [...tiles.keys()]) removeTile(id);
    mediaReady.then(() => {
      localStream?.getTracks().forEach((x) => x.stop());
      localStream = null;
      ui.selfVideo.srcObject = null;
      render();
    });
    me = null;
    names.clear();
    published.clear();
    ui.call.hidden = true;
    ui.joinSec.hidden = false;
    render();
  }

  const leave = () => cau.leave();

  // ---- Controls ----------------------------------------------------------

  function toggle(kind) {
    for (const track of localStream?.getTracks() ?? []) if (track.kind === kind) track.enabled = !track.enabled;
    render();
  }
  ui.mic.addEventListener('click', () => toggle('audio'));
  ui.cam.addEventListener('click', () => toggle('video'));
  ui.leave.addEventListener('click', leave);
  window.addEventListener('pagehide', () => { if (cau.state === 'joined' || cau.state === 'joining') leave(); });

  ui.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (cau.state === 'joining' || cau.state === 'joined') return;
    let token = urlToken;
    if (!token) {
      const name = ui.name.value.trim();
      const meeting = ui.meeting.value.trim();
      if (!name || !meeting) { say('needName', {}, true); (name ? ui.meeting : ui.name).focus(); return; }
      ui.joinBtn.disabled = true;
      token = await fetchToken(name, meeting);
      ui.joinBtn.disabled = false;
      if (!token) return;
    }
    join(token);
  });

  // ---- Start -------------------------------------------------------------

  if (params.has('name')) ui.name.value = params.get('name');
  if (params.has('meeting')) ui.meeting.value = params.get('meeting');
  ui.fields.hidden = Boolean(urlToken);
  render();
  if (params.get('autojoin') === '1') ui.form.requestSubmit();
  else (urlToken ? ui.joinBtn : ui.name).focus();
}
