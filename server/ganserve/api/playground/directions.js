// Directions: the model's edit directions as sliders grouped by method (GANSpace, SeFa, class
// pairs), with a text filter and a from/to picker for class directions. Moving a slider changes
// S.edits and redraws the selected latent; syncDirectionSliders() puts the sliders back in line with
// S.edits after a selection replaces them.
import { $, S, showError } from './state.js';
import { editList } from './requests.js';
import { showCurrent } from './selection.js';

function groupOf(d) {
  if (d.method === 'ganspace') return 'GANSpace';
  if (d.method === 'sefa') return `SeFa (${d.layers})`;
  if (d.method === 'class') return 'Class pairs';
  return d.method;
}

export function onEditInput(id, value, output) {
  const inputAt = performance.now();
  if (value === 0) S.edits.delete(id); else S.edits.set(id, value);
  if (output) output.textContent = String(value);
  const row = output?.closest('.direction');
  if (row) row.classList.toggle('active', value !== 0);
  if (editList().length > S.limits.max_edits) {
    showError(new Error(`at most ${S.limits.max_edits} edits at once: reset some sliders`));
    return;
  }
  showCurrent({ inputAt });
}

export function renderDirections() {
  const box = $('directions');
  box.replaceChildren();
  const groups = new Map();
  for (const d of S.directions) {
    const g = groupOf(d);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(d);
  }
  if (!S.directions.length) box.textContent = 'This model has no directions (run `ganserve directions` on it).';
  let first = true;
  for (const [name, list] of groups) {
    const details = document.createElement('details');
    details.open = first;
    first = false;
    details.dataset.group = name;
    const summary = document.createElement('summary');
    summary.textContent = `${name} (${list.length})`;
    const grid = document.createElement('div');
    grid.className = 'direction-list';
    for (const d of list) {
      const row = document.createElement('div');
      row.className = 'direction slider';
      row.dataset.direction = d.id;
      row.dataset.search = `${d.id} ${d.label} ${name}`.toLowerCase();
      const input = document.createElement('input');
      input.type = 'range';
      input.id = `dir-${d.id}`;
      input.min = '-5'; input.max = '5'; input.step = '0.1'; input.value = '0';
      input.dataset.direction = d.id;
      const label = document.createElement('label');
      label.htmlFor = input.id;
      label.textContent = d.label;
      label.title = `${d.id}: σ ${d.sigma.toPrecision(3)}, layers ${d.layers}` +
        (d.explained_variance != null ? `, ${(100 * d.explained_variance).toFixed(1)}% of variance` : '');
      const output = document.createElement('output');
      output.htmlFor = input.id;
      output.textContent = '0';
      input.setAttribute('aria-describedby', `${input.id}-value`);
      output.id = `${input.id}-value`;
      input.addEventListener('input', () => onEditInput(d.id, Number(input.value), output));
      input.addEventListener('dblclick', () => { input.value = '0'; onEditInput(d.id, 0, output); });
      row.append(label, input, output);
      grid.append(row);
    }
    details.append(summary, grid);
    box.append(details);
  }
  filterDirections();
  // Class directions: a from/to picker over class-I-J (listed or not, the ids work for any pair).
  const names = S.info.class_names?.length ? S.info.class_names : Array.from({ length: S.info.c_dim }, (_, i) => `class ${i}`);
  const classEdit = $('class-edit');
  classEdit.hidden = !(S.info.c_dim > 1 && S.directions.some((d) => d.method === 'class'));
  for (const [id, pick] of [['class-from', 0], ['class-to', 1]]) {
    $(id).replaceChildren(...names.map((n, i) => new Option(n, String(i), false, i === pick)));
  }
  $('class-strength').value = '0';
  $('class-strength-value').textContent = '0';
}

export function classDirectionId() { return `class-${$('class-from').value}-${$('class-to').value}`; }

export function syncDirectionSliders() {
  for (const input of document.querySelectorAll('#directions input[type="range"]')) {
    const value = S.edits.get(input.dataset.direction) || 0;
    input.value = String(value);
    const output = $(`${input.id}-value`);
    if (output) output.textContent = String(value);
    input.closest('.direction').classList.toggle('active', value !== 0);
  }
  const classValue = S.edits.get(classDirectionId()) || 0;
  $('class-strength').value = String(classValue);
  $('class-strength-value').textContent = String(classValue);
}

export function filterDirections() {
  const words = $('direction-filter').value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const details of document.querySelectorAll('#directions details')) {
    let shown = 0;
    for (const row of details.querySelectorAll('.direction')) {
      const match = words.every((w) => row.dataset.search.includes(w));
      row.hidden = !match;
      shown += match;
    }
    details.hidden = shown === 0;
    if (words.length && shown) details.open = true;
  }
}
