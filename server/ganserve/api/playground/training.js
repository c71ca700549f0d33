// The training view: polls GET /training for the model's training log while its tab is open (from
// where it left off; a new run starts over), draws the metrics as charts and shows the sample grid of
// the chosen checkpoint.
import { ApiError, api, blobUrl, isAbort } from './api.js';
import { $, S, TRAINING_POLL_MS, showError } from './state.js';
import { modelPath } from './requests.js';
import { drawChart } from './plot.js';

const training = { controller: null, timer: null, after: 0, run: null, ticks: [], checkpoints: [], evaluation: [], model: null };
// The sample grid shown: its URL, and the object URL it was fetched into (with the API key).
const samples = { url: null, objectUrl: null };
const CHARTS = [
  ['Losses', ['loss_G', 'loss_D']],
  ['D logits', ['D_real', 'D_fake']],
  ['Augmentation', ['augment_p', 'rt']],
  ['R1 penalty', ['r1']],
  ['Speed (images/s)', ['images_per_s']],
];

export function stopTraining() {
  if (training.controller) training.controller.abort();
  clearTimeout(training.timer);
  training.controller = null;
  training.timer = null;
}

export function resetTraining() {
  stopTraining();
  Object.assign(training, { after: 0, run: null, ticks: [], checkpoints: [], evaluation: [], model: S.info?.name });
  $('training-body').hidden = true;
  $('training-status').textContent = 'Open this tab to read the model\'s training log.';
}

export async function pollTraining() {
  if ($('panel-training').hidden || !S.info) return;
  if (training.model !== S.info.name) resetTraining();
  if (!S.info.training_log) {  // GET /v1/models says whether there is a log: no 404 to probe for
    $('training-status').textContent = `${S.info.name} has no training log.`;
    $('training-body').hidden = true;
    return;
  }
  const controller = (training.controller = new AbortController());
  try {
    const log = await api(`${modelPath()}/training?after=${training.after}`, { signal: controller.signal });
    if (log.run !== training.run || log.next < training.after) {
      Object.assign(training, { ticks: [], checkpoints: [], run: log.run });
      if (training.after) { training.after = 0; training.timer = setTimeout(pollTraining, 0); return; }
    }
    for (const record of log.records) {
      if (record.event === 'tick') training.ticks.push(record);
      else if (record.event === 'checkpoint') training.checkpoints.push(record);
    }
    training.after = log.next;
    training.evaluation = log.evaluation || [];
    drawTraining(log);
  } catch (error) {
    if (isAbort(error)) return;
    if (error instanceof ApiError && error.status === 404) {
      $('training-status').textContent = `${S.info.name} has no training log.`;
      $('training-body').hidden = true;
    } else {
      showError(error);
    }
  }
  if (!$('panel-training').hidden) training.timer = setTimeout(pollTraining, TRAINING_POLL_MS);
}

function drawTraining(log) {
  $('training-body').hidden = false;
  const last = training.ticks.at(-1);
  const updated = log.updated ? new Date(log.updated * 1000).toLocaleString() : 'unknown';
  $('training-status').textContent = `Run ${log.run || ''}: ${training.ticks.length} ticks` +
    (last ? `, at ${last.kimg} kimg (loss_G ${last.loss_G}, loss_D ${last.loss_D})` : '') + `; log updated ${updated}.`;
  const charts = $('charts');
  const specs = [...CHARTS];
  if (training.evaluation.length) specs.push(['Evaluation: FD ratio', ['fd_ratio']], ['Evaluation: class accuracy', ['class_accuracy']]);
  while (charts.children.length < specs.length) charts.append(document.createElementNS('http://www.w3.org/2000/svg', 'svg'));
  while (charts.children.length > specs.length) charts.lastChild.remove();
  specs.forEach(([title, keys], i) => {
    const source = title.startsWith('Evaluation') ? training.evaluation : training.ticks;
    const series = keys.map((key) => ({ name: key, points: source.filter((r) => r[key] != null).map((r) => [r.kimg, r[key]]) }));
    const svg = charts.children[i];
    svg.dataset.chart = keys.join(',');
    drawChart(svg, title, series);
  });
  const slider = $('checkpoint');
  const atEnd = Number(slider.value) >= Number(slider.max);
  slider.max = String(Math.max(0, training.checkpoints.length - 1));
  slider.disabled = !training.checkpoints.length;
  if (atEnd) slider.value = slider.max;
  showCheckpoint();
}

export function showCheckpoint() {
  const checkpoint = training.checkpoints[Number($('checkpoint').value)];
  const img = $('samples-img');
  if (!checkpoint) {
    $('checkpoint-value').textContent = 'no checkpoints yet';
    img.hidden = true;
    return;
  }
  img.hidden = false;
  const url = checkpoint.samples_url || `${modelPath()}/training/samples/${checkpoint.samples?.split('/').pop()}`;
  if (samples.url !== url) showSamples(img, url);
  img.alt = `Samples at ${checkpoint.kimg} kimg (one row per class)`;
  $('checkpoint-value').textContent = `${checkpoint.kimg} kimg (${Number($('checkpoint').value) + 1} of ${training.checkpoints.length})`;
  $('samples-caption').textContent = `Checkpoint at ${checkpoint.kimg} kimg`;
}

async function showSamples(img, url) {
  samples.url = url;
  try {
    const objectUrl = await blobUrl(url);
    if (samples.url !== url) { URL.revokeObjectURL(objectUrl); return; } // another checkpoint was chosen meanwhile
    if (samples.objectUrl) URL.revokeObjectURL(samples.objectUrl);
    samples.objectUrl = objectUrl;
    img.src = objectUrl;
    img.dataset.url = url;
  } catch (error) {
    if (samples.url === url) samples.url = null; // shown again on the next poll, or with a key
    showError(error);
  }
}
