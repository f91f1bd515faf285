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

// The API's root; account-wide calls (session, events, trash, users) always use it.
export const ROOT = '/api/v1';
// The base of the object routes (folders, files, records) for the page shown: /api/v1, or
// /s/TOKEN on a share link's pages, which read the same objects below the link (a live
// binding: every module's `${API}/files/...` follows it). The shell sets it per route.
export let API = ROOT;
export function setLinkBase(base) { API = base || ROOT; }
export const inLink = () => API !== ROOT;
export const apiUrl = (p) => API + p;
// a route of the UI itself, below the link's pages if on one
export const pageUrl = (p) => (inLink() ? API : '') + p;
// an address the server gives (an artifact's url: /api/v1/files/...), below the link if any
export const artifactUrl = (u) => (inLink() && u.startsWith(ROOT + '/') ? API + u.slice(ROOT.length) : u);

// what a link's pages read below the link; anything else (schemas, categories, ...) is
// the server's own, at /api/v1, whatever the page
const LINKED = /^\/(files|folders|records)\//;

export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-Carboy-CSRF'] = '1';
  const init = { method, headers, credentials: 'same-origin', signal: opts.signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  // the JSON of a link's address is never kept: going back to that address in the browser
  // must show the page, which the same URL answers to a navigation
  const linked = inLink() && LINKED.test(path);
  if (path.startsWith('/s/') || linked) init.cache = 'no-store';
  const url = path.startsWith('/api/') || path.startsWith('/s/') ? path : (linked ? API : ROOT) + path;
  const res = await fetch(url, init);
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
  source = new EventSource(ROOT + '/events');
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
