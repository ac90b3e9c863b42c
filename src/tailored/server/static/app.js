// The dashboard: a thin client of the REST API. The key lives in sessionStorage only.
"use strict";

const $ = (id) => document.getElementById(id);
let key = sessionStorage.getItem("tailored-key") || "";
let currentUser = null;
let usersCursor = "";
let eventsCursor = null;

function status(text) { $("status").textContent = text || ""; }

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { "Authorization": "Bearer " + key, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const msg = data && data.error ? data.error.message : res.statusText;
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return data;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
}

function fmtTime(iso) { return iso.replace("T", " ").slice(0, 16); }

async function signIn(candidate) {
  key = candidate;
  const stats = await api("GET", "/v1/stats");
  sessionStorage.setItem("tailored-key", key);
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("whoami").textContent = "tenant " + stats.tenant;
  $("tenant-stats").textContent = `${stats.users} users, ${stats.events} events`;
  usersCursor = "";
  $("users").replaceChildren();
  await loadUsers();
}

async function loadUsers() {
  const page = await api("GET", "/v1/users?limit=100&after=" + encodeURIComponent(usersCursor));
  for (const u of page.items) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#";
    a.textContent = `${u.user_id} (${u.events})`;
    a.dataset.user = u.user_id;
    a.addEventListener("click", guard(async (e) => { e.preventDefault(); await openUser(u.user_id); }));
    li.appendChild(a);
    $("users").appendChild(li);
  }
  usersCursor = page.next || "";
  $("more-users").hidden = !page.next;
}

// The REST API names a user in the URL path; ids with "/" (refused since, but possibly
// stored earlier) and the ids "." and ".." cannot travel there.
function addressable(userId) { return !userId.includes("/") && userId !== "." && userId !== ".."; }

function clearUser() {
  $("user-stats").textContent = "";
  $("profile").querySelector("tbody").replaceChildren();
  $("profile-empty").hidden = true;
  $("summary").textContent = "";
  $("hits").hidden = true;
  $("hits").querySelector("tbody").replaceChildren();
  $("recs").querySelector("tbody").replaceChildren();
  $("recs-empty").hidden = true;
  $("chat-with").textContent = "";
  $("chat-without").textContent = "";
  $("timeline").querySelector("tbody").replaceChildren();
  $("more-events").hidden = true;
}

async function openUser(userId) {
  // Nothing of the previous user may stay on screen under the new name, even if loading fails.
  currentUser = null;
  clearUser();
  $("user").hidden = true;
  for (const a of $("users").querySelectorAll("a")) a.classList.toggle("active", a.dataset.user === userId);
  if (!addressable(userId)) {
    status(`"${userId}" cannot be opened here: a user id with "/" (or "." / "..") cannot be named in a URL. ` +
      "Read, export or erase it with the CLI (tailored export / erase --user).");
    return;
  }
  currentUser = userId;
  const u = await api("GET", "/v1/users/" + encodeURIComponent(userId));
  if (currentUser !== userId) return;  // another user was opened meanwhile
  $("user-title").textContent = userId;
  $("user-stats").textContent = `${u.events} events, ${fmtTime(u.first)} to ${fmtTime(u.last)}`;
  $("user").hidden = false;
  status("");
  eventsCursor = "0";
  await loadProfile();
  await loadRecommendations("");
  await loadEvents();
}

async function loadRecommendations(ask) {
  const forUser = currentUser;
  const q = ask ? `&ask=${encodeURIComponent(ask)}` : "";
  const recs = await api("GET", userPath(`/recommendations?k=10${q}`));
  if (forUser !== currentUser) return;  // another user was opened meanwhile
  const body = $("recs").querySelector("tbody");
  body.replaceChildren();
  for (const r of recs) {
    const tr = document.createElement("tr");
    [String(r.rank), r.item.title, r.explanation, r.source].forEach((t) => cell(tr, t));
    body.appendChild(tr);
  }
  $("recs-empty").hidden = recs.length > 0;
}

function userPath(rest) { return `/v1/users/${encodeURIComponent(currentUser)}${rest}`; }

async function loadProfile() {
  const forUser = currentUser;
  let rows;
  let summaries = [];
  if ($("show-history").checked) {
    rows = await api("GET", userPath("/memories"));
  } else {
    const asOf = $("as-of").value ? "?as_of=" + encodeURIComponent(new Date($("as-of").value).toISOString()) : "";
    const p = await api("GET", userPath("/profile" + asOf));
    rows = p.preferences.concat(p.facts);
    summaries = p.summaries;
  }
  const [labelled, settings] = await Promise.all([
    api("GET", userPath("/sensitive")),
    api("GET", userPath("/sensitive/settings")),
  ]);
  if (forUser !== currentUser) return;  // another user was opened meanwhile
  const labels = new Map(labelled.map((s) => [s.memory_id, s.categories]));
  const off = new Set(settings.off);
  showSensitiveSettings(settings);
  const body = $("profile").querySelector("tbody");
  body.replaceChildren();
  for (const m of rows) {
    const tr = document.createElement("tr");
    tr.className = "memory";
    tr.dataset.id = m.id;
    const valid = fmtTime(m.valid_from).slice(0, 10) + (m.valid_to ? " .. " + fmtTime(m.valid_to).slice(0, 10) : " ..");
    const sensitive = (labels.get(m.id) || [])
      .map((c) => (off.has("all") || off.has(c) ? c + " (off)" : c)).join(", ");
    [m.text, sensitive, m.polarity || "", m.kind, m.source, valid, m.status + (m.pinned ? " (pinned)" : "")]
      .forEach((t) => cell(tr, t));
    const actions = document.createElement("td");
    if (m.status === "active") {
      actions.append(
        button("Edit", "edit", () => editMemory(tr, m)),
        button(m.pinned ? "Unpin" : "Pin", "pin", guard(async () => {
          await api("POST", userPath(`/memories/${m.id}/pin`), { pinned: !m.pinned });
          await loadProfile();
        })),
        button("Delete", "delete danger", guard(async () => {
          await api("DELETE", userPath(`/memories/${m.id}`));
          status("memory deleted");
          await loadProfile();
        })),
      );
    }
    tr.appendChild(actions);
    body.appendChild(tr);
  }
  $("profile-empty").hidden = rows.length > 0;
  $("summary").textContent = summaries.map((s) => `Summary (${s.task}): ${s.text}`).join(" ");
}

function showSensitiveSettings(settings) {
  $("sensitive-off").textContent = settings.off.length ? "off: " + settings.off.join(", ") : "none switched off";
  const choices = $("sensitive-choices");
  choices.replaceChildren();
  for (const name of settings.known) {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = name;
    box.checked = settings.off.includes(name);
    label.append(box, " " + name.replaceAll("_", " "));
    choices.appendChild(label);
  }
}

async function saveSensitiveSettings() {
  const off = [...$("sensitive-choices").querySelectorAll("input:checked")].map((b) => b.value);
  await api("PUT", userPath("/sensitive/settings"), { off });
  status("sensitive categories saved");
  await loadProfile();
}

function button(label, cls, onClick) {
  const b = document.createElement("button");
  b.textContent = label;
  b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

function editMemory(tr, m) {
  const td = tr.firstChild;
  const input = document.createElement("input");
  input.className = "memory-edit";
  input.value = m.text;
  const save = button("Save", "save", guard(async () => {
    await api("PATCH", userPath(`/memories/${m.id}`), { text: input.value });
    status("memory updated");
    await loadProfile();
  }));
  td.replaceChildren(input, save);
  input.focus();
}

async function loadEvents() {
  const forUser = currentUser;
  const path = `/v1/users/${encodeURIComponent(currentUser)}/events?limit=50&after=${eventsCursor}`;
  const page = await api("GET", path);
  if (forUser !== currentUser) return;  // another user was opened meanwhile
  const body = $("timeline").querySelector("tbody");
  for (const e of page.items) {
    const tr = document.createElement("tr");
    [String(e.id), fmtTime(e.time), e.kind, e.role || "", e.text].forEach((t) => cell(tr, t));
    body.appendChild(tr);
  }
  eventsCursor = page.next;
  $("more-events").hidden = !page.next;
}

async function search(query, mode) {
  const hits = await api("POST", `/v1/users/${encodeURIComponent(currentUser)}/search`, { query, mode, k: 10 });
  const body = $("hits").querySelector("tbody");
  body.replaceChildren();
  for (const h of hits) {
    const tr = document.createElement("tr");
    tr.className = "hit";
    [h.score.toFixed(3), h.parts.bm25.toFixed(2), h.parts.dense.toFixed(2), fmtTime(h.event.time),
      h.event.role || "", h.event.text].forEach((t) => cell(tr, t));
    body.appendChild(tr);
  }
  $("hits").hidden = false;
  status(`${hits.length} hits`);
}

async function chat(text) {
  const ask = (memory) => api("POST", "/v1/chat/completions", {
    model: "tailored", user: currentUser, messages: [{ role: "user", content: text }],
    max_tokens: 200, tailored: { memory },
  });
  $("chat-with").textContent = "…";
  $("chat-without").textContent = "…";
  const [withMem, without] = await Promise.allSettled([ask(true), ask(false)]);
  const show = (r) => r.status === "fulfilled" ? r.value.choices[0].message.content : "error: " + r.reason.message;
  $("chat-with").textContent = show(withMem);
  $("chat-without").textContent = show(without);
}

async function exportUser() {
  const data = await api("GET", `/v1/users/${encodeURIComponent(currentUser)}/export`);
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `${currentUser}.json`;
  a.click();
  status(`exported ${data.events.length} events`);
}

async function eraseUser() {
  const res = await api("DELETE", "/v1/users/" + encodeURIComponent(currentUser));
  status(`erased ${res.erased_events} events of ${res.user_id}`);
  $("user").hidden = true;
  currentUser = null;
  await signIn(key);
}

function guard(fn) {
  return async (...args) => {
    try { await fn(...args); } catch (err) {
      if (err.status === 401) { signOut(); $("signin-error").textContent = err.message; }
      else status("error: " + err.message);
    }
  };
}

function signOut() {
  sessionStorage.removeItem("tailored-key");
  key = "";
  $("app").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("whoami").textContent = "";
}

$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signin-error").textContent = "";
  try { await signIn($("key").value.trim()); } catch (err) { $("signin-error").textContent = err.message; }
});
$("signout").addEventListener("click", signOut);
$("more-users").addEventListener("click", guard(loadUsers));
$("more-events").addEventListener("click", guard(loadEvents));
$("user-filter").addEventListener("input", () => {
  const q = $("user-filter").value.toLowerCase();
  for (const li of $("users").children) li.hidden = !li.textContent.toLowerCase().includes(q);
});
$("search-form").addEventListener("submit", guard(async (e) => {
  e.preventDefault();
  await search($("query").value, $("mode").value);
}));
$("rec-form").addEventListener("submit", guard(async (e) => {
  e.preventDefault();
  await loadRecommendations($("rec-ask").value.trim());
}));
$("chat-form").addEventListener("submit", guard(async (e) => {
  e.preventDefault();
  await chat($("chat-input").value);
}));
$("export").addEventListener("click", guard(exportUser));
$("as-of").addEventListener("change", guard(loadProfile));
$("show-history").addEventListener("change", guard(loadProfile));
$("sensitive-save").addEventListener("click", guard(saveSensitiveSettings));
$("erase").addEventListener("click", () => {
  $("erase-name").textContent = currentUser;
  $("erase-confirm-input").value = "";
  $("erase-confirm").disabled = true;
  $("confirm-erase").showModal();
});
$("erase-confirm-input").addEventListener("input", () => {
  $("erase-confirm").disabled = $("erase-confirm-input").value !== currentUser;
});
$("confirm-erase").addEventListener("close", guard(async () => {
  if ($("confirm-erase").returnValue === "erase") await eraseUser();
}));

if (key) signIn(key).catch(() => signOut());
