// Whether a file gets an interactive 3-D view, and the part of it to show: SDF/MOL records
// with 3-D coordinates (a z other than 0), MOL2, PDB, CIF (crystals, mmCIF) and XYZ. Small
// on purpose: the viewer itself (viewer3d.js, with 3Dmol.js) is a chunk of its own, loaded
// only once a page has something to show in 3-D and the browser has WebGL.
import { useEffect, useState } from 'preact/hooks';
import { html, Spinner, bytes } from './ui.js';
import { API } from './api.js';

const FORMATS = { sdf: 'sdf', sd: 'sdf', mol: 'sdf', mol2: 'mol2', pdb: 'pdb', ent: 'pdb', cif: 'cif', mmcif: 'cif', xyz: 'xyz' };
const TYPES = { 'chemical/x-mdl-sdfile': 'sdf', 'chemical/x-mdl-molfile': 'sdf', 'chemical/x-mol2': 'mol2',
  'chemical/x-pdb': 'pdb', 'chemical/x-cif': 'cif', 'chemical/x-mmcif': 'cif', 'chemical/x-xyz': 'xyz' };
const MAX = 16 * 1024 * 1024; // larger files are not fetched whole into the page

// The format 3Dmol reads the file as, or null when the file has no coordinates to show.
export function format3d(file) {
  if (!['structure', 'crystal'].includes(file.kind) || !(file.record_count > 0)) return null;
  const ext = (file.name.match(/\.([^.]+)$/) || [])[1];
  return FORMATS[(ext || '').toLowerCase()] || TYPES[file.media_type] || null;
}

// The records of a multi-record file as separate texts: SDF records end at $$$$, MOL2 ones
// start at @<TRIPOS>MOLECULE, CIF ones at data_ (only blocks with atoms are records).
export function splitRecords(text, fmt) {
  if (fmt === 'sdf') return text.split(/^\$\$\$\$[ \t]*\r?\n?/m).filter((t) => t.trim());
  if (fmt === 'mol2') return text.split(/^(?=@<TRIPOS>MOLECULE)/m).filter((t) => t.includes('@<TRIPOS>ATOM'));
  if (fmt === 'cif') {
    const blocks = text.split(/^(?=data_)/m).filter((t) => /^data_/.test(t));
    const atoms = blocks.filter((t) => /_atom_site_(fract|Cartn)_x|_atom_site\.(Cartn|fract)_x/.test(t));
    return atoms.length ? atoms : [text];
  }
  return [text];
}

// A molfile (V2000 or V3000) with a z coordinate other than 0: drawn in 3-D.
export function molIs3d(mol) {
  const lines = mol.split(/\r?\n/);
  const v3 = lines.findIndex((l) => /M {2}V30 BEGIN ATOM/.test(l));
  if (v3 >= 0) {
    for (let i = v3 + 1; i < lines.length && !/M {2}V30 END ATOM/.test(lines[i]); i++) {
      const f = lines[i].trim().split(/\s+/); // M V30 idx type x y z ...
      if (Math.abs(Number(f[6])) > 1e-4) return true;
    }
    return false;
  }
  const n = parseInt((lines[3] || '').slice(0, 3), 10) || 0;
  for (let i = 4; i < 4 + n && i < lines.length; i++) {
    if (Math.abs(parseFloat(lines[i].slice(20, 30))) > 1e-4) return true;
  }
  return false;
}

// WebGL as 3Dmol asks for it (an OffscreenCanvas's WebGL 2 when the browser has them).
export function hasWebGL() {
  try {
    if (typeof OffscreenCanvas !== 'undefined') return !!new OffscreenCanvas(1, 1).getContext('webgl2');
    const c = document.createElement('canvas');
    return !!(c.getContext('webgl2') || c.getContext('webgl'));
  } catch { return false; }
}

let webgl; // checked once per page load
let loader; // the viewer's chunk, imported once

// The 3-D card of a file's page: record is the index to show (of a multi-record SDF, MOL2 or
// CIF), block the CIF data block's name when known.
export function Structure3D({ file, record = 0, block }) {
  const fmt = format3d(file);
  const [state, setState] = useState({ text: null, error: null });
  const [mod, setMod] = useState(null);
  useEffect(() => {
    if (!fmt || file.size > MAX) return undefined;
    let live = true;
    setState({ text: null, error: null });
    fetch(`${API}/files/${file.id}/content`, { credentials: 'same-origin' })
      .then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.text(); })
      .then((text) => live && setState({ text, error: null }), (error) => live && setState({ text: null, error }));
    return () => { live = false; };
  }, [file.id, file.version, fmt]);
  const parts = state.text != null ? splitRecords(state.text, fmt) : null;
  let i = Math.min(record, parts ? parts.length - 1 : 0);
  if (parts && fmt === 'cif' && block) {
    const k = parts.findIndex((t) => t.startsWith('data_' + block + '\n') || t.startsWith('data_' + block + '\r'));
    if (k >= 0) i = k;
  }
  // an SDF or MOL file whose first record is flat has no 3-D view
  const flat = parts && fmt === 'sdf' && !molIs3d(parts[0]);
  const show = fmt && !flat && file.size <= MAX && (state.text != null || state.error);
  if (webgl === undefined && show) webgl = hasWebGL();
  useEffect(() => {
    if (!show || !webgl || mod) return;
    loader = loader || import('./viewer3d.js');
    loader.then(setMod, (error) => setState((s) => ({ ...s, error })));
  }, [show]);
  if (!fmt) return null;
  if (file.size > MAX) {
    return html`<section class="card" aria-labelledby="v3d-h"><h2 id="v3d-h">3-D view</h2>
      <p class="muted">The file is too large (${bytes(file.size)}) to show in 3-D in the browser; download it for a desktop viewer.</p></section>`;
  }
  if (!show) return null; // not read yet, or flat
  return html`<section class="card v3d-card" aria-labelledby="v3d-h">
    <h2 id="v3d-h">3-D view${parts && parts.length > 1 ? html` <span class="muted">(record ${i + 1} of ${parts.length})</span>` : ''}</h2>
    ${state.error && html`<div class="error-box" role="alert">${state.error.message || String(state.error)}</div>`}
    ${!webgl && html`<p class="muted" role="status">This browser cannot draw in 3-D (WebGL is off or unavailable here), so the
      interactive view is not shown; the depiction above and the downloads still work.</p>`}
    ${webgl && !state.error && (mod
      ? html`<${mod.Viewer3D} key=${file.id + ':' + i} file=${file} fmt=${fmt} text=${parts[i]} index=${i}/>`
      : html`<${Spinner} label="Loading the 3-D viewer…"/>`)}
  </section>`;
}
