// The file manager: a folder tree, the folder's listing with breadcrumbs, sorting,
// multi-select, new folder, rename, move, delete, share, and uploads by drag and drop.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { html, Link, Dialog, ErrorBox, Spinner, bytes, when, notify, may, FileIcon, FolderIcon, StatusBadge } from './ui.js';
import { get, post, patch, del, listen, apiUrl, pageUrl, inLink } from './api.js';
import { enqueue, droppedEntries, pickedEntries, onUploadsChange } from './upload.js';
import { ShareDialog } from './share.js';
import { CategoryPicker } from './categories.js';

async function loadFolder(id) {
  let cursor = null;
  let out = null;
  do {
    const page = await get(apiUrl(`/folders/${id}?limit=1000`) + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    if (!out) out = page;
    else { out.folders.push(...page.folders); out.files.push(...page.files); }
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

async function loadTop() {
  let cursor = null;
  const out = { folders: [], shared_files: [] };
  do {
    const page = await get('/folders?limit=1000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    out.folders.push(...page.folders);
    if (page.shared_files) out.shared_files.push(...page.shared_files);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

// ---- the tree ----
function TreeNode({ folder, depth, currentId, openPath, onPick, pickMode, version }) {
  const [open, setOpen] = useState(openPath.includes(folder.id));
  const [children, setChildren] = useState(null);
  useEffect(() => { if (openPath.includes(folder.id)) setOpen(true); }, [openPath.join()]);
  useEffect(() => {
    if (!open) return;
    loadFolder(folder.id).then((f) => setChildren(f.folders), () => setChildren([]));
  }, [open, version]);
  const current = folder.id === currentId;
  const label = html`<${FolderIcon}/><span>${folder.name}</span>`;
  return html`<li>
    <div class=${'tree-row' + (current ? ' current' : '')} style=${{ paddingLeft: depth * 14 + 4 + 'px' }}>
      <button type="button" class="caret" aria-label=${(open ? 'Collapse ' : 'Expand ') + folder.name}
        aria-expanded=${open} onClick=${() => setOpen(!open)}>${open ? '▾' : '▸'}</button>
      ${pickMode
        ? html`<button type="button" class="tree-pick" onClick=${() => onPick(folder)} aria-pressed=${current}>${label}</button>`
        : html`<${Link} href=${'/folders/' + folder.id} class="tree-link" aria-current=${current ? 'page' : undefined}>${label}<//>`}
    </div>
    ${open && children && children.length > 0 && html`<ul>
      ${children.map((c) => html`<${TreeNode} key=${c.id} folder=${c} depth=${depth + 1} currentId=${currentId}
          openPath=${openPath} onPick=${onPick} pickMode=${pickMode} version=${version}/>`)}
    </ul>`}
  </li>`;
}

export function FolderTree({ currentId, openPath = [], onPick, pickMode, version = 0, label = 'Folders' }) {
  const [top, setTop] = useState(null);
  useEffect(() => { loadTop().then((t) => setTop(t.folders), () => setTop([])); }, [version]);
  if (!top) return html`<${Spinner}/>`;
  return html`<ul class="tree" aria-label=${label}>
    ${top.map((f) => html`<${TreeNode} key=${f.id} folder=${f} depth=${0} currentId=${currentId}
        openPath=${openPath} onPick=${onPick} pickMode=${pickMode} version=${version}/>`)}
  </ul>`;
}

// ---- dialogs ----
function NameDialog({ title, initial = '', action, onDone, onClose }) {
  const [name, setName] = useState(initial);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try { await action(name.trim()); onDone(); } catch (err) { setError(err); }
  };
  return html`<${Dialog} title=${title} onClose=${onClose}>
    <form onSubmit=${submit}>
      <label for="name-input">Name</label>
      <input id="name-input" value=${name} required maxlength="255" autofocus
        onInput=${(e) => setName(e.target.value)}
        onFocus=${(e) => { const v = e.target.value; const dot = v.lastIndexOf('.'); e.target.setSelectionRange(0, dot > 0 ? dot : v.length); }}/>
      <${ErrorBox} error=${error}/>
      <div class="actions"><button type="button" class="btn" onClick=${onClose}>Cancel</button>
        <button type="submit" class="btn primary">${title}</button></div>
    </form>
  <//>`;
}

function MoveDialog({ items, onDone, onClose }) {
  const [target, setTarget] = useState(null); // {id, name} or {id: null} for the top level
  const [error, setError] = useState(null);
  const onlyFolders = items.every((i) => i.type === 'folder');
  const submit = async () => {
    try {
      for (const it of items) {
        if (it.type === 'folder') await patch('/folders/' + it.id, { parent_id: target.id });
        else await patch('/files/' + it.id, { folder_id: target.id });
      }
      notify(`Moved ${items.length} item${items.length > 1 ? 's' : ''} to ${target.name || 'the top level'}`);
      onDone();
    } catch (err) { setError(err); }
  };
  return html`<${Dialog} title=${'Move ' + (items.length === 1 ? items[0].name : items.length + ' items')} onClose=${onClose}>
    <p class="muted">Choose the destination folder.</p>
    <div class="picker">
      ${onlyFolders && html`<button type="button" class=${'tree-pick top' + (target && target.id === null ? ' chosen' : '')}
          aria-pressed=${!!target && target.id === null} onClick=${() => setTarget({ id: null, name: '' })}>Top level</button>`}
      <${FolderTree} pickMode=${true} currentId=${target && target.id} onPick=${(f) => setTarget(f)} label="Destination"/>
    </div>
    ${target && html`<p>Destination: <strong>${target.name || 'top level'}</strong></p>`}
    <${ErrorBox} error=${error}/>
    <div class="actions"><button type="button" class="btn" onClick=${onClose}>Cancel</button>
      <button type="button" class="btn primary" disabled=${!target} onClick=${submit}>Move here</button></div>
  <//>`;
}

function DeleteDialog({ items, onDone, onClose }) {
  const [error, setError] = useState(null);
  const submit = async () => {
    try {
      for (const it of items) await del((it.type === 'folder' ? '/folders/' : '/files/') + it.id);
      notify(`Moved ${items.length === 1 ? items[0].name : items.length + ' items'} to the trash`);
      onDone();
    } catch (err) { setError(err); }
  };
  return html`<${Dialog} title="Delete" onClose=${onClose}>
    <p>Delete ${items.length === 1 ? html`<strong>${items[0].name}</strong>` : `${items.length} items`}${items.some((i) => i.type === 'folder') ? ' and everything inside' : ''}?</p>
    <p class="muted">${items.length === 1 ? 'It goes' : 'They go'} to the trash, where you can restore ${items.length === 1 ? 'it' : 'them'} until the trash is emptied.</p>
    <${ErrorBox} error=${error}/>
    <div class="actions"><button type="button" class="btn" onClick=${onClose}>Cancel</button>
      <button type="button" class="btn danger" onClick=${submit} autofocus>Delete</button></div>
  <//>`;
}

// ---- the listing ----
const COLUMNS = [
  { key: 'name', label: 'Name' }, { key: 'kind', label: 'Kind' }, { key: 'size', label: 'Size' },
  { key: 'updated_at', label: 'Modified' }, { key: 'status', label: 'Status' },
];

function sortRows(rows, { key, dir }) {
  const m = dir === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => {
    if (a.type !== b.type) return a.type === 'folder' ? -1 : 1; // folders first
    const x = a[key] ?? '';
    const y = b[key] ?? '';
    if (typeof x === 'number' && typeof y === 'number') return (x - y) * m;
    return String(x).localeCompare(String(y), undefined, { numeric: true, sensitivity: 'base' }) * m;
  });
}

export function Browser({ folderId, me }) {
  const tree = !!me && !inLink(); // the tree lists the caller's own folders: not for a visitor or a link
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [version, setVersion] = useState(0);
  const [sort, setSort] = useState({ key: 'name', dir: 'asc' });
  const [selected, setSelected] = useState(new Set());
  const [dialog, setDialog] = useState(null);
  const [dragging, setDragging] = useState(false);
  const lastClicked = useRef(null);
  const fileInput = useRef(null);
  const dirInput = useRef(null);
  const reload = () => setVersion((v) => v + 1);

  useEffect(() => { setSelected(new Set()); setData(null); }, [folderId]);
  useEffect(() => {
    let live = true;
    (folderId ? loadFolder(folderId) : loadTop()).then((d) => { if (live) { setData(d); setError(null); } },
      (e) => { if (live) setError(e); });
    return () => { live = false; };
  }, [folderId, version]);
  // live status of the files shown, and new files arriving from uploads
  useEffect(() => listen((type, ev) => {
    if (type !== 'file') return;
    setData((d) => d && d.files ? { ...d, files: d.files.map((f) => f.id === ev.id ? { ...f, status: ev.status, error: ev.error } : f) } : d);
  }), []);
  useEffect(() => {
    let known = 0;
    return onUploadsChange((list) => {
      const done = list.filter((i) => i.state === 'done').length;
      if (done !== known) { known = done; reload(); }
    });
  }, []);

  const rows = useMemo(() => {
    if (!data) return [];
    const folders = (data.folders || []).map((f) => ({ ...f, type: 'folder', kind: 'folder', size: null, status: null }));
    const files = (folderId ? data.files : data.shared_files || []).map((f) => ({ ...f, type: 'file' }));
    return sortRows([...folders, ...files], sort);
  }, [data, sort]);
  const chosen = rows.filter((r) => selected.has(r.id));
  // The controls follow the caller's rights ("can"): a control shows when the folder or
  // an item in it allows it, and acts only on a selection that does.
  const writable = !!me && !!data && !!folderId && may(data, 'write');
  const any = (right) => !!me && !!data && ((!!folderId && may(data, right)) || rows.some((r) => may(r, right)));
  const all = (right) => chosen.length > 0 && chosen.every((r) => may(r, right));
  const canNew = !!me && !!data && (!folderId || writable);
  const [canEdit, canShare, canDelete] = [any('write'), any('share'), any('delete')];
  const selectable = canEdit || canShare || canDelete;
  const shareOk = chosen.length === 1 ? may(chosen[0], 'share') : chosen.length === 0 && !!folderId && may(data, 'share');

  useEffect(() => {
    document.title = (folderId && data && data.name ? data.name : 'Files') + ' · carboy';
  }, [data, folderId]);

  const toggle = (row, e) => {
    const next = new Set(selected);
    if (e && e.shiftKey && lastClicked.current) {
      const ids = rows.map((r) => r.id);
      const [a, b] = [ids.indexOf(lastClicked.current), ids.indexOf(row.id)].sort((p, q) => p - q);
      for (let i = a; i <= b; i++) next.add(ids[i]);
    } else if (next.has(row.id)) next.delete(row.id);
    else next.add(row.id);
    lastClicked.current = row.id;
    setSelected(next);
  };
  const allChecked = rows.length > 0 && chosen.length === rows.length;

  const upload = (entries) => {
    if (!folderId) { notify('Open a folder to upload into it', 'error'); return; }
    if (!writable) { notify('You may not add files to this folder', 'error'); return; }
    if (entries.length) enqueue(folderId, entries);
  };
  const onDrop = (e) => {
    e.preventDefault();
    setDragging(false);
    droppedEntries(e.dataTransfer).then(upload, (err) => notify(err.message, 'error'));
  };
  const onKey = (e) => {
    if (e.target.tagName === 'INPUT' && e.target.type !== 'checkbox') return;
    if (e.key === 'Delete' && all('delete')) { e.preventDefault(); setDialog('delete'); }
    if (e.key === 'F2' && chosen.length === 1 && all('write')) { e.preventDefault(); setDialog('rename'); }
    if (e.key === 'a' && (e.ctrlKey || e.metaKey) && selectable) { e.preventDefault(); setSelected(new Set(rows.map((r) => r.id))); }
  };
  const close = () => setDialog(null);
  const doneAndReload = () => { setDialog(null); setSelected(new Set()); reload(); };
  const openPath = data && data.path ? data.path.map((p) => p.id) : [];

  const th = (c) => {
    const active = sort.key === c.key;
    return html`<th scope="col" aria-sort=${active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick=${() => setSort({ key: c.key, dir: active && sort.dir === 'asc' ? 'desc' : 'asc' })}>
        ${c.label}${active ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''}</button></th>`;
  };

  return html`<div class=${'browser' + (tree ? '' : ' no-tree')}>
    ${tree && html`<nav class="sidebar" aria-label="Folder tree">
      <h2 class="side-title"><${Link} href="/">All folders<//></h2>
      <${FolderTree} currentId=${folderId} openPath=${openPath} version=${version}/>
    </nav>`}
    <section class=${'listing' + (dragging ? ' dragging' : '')} aria-label="Folder contents"
        onDragOver=${(e) => { e.preventDefault(); if (writable) setDragging(true); }}
        onDragLeave=${(e) => { if (!e.currentTarget.contains(e.relatedTarget)) setDragging(false); }}
        onDrop=${onDrop} onKeyDown=${onKey} data-testid="dropzone">
      <nav class="crumbs" aria-label="Breadcrumbs"><ol>
        ${tree && html`<li><${Link} href="/">Home<//></li>`}
        ${data && data.path && data.path.map((p, i) => html`<li key=${p.id}>${i === data.path.length - 1
          ? html`<span aria-current="page">${p.name}</span>` : html`<${Link} href=${pageUrl('/folders/' + p.id)}>${p.name}<//>`}</li>`)}
      </ol></nav>
      ${data && !may(data, 'write') && folderId && html`<p class="muted small read-only-note">${inLink()
        ? 'Shared with you by a link: you can open, preview and download what is here.'
        : me ? 'You can read this folder but not change it.' : 'A public folder: you can open, preview and download what is here.'}</p>`}
      <div class="toolbar" role="toolbar" aria-label="Folder actions">
        ${canNew && html`<button type="button" class="btn primary" onClick=${() => setDialog('new')}>New folder</button>`}
        ${writable && html`
          <button type="button" class="btn" onClick=${() => fileInput.current.click()}>Upload files</button>
          <button type="button" class="btn" onClick=${() => dirInput.current.click()}>Upload folder</button>
          <input ref=${fileInput} type="file" multiple hidden aria-label="Files to upload" data-testid="file-input"
            onChange=${(e) => { upload(pickedEntries(e.target.files)); e.target.value = ''; }}/>
          <input ref=${dirInput} type="file" webkitdirectory multiple hidden aria-label="Folder to upload" data-testid="dir-input"
            onChange=${(e) => { upload(pickedEntries(e.target.files)); e.target.value = ''; }}/>`}
        ${canNew && selectable && html`<span class="sep"></span>`}
        ${canEdit && html`<button type="button" class="btn" disabled=${chosen.length !== 1 || !all('write')} onClick=${() => setDialog('rename')}>Rename</button>
          <button type="button" class="btn" disabled=${!all('write')} onClick=${() => setDialog('move')}>Move</button>`}
        ${canShare && html`<button type="button" class="btn" disabled=${!shareOk} onClick=${() => setDialog('share')}>Share</button>`}
        ${canDelete && html`<button type="button" class="btn danger-outline" disabled=${!all('delete')} onClick=${() => setDialog('delete')}>Delete</button>`}
        ${folderId && html`<a class="btn ghost" href=${apiUrl('/folders/' + folderId + '/archive')} download>Download zip</a>`}
        ${chosen.length > 0 && html`<span class="muted selcount" aria-live="polite">${chosen.length} selected</span>`}
      </div>
      ${folderId && data && html`<${CategoryPicker} type="folder" obj=${data} compact
        onSaved=${(f) => setData((d) => ({ ...d, categories: f.categories }))}/>`}
      <${ErrorBox} error=${error && !me && !inLink() && error.status === 404
        ? new Error('This folder is not public, or does not exist. Sign in if it was shared with you.') : error}/>
      ${!data && !error && html`<${Spinner}/>`}
      ${data && html`<table class="files">
        <caption class="sr-only">${folderId ? 'Contents of ' + data.name : 'Your folders and what is shared with you'}</caption>
        <thead><tr>
          ${selectable && html`<th scope="col" class="check"><input type="checkbox" aria-label="Select all" checked=${allChecked}
            onChange=${() => setSelected(allChecked ? new Set() : new Set(rows.map((r) => r.id)))}/></th>`}
          ${COLUMNS.map(th)}
        </tr></thead>
        <tbody>
          ${rows.map((r) => html`<tr key=${r.id} class=${selected.has(r.id) ? 'selected' : ''} data-name=${r.name}>
            ${selectable && html`<td class="check"><input type="checkbox" aria-label=${'Select ' + r.name} checked=${selected.has(r.id)}
              onClick=${(e) => toggle(r, e)}/></td>`}
            <td class="name"><div>${r.type === 'folder' ? html`<${FolderIcon}/>` : html`<${FileIcon} kind=${r.kind}/>`}
              <${Link} href=${pageUrl((r.type === 'folder' ? '/folders/' : '/files/') + r.id)}>${r.name}<//>
              ${!folderId && me && r.owner && r.owner.id !== me.id && html`<span class="muted small"> shared by ${r.owner.username}</span>`}</div></td>
            <td>${r.type === 'folder' ? 'Folder' : r.kind}</td>
            <td class="num">${r.type === 'file' ? bytes(r.size) : ''}</td>
            <td>${when(r.updated_at)}</td>
            <td>${r.type === 'file' && html`<${StatusBadge} status=${r.status} error=${r.error}/>`}</td>
          </tr>`)}
        </tbody>
      </table>
      ${rows.length === 0 && html`<div class="empty">${folderId
        ? html`<p><strong>This folder is empty.</strong></p>${writable && html`<p>Drop files or folders here, or use “Upload files”.</p>`}`
        : html`<p><strong>No folders yet.</strong></p><p>Create a folder to start depositing data.</p>`}</div>`}
      ${writable && rows.length > 0 && html`<p class="drop-hint muted">Drop files or whole folders anywhere here to upload them.</p>`}`}
    </section>
    ${dialog === 'new' && html`<${NameDialog} title="New folder" action=${(name) => post('/folders', folderId ? { name, parent_id: folderId } : { name })}
        onDone=${() => { notify('Folder created'); doneAndReload(); }} onClose=${close}/>`}
    ${dialog === 'rename' && chosen.length === 1 && html`<${NameDialog} title="Rename" initial=${chosen[0].name}
        action=${(name) => patch((chosen[0].type === 'folder' ? '/folders/' : '/files/') + chosen[0].id, { name })}
        onDone=${() => { notify('Renamed'); doneAndReload(); }} onClose=${close}/>`}
    ${dialog === 'move' && html`<${MoveDialog} items=${chosen} onDone=${doneAndReload} onClose=${close}/>`}
    ${dialog === 'delete' && html`<${DeleteDialog} items=${chosen} onDone=${doneAndReload} onClose=${close}/>`}
    ${dialog === 'share' && html`<${ShareDialog} type=${chosen.length === 1 ? chosen[0].type : 'folder'}
        id=${chosen.length === 1 ? chosen[0].id : folderId} name=${chosen.length === 1 ? chosen[0].name : data && data.name}
        onClose=${close}/>`}
  </div>`;
}
