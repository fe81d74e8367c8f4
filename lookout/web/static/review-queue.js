// The review queue as the pages use it: claim the next sequence, hold the one under review
// while its page is open, skip it. One sequence, one reviewer (POST /api/review-queue/...).
import { ApiError, api } from "./api.js";

const ORDER_KEY = "lookout.queueOrder";

/** The order the queue page was showing (claims from the review page keep it), or null. */
export function chosenOrder() {
  try {
    return JSON.parse(window.sessionStorage.getItem(ORDER_KEY) || "null");
  } catch {
    return null;
  }
}

/** Remember the queue page's order for this tab (null: the project's default order). */
export function chooseOrder(order) {
  try {
    if (order) window.sessionStorage.setItem(ORDER_KEY, JSON.stringify(order));
    else window.sessionStorage.removeItem(ORDER_KEY);
  } catch {
    // Storage refused (private mode): claims use the project's default order.
  }
}

/** Where the next claimed sequence opens; null when the caller's queue is empty. */
export async function claimNext(projectId, order = chosenOrder()) {
  const body = { ...(order || {}) };
  if (projectId) body.project_id = projectId;
  const answer = await api("/api/review-queue/claim", { method: "POST", body });
  if (!answer) return null;
  const query = new URLSearchParams({ queue: "1" });
  if (projectId) query.set("project_id", projectId);
  return `/sequences/${answer.sequence.id}?${query}`;
}

/** Go to the next claimed sequence, or back to the queue saying it is empty. */
export async function openNext(projectId, queueUrl, order = chosenOrder()) {
  const url = await claimNext(projectId, order);
  window.location.assign(url || `${queueUrl}${queueUrl.includes("?") ? "&" : "?"}done=1`);
}

/**
 * Hold the sequence for this reviewer while the page is open: take or renew its claim now and
 * every third of the claim's life. `onHeldByOther(message)` is told when someone else has it.
 * Returns an async function that stops holding (without releasing) once a renewal in flight
 * has landed, so a skip or release sent after it is not undone by it.
 */
export function holdWhileOpen(sequenceId, claimSeconds, onHeldByOther) {
  let stopped = false;
  let inFlight = Promise.resolve();
  const renew = () => {
    if (stopped) return;
    inFlight = renewOnce();
  };
  const renewOnce = async () => {
    try {
      await api("/api/review-queue/renew", { method: "POST", body: { sequence_id: sequenceId } });
    } catch (error) {
      // 409: held by another reviewer, or no longer waiting (then there is nothing to hold).
      if (error instanceof ApiError && error.status === 409 && /another reviewer/.test(error.message)) {
        onHeldByOther(error.message);
      }
    }
  };
  renew();
  const timer = window.setInterval(renew, Math.max(1000, (claimSeconds * 1000) / 3));
  const onVisible = () => document.visibilityState === "visible" && renew();
  document.addEventListener("visibilitychange", onVisible);
  return async () => {
    stopped = true;
    window.clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
    await inFlight;
  };
}

/** Set the sequence aside: it leaves this reviewer's queue (their skipped list keeps it). */
export async function skip(sequenceId) {
  await api("/api/review-queue/skip", { method: "POST", body: { sequence_id: sequenceId } });
}
