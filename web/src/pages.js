// Pages of stacks and long documents: a multi-page TIFF's pages through a slider (with
// Previous and Next), a PDF's first pages as thumbnails, one shown larger on a click. Each
// page is GET /files/{id}/preview?page=N: drawn by the server on its first request, then
// kept, so only the pages looked at are ever drawn.
import { useEffect, useState } from 'preact/hooks';
import { html, Dialog } from './ui.js';
import { API } from './api.js';

// the server draws the first CARBOY_PREVIEW_PAGES (default 50) pages; a lower setting
// shows as a page that says it has no preview
const MAX_PAGES = 50;
const PDF_THUMBS = 8;

// The page count the ingest recorded: a TIFF's `pages`, a PDF's `page_count`; 1 if none.
export function pageCount(file) {
  const p = (file.properties || []).find((x) => (x.name === 'pages' || x.name === 'page_count') && typeof x.value === 'number');
  return p ? p.value : 1;
}

// page 1 is the preview made at ingest: the same address, so the browser's copy serves it
const pageSrc = (file, n) => `${API}/files/${file.id}/preview${n > 1 ? '?page=' + n : ''}`;

// One page's image, with what happened to it (loading, or the page had no preview).
function PageImage({ file, n, alt, ...rest }) {
  const [ended, setEnded] = useState({ src: null, state: null }); // the last image that loaded or failed
  const src = pageSrc(file, n);
  const state = ended.src === src ? ended.state : 'loading';
  return html`<div class="page-image" aria-busy=${state === 'loading' ? 'true' : 'false'}>
    <img src=${src} alt=${alt} onLoad=${() => setEnded({ src, state: 'loaded' })}
      onError=${() => setEnded({ src, state: 'failed' })} data-state=${state} ...${rest}/>
    ${state === 'failed' && html`<p class="muted small">Page ${n} has no preview.</p>`}
  </div>`;
}

// A multi-page TIFF: the slider and Previous/Next move through its pages.
export function TiffPages({ file }) {
  const count = pageCount(file), last = Math.min(count, MAX_PAGES);
  const [n, setN] = useState(1);
  const [shown, setShown] = useState(1);
  useEffect(() => { setN(1); setShown(1); }, [file.id, file.version]);
  // dragging the slider names each page at once, but asks for the one it rests on
  useEffect(() => {
    if (n === shown) return undefined;
    const t = setTimeout(() => setShown(n), 150);
    return () => clearTimeout(t);
  }, [n]);
  const go = (v) => { const k = Math.max(1, Math.min(last, v)); setN(k); setShown(k); };
  const id = 'pages-' + file.id;
  return html`<div class="tiff-pages">
    <${PageImage} file=${file} n=${shown} alt=${`Page ${shown} of ${file.name}`}/>
    <div class="page-controls">
      <button type="button" class="btn small" onClick=${() => go(n - 1)} disabled=${n <= 1}>Previous</button>
      <label for=${id}>Page</label>
      <input type="range" id=${id} min="1" max=${last} step="1" value=${n}
        aria-valuetext=${`Page ${n} of ${count}`} onInput=${(e) => setN(Number(e.target.value))}/>
      <output for=${id}>${n} / ${count}</output>
      <button type="button" class="btn small" onClick=${() => go(n + 1)} disabled=${n >= last}>Next</button>
    </div>
    ${count > last && html`<p class="muted small">The first ${last} of ${count} pages have previews.</p>`}
  </div>`;
}

// A PDF's first pages as thumbnails; a click shows one larger.
export function PdfPages({ file }) {
  const count = pageCount(file), shown = Math.min(count, PDF_THUMBS);
  const [open, setOpen] = useState(null);
  if (count < 2) return null;
  const last = Math.min(count, MAX_PAGES);
  return html`<div class="pdf-pages">
    <h3>Pages</h3>
    <p class="muted small">${count > shown ? `The first ${shown} of ${count} pages.` : `${count} pages.`}</p>
    <ul class="page-thumbs">
      ${Array.from({ length: shown }, (_, i) => i + 1).map((k) => html`<li key=${k}>
        <button type="button" class="thumb-btn" onClick=${() => setOpen(k)} aria-label=${`Show page ${k} larger`}>
          <img src=${pageSrc(file, k)} alt=${`Page ${k}`} loading="lazy"/></button>
        <span class="muted small" aria-hidden="true">${k}</span></li>`)}
    </ul>
    ${open && html`<${Dialog} title=${`Page ${open} of ${file.name}`} onClose=${() => setOpen(null)}>
      <${PageImage} file=${file} n=${open} alt=${`Page ${open}`} class="page-large"/>
      <div class="page-controls">
        <button type="button" class="btn small" onClick=${() => setOpen(open - 1)} disabled=${open <= 1}>Previous</button>
        <span class="muted">${open} / ${count}</span>
        <button type="button" class="btn small" onClick=${() => setOpen(open + 1)} disabled=${open >= last}>Next</button>
      </div>
    <//>`}
  </div>`;
}
