// Saved latents and sharing: POST /v1/latents for the selected latent as shown, the list of this
// model's saved latents (paged, loadable, deletable), and share links: the settings and the selected
// latent in the URL's #fragment (a child's ws is saved first, so the link names an id). applyShared()
// reads such a fragment back.
import { api, dataUrl } from './api.js';
import { $, S, entry, guarded, showError, status } from './state.js';
import { currentEdits, decoded, latentBody, options, renderBatch } from './requests.js';
import { renderBreadcrumbs, select, showCurrent, signature } from './selection.js';
import { syncControls } from './settings.js';

// POST /v1/latents for an entry as shown. An unedited seed (or saved z) is kept as z, which takes no
// psi, cutoff or class (they apply when it is drawn); anything else is kept as its final w or ws.
function saveBody(e, edits, kind = null) {
  const body = { model: S.info.name, latent: latentBody(e.ref, edits), name: e.label };
  if (kind) body.kind = kind;
  const keptAsZ = !kind && !e.final && !edits.length;
  if (!keptAsZ) {
    const { psi, cutoff } = options(e.final);
    Object.assign(body, { psi, cutoff });
    if (S.info.c_dim > 0) body.class = S.cls;
  }
  return body;
}

export async function saveCurrent() {
  const e = S.current;
  if (!e) throw new Error('select a latent first');
  const saved = await api('/v1/latents', { method: 'POST', body: saveBody(e, currentEdits()) });
  S.savedFor = { sig: signature(), id: saved.id };
  showCurrent();
  status(`saved as ${saved.id} (${saved.kind})`);
  await loadSaved();
  return saved;
}

export async function loadSaved(append = false) {
  const q = new URLSearchParams({ model: S.info.name, limit: '24' });
  if (append && S.savedCursor) q.set('cursor', S.savedCursor);
  const page = await api(`/v1/latents?${q}`);
  S.savedCursor = page.next_cursor;
  $('saved-more').hidden = !page.next_cursor;
  const list = $('saved');
  if (!append) list.replaceChildren();
  const items = page.latents.map((s) => entry({ id: s.id }, s.kind !== 'z', s.name || `latent ${s.id}`, null, s.kind));
  const rows = items.map((item, i) => {
    const s = page.latents[i];
    const li = document.createElement('li');
    li.dataset.id = s.id;
    const load = document.createElement('button');
    load.type = 'button';
    load.className = 'load';
    load.setAttribute('aria-label', `Load ${item.label} (${s.id}, ${s.kind})`);
    const img = document.createElement('img');
    img.alt = '';
    const text = document.createElement('span');
    text.textContent = `${item.label} · ${s.id} · ${s.kind}`;
    load.append(img, text);
    load.addEventListener('click', () => { item.thumb = img.src; select(item); });
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Delete';
    remove.setAttribute('aria-label', `Delete saved latent ${s.id}`);
    remove.addEventListener('click', () => guarded(async () => {
      await api(`/v1/latents/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
      li.remove();
    }));
    li.append(load, remove);
    list.append(li);
    return img;
  });
  $('saved-count').textContent = `${list.children.length}${page.next_cursor ? '+' : ''} saved for ${S.info.name}`;
  if (items.length) {
    const images = await renderBatch(items.map((it) => ({ ref: it.ref, final: it.final })));
    await Promise.all(images.map((image, i) => decoded(rows[i], dataUrl(image))));
  }
}

// ---------------------------------------------------------------------------- sharing
export async function share() {
  const e = S.current;
  if (!e) throw new Error('select a latent first');
  if (e.ref.ws) { // not shareable as it is: save its ws (final, so psi 1) and go on from the id
    const saved = await api('/v1/latents', { method: 'POST', body: saveBody(e, [], 'ws') });
    e.ref = { id: saved.id };
    e.kind = saved.kind;
    renderBreadcrumbs();
    loadSaved().catch(showError);
  }
  const q = new URLSearchParams();
  q.set('m', S.info.name);
  if (e.ref.seed !== undefined) q.set('seed', String(e.ref.seed)); else q.set('id', e.ref.id);
  q.set('psi', String(S.psi));
  if (S.cutoff !== null) q.set('cutoff', String(S.cutoff));
  q.set('noise', S.noise);
  if (S.noise === 'random') q.set('ns', String(S.noiseSeed));
  if (S.cls !== null && S.info.c_dim > 0) q.set('class', S.cls);
  if (S.editLayers) q.set('layers', S.editLayers);
  for (const [direction, strength] of S.edits) if (strength) q.append('edit', `${direction}:${strength}`);
  q.set('page', String(S.page));
  q.set('spread', $('spread').value);
  const link = `${location.origin}/playground#${q}`;
  history.replaceState(null, '', `#${q}`);
  $('share-url').value = link;
  showCurrent();
  navigator.clipboard?.writeText(link).then(() => status('share link copied'), () => status('share link ready'));
  return link;
}

export function readShared() {
  const q = new URLSearchParams(location.hash.slice(1));
  return q.has('m') ? q : null;
}

export async function applyShared(q) {
  if (q.has('psi')) S.psi = Number(q.get('psi'));
  S.cutoff = q.get('cutoff') ? Number(q.get('cutoff')) : null;
  if (q.has('noise')) S.noise = q.get('noise');
  if (q.has('ns')) S.noiseSeed = Number(q.get('ns'));
  if (q.has('class')) S.cls = q.get('class');
  S.editLayers = q.get('layers') || '';
  if (q.has('page')) S.page = Number(q.get('page')) || 0;
  if (q.has('spread')) { $('spread').value = q.get('spread'); $('spread-value').textContent = q.get('spread'); }
  const edits = new Map();
  for (const item of q.getAll('edit')) {
    const [direction, strength] = item.split(':');
    if (direction && Number.isFinite(Number(strength))) edits.set(direction, Number(strength));
  }
  syncControls();
  let e = null;
  if (q.has('seed')) {
    const seed = Number(q.get('seed'));
    e = entry({ seed }, false, `seed ${seed}`);
  } else if (q.has('id')) {
    const saved = await api(`/v1/latents/${encodeURIComponent(q.get('id'))}`);
    e = entry({ id: saved.id }, saved.kind !== 'z', saved.name || `latent ${saved.id}`, null, saved.kind);
  }
  if (e) select(e, { edits });
}
