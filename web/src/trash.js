// The trash: what the caller deleted, kept until its purge time, each with "Restore"
// (back where it was; the server refuses with a reason when its folder is in the trash
// too or its name is taken there). And the file page's "Delete", which puts a file there.
import { useEffect, useState } from 'preact/hooks';
import { html, Dialog, ErrorBox, Spinner, bytes, when, notify, may, FileIcon, FolderIcon } from './ui.js';
import { ROOT, get, post, del } from './api.js';

const where = (p) => (Array.isArray(p) ? p.map((x) => x.name || x).join(' / ') : p || '');

export function TrashPage() {
  const [items, setItems] = useState(null);
  const [next, setNext] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(null);
  const load = async (cursor) => {
    try {
      const page = await get(`${ROOT}/trash?limit=100` + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      setItems((xs) => (cursor && xs ? [...xs, ...page.items] : page.items));
      setNext(page.next_cursor || null);
    } catch (err) { setError(err); }
  };
  useEffect(() => { document.title = 'Trash · carboy'; load(null); }, []);
  const restore = async (it) => {
    setBusy(it.id);
    setError(null);
    try {
      await post(`${ROOT}/${it.type === 'folder' ? 'folders' : 'files'}/${it.id}/restore`);
      notify(`Restored ${it.name}${where(it.path) ? ' to ' + where(it.path) : ''}`);
      setItems((xs) => xs.filter((x) => x.id !== it.id));
    } catch (err) {
      setError(new Error(`${it.name} was not restored: ${err.message}`));
    }
    setBusy(null);
  };
  return html`<div class="page">
    <h1>Trash</h1>
    <p class="muted">Files and folders you deleted stay here until their purge date; restore puts them back where they were.</p>
    <${ErrorBox} error=${error}/>
    ${!items && !error && html`<${Spinner}/>`}
    ${items && items.length === 0 && html`<div class="empty"><p><strong>The trash is empty.</strong></p></div>`}
    ${items && items.length > 0 && html`<div class="table-wrap"><table class="files trash">
      <caption class="sr-only">Deleted files and folders</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Was in</th><th scope="col">Size</th>
        <th scope="col">Deleted</th><th scope="col">Purged on</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${items.map((it) => html`<tr key=${it.id} data-name=${it.name}>
        <td class="name"><div>${it.type === 'folder' ? html`<${FolderIcon}/>` : html`<${FileIcon} kind=${it.kind}/>`}
          <span>${it.name}</span></div></td>
        <td>${where(it.path)}</td>
        <td class="num">${it.type === 'file' ? bytes(it.size) : ''}</td>
        <td>${when(it.deleted_at)}</td>
        <td>${when(it.purge_at)}</td>
        <td class="row-actions">${(may(it, 'write') || may(it, 'delete')) && html`<button type="button" class="btn small"
          aria-label=${'Restore ' + it.name} disabled=${busy === it.id} onClick=${() => restore(it)}>Restore</button>`}</td>
      </tr>`)}</tbody>
    </table></div>`}
    ${next && html`<p><button type="button" class="btn" onClick=${() => load(next)}>More</button></p>`}
  </div>`;
}

// "Delete" on a file's page: after a confirmation, the file goes to the trash.
export function DeleteButton({ file, onDeleted }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState(null);
  const submit = async () => {
    try {
      await del(`${ROOT}/files/${file.id}`);
      notify(`Moved ${file.name} to the trash`);
      setOpen(false);
      onDeleted();
    } catch (err) { setError(err); }
  };
  return html`<button type="button" class="btn danger-outline" onClick=${() => { setError(null); setOpen(true); }}>Delete</button>
    ${open && html`<${Dialog} title="Delete" onClose=${() => setOpen(false)}>
      <p>Delete <strong>${file.name}</strong>?</p>
      <p class="muted">It goes to the trash, where you can restore it until the trash is emptied.</p>
      <${ErrorBox} error=${error}/>
      <div class="actions"><button type="button" class="btn" onClick=${() => setOpen(false)}>Cancel</button>
        <button type="button" class="btn danger" onClick=${submit} autofocus>Delete</button></div>
    <//>`}`;
}
