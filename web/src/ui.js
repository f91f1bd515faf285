// Shared pieces: the template tag, the router, dialogs, notices and formatting.
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

// ---- router: history API; the server answers every UI route with the entry page ----
const routeListeners = new Set();
export function navigate(path, replace = false) {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  for (const fn of routeListeners) fn();
  window.scrollTo(0, 0);
}
window.addEventListener('popstate', () => { for (const fn of routeListeners) fn(); });

export function useLocation() {
  const [, set] = useState(0);
  useEffect(() => {
    const fn = () => set((n) => n + 1);
    routeListeners.add(fn);
    return () => routeListeners.delete(fn);
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

// A link that navigates inside the page (and still works as a link: new tab, copy).
export function Link({ href, children, ...rest }) {
  const click = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${click} ...${rest}>${children}</a>`;
}

// What the caller may do with a folder or file: its "can" (read, write, share, delete);
// a server too old to say leaves every control shown, as before.
export const may = (o, right) => !o || !Array.isArray(o.can) || o.can.includes(right);

// ---- notices ----
const noticeListeners = new Set();
let noticeId = 0;
export function notify(text, kind = 'info') {
  const n = { id: ++noticeId, text, kind };
  for (const fn of noticeListeners) fn(n);
}
export function Notices() {
  const [items, setItems] = useState([]);
  useEffect(() => {
    const fn = (n) => {
      setItems((xs) => [...xs, n]);
      setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== n.id)), n.kind === 'error' ? 8000 : 4000);
    };
    noticeListeners.add(fn);
    return () => noticeListeners.delete(fn);
  }, []);
  return html`<div class="notices" role="status" aria-live="polite">
    ${items.map((n) => html`<div key=${n.id} class=${'notice ' + n.kind}>${n.text}</div>`)}
  </div>`;
}

// ---- a modal dialog on the native <dialog> element (focus trap, Escape, backdrop) ----
export function Dialog({ title, onClose, children, wide }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => { if (d && d.open) d.close(); };
  }, []);
  const id = useRef('dlg-' + Math.random().toString(36).slice(2)).current;
  return html`<dialog ref=${ref} class=${wide ? 'wide' : ''} aria-labelledby=${id}
      onCancel=${(e) => { e.preventDefault(); onClose(); }}
      onClick=${(e) => { if (e.target === ref.current) onClose(); }}>
    <div class="dialog-body">
      <header class="dialog-head">
        <h2 id=${id}>${title}</h2>
        <button type="button" class="icon-btn" aria-label="Close" onClick=${onClose}>✕</button>
      </header>
      ${children}
    </div>
  </dialog>`;
}

// ---- data loading ----
export function useAsync(fn, deps) {
  const [state, setState] = useState({ loading: true, data: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then((data) => live && setState({ loading: false, data, error: null }),
              (error) => live && setState({ loading: false, data: null, error }));
    return () => { live = false; };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error-box" role="alert">${error.message || String(error)}</div>`;
}

export function Spinner({ label = 'Loading…' }) {
  return html`<div class="spinner" role="status"><span class="spin" aria-hidden="true"></span>${label}</div>`;
}

// ---- formatting ----
export function bytes(n) {
  if (n == null) return '';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)) + ' ' + u[i];
}

export function when(t) {
  if (!t) return '';
  const d = new Date(t);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function num(v) {
  if (typeof v !== 'number') return v;
  if (Number.isInteger(v)) return String(v);
  return String(Math.abs(v) >= 1000 ? v.toFixed(1) : Number(v.toPrecision(5)));
}

// ---- icons (inline SVG, no network) ----
const KIND_COLOURS = {
  structure: '#2f7d5b', reaction: '#8a4fbf', crystal: '#2c6fb0', image: '#c0641a', pdf: '#c23b3b',
  office: '#2a5aa8', table: '#19806b', archive: '#7a6a2e', text: '#5b6272', other: '#8a8f99',
};
export function FileIcon({ kind }) {
  const c = KIND_COLOURS[kind] || KIND_COLOURS.other;
  return html`<svg class="ficon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
    <path d="M6 2h8l5 5v15H6z" fill="#fff" stroke=${c} stroke-width="1.6"/>
    <path d="M14 2v5h5" fill="none" stroke=${c} stroke-width="1.6"/>
    <rect x="8" y="12" width="9" height="5" rx="1" fill=${c}/></svg>`;
}
export function FolderIcon() {
  return html`<svg class="ficon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
    <path d="M2 6a2 2 0 0 1 2-2h5l2 2h9a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2z" fill="#f3c24f" stroke="#c99a22" stroke-width="1.2"/></svg>`;
}

export function StatusBadge({ status, error }) {
  if (!status) return null;
  return html`<span class=${'badge st-' + status} title=${error || status}>${status}</span>`;
}

export function Progress({ value, label }) {
  const pct = Math.round((value || 0) * 100);
  return html`<div class="progress" role="progressbar" aria-label=${label} aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct}>
    <div class="bar" style=${{ width: pct + '%' }}></div></div>`;
}
