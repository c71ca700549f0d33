// The selected latent: which entry is shown large (S.current, with its edits in S.edits), its
// caption, ids and stable URL, and its lineage as breadcrumbs (each step remembers the edits it was
// bred with). It owns the LiveImage that draws it. When a selection replaces S.edits wholesale, the
// hook set with onEditsReplaced() runs (the direction sliders follow), so this module needs nothing
// from the modules that build on it.
import { $, S } from './state.js';
import { currentEdits, options, stableUrl } from './requests.js';
import { LiveImage, fetchCurrentImage } from './live-image.js';

let live;
let editsReplaced = () => {};

// Called once at start-up, before anything is selected.
export function attachLiveImage(img) { live = new LiveImage(img); }
export function onEditsReplaced(fn) { editsReplaced = fn; }

export function signature() {
  const e = S.current;
  if (!e) return '';
  return JSON.stringify([S.info.name, e.ref.seed ?? e.ref.id ?? 'ws', e.ref.ws ? e.ref.ws[0][0] : 0, currentEdits(), options(e.final)]);
}

export function showCurrent({ reset = false, inputAt } = {}) {
  const e = S.current;
  if (!e) return;
  const edits = currentEdits();
  live.request(fetchCurrentImage(e, edits), { reset, inputAt });
  const editText = edits.length ? ` with ${edits.length} edit${edits.length > 1 ? 's' : ''}` : '';
  $('current-img').alt = `${e.label}${editText}`;
  $('current-caption').textContent = `${e.label}${editText}${e.final ? ' (final ws: drawn at psi 1)' : ''}`;
  $('current-seed').textContent = e.ref.seed !== undefined ? String(e.ref.seed) : '–';
  const savedId = S.savedFor?.sig === signature() ? S.savedFor.id : null;
  const baseId = e.ref.id ? `${e.ref.id}${edits.length ? ` + ${edits.length} edit${edits.length > 1 ? 's' : ''} (not saved)` : ''}` : null;
  $('current-id').textContent = savedId || baseId || 'not saved';
  const url = stableUrl(e, edits);
  $('current-url').value = url ? new URL(url, location.origin).href : '';
  $('active-edits').textContent = edits.length
    ? `Edits: ${edits.map((x) => `${x.direction} ${x.strength > 0 ? '+' : ''}${x.strength}`).join(', ')}${S.editLayers ? ` over ${S.editLayers}` : ''}`
    : 'No edits.';
  for (const button of document.querySelectorAll('#grid button')) {
    button.setAttribute('aria-current', String(e.ref.seed !== undefined && Number(button.dataset.seed) === e.ref.seed));
  }
}

export function select(e, { edits = new Map(), lineage = 'reset' } = {}) {
  if (S.lineage.length) S.lineage.at(-1).edits = new Map(S.edits); // remember the edits it was bred with
  S.current = e;
  S.edits = new Map(edits);
  if (lineage === 'reset') S.lineage = [{ entry: e, edits: new Map(edits) }];
  else if (lineage === 'push') S.lineage.push({ entry: e, edits: new Map(edits) });
  editsReplaced();
  renderBreadcrumbs();
  showCurrent({ reset: true });
}

export function renderBreadcrumbs() {
  const list = $('breadcrumbs');
  list.replaceChildren();
  S.lineage.forEach((step, i) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.setAttribute('aria-label', `Return to ${step.entry.label}`);
    if (i === S.lineage.length - 1) button.setAttribute('aria-current', 'step');
    if (step.entry.thumb) {
      const img = document.createElement('img');
      img.src = step.entry.thumb;
      img.alt = '';
      button.append(img);
    }
    button.append(step.entry.label);
    button.addEventListener('click', () => {
      S.lineage = S.lineage.slice(0, i + 1);
      const target = S.lineage[i];
      S.current = target.entry;
      S.edits = new Map(target.edits);
      editsReplaced();
      renderBreadcrumbs();
      showCurrent({ reset: true });
    });
    li.append(button);
    list.append(li);
  });
}
