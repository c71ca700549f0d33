// Upload: an image of one's own becomes a latent. The file goes to POST .../projections as it is; the
// job's Server-Sent Events move the progress bar and show the reconstruction as it improves; when it
// succeeds, the saved latent it made is selected, to edit, mix and breed like any other.
import { api, events, isAbort } from './api.js';
import { $, S, entry, guarded, showError, status } from './state.js';
import { select } from './selection.js';
import { loadSaved } from './saved.js';

let running = null; // { id, controller } of the job this page follows

function show(data) {
  $('upload-progress').max = data.steps;
  $('upload-progress').value = data.step;
  const psnr = data.psnr !== undefined && data.psnr !== null ? `, ${data.psnr.toFixed(1)} dB` : '';
  $('upload-status').textContent = `${data.state}: step ${data.step} of ${data.steps}${psnr}`;
  if (data.preview) $('upload-preview').src = data.preview;
}

function finished() {
  running = null;
  $('upload-start').disabled = false;
  $('upload-cancel').disabled = true;
}

export async function startUpload() {
  const file = $('upload-file').files[0];
  if (!file) throw new Error('choose an image file first');
  const space = document.querySelector('input[name="upload-space"]:checked').value;
  const q = new URLSearchParams({ steps: $('upload-steps').value, space, name: file.name.slice(0, 200) });
  if (S.info.c_dim > 0 && S.cls !== null) q.set('class', S.cls);
  $('upload-target').src = URL.createObjectURL(file);
  $('upload-preview').removeAttribute('src');
  const job = await api(`/v1/models/${encodeURIComponent(S.info.name)}/projections?${q}`, { method: 'POST', content: file });
  const controller = new AbortController();
  running = { id: job.id, controller };
  $('upload-start').disabled = true;
  $('upload-cancel').disabled = false;
  show(job);
  try {
    for await (const { event, data } of events(job.events_url, { signal: controller.signal })) {
      show(data);
      if (event === 'succeeded') {
        status(`projected ${file.name}: latent ${data.latent_id} (${data.psnr.toFixed(1)} dB)`);
        select(entry({ id: data.latent_id }, true, file.name, $('upload-preview').src, space === 'w' ? 'w' : 'ws'));
        if (!$('panel-saved').hidden) loadSaved().catch(showError);
      } else if (event === 'failed') {
        throw new Error(`the projection failed: ${data.error}`);
      } else if (event === 'cancelled') {
        status('projection cancelled');
      }
    }
  } catch (error) {
    if (!isAbort(error)) throw error;
  } finally {
    finished();
  }
}

export async function cancelUpload() {
  if (!running) return;
  const { id, controller } = running;
  await api(`/v1/projections/${encodeURIComponent(id)}`, { method: 'DELETE' });
  controller.abort();
  status('projection cancelled');
}

export function wireUpload() {
  $('upload-start').addEventListener('click', () => guarded(startUpload));
  $('upload-cancel').addEventListener('click', () => guarded(cancelUpload));
}
