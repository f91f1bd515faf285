// The interactive 3-D view (3Dmol.js, WebGL), a chunk of its own that structure3d.js loads
// only on a page with coordinates to show. 3Dmol.js reads SDF/MOL, MOL2, PDB, CIF/mmCIF and
// XYZ itself, draws a crystal's unit cell box and a protein as cartoon, in about half a
// megabyte (Mol* is several). Styles: stick, ball and stick, sphere (space filling), and
// cartoon for a chain of amino or nucleic acids (its ligands as sticks, water hidden). A
// crystal can show its filled unit cell: carboy's conversion (GET
// /files/{id}/convert?to=cif&cell=filled), the space group's operations applied.
import { useEffect, useRef, useState } from 'preact/hooks';
import { createViewer } from '3dmol/build/3Dmol.es6-min.js';
import { html } from './ui.js';
import { API } from './api.js';

const STYLES = {
  stick: { label: 'Stick', spec: { stick: { radius: 0.15 } } },
  ballstick: { label: 'Ball and stick', spec: { stick: { radius: 0.12 }, sphere: { scale: 0.25 } } },
  sphere: { label: 'Sphere', spec: { sphere: {} } },
  cartoon: { label: 'Cartoon', spec: null }, // per part, below
};
const WATER = ['HOH', 'WAT', 'H2O', 'DOD'];

function applyStyle(viewer, style, polymer) {
  if (style === 'cartoon' && polymer) {
    viewer.setStyle({}, { cartoon: { color: 'spectrum' } });
    viewer.setStyle({ hetflag: true, not: { resn: WATER } }, { stick: { radius: 0.2 } }); // ligands
  } else {
    viewer.setStyle({}, STYLES[style === 'cartoon' ? 'stick' : style].spec);
  }
}

// fmt: how 3Dmol reads text ('sdf', 'mol2', 'pdb', 'cif', 'xyz'); text: the record (or the
// whole file) to show.
export function Viewer3D({ file, fmt, text, index }) {
  const host = useRef(null);
  const viewer = useRef(null);
  const [info, setInfo] = useState({ atoms: 0, polymer: false, cell: false });
  const [style, setStyle] = useState(null);
  const [filled, setFilled] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [drawn, setDrawn] = useState(0);

  // (re)load the model: the record's text, or the filled cell's
  const load = (data) => {
    const v = viewer.current;
    v.clear();
    const model = v.addModel(data, fmt, { doAssembly: false, keepH: true });
    const atoms = model.selectedAtoms({}).length;
    const polymer = model.selectedAtoms({ atom: 'CA', hetflag: false }).length > 2 ||
      model.selectedAtoms({ atom: "P", hetflag: false, resn: ['A', 'C', 'G', 'U', 'DA', 'DC', 'DG', 'DT'] }).length > 2;
    const cell = fmt === 'cif' && !!model.getCrystData(); // a crystal's cell (PDB's CRYST1 is not drawn)
    if (cell) {
      v.addUnitCell(model, {
        box: { color: '#555b66' }, alabel: 'a', blabel: 'b', clabel: 'c',
        astyle: { color: '#c0392b', radius: 0.06, midpos: -1 }, bstyle: { color: '#1e8449', radius: 0.06, midpos: -1 },
        cstyle: { color: '#1f5fbf', radius: 0.06, midpos: -1 },
      });
    }
    return { atoms, polymer, cell };
  };
  const draw = (st, inf) => {
    const v = viewer.current;
    applyStyle(v, st, inf.polymer);
    v.zoomTo();
    v.render(() => setDrawn((n) => n + 1));
  };

  useEffect(() => {
    let v;
    try {
      v = createViewer(host.current, { backgroundColor: 'white', antialias: true });
      viewer.current = v;
      const inf = load(text);
      const st = inf.polymer ? 'cartoon' : fmt === 'cif' ? 'ballstick' : 'stick';
      setInfo(inf);
      setStyle(st);
      draw(st, inf);
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
    }
    return () => {
      if (!v) return;
      try { v.clear(); } catch { /* going anyway */ }
      if (v.divwatcher) v.divwatcher.disconnect();
      if (v.intwatcher) v.intwatcher.disconnect();
      viewer.current = null;
    };
  }, [text, fmt]);

  const choose = (st) => { setStyle(st); if (viewer.current) draw(st, info); };
  const reset = () => { const v = viewer.current; if (v) { v.zoomTo(); v.render(); } };
  const toggleFilled = async (on) => {
    setFilled(on);
    setBusy(true);
    setError(null);
    try {
      let data = text;
      if (on) {
        const res = await fetch(`${API}/files/${file.id}/convert?to=cif&cell=filled`, { credentials: 'same-origin' });
        const body = await res.text();
        if (!res.ok) {
          let detail = body;
          try { detail = JSON.parse(body).detail || body; } catch { /* not JSON */ }
          throw new Error(`The filled unit cell could not be made: ${detail}`);
        }
        // the same data block as the one shown, when the file has several
        const name = (text.match(/^data_(\S+)/) || [])[1];
        const blocks = body.split(/^(?=data_)/m).filter((t) => /^data_/.test(t));
        data = blocks.find((b) => name && b.startsWith('data_' + name)) || blocks[Math.min(index, blocks.length - 1)] || body;
      }
      if (!viewer.current) return;
      const inf = load(data);
      setInfo(inf);
      draw(style, inf);
    } catch (e) {
      setError(e);
      setFilled(!on);
    } finally {
      setBusy(false);
    }
  };
  // keyboard: arrows rotate, + and - zoom, 0 resets
  const key = (e) => {
    const v = viewer.current;
    if (!v) return;
    const act = {
      ArrowLeft: () => v.rotate(-15, 'y'), ArrowRight: () => v.rotate(15, 'y'),
      ArrowUp: () => v.rotate(-15, 'x'), ArrowDown: () => v.rotate(15, 'x'),
      '+': () => v.zoom(1.25), '=': () => v.zoom(1.25), '-': () => v.zoom(0.8), 0: () => v.zoomTo(),
    }[e.key];
    if (act) { e.preventDefault(); act(); v.render(); }
  };
  const styles = Object.keys(STYLES).filter((k) => k !== 'cartoon' || info.polymer);
  const what = file.name + (index ? `, record ${index + 1}` : '');
  return html`<div class="v3d">
    <div class="v3d-tools" role="toolbar" aria-label="3-D view">
      <label for="v3d-style">Style</label>
      <select id="v3d-style" value=${style || ''} onChange=${(e) => choose(e.target.value)}>
        ${styles.map((k) => html`<option value=${k}>${STYLES[k].label}</option>`)}</select>
      <button type="button" class="btn" onClick=${reset}>Reset view</button>
      ${info.cell && html`<label class="check-label"><input type="checkbox" checked=${filled} disabled=${busy}
          onChange=${(e) => toggleFilled(e.target.checked)}/> Filled unit cell</label>`}
      <span class="muted small" aria-live="polite">${busy ? 'Filling the cell…' : `${info.atoms} atoms${filled ? ' in the filled cell' : ''}`}</span>
    </div>
    ${error && html`<div class="error-box" role="alert">${error.message || String(error)}</div>`}
    <div class="v3d-stage" ref=${host} tabindex="0" role="application" aria-roledescription="3-D viewer"
      aria-label=${`3-D view of ${what}: drag or use the arrow keys to rotate, the wheel or + and − to zoom, 0 to reset`}
      data-atoms=${info.atoms} data-style=${style} data-filled=${filled ? 'true' : 'false'} data-drawn=${drawn > 0 ? 'true' : 'false'}
      onKeyDown=${key}></div>
  </div>`;
}
