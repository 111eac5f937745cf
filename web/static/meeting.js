// Cầu meeting client: one signaling session (WebSocket) and its two peer
// connections, "pub" (our camera and microphone, simulcast) and "sub"
// (everybody else's tracks). Shared by the development page (/) and the app
// (/app/). It knows the protocol (docs/protocol.md §2-§8) and nothing of the
// page: every server message is handed to handlers.message, every remote
// track to handlers.track.
'use strict';

// Camera simulcast: three layers, lowest first (RIDs l, m, h).
export const SIMULCAST = [
  { rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 150000 },
  { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 500000 },
  { rid: 'h', scaleResolutionDownBy: 1, maxBitrate: 1500000 },
];
export const CAMERA = { width: 1280, height: 720 };

// getMedia asks for camera and microphone, then for either alone; it
// resolves to null (with the last error in .error) when none is available.
export async function getMedia() {
  const tries = [{ audio: true, video: CAMERA }, { audio: true }, { video: CAMERA }];
  let lastErr;
  for (const c of tries) {
    try { return await navigator.mediaDevices.getUserMedia(c); } catch (e) { lastErr = e; }
  }
  getMedia.error = lastErr;
  return null;
}

// MeetingClient is reusable: join() again after a session closed. Its
// fields pub, sub, state, speaker and layers are read by the browser tests.
export class MeetingClient {
  // handlers: message(msg), track(RTCTrackEvent), close(CloseEvent, leaving),
  // mediaError(Error), socketError().
  constructor(handlers = {}) {
    this.handlers = handlers;
    this.pub = null;
    this.sub = null;
    this.state = 'idle';
    this.speaker = null;   // the last "speaker" data
    this.layers = {};      // our track id -> the last "layers" active flags
    this.me = null;        // "joined" data
    this.stream = null;    // the local stream being published
    this.ws = null;
    this.leaving = false;
  }

  // join opens a session with a meeting token. media is a MediaStream, a
  // promise of one, or null for a receive-only participant.
  join(token, media = null) {
    this.close();
    this.state = 'joining';
    this.leaving = false;
    this.me = null;
    this.speaker = null;
    this.layers = {};
    this.pub = null;
    this.stream = null;
    this.offerChain = Promise.resolve();
    this.layerChain = new Map();
    this.remoteQ = { pub: [], sub: [] };  // server candidates waiting for a remote description
    this.localQ = { pub: [], sub: [] };   // our candidates waiting for our description to be sent
    this.descSent = { pub: false, sub: false };
    this.mediaReady = Promise.resolve(media).then((s) => { this.stream = s; return s; });

    // The sub connection exists before "join" so an early offer finds it.
    this.newPC('sub').ontrack = (ev) => this.handlers.track?.(ev);

    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const sock = new WebSocket(`${proto}://${location.host}/ws`);
    this.ws = sock;
    // Handlers ignore a socket that a later join has replaced.
    sock.onopen = () => this.send('join', { token });
    sock.onmessage = (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (this.ws === sock) this.onMessage(msg);
    };
    sock.onerror = () => { if (this.ws === sock && !this.leaving) this.handlers.socketError?.(); };
    sock.onclose = (e) => {
      if (this.ws !== sock) return;
      this.teardown();
      this.handlers.close?.(e, this.leaving);
    };
  }

  // send sends one frame; id, if given, comes back as "ref" in an error.
  send(type, data = {}, id) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    const msg = { v: 1, type, data };
    if (id) msg.id = id;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  leave() {
    if (!this.ws) return;
    this.leaving = true;
    this.send('leave');
    this.ws.close(1000, 'left');
  }

  // close drops the session at once, without telling the handlers.
  close() {
    const sock = this.ws;
    if (!sock) return;
    this.ws = null;
    this.leaving = true;
    if (sock.readyState === WebSocket.OPEN) sock.send(JSON.stringify({ v: 1, type: 'leave', data: {} }));
    sock.close(1000, 'left');
    this.teardown();
  }

  teardown() {
    this.state = 'closed';
    clearInterval(this.keepalive);
    this.keepalive = null;
    for (const target of ['pub', 'sub']) this[target]?.close();
    this.me = null;
  }

  // ---- Peer connections ------------------------------------------------

  newPC(target) {
    const pc = new RTCPeerConnection();
    this[target] = pc;
    pc.onicecandidate = (e) => this.sendCandidate(target, e.candidate);
    pc.onconnectionstatechange = () => console.info(target, pc.connectionState);
    return pc;
  }

  sendCandidate(target, c) {
    if (!c || !c.candidate) return; // null / end-of-candidates
    if (this.descSent[target]) this.send('candidate', { target, candidate: c.toJSON() });
    else this.localQ[target].push(c);
  }

  // descriptionSent marks a description as sent and releases our queued candidates.
  descriptionSent(target) {
    this.descSent[target] = true;
    for (const c of this.localQ[target].splice(0)) this.send('candidate', { target, candidate: c.toJSON() });
  }

  async addRemoteCandidate(target, cand) {
    const pc = this[target];
    if (!pc || !pc.remoteDescription) { this.remoteQ[target].push(cand); return; }
    try { await pc.addIceCandidate(cand); } catch (e) { console.warn('addIceCandidate', target, e); }
  }

  flushRemote(target) {
    for (const c of this.remoteQ[target].splice(0)) this.addRemoteCandidate(target, c);
  }

  // Offers on "sub" are handled strictly one after another.
  onSubOffer(sdp) {
    this.offerChain = this.offerChain.then(async () => {
      const pc = this.sub;
      if (!pc || pc.signalingState === 'closed') return;
      await pc.setRemoteDescription({ type: 'offer', sdp });
      this.flushRemote('sub');
      await pc.setLocalDescription(await pc.createAnswer());
      this.send('answer', { target: 'sub', sdp: pc.localDescription.sdp });
      this.descriptionSent('sub');
    }).catch((e) => { if (this.state !== 'closed') this.handlers.mediaError?.(e); });
  }

  async onPubAnswer(sdp) {
    try {
      await this.pub.setRemoteDescription({ type: 'answer', sdp });
      this.flushRemote('pub');
    } catch (e) { this.handlers.mediaError?.(e); }
  }

  async startPublishing() {
    const stream = this.stream;
    if (this.state !== 'joined' || this.pub || !stream?.getTracks().length) return;
    const pc = this.newPC('pub');
    for (const track of stream.getTracks()) {
      const init = { direction: 'sendonly', streams: [stream] };
      // The camera goes out as simulcast; the server forwards one layer to each subscriber.
      if (track.kind === 'video') init.sendEncodings = SIMULCAST.map((e) => ({ ...e }));
      pc.addTransceiver(track, init);
    }
    try {
      await pc.setLocalDescription(await pc.createOffer());
      this.send('offer', { target: 'pub', sdp: pc.localDescription.sdp });
      this.descriptionSent('pub');
    } catch (e) { this.handlers.mediaError?.(e); }
  }

  // onLayers applies a dynacast request: pause (false) or resume (true) the
  // simulcast encodings of one of our tracks, by RID. Calls per track run one
  // after another (setParameters must not overlap on one sender).
  onLayers(d) {
    if (!d.active) return;
    this.layers[d.track] = d.active;
    const sender = this.pub?.getSenders().find((s) => s.track?.id === d.track);
    if (!sender) return;
    const prev = this.layerChain.get(d.track) ?? Promise.resolve();
    const next = prev.then(async () => {
      const p = sender.getParameters();
      let changed = false;
      for (const enc of p.encodings ?? []) {
        if (enc.rid in d.active && enc.active !== d.active[enc.rid]) {
          enc.active = d.active[enc.rid];
          changed = true;
        }
      }
      if (changed) await sender.setParameters(p);
    }).catch((e) => console.warn('layers', d.track, e));
    this.layerChain.set(d.track, next);
  }

  onMessage(msg) {
    const d = msg.data ?? {};
    switch (msg.type) {
      case 'joined':
        this.me = d;
        this.state = 'joined';
        if (d.keepalive_ms > 0) this.keepalive = setInterval(() => this.send('ping'), d.keepalive_ms);
        this.mediaReady.then(() => this.startPublishing());
        break;
      case 'offer':
        if (d.target === 'sub') this.onSubOffer(d.sdp);
        return;
      case 'answer':
        if (d.target === 'pub' && this.pub) this.onPubAnswer(d.sdp);
        return;
      case 'candidate':
        if ((d.target === 'pub' || d.target === 'sub') && d.candidate) this.addRemoteCandidate(d.target, d.candidate);
        return;
      case 'layers':
        this.onLayers(d);
        break;
      case 'speaker':
        this.speaker = d;
        break;
      case 'pong':
        return;
    }
    this.handlers.message?.(msg);
  }
}
