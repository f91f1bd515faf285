// The application shell: who is signed in, the navigation bar, and the page for the
// current route.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html, Link, navigate, Notices, useLocation, Spinner } from './ui.js';
import { get, post, setUnauthorizedHandler, startEvents, stopEvents } from './api.js';
import { Login } from './login.js';
import { Browser } from './browser.js';
import { FilePage } from './file.js';
import { SearchPage } from './search.js';
import { JobsPage } from './jobs.js';
import { AdminPage } from './admin.js';
import { Uploads } from './upload.js';
import './style.css';

function Nav({ me, path, onSignOut }) {
  const item = (href, label, active) => html`<li><${Link} href=${href}
      aria-current=${active ? 'page' : undefined}>${label}<//></li>`;
  return html`<header class="topbar">
    <${Link} href="/" class="brand" aria-label="carboy home">
      <img src=${new URL('./icon.svg', import.meta.url).href} alt="" width="26" height="26"/> carboy<//>
    <nav aria-label="Main">
      <ul>
        ${item('/', 'Files', path === '/' || path.startsWith('/folders') || path.startsWith('/files') || path.startsWith('/models'))}
        ${item('/search', 'Search', path === '/search')}
        ${item('/jobs', 'Jobs', path === '/jobs')}
        ${me.is_admin && item('/admin', 'Admin', path === '/admin')}
      </ul>
    </nav>
    <div class="who">
      <span class="user" title="Signed in">${me.username}</span>
      <button type="button" class="btn ghost" onClick=${onSignOut}>Sign out</button>
    </div>
  </header>`;
}

// A model's page is a chunk of its own (with its plots in another, plot.js): loaded when
// one is opened.
function ModelRoute({ modelId, me }) {
  const [mod, setMod] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { import('./model.js').then(setMod, setError); }, []);
  if (error) return html`<div class="page"><div class="error-box" role="alert">${error.message}</div></div>`;
  return mod ? html`<${mod.ModelPage} modelId=${modelId} me=${me}/>` : html`<div class="page"><${Spinner}/></div>`;
}

function App() {
  const { path } = useLocation();
  const [me, setMe] = useState(undefined);

  useEffect(() => {
    setUnauthorizedHandler(() => { setMe(null); stopEvents(); });
    get('/auth/session').then((r) => setMe(r.user), () => setMe(null));
  }, []);
  useEffect(() => {
    if (me) startEvents();
    document.title = me === null ? 'Sign in · carboy' : 'carboy';
  }, [me]);

  if (me === undefined) return html`<main class="center"><${Spinner}/></main>`;
  if (me === null) {
    return html`<${Login} onSignedIn=${(u) => { setMe(u); if (path === '/login') navigate('/', true); }}/>
      <${Notices}/>`;
  }
  const signOut = async () => {
    try { await post('/auth/logout'); } catch { /* signed out either way */ }
    stopEvents();
    setMe(null);
    navigate('/login');
  };
  let page;
  let m;
  if ((m = path.match(/^\/folders\/([^/]+)$/))) page = html`<${Browser} folderId=${m[1]} me=${me}/>`;
  else if ((m = path.match(/^\/files\/([^/]+)$/))) page = html`<${FilePage} fileId=${m[1]} me=${me}/>`;
  else if ((m = path.match(/^\/models\/([^/]+)$/))) page = html`<${ModelRoute} key=${m[1]} modelId=${m[1]} me=${me}/>`;
  else if (path === '/search') page = html`<${SearchPage}/>`;
  else if (path === '/jobs') page = html`<${JobsPage} me=${me}/>`;
  else if (path === '/admin' && me.is_admin) page = html`<${AdminPage} me=${me}/>`;
  else page = html`<${Browser} folderId=${null} me=${me}/>`;
  return html`<a class="skip" href="#main">Skip to content</a>
    <${Nav} me=${me} path=${path} onSignOut=${signOut}/>
    <main id="main" tabindex="-1">${page}</main>
    <${Uploads}/>
    <${Notices}/>`;
}

render(html`<${App}/>`, document.getElementById('app'));
