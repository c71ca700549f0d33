// The live image under the sliders: a request scheduler for one <img> that keeps dragging smooth
// (one request in flight, at most one waiting, stale or superseded work aborted with an
// AbortController) and records each shown frame in window.__ganservePerf for the benchmark.
// fetchCurrentImage() makes the request for an entry: its stable GET URL when it has one (cacheable),
// else a POST /images.
import { blobUrl, dataUrl, isAbort } from './api.js';
import { STALE_MS, perf, showError } from './state.js';
import { renderBatch, stableUrl } from './requests.js';

// At most one request in flight and one waiting (the latest value): dragging never queues stale
// work. A newer value replaces the waiting one before it is sent; an in-flight request older than
// STALE_MS is aborted for the newest value; a change of latent aborts at once.
export class LiveImage {
  constructor(img) { this.img = img; this.inflight = null; this.pending = null; this.seq = 0; this.shownSeq = 0; this.objectUrl = null; }

  request(make, { reset = false, inputAt = performance.now() } = {}) {
    const job = { seq: ++this.seq, make, inputAt };
    perf.lastRequestedSeq = job.seq;
    if (this.inflight && (reset || performance.now() - this.inflight.startedAt > STALE_MS)) {
      this.inflight.controller.abort();
      perf.aborted++;
      this.inflight = null;
    }
    if (this.inflight) {
      if (this.pending) perf.superseded++;
      this.pending = job;
      return job.seq;
    }
    this.pending = null;
    this.start(job);
    return job.seq;
  }

  async start(job) {
    const controller = new AbortController();
    const flight = { ...job, controller, startedAt: performance.now() };
    this.inflight = flight;
    perf.requests++;
    try {
      const src = await job.make(controller.signal);
      if (controller.signal.aborted) return;
      if (job.seq > this.shownSeq) {
        this.img.src = src;
        await this.img.decode().catch(() => {});
        if (controller.signal.aborted) return;
        if (this.objectUrl && this.objectUrl !== src) URL.revokeObjectURL(this.objectUrl);
        this.objectUrl = src.startsWith('blob:') ? src : null;
        this.shownSeq = job.seq;
        perf.shownSeq = job.seq;
        const shownAt = performance.now();
        perf.drags.push({ seq: job.seq, inputAt: job.inputAt, shownAt, ms: shownAt - job.inputAt });
        this.img.dataset.seq = String(job.seq);
      }
    } catch (error) {
      if (!isAbort(error)) showError(error);
    } finally {
      if (this.inflight === flight) {
        this.inflight = null;
        const next = this.pending;
        this.pending = null;
        if (next) this.start(next);
      }
    }
  }
}

export function fetchCurrentImage(e, edits) {
  const url = stableUrl(e, edits);
  if (url) {
    return (signal) => blobUrl(url, { signal });
  }
  return async (signal) => {
    const [image] = await renderBatch([{ ref: e.ref, final: e.final, edits }], { signal });
    return dataUrl(image);
  };
}
