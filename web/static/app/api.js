// The REST client: the session (sessionStorage) and calls to /api/v1
// (docs/api.md).

const KEY = 'cau.session';

// session holds {token, kind: "user"|"point", role, name, id}.
export const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(KEY)); } catch { return null; }
  },
  set(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); },
  clear() { sessionStorage.removeItem(KEY); },
};

// ApiError is a refused call: the server's stable code, its message, and
// the extra fields some codes carry (rows of an import, reasons).
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || `http_${status}`;
    this.rows = body?.rows ?? [];
    this.reasons = body?.reasons ?? [];
  }
}

// unauthorized is called when the session's token is refused (401).
let unauthorized = () => {};
export function onUnauthorized(fn) { unauthorized = fn; }

// api calls method path (under /api/v1). body: an object (sent as JSON), or
// a File, Blob, FormData or string (sent as is, with opts.type).
export async function api(method, path, body, opts = {}) {
  const token = opts.token ?? session.get()?.token;
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  let payload;
  if (body instanceof Blob || body instanceof FormData || typeof body === 'string') {
    payload = body;
    if (opts.type) headers['Content-Type'] = opts.type;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, { method, headers, body: payload });
  } catch {
    throw new ApiError(0, { code: 'network', message: 'network error' });
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const err = new ApiError(res.status, data?.error ?? { message: text });
    if (res.status === 401 && !opts.token && path !== '/auth/login' && path !== '/auth/point') unauthorized(err);
    throw err;
  }
  return data;
}

// link is a URL for a download the browser opens itself (a link cannot
// carry the Authorization header, so the token goes in access_token).
export function link(path, token = session.get()?.token) {
  return '/api/v1' + path + (path.includes('?') ? '&' : '?') + 'access_token=' + encodeURIComponent(token ?? '');
}

// list treats a null list (docs/api.md: some empty lists) as [].
export const list = (v) => v ?? [];
