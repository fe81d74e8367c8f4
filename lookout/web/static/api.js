// Talking to Lookout's JSON API, and small DOM helpers shared by the pages.

export class ApiError extends Error {
  constructor(status, message, field = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
  }
}

const PREFIX = {
  0: "Connection problem",
  400: "The request was refused",
  401: "Sign-in required",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  413: "Too large",
  422: "The request was refused",
  429: "Too many requests",
};

/** Call the API; a non-2xx answer throws ApiError carrying the server's words. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json", "X-Requested-With": "lookout-ui" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "Lookout could not be reached. Check the connection and try again.");
  }
  if (!response.ok) {
    let detail = null;
    let field = null;
    try {
      const payload = await response.json();
      if (typeof payload.detail === "string") detail = payload.detail;
      else if (Array.isArray(payload.detail)) {
        detail = payload.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
      }
      field = payload.field || null;
    } catch {
      // Not JSON: fall back to the status line.
    }
    throw new ApiError(response.status, detail || `${response.status} ${response.statusText}`, field);
  }
  if (response.status === 204) return null;
  return response.json();
}

/** An error in words for the page. */
export function describe(error) {
  if (error instanceof ApiError) {
    const prefix = PREFIX[error.status] || (error.status >= 500 ? "Lookout had a problem" : "Error");
    const message = error.message.charAt(0).toUpperCase() + error.message.slice(1);
    return `${prefix}: ${message.replace(/\.$/, "")}.`;
  }
  return `Something went wrong in this page: ${error && error.message ? error.message : error}.`;
}

export function showError(element, error) {
  element.textContent = describe(error);
  element.hidden = false;
}

export function pageData() {
  const node = document.getElementById("page-data");
  return node ? JSON.parse(node.textContent) : {};
}

/** Build an element: h("a", {href: "/x", class: "y"}, "text", child). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function formatWhen(value) {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

const NAVIGATION_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"]);

/** True when a key event belongs to the focused field (typing, a select, a slider's arrows). */
export function isTyping(event) {
  const target = event.target;
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  const type = (target.getAttribute("type") || "text").toLowerCase();
  if (type === "checkbox" || type === "radio" || type === "button" || type === "submit") {
    return event.key === " ";
  }
  if (type === "range") return NAVIGATION_KEYS.has(event.key);
  return true;
}

export function helpIsOpen() {
  const dialog = document.getElementById("help");
  return Boolean(dialog && dialog.open);
}

export function flash(message, kind = "ok", ms = 3500) {
  const node = document.getElementById("flash");
  if (!node) return;
  node.className = `flash notice ${kind}`;
  node.textContent = message;
  node.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => {
    node.hidden = true;
  }, ms);
}
