// Butler console: the page script. Pages are rendered on the server; this file sends forms to the JSON API
// (with the session's CSRF token), shows problem+json errors next to their fields, keeps pages live from the
// watch API, and copies text. No inline script anywhere: the Content-Security-Policy forbids it.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

async function api(method, url, body, contentType) {
  const headers = { Accept: "application/json", "X-CSRF-Token": csrf() };
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = contentType || "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  return { ok: response.ok, status: response.status, body: json, estimate: response.headers.get("butler-estimated-cost-per-hour") };
}

function flash(message) {
  const box = document.querySelector("[data-flash]");
  if (box) { box.textContent = message; box.classList.add("shown"); }
}

// --- errors beside fields -------------------------------------------------------------------------------

function clearErrors(form) {
  form.querySelectorAll(".field-error[data-generated]").forEach((e) => e.remove());
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  const summary = form.querySelector("[data-form-errors]");
  if (summary) summary.textContent = "";
}

function fieldFor(form, path) {
  let candidate = path;
  while (candidate) {
    const found = form.querySelector(`[data-path="${CSS.escape(candidate)}"]`);
    if (found) return found;
    const cut = Math.max(candidate.lastIndexOf("."), candidate.lastIndexOf("["));
    candidate = cut > 0 ? candidate.slice(0, cut) : "";
  }
  return null;
}

function showProblem(form, problem, fallback) {
  clearErrors(form);
  const summary = form.querySelector("[data-form-errors]");
  const detail = (problem && (problem.detail || problem.title)) || fallback || "That did not work.";
  const unplaced = [];
  for (const error of (problem && problem.errors) || []) {
    const field = error.field ? fieldFor(form, error.field) : null;
    if (!field) { unplaced.push(error.field ? `${error.field}: ${error.message}` : error.message); continue; }
    const note = document.createElement("p");
    note.className = "field-error";
    note.dataset.generated = "true";
    note.id = `error-${Math.random().toString(36).slice(2)}`;
    note.textContent = error.message;
    field.setAttribute("aria-invalid", "true");
    const described = field.getAttribute("aria-describedby");
    field.setAttribute("aria-describedby", described ? `${described} ${note.id}` : note.id);
    const container = field.closest(".field") || field;
    container.appendChild(note);
  }
  if (summary) {
    summary.textContent = unplaced.length ? `${detail} ${unplaced.join("; ")}` : detail;
    summary.setAttribute("tabindex", "-1");
    summary.focus();
  }
}

// --- reading forms into JSON ------------------------------------------------------------------------------

function setPath(target, path, value) {
  const keys = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  let node = target;
  keys.forEach((key, index) => {
    const last = index === keys.length - 1;
    const nextIsIndex = !last && /^\d+$/.test(keys[index + 1]);
    if (last) node[key] = value;
    else { if (node[key] === undefined) node[key] = nextIsIndex ? [] : {}; node = node[key]; }
  });
}

function valueOf(element) {
  const kind = element.dataset.kind;
  if (kind === "checks") {
    return Array.from(element.querySelectorAll('input[type="checkbox"]:checked')).map((c) => c.value);
  }
  if (kind === "bool") return element.checked;
  // A secret is sent exactly as typed (a password may end in a space, a PEM key in its newline).
  if (kind === "raw") return element.value === "" ? undefined : element.value;
  const raw = (element.value || "").trim();
  if (kind === "number") return raw === "" ? undefined : Number(raw);
  if (kind === "lines") {
    const list = raw.split(/\r?\n|,/).map((s) => s.trim()).filter(Boolean);
    // An optional section (a profile's ingress) stays out of the body until one of its fields is filled in.
    return list.length === 0 && element.hasAttribute("data-optional") ? undefined : list;
  }
  if (kind === "labels") {
    const labels = {};
    raw.split(/\r?\n/).map((s) => s.trim()).filter(Boolean).forEach((line) => {
      const at = line.indexOf("=");
      if (at > 0) labels[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      else labels[line] = "";
    });
    return labels;
  }
  if (kind === "days") {
    if (raw === "") return undefined;
    return new Date(Date.now() + Number(raw) * 86400000).toISOString();
  }
  return raw === "" ? undefined : raw;
}

function readFields(form, skip) {
  const body = {};
  form.querySelectorAll("[data-path]").forEach((element) => {
    if (skip && skip(element)) return;
    if (element.closest("[data-template], [data-seed]")) return;
    if (element.hasAttribute("data-url-part")) return;
    const value = valueOf(element);
    if (value !== undefined) setPath(body, element.dataset.path, value);
  });
  return body;
}

// --- sign in and out --------------------------------------------------------------------------------------

// Where to go after signing in: the server already keeps only a path on this site; the browser checks again,
// so a value that resolves elsewhere (however it got here) still goes home.
function sameOrigin(next) {
  try {
    const url = new URL(next || "/", window.location.origin);
    if (url.origin === window.location.origin) return url.pathname + url.search + url.hash;
  } catch (_) { /* not a URL: go home */ }
  return "/";
}

function wireLogin() {
  const form = document.getElementById("login");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await api("POST", "/api/v1/auth/session", {
      email: form.querySelector("#email").value,
      password: form.querySelector("#password").value,
    });
    if (result.ok) window.location.assign(sameOrigin(form.dataset.next));
    else showProblem(form, result.body, "Sign-in failed.");
  });
}

function wireSignOut() {
  document.querySelectorAll("[data-sign-out]").forEach((button) => button.addEventListener("click", async () => {
    await api("DELETE", "/api/v1/auth/session");
    window.location.assign("/login");
  }));
}

// --- the environment form ---------------------------------------------------------------------------------

// Repeated fieldsets of the form: each item is a fieldset marked `item`, its inputs name their field in data-field;
// `blank` is the <template> a new one is cloned from, `prefix` starts the ids of its inputs.
const LISTS = [
  { item: "data-template", path: "spec.agents.templates", blank: "template-blank", prefix: "t",
    container: "[data-templates]", add: "[data-add-template]", remove: "[data-remove-template]" },
  { item: "data-seed", path: "spec.jenkins.seedJobs", blank: "seed-blank", prefix: "s",
    container: "[data-seeds]", add: "[data-add-seed]", remove: "[data-remove-seed]" },
];

function manifestFrom(form) {
  const manifest = { apiVersion: "butler.dev/v1alpha1", kind: "JenkinsEnvironment", ...readFields(form) };
  for (const list of LISTS) {
    const items = [];
    form.querySelectorAll(`[${list.item}]`).forEach((fieldset, index) => {
      const item = {};
      fieldset.querySelectorAll("[data-field]").forEach((input) => {
        input.dataset.path = `${list.path}[${index}].${input.dataset.field}`;
        const value = valueOf(input);
        if (value !== undefined) item[input.dataset.field] = value;
      });
      items.push(item);
    });
    setPath(manifest, list.path, items);
  }
  if (form.dataset.resourceVersion) setPath(manifest, "metadata.resourceVersion", form.dataset.resourceVersion);
  return manifest;
}

function environmentUrl(form, name, dryRun) {
  const base = `/api/v1/tenants/${encodeURIComponent(form.dataset.tenant)}/jenkinsenvironments`;
  const url = form.dataset.editing === "true" ? `${base}/${encodeURIComponent(name)}` : base;
  return dryRun ? `${url}?dryRun=All` : url;
}

function wireEnvironmentForm() {
  const form = document.getElementById("environment-form");
  if (!form) return;
  const preview = form.querySelector("[data-preview]");
  const refresh = () => { preview.textContent = JSON.stringify(manifestFrom(form), null, 2); };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();

  for (const list of LISTS) {
    const blank = document.getElementById(list.blank);
    form.querySelector(list.add)?.addEventListener("click", () => {
      const copy = blank.content.cloneNode(true);
      const index = form.querySelectorAll(`[${list.item}]`).length;
      copy.querySelectorAll("[data-field]").forEach((input) => {
        input.id = `${list.prefix}${index}-${input.dataset.field}`;
        input.previousElementSibling?.setAttribute("for", input.id);
      });
      form.querySelector(list.container).appendChild(copy);
      refresh();
    });
  }
  form.addEventListener("click", (event) => {
    const list = LISTS.find((l) => event.target.matches(l.remove));
    if (list) { event.target.closest(`[${list.item}]`).remove(); refresh(); }
  });

  const send = async (dryRun) => {
    const manifest = manifestFrom(form);
    const name = (manifest.metadata && manifest.metadata.name) || "";
    const method = form.dataset.editing === "true" ? "PUT" : "POST";
    const result = await api(method, environmentUrl(form, name, dryRun), manifest);
    if (!result.ok) {
      if (result.status === 409 && form.dataset.editing === "true") {
        showProblem(form, result.body, "Someone changed this environment since you opened it.");
        const summary = form.querySelector("[data-form-errors]");
        const reload = document.createElement("a");
        reload.href = window.location.pathname;
        reload.textContent = " Reload the latest version (your edits here are discarded).";
        summary.appendChild(reload);
      } else {
        showProblem(form, result.body);
      }
      return;
    }
    clearErrors(form);
    if (dryRun) {
      const cost = result.estimate ? ` Estimated cost at minimum capacity: ${result.estimate} per hour.` : "";
      flash(`Check passed: the API accepts this environment.${cost}`);
      return;
    }
    window.location.assign(`/t/${encodeURIComponent(form.dataset.tenant)}/environments/${encodeURIComponent(name)}`);
  };
  form.querySelector("[data-dry-run]").addEventListener("click", () => send(true));
  form.addEventListener("submit", (event) => { event.preventDefault(); send(false); });

  const yaml = document.getElementById("yaml-form");
  yaml.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = yaml.querySelector("#yaml").value;
    const name = yaml.dataset.name || (text.match(/^\s*name:\s*["']?([a-z0-9-]+)/m) || [])[1] || "";
    const method = yaml.dataset.editing === "true" ? "PUT" : "POST";
    const result = await api(method, environmentUrl(yaml, name, false), text, "application/yaml");
    if (!result.ok) { showProblem(yaml, result.body); return; }
    const stored = result.body && result.body.metadata ? result.body.metadata.name : name;
    window.location.assign(`/t/${encodeURIComponent(yaml.dataset.tenant)}/environments/${encodeURIComponent(stored)}`);
  });

  document.querySelectorAll("[data-tab]").forEach((tab) => tab.addEventListener("click", () => {
    document.querySelectorAll("[data-tab]").forEach((other) => {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.dataset.tab).hidden = !selected;
    });
    const area = document.getElementById("yaml");
    if (tab.dataset.tab === "yaml-form" && !area.value) area.value = JSON.stringify(manifestFrom(form), null, 2);
  }));
}

// --- delete -----------------------------------------------------------------------------------------------

function wireDelete() {
  const form = document.getElementById("delete-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const typed = form.querySelector("#confirm-name").value.trim();
    if (typed !== form.dataset.name) {
      showProblem(form, { detail: "The name does not match.", errors: [{ field: "confirm", message: `Type ${form.dataset.name} exactly.` }] });
      return;
    }
    const url = `/api/v1/tenants/${encodeURIComponent(form.dataset.tenant)}/jenkinsenvironments/${encodeURIComponent(form.dataset.name)}`;
    const result = await api("DELETE", url);
    if (!result.ok) { showProblem(form, result.body); return; }
    window.location.assign(`/t/${encodeURIComponent(form.dataset.tenant)}/environments/${encodeURIComponent(form.dataset.name)}`);
  });
  form.querySelector("#confirm-name").dataset.path = "confirm";
}

// --- generic API forms (members, tokens, tenants, users, profiles) ---------------------------------------

function wireApiForms() {
  // A file chosen for a form is sent as base64 in the hidden field it names.
  document.querySelectorAll("input[type=file][data-file-for]").forEach((input) => input.addEventListener("change", () => {
    const target = document.getElementById(input.dataset.fileFor);
    const file = input.files && input.files[0];
    if (!file) { target.value = ""; return; }
    const reader = new FileReader();
    reader.onload = () => { target.value = String(reader.result).replace(/^data:[^,]*,/, ""); };
    reader.readAsDataURL(file);
  }));
  document.querySelectorAll("form[data-api-form]").forEach((form) => form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let url = form.dataset.url;
    if (form.dataset.urlTemplate) {
      const part = form.querySelector("[data-url-part]");
      url = form.dataset.urlTemplate.replace("{name}", encodeURIComponent(part.value.trim()));
    }
    const result = await api(form.dataset.method || "POST", url, readFields(form));
    if (!result.ok) { showProblem(form, result.body); return; }
    clearErrors(form);
    if (form.hasAttribute("data-show-token") && result.body && result.body.token) {
      const box = document.querySelector("[data-token-once]");
      box.querySelector("#new-token").textContent = result.body.token;
      box.hidden = false;
      flash("Token created.");
      return;
    }
    if (form.hasAttribute("data-reveal") && result.body && result.body.password) {
      const box = document.querySelector("[data-revealed]");
      box.querySelector("#revealed-password").textContent = result.body.password;
      box.hidden = false;
      flash("Revealed. This is in the audit log and on the environment's timeline.");
      return;
    }
    // Values typed here (a credential's secret) are never kept: the form is emptied before the page reloads.
    if (form.hasAttribute("data-reload")) { form.reset(); window.location.reload(); return; }
    if (form.dataset.next) { window.location.assign(sameOrigin(form.dataset.next)); return; }
    flash("Saved.");
  }));
  document.querySelectorAll("[data-api-delete]").forEach((button) => button.addEventListener("click", async () => {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const result = await api("DELETE", button.dataset.apiDelete);
    if (result.ok) window.location.reload();
    else flash((result.body && result.body.detail) || "That did not work.");
  }));
}

// --- copy -------------------------------------------------------------------------------------------------

function wireCopy() {
  document.querySelectorAll("[data-copy]").forEach((button) => button.addEventListener("click", async () => {
    const text = document.getElementById(button.dataset.copy).textContent;
    try { await navigator.clipboard.writeText(text); flash("Copied."); }
    catch (_) { flash("Select the text and copy it (the browser refused)."); }
  }));
}

// --- live pages -------------------------------------------------------------------------------------------

function watchUrl(tenant, name) {
  const base = `/api/v1/tenants/${encodeURIComponent(tenant)}/jenkinsenvironments?watch=true`;
  return name ? `${base}&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}` : base;
}

function follow(url, onChange) {
  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(onChange, 300); };
  if ("EventSource" in window) {
    const source = new EventSource(url, { withCredentials: true });
    ["ADDED", "MODIFIED", "DELETED", "message"].forEach((type) => source.addEventListener(type, soon));
    source.onerror = () => { source.close(); setInterval(onChange, 5000); };
  } else {
    setInterval(onChange, 5000);
  }
}

function wireLiveEnvironment() {
  const holder = document.querySelector("[data-live-environment]");
  if (!holder) return;
  const { tenant, name } = holder.dataset;
  const panelUrl = `/t/${encodeURIComponent(tenant)}/environments/${encodeURIComponent(name)}/panel`;
  const refresh = async () => {
    const response = await fetch(panelUrl, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (response.status === 404) {
      holder.innerHTML = "";
      const gone = document.createElement("p");
      gone.className = "notice";
      gone.dataset.testid = "gone";
      gone.textContent = `${name} is deleted: everything Butler made for it is gone (a retained JENKINS_HOME stays).`;
      const back = document.createElement("a");
      back.href = `/t/${encodeURIComponent(tenant)}/environments`;
      back.textContent = " Back to the environments.";
      gone.appendChild(back);
      holder.appendChild(gone);
      document.querySelectorAll(".actions").forEach((a) => a.remove());
      return;
    }
    if (!response.ok) return;
    const html = await response.text();
    const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-panel]");
    const current = holder.querySelector("[data-panel]");
    if (fresh && current) current.replaceWith(document.importNode(fresh, true));
  };
  follow(watchUrl(tenant, name), refresh);
}

function wireLiveList() {
  const holder = document.querySelector("[data-live-list]");
  if (!holder) return;
  const refresh = async () => {
    const response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-live-list]");
    if (fresh) holder.replaceChildren(...Array.from(fresh.childNodes).map((n) => document.importNode(n, true)));
  };
  follow(watchUrl(holder.dataset.liveList), refresh);
}

document.addEventListener("DOMContentLoaded", () => {
  wireLogin();
  wireSignOut();
  wireEnvironmentForm();
  wireDelete();
  wireApiForms();
  wireCopy();
  wireLiveEnvironment();
  wireLiveList();
});
