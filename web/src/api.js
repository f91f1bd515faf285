// The HTTP API as the UI uses it: JSON in and out with the session cookie, the CSRF
// header on every request that changes something, problems turned into errors that
// carry the server's detail; and one shared Server-Sent Events stream.

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export const API = '/api/v1';

export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Carboy-CSRF'] = '1';
  const init = { method, headers, credentials: 'same-origin', signal: opts.signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path.startsWith('/') && !path.startsWith(API) ? API + path : path, init);
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) {
    if (res.status === 401 && !opts.quiet401) unauthorized();
    throw new ApiError(res.status, typeof data === 'object' ? data : { detail: data });
  }
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => api('PATCH', path, body);
export const put = (path, body) => api('PUT', path, body);
export const del = (path) => api('DELETE', path);

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }
function unauthorized() { onUnauthorized(); }

// ---- events: one EventSource for the page, fanned out to listeners ----
let source = null;
const listeners = new Set();

export function listen(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function startEvents() {
  if (source) return;
  source = new EventSource(API + '/events');
  for (const type of ['job', 'file']) {
    source.addEventListener(type, (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      for (const fn of listeners) fn(type, data);
    });
  }
}

export function stopEvents() {
  if (source) source.close();
  source = null;
}

window.addEventListener('pagehide', stopEvents);
