// The application shell: who is signed in, the navigation bar, and the page for the
// current route.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html, Link, navigate, Notices, useLocation, Spinner } from './ui.js';
import { get, post, setUnauthorizedHandler, startEvents, stopEvents, setLinkBase, ROOT } from './api.js';
import { Login } from './login.js';
import { Browser } from './browser.js';
import { FilePage } from './file.js';
import { SearchPage } from './search.js';
import { TrashPage } from './trash.js';
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
        ${item('/trash', 'Trash', path === '/trash')}
        ${me.is_admin && item('/admin', 'Admin', path === '/admin')}
      </ul>
    </nav>
    <div class="who">
      <span class="user" title="Signed in">${me.username}</span>
      <button type="button" class="btn ghost" onClick=${onSignOut}>Sign out</button>
    </div>
  </header>`;
}

// The top bar for a visitor who is not signed in (a share link, a public folder or file):
// "Sign in" comes back to the same page afterwards.
function VisitorNav({ home }) {
  const next = location.pathname + location.search;
  return html`<header class="topbar">
    <${Link} href=${home} class="brand" aria-label="carboy home">
      <img src=${new URL('./icon.svg', import.meta.url).href} alt="" width="26" height="26"/> carboy<//>
    <div class="who">
      <span class="user">Read-only view</span>
      <${Link} href=${'/login?next=' + encodeURIComponent(next)} class="btn ghost">Sign in<//>
    </div>
  </header>`;
}

// Where "Sign in" was asked from: a path of this site only (never //host or a URL).
function nextPath(query) {
  const n = query.get('next');
  return n && n.startsWith('/') && !n.startsWith('//') && !n.startsWith('/\\') ? n : null;
}

// A share link's pages, /s/TOKEN[/folders/ID | /files/ID]: what the link shares (a folder
// or a file) decides what its root shows; everything below reads through the link.
function LinkPage({ token, rest, me }) {
  const [info, setInfo] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setInfo(null);
    setError(null);
    get(`/s/${token}/link`).then(setInfo, setError);
  }, [token]);
  if (error) return html`<div class="page"><div class="error-box" role="alert">${error.message}</div></div>`;
  if (!info) return html`<div class="page"><${Spinner}/></div>`;
  let m;
  if ((m = rest.match(/^\/folders\/([^/]+)$/))) return html`<${Browser} folderId=${m[1]} me=${me}/>`;
  if ((m = rest.match(/^\/files\/([^/]+)$/))) return html`<${FilePage} fileId=${m[1]} me=${me} link=${info}/>`;
  return info.type === 'file' ? html`<${FilePage} fileId=${info.id} me=${me} link=${info}/>`
    : html`<${Browser} folderId=${info.id} me=${me}/>`;
}

// Pages most visits never open are chunks of their own, loaded when one is opened: a
// model's page (with its plots in another, plot.js), the jobs page and the admin pages.
function Lazy({ load, name, ...props }) {
  const [mod, setMod] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => { load().then(setMod, setError); }, []);
  if (error) return html`<div class="page"><div class="error-box" role="alert">${error.message}</div></div>`;
  const Page = mod && mod[name];
  return Page ? html`<${Page} ...${props}/>` : html`<div class="page"><${Spinner}/></div>`;
}
const loadModel = () => import('./model.js');
const loadJobs = () => import('./jobs.js');
const loadAdmin = () => import('./admin.js');

function App() {
  const { path, query } = useLocation();
  const [me, setMe] = useState(undefined);
  // a share link's pages read through the link; every other page through /api/v1
  const link = path.match(/^\/s\/([^/]+)(\/.*)?$/);
  setLinkBase(link ? '/s/' + link[1] : null);
  // what a visitor who is not signed in may open: links, and public folders and files
  const visitorPage = !!link || /^\/(folders|files)\/[^/]+$/.test(path);
  const login = me === null && !visitorPage;

  useEffect(() => {
    setUnauthorizedHandler(() => { setMe(null); stopEvents(); });
    get(ROOT + '/auth/session').then((r) => setMe(r.user), () => setMe(null));
  }, []);
  useEffect(() => { if (me) startEvents(); }, [me]); // nobody signed in: no event stream
  useEffect(() => { if (login) document.title = 'Sign in · carboy'; }, [login]);

  if (me === undefined) return html`<main class="center"><${Spinner}/></main>`;
  if (login) {
    return html`<${Login} onSignedIn=${(u) => {
      setMe(u);
      const next = nextPath(query);
      if (path === '/login' || next) navigate(next || '/', true);
    }}/>
      <${Notices}/>`;
  }
  const signOut = async () => {
    try { await post(ROOT + '/auth/logout'); } catch { /* signed out either way */ }
    stopEvents();
    setMe(null);
    navigate('/login');
  };
  let page;
  let m;
  if (link) page = html`<${LinkPage} key=${link[1]} token=${link[1]} rest=${link[2] || ''} me=${me}/>`;
  else if ((m = path.match(/^\/folders\/([^/]+)$/))) page = html`<${Browser} folderId=${m[1]} me=${me}/>`;
  else if ((m = path.match(/^\/files\/([^/]+)$/))) page = html`<${FilePage} fileId=${m[1]} me=${me}/>`;
  else if ((m = path.match(/^\/models\/([^/]+)$/))) page = html`<${Lazy} key=${m[1]} load=${loadModel} name="ModelPage" modelId=${m[1]} me=${me}/>`;
  else if (path === '/search') page = html`<${SearchPage}/>`;
  else if (path === '/jobs') page = html`<${Lazy} key="jobs" load=${loadJobs} name="JobsPage" me=${me}/>`;
  else if (path === '/admin' && me.is_admin) page = html`<${Lazy} key="admin" load=${loadAdmin} name="AdminPage" me=${me}/>`;
  else if (path === '/trash') page = html`<${TrashPage} me=${me}/>`;
  else page = html`<${Browser} folderId=${null} me=${me}/>`;
  return html`<a class="skip" href="#main">Skip to content</a>
    ${me ? html`<${Nav} me=${me} path=${path} onSignOut=${signOut}/>` : html`<${VisitorNav} home=${link ? '/s/' + link[1] : '/'}/>`}
    <main id="main" tabindex="-1">${page}</main>
    ${me && html`<${Uploads}/>`}
    <${Notices}/>`;
}

render(html`<${App}/>`, document.getElementById('app'));
