// The molecule editor (OpenChemLib's canvas editor), in its own chunk: loaded only when
// someone draws a structure (on the search page, or to predict on a model's page).
import { CanvasEditor, Molecule } from 'openchemlib';

export function createEditor(element, smiles, onChange) {
  const editor = new CanvasEditor(element, { initialMode: 'molecule' });
  const set = (s) => {
    try { editor.setMolecule(s ? Molecule.fromSmiles(s) : new Molecule(0, 0)); } catch { /* not (yet) valid */ }
  };
  if (smiles) set(smiles);
  editor.setOnChangeListener((ev) => {
    if (!ev.isUserEvent) return;
    const mol = editor.getMolecule();
    onChange(mol.getAllAtoms() ? mol.toSmiles() : '');
  });
  return { set, destroy: () => editor.destroy(), editor };
}
