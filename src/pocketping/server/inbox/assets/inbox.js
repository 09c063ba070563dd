// The PocketPing inbox page. Plain browser JavaScript, no framework, no build step.
// Every text a visitor or an operator wrote goes into the page with textContent, never as HTML.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const T = JSON.parse($("inbox-strings").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const fmt = (key, vars) => T[key].replace(/\{(\w+)\}/g, (_, k) => String(vars[k]));
  const SOURCES = { telegram: "Telegram", discord: "Discord", slack: "Slack", api: "API", inbox: "Inbox" };
  const TYPING_SHOWN_MS = 6000;

  const convs = new Map(); // session id -> conversation summary
  const me = { id: null, team: [], projects: [] }; // who is signed in, and whom to assign to
  const cursors = { closed: null };
  let open = null; // { id, lastSeq, items: Map(seq -> li), loading }
  let ws = null;
  let wsAttempt = 0;
  let typingTimer = 0;
  let typingSentAt = 0;

  // --- HTTP ---------------------------------------------------------------------------
  async function api(method, path, body) {
    const headers = { "X-CSRF-Token": csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch("/inbox/api" + path, {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) { location.reload(); throw new Error("signed out"); }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
    return data;
  }

  // --- small DOM helpers ---------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v; else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function safeUrl(value) {
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) { return null; }
  }

  function when(iso) {
    const d = new Date(iso);
    const sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }

  function pagePath(url) {
    const safe = url && safeUrl(url);
    if (!safe) return url || "";
    const u = new URL(safe);
    return u.host + (u.pathname === "/" ? "" : u.pathname);
  }

  // --- the conversation list -------------------------------------------------------------
  function upsert(session, extra) {
    const prev = convs.get(session.id) || { unread: 0, lastMessage: null };
    const next = Object.assign({}, prev, session, extra || {});
    convs.set(session.id, next);
    return next;
  }

  // The view (open / closed / mine / unassigned), the project and the order chosen above the list.
  function inView(c) {
    const view = $("view").value;
    const project = $("project-filter").value;
    if (project && c.projectId !== project) return false;
    if (view === "closed") return c.status === "closed";
    if (c.status !== "active") return false;
    if (view === "mine") return c.assigneeId === me.id;
    if (view === "unassigned") return !c.assigneeId;
    return true;
  }

  const byActivity = (a, b) => (b.lastActivity > a.lastActivity ? 1 : b.lastActivity < a.lastActivity ? -1 : 0)
    || (b.id > a.id ? 1 : -1);
  const byWaiting = (a, b) => (a.waitingSince ? 0 : 1) - (b.waitingSince ? 0 : 1)
    || (a.waitingSince && b.waitingSince && a.waitingSince !== b.waitingSince
      ? (a.waitingSince < b.waitingSince ? -1 : 1) : 0)
    || byActivity(a, b);

  function sorted() {
    return [...convs.values()].sort((a, b) =>
      (a.status === b.status ? 0 : a.status === "active" ? -1 : 1)
      || ($("sort").value === "waiting" ? byWaiting(a, b) : byActivity(a, b)));
  }

  function teammate(id) {
    return me.team.find((t) => t.id === id);
  }

  function renderItem(c) {
    const descId = "d-" + c.id;
    const link = el("a", { href: "#" + c.id, "aria-describedby": descId,
      "aria-current": open && open.id === c.id ? "page" : null }, c.label);
    const last = c.lastMessage;
    const preview = last ? (last.sender === "visitor" ? "" : senderName(last) + ": ") + (last.text || "") : "";
    const desc = el("p", { id: descId, class: "desc" },
      c.unread > 0 ? el("span", { class: "badge" }, fmt("unread", { n: c.unread })) : null,
      c.status === "closed" ? el("span", { class: "tag" }, T.closed) : null,
      unverified(c) ? el("span", { class: "tag unverified" }, T.unverified) : null,
      c.assigneeId ? el("span", { class: "tag assignee" },
        fmt("assigneeLabel", { name: c.assigneeId === me.id ? T.me : (teammate(c.assigneeId) || {}).name || "?" }))
        : null,
      c.status === "active" && c.waitingSince
        ? el("span", { class: "waiting" }, fmt("waiting", { time: when(c.waitingSince) })) : null,
      el("span", { class: "preview", dir: "auto" }, preview),
      el("span", { class: "meta" }, [c.projectName, pagePath(c.metadata && c.metadata.url)]
        .filter(Boolean).join(" · ")));
    return el("li", { class: "conv" + (c.unread > 0 ? " unread" : "") + (c.status === "closed" ? " closed" : ""),
      "data-id": c.id }, link, desc);
  }

  function renderList() {
    if (open && convs.has(open.id)) renderAssignee(convs.get(open.id));
    const list = $("conversations");
    const focusedId = document.activeElement && document.activeElement.closest("#conversations li")
      ? document.activeElement.closest("li").dataset.id : null;
    // A row that reads the same stays the same element, and an unchanged list is left alone:
    // a click (or hover, or a screen reader's place) on a row survives frames about others.
    const items = sorted().filter(inView).map((c) => {
      const fresh = renderItem(c);
      const old = list.querySelector(`li[data-id="${CSS.escape(c.id)}"]`);
      return old && old.isEqualNode(fresh) ? old : fresh;
    });
    const current = [...list.children];
    if (items.length !== current.length || items.some((item, i) => item !== current[i])) list.replaceChildren(...items);
    $("list-empty").hidden = items.length > 0;
    $("list-empty").textContent = convs.size ? T.noMatch : T.noConversations;
    $("more").hidden = !cursors.closed;
    if (focusedId) {
      const again = list.querySelector(`li[data-id="${CSS.escape(focusedId)}"] a`);
      if (again) again.focus();
    }
    const unread = sorted().reduce((n, c) => n + (c.unread > 0 ? 1 : 0), 0);
    document.title = (unread ? `(${unread}) ` : "") + T.inbox + " · PocketPing";
  }

  async function loadPage(status, cursor) {
    const q = new URLSearchParams({ status, limit: "100" });
    if (cursor) q.set("cursor", cursor);
    const data = await api("GET", "/conversations?" + q);
    for (const c of data.conversations) upsert(c);
    return data.nextCursor;
  }

  async function loadList() {
    let cursor = null;
    let pages = 0;
    do { cursor = await loadPage("active", cursor); pages += 1; } while (cursor && pages < 20);
    cursors.closed = await loadPage("closed", null);
    renderList();
  }

  // --- one conversation ----------------------------------------------------------------
  function senderName(m) {
    if (m.sender === "visitor") {
      const c = convs.get(m.sessionId);
      return c ? c.label : T.visitor;
    }
    if (m.sender === "ai") return T.aiSender;
    const name = m.operatorName || T.inbox;
    return m.source && m.source !== "inbox" && SOURCES[m.source]
      ? fmt("via", { name, source: SOURCES[m.source] }) : name;
  }

  function renderMessage(m) {
    if (m.kind === "notice") {
      return el("li", { class: "notice", "data-seq": m.seq }, el("span", {}, m.text),
        " ", el("time", { datetime: m.createdAt }, when(m.createdAt)));
    }
    if (m.kind === "event") {
      return el("li", { class: "notice event", "data-seq": m.seq }, el("span", {}, fmt("event", { name: m.name })),
        " ", el("code", {}, JSON.stringify(m.data || {})), " ", el("time", { datetime: m.createdAt }, when(m.createdAt)));
    }
    const deleted = Boolean(m.deletedAt);
    const note = m.kind === "note";
    // An operator's reply can be edited or deleted in place (the widget and every chat app copy follow).
    let edit = null;
    let remove = null;
    if (m.sender === "operator" && !note && !deleted) {
      edit = el("button", { type: "button", class: "edit" }, T.edit);
      edit.addEventListener("click", () => editMessage(m));
      remove = el("button", { type: "button", class: "edit delete" }, T.delete);
      remove.addEventListener("click", () => deleteMessage(m));
    }
    return el("li", { class: "msg " + m.sender + (note ? " note" : ""), "data-seq": m.seq, "data-id": m.id },
      el("p", { class: "who" }, senderName(m), note ? el("span", { class: "tag" }, T.noteTag) : null,
        " ", el("time", { datetime: m.createdAt }, when(m.createdAt)),
        m.editedAt && !deleted ? el("span", { class: "tag" }, T.edited) : null, edit ? " " : null, edit,
        remove ? " " : null, remove),
      el("p", { class: "text" + (deleted ? " deleted" : ""), dir: "auto" }, deleted ? T.deleted : m.text),
      deleted ? null : renderFiles(m.attachments || []));
  }

  async function editMessage(m) {
    const text = window.prompt(T.editPrompt, m.text);
    if (text === null || text === m.text || !open) return;
    try {
      await api("PATCH", `/conversations/${encodeURIComponent(open.id)}/messages/${encodeURIComponent(m.id)}`,
        { text });
    } catch (err) { window.alert(fmt("failed", { reason: err.message })); }
  }

  async function deleteMessage(m) {
    if (!open || !window.confirm(T.deletePrompt)) return;
    try {
      await api("DELETE", `/conversations/${encodeURIComponent(open.id)}/messages/${encodeURIComponent(m.id)}`);
    } catch (err) { window.alert(fmt("failed", { reason: err.message })); }
  }

  // Images inline (they open in full), other files as a link with their name and size.
  function renderFiles(files) {
    if (!files.length) return null;
    return el("ul", { class: "files" }, ...files.map((f) => {
      const url = f.url.startsWith("/files/") ? f.url : "#";
      const image = /^image\/(png|jpeg|gif|webp)$/.test(f.contentType);
      return el("li", {}, el("a", { href: url, target: "_blank", rel: "noopener" },
        image ? el("img", { src: url + "&thumb=1", alt: f.name })
          : `${f.name} (${Math.ceil(f.size / 1000)} KB)`));
    }));
  }

  function addToTimeline(m) {
    if (!open || m.sessionId !== open.id || open.items.has(m.seq)) return;
    const timeline = $("timeline");
    const li = renderMessage(m);
    open.items.set(m.seq, li);
    // Keep seq order even if a page and a live frame cross.
    const after = [...timeline.children].find((n) => Number(n.dataset.seq) > m.seq);
    timeline.insertBefore(li, after || null);
    if (m.seq > open.lastSeq) open.lastSeq = m.seq;
    renderSeen();
    timeline.scrollTop = timeline.scrollHeight;
  }

  // "Seen" under the team's last message the visitor has read.
  function renderSeen() {
    if (!open) return;
    const c = convs.get(open.id);
    const read = (c && c.visitorReadSeq) || 0;
    const timeline = $("timeline");
    for (const old of timeline.querySelectorAll(".seen")) old.remove();
    const ours = [...timeline.querySelectorAll("li.msg.operator, li.msg.ai")]
      .filter((li) => Number(li.dataset.seq) <= read);
    if (ours.length) ours[ours.length - 1].append(el("p", { class: "seen" }, T.seen));
  }

  // A name or email the visitor typed (identify without the site's userHash, the offline form).
  function unverified(c) {
    return Boolean(c.identity && !c.identity.verified);
  }

  function ratingLabel(r) {
    const shown = r.scale === "thumbs" ? (r.score ? "👍" : "👎") : "★".repeat(r.score) + "☆".repeat(5 - r.score);
    return shown + (r.comment ? " “" + r.comment + "”" : "");
  }

  function renderDetails(c) {
    const meta = c.metadata || {};
    const rows = [
      [T.project, c.projectName],
      [T.status, c.status === "active" ? T.active : T.closed],
      [T.identity, c.identity && (c.identity.verified ? T.verifiedIdentity : T.unverifiedIdentity)],
      [T.identityEmail, c.identity && c.identity.email],
      [T.mail, c.identity && c.identity.email && T.noMail],
      [T.page, meta.url], [T.referrer, meta.referrer],
      [T.browser, meta.browser], [T.os, meta.os], [T.device, meta.device],
      [T.language, meta.language], [T.timezone, meta.timezone], [T.country, meta.country],
      [T.started, c.createdAt && when(c.createdAt)],
      [T.rating, c.rating && ratingLabel(c.rating)],
    ];
    const out = [];
    for (const [label, value] of rows) {
      if (!value) continue;
      const url = (label === T.page || label === T.referrer) && safeUrl(value);
      out.push(el("dt", {}, label),
        el("dd", {}, url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, value) : value));
    }
    $("details").replaceChildren(...out);
  }

  function renderAssignee(c) {
    const box = $("assignee");
    const options = [el("option", { value: "" }, T.nobody)];
    for (const t of me.team) {
      if (t.projects.includes(c.projectId)) options.push(el("option", { value: t.id }, t.name));
    }
    box.replaceChildren(...options);
    box.value = c.assigneeId || "";
  }

  async function renderEarlier(id) {
    $("earlier").hidden = true;
    let data;
    try { data = await api("GET", `/conversations/${encodeURIComponent(id)}/earlier`); } catch (_) { return; }
    if (!open || open.id !== id || !data.conversations.length) return;
    $("earlier-list").replaceChildren(...data.conversations.map((c) => {
      upsert(c);
      return el("li", {}, el("a", { href: "#" + c.id }, c.lastMessage ? c.lastMessage.text : c.label),
        " ", el("span", { class: "meta" }, [c.projectName, when(c.lastActivity)].join(" · ")));
    }));
    $("earlier").hidden = false;
  }

  function renderHead(c) {
    $("conversation-title").textContent = c.label;
    const tag = $("identity-tag");
    tag.textContent = T.unverified;
    tag.hidden = !unverified(c);
    renderAssignee(c);
    const toggle = $("status-toggle");
    toggle.textContent = c.status === "active" ? T.close : T.reopen;
    $("ai-toggle").checked = Boolean(c.aiEnabled);
    renderDetails(c);
  }

  async function fetchTimeline(after) {
    let cursor = String(after);
    while (cursor !== null && open) {
      const id = open.id;
      const data = await api("GET", `/conversations/${encodeURIComponent(id)}?after_seq=${cursor}&limit=500`);
      if (!open || open.id !== id) return;
      upsert(data.conversation);
      for (const m of data.messages) addToTimeline(m);
      cursor = data.nextCursor;
    }
  }

  async function openConversation(id) {
    if (open && open.id === id) return;
    open = { id, lastSeq: 0, items: new Map() };
    pending = [];
    renderPending();
    $("timeline").replaceChildren();
    $("typing").textContent = "";
    $("reply-error").textContent = "";
    $("placeholder").hidden = true;
    $("conversation").hidden = false;
    const known = convs.get(id);
    if (known) renderHead(known);
    renderList();
    try {
      await fetchTimeline(0);
    } catch (err) {
      $("reply-error").textContent = fmt("failed", { reason: err.message });
      return;
    }
    const c = convs.get(id);
    if (c) { renderHead(c); renderList(); }
    renderEarlier(id);
    markRead();
  }

  function closeConversation() {
    open = null;
    $("conversation").hidden = true;
    $("placeholder").hidden = false;
    renderList();
  }

  // "#sess_x" opens a conversation; "#sess_x/msg_y" (a search result) also shows that message.
  function route() {
    const [id, messageId] = decodeURIComponent(location.hash.slice(1)).split("/");
    if (!id.startsWith("sess_")) { closeConversation(); return; }
    const shown = openConversation(id);
    if (messageId) Promise.resolve(shown).then(() => showMessage(messageId));
  }

  function showMessage(messageId) {
    for (const old of $("timeline").querySelectorAll("[aria-current]")) old.removeAttribute("aria-current");
    const li = $("timeline").querySelector(`li[data-id="${CSS.escape(messageId)}"]`);
    if (!li) return;
    li.setAttribute("aria-current", "true");
    li.setAttribute("tabindex", "-1");
    li.scrollIntoView({ block: "center" });
    li.focus();
  }

  // --- saved replies: "/" in the reply box, and their screen ------------------------------
  let replies = [];
  let suggestion = -1;
  async function loadReplies() {
    try { replies = (await api("GET", "/replies")).replies; } catch (_) { replies = []; }
  }

  function fillReply(text, c) {
    const who = (c && c.identity) || {};
    return text.replace(/\{(name|email)\}/g, (_, k) => (k === "name" ? who.name || "there" : who.email || ""));
  }

  function matchingReplies() {
    const value = $("reply").value;
    if (!open || !/^\/[a-z0-9_-]*$/i.test(value)) return [];
    const c = convs.get(open.id);
    const typed = value.slice(1).toLowerCase();
    return replies.filter((r) => (!c || r.projectId === c.projectId) && r.shortcut.startsWith(typed));
  }

  function suggest() {
    const found = matchingReplies();
    const list = $("reply-suggestions");
    if (!found.length) { hideSuggestions(); return; }
    suggestion = Math.min(Math.max(suggestion, 0), found.length - 1);
    list.replaceChildren(...found.map((r, i) => {
      const option = el("li", { role: "option", id: "sr-" + i, "aria-selected": i === suggestion ? "true" : "false" },
        el("strong", {}, "/" + r.shortcut), " ", r.text);
      option.addEventListener("mousedown", (e) => { e.preventDefault(); chooseReply(r); });
      return option;
    }));
    list.hidden = false;
    $("reply").setAttribute("aria-activedescendant", "sr-" + suggestion);
  }

  function hideSuggestions() {
    suggestion = -1;
    $("reply-suggestions").hidden = true;
    $("reply").removeAttribute("aria-activedescendant");
  }

  function chooseReply(r) {
    $("reply").value = fillReply(r.text, open && convs.get(open.id));
    hideSuggestions();
    $("reply").focus();
  }

  function suggestKey(e) {
    if ($("reply-suggestions").hidden) return false;
    const found = matchingReplies();
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      suggestion = (suggestion + (e.key === "ArrowDown" ? 1 : found.length - 1)) % found.length;
      suggest();
    } else if ((e.key === "Enter" || e.key === "Tab") && found[suggestion]) {
      chooseReply(found[suggestion]);
    } else if (e.key === "Escape") {
      hideSuggestions();
    } else {
      return false;
    }
    e.preventDefault();
    return true;
  }

  async function showReplies() {
    await loadReplies();
    $("conversation").hidden = true;
    $("placeholder").hidden = true;
    $("replies-screen").hidden = false;
    $("reply-project").replaceChildren(...me.projects.map((p) => el("option", { value: p.id }, p.name)));
    renderReplies();
    $("reply-shortcut").focus();
  }

  function hideReplies() {
    $("replies-screen").hidden = true;
    if (open) $("conversation").hidden = false; else $("placeholder").hidden = false;
  }

  function renderReplies() {
    const names = Object.fromEntries(me.projects.map((p) => [p.id, p.name]));
    const items = replies.map((r) => {
      const remove = el("button", { type: "button", class: "quiet" }, fmt("removeReply", { shortcut: r.shortcut }));
      remove.addEventListener("click", async () => {
        try {
          await api("DELETE", `/replies/${encodeURIComponent(r.projectId)}/${encodeURIComponent(r.shortcut)}`);
          await loadReplies();
          renderReplies();
        } catch (err) { $("replies-error").textContent = fmt("failed", { reason: err.message }); }
      });
      return el("li", {}, el("strong", {}, "/" + r.shortcut), " ", el("span", { class: "meta" }, names[r.projectId] || ""),
        el("p", { class: "text" }, r.text), remove);
    });
    $("replies-list").replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, T.noReplies)]));
  }

  async function addReply(event) {
    event.preventDefault();
    $("replies-error").textContent = "";
    try {
      await api("POST", "/replies", { projectId: $("reply-project").value, shortcut: $("reply-shortcut").value,
        text: $("reply-text").value });
      $("reply-shortcut").value = "";
      $("reply-text").value = "";
      await loadReplies();
      renderReplies();
    } catch (err) { $("replies-error").textContent = fmt("failed", { reason: err.message }); }
  }

  // --- the Stats screen (as `pocketping stats`) ------------------------------------------
  function duration(s) {
    if (s === null || s === undefined) return "–";
    return s < 90 ? Math.round(s) + " s" : s < 5400 ? (s / 60).toFixed(1) + " min" : (s / 3600).toFixed(1) + " h";
  }

  async function showStats() {
    $("conversation").hidden = true;
    $("placeholder").hidden = true;
    $("replies-screen").hidden = true;
    $("stats-screen").hidden = false;
    const box = $("stats-project");
    if (!box.options.length) box.replaceChildren(...me.projects.map((p) => el("option", { value: p.id }, p.name)));
    await loadStats();
  }

  function hideStats() {
    $("stats-screen").hidden = true;
    if (open) $("conversation").hidden = false; else $("placeholder").hidden = false;
  }

  async function loadStats() {
    $("stats-error").textContent = "";
    let s;
    try {
      s = await api("GET", "/stats?" + new URLSearchParams({ project: $("stats-project").value,
        since: $("stats-since").value }));
    } catch (err) { $("stats-error").textContent = fmt("failed", { reason: err.message }); return; }
    const stars = s.ratings.stars;
    const thumbs = s.ratings.thumbs;
    const rows = [
      [T.statConversations, String(s.conversations)],
      [T.statFirstP50, duration(s.firstResponseSeconds.p50)], [T.statFirstP90, duration(s.firstResponseSeconds.p90)],
      [T.statResolution, duration(s.resolutionSeconds.p50)],
      [T.statAiShare, s.aiShare === null ? "–" : Math.round(s.aiShare * 100) + "%"],
      [T.statStars, stars.count ? stars.mean.toFixed(1) + " ★ (" + stars.count + ")" : "–"],
      [T.statThumbs, thumbs.count ? Math.round(thumbs.upShare * 100) + "% (" + thumbs.count + ")" : "–"],
    ];
    $("stats-figures").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    $("stats-days").tBodies[0].replaceChildren(...s.days.map((d) => el("tr", {}, el("th", { scope: "row" }, d.day),
      el("td", {}, d.conversations), el("td", {}, d.answeredByAi), el("td", {}, duration(d.firstResponseMeanSeconds)),
      el("td", {}, d.ratings ? d.ratingMean.toFixed(1) + " ★ (" + d.ratings + ")" : "–"))));
  }

  // --- notifications: a new conversation, or a visitor message not on screen ------------
  let audio = null;
  function notify(c, m, isNew) {
    if ($("mute-toggle").checked) return;
    const onScreen = open && open.id === c.id && document.visibilityState === "visible";
    if (onScreen && !isNew) return;
    if ($("sound-toggle").checked) beep();
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const title = isNew ? fmt("newConversation", { name: c.label }) : fmt("newMessage", { name: c.label });
    const shown = new Notification(title, { body: m.text || "", tag: c.id });
    shown.onclick = () => { window.focus(); location.hash = "#" + c.id; shown.close(); };
  }

  function beep() {
    try {
      audio = audio || new AudioContext();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.25);
    } catch (_) { /* no audio: the notification still shows */ }
  }

  // --- keyboard ------------------------------------------------------------------------
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const t = e.target;
    if (t && (t.closest("input, textarea, select") || t.isContentEditable) || $("keys").open) return;
    const links = [...$("conversations").querySelectorAll("li a")];
    const at = open ? links.findIndex((a) => a.closest("li").dataset.id === open.id) : -1;
    switch (e.key) {
      case "j": case "k": {
        const next = links[Math.max(0, Math.min(links.length - 1, at + (e.key === "j" ? 1 : -1)))];
        if (next) { location.hash = next.getAttribute("href"); next.focus(); }
        break;
      }
      case "r": if (open) $("reply").focus(); else return; break;
      case "e": if (open) { const c = convs.get(open.id); if (c && c.status === "active") toggleStatus(); } break;
      case "a": if (open) assign("me"); break;
      case "/": $("search").focus(); break;
      case "?": $("keys").showModal(); break;
      default: return;
    }
    e.preventDefault();
  }

  // --- search --------------------------------------------------------------------------
  let searchSeq = 0;
  async function runSearch(event) {
    event.preventDefault();
    const q = $("search").value.trim();
    if (!q) { clearSearch(); return; }
    const mine = (searchSeq += 1);
    $("search-results").hidden = false;
    $("results-status").textContent = T.searching;
    $("results").replaceChildren();
    let data;
    try {
      data = await api("GET", "/search?" + new URLSearchParams({ q }));
    } catch (err) {
      if (mine === searchSeq) $("results-status").textContent = fmt("failed", { reason: err.message });
      return;
    }
    if (mine !== searchSeq) return;
    $("results-status").textContent = data.results.length
      ? fmt("resultCount", { n: data.results.length, q }) : fmt("noResults", { q });
    $("results").replaceChildren(...data.results.map(renderResult));
  }

  function renderResult(h) {
    const known = convs.get(h.sessionId);
    const who = h.visitorName || h.visitorEmail || (known ? known.label : T.visitor);
    const target = "#" + h.sessionId + (h.messageId ? "/" + h.messageId : "");
    return el("li", { class: "result" },
      el("a", { href: target }, h.snippet || who),
      el("p", { class: "desc" }, [who, h.projectName, when(h.createdAt)].filter(Boolean).join(" · ")));
  }

  function clearSearch() {
    searchSeq += 1;
    $("search").value = "";
    $("search-results").hidden = true;
    $("results").replaceChildren();
  }

  async function markRead() {
    if (!open || document.visibilityState !== "visible") return;
    const c = convs.get(open.id);
    if (!c || open.lastSeq <= (c.operatorReadSeq || 0)) return;
    const seq = open.lastSeq;
    c.operatorReadSeq = seq;
    c.unread = 0;
    renderList();
    try { await api("POST", `/conversations/${encodeURIComponent(open.id)}/read`, { seq }); } catch (_) { /* next time */ }
  }

  // --- live updates --------------------------------------------------------------------
  function onFrame(frame) {
    switch (frame.type) {
      case "message": {
        const m = frame.message;
        const prev = convs.get(m.sessionId);
        const c = upsert(frame.session, m.kind === "message" ? { lastMessage: m } : {});
        if (m.kind === "message" && m.sender === "visitor" && m.seq > (c.operatorReadSeq || 0)) {
          c.unread = (prev ? prev.unread : 0) + 1;
          notify(c, m, !prev || !prev.lastMessage);
          if (open && open.id === m.sessionId) $("typing").textContent = "";
        }
        if (open && open.id === m.sessionId) {
          if (m.seq > open.lastSeq + 1) fetchTimeline(open.lastSeq).catch(() => {});
          else addToTimeline(m);
          renderHead(c);
          markRead();
        }
        renderList();
        break;
      }
      case "session": {
        const c = upsert(frame.session);
        if (open && open.id === c.id) renderHead(c);
        renderList();
        break;
      }
      case "read": {
        const c = convs.get(frame.sessionId);
        if (!c) break;
        if (frame.by === "operator") {
          c.operatorReadSeq = Math.max(c.operatorReadSeq || 0, frame.seq);
          if (frame.seq >= (c.lastSeq || 0)) c.unread = 0;
        } else {
          c.visitorReadSeq = Math.max(c.visitorReadSeq || 0, frame.seq);
          if (open && open.id === c.id) renderSeen();
        }
        renderList();
        break;
      }
      case "typing": {
        if (!open || open.id !== frame.sessionId) break;
        const c = convs.get(frame.sessionId);
        clearTimeout(typingTimer);
        $("typing").textContent = frame.active ? fmt("typing", { name: c ? c.label : T.visitor }) : "";
        if (frame.active) typingTimer = setTimeout(() => { $("typing").textContent = ""; }, TYPING_SHOWN_MS);
        break;
      }
      case "message_changed": {
        if (!open || open.id !== frame.sessionId) break;
        const old = open.items.get(frame.message.seq);
        if (old) {
          const li = renderMessage(frame.message);
          old.replaceWith(li);
          open.items.set(frame.message.seq, li);
        }
        break;
      }
      default:
        break;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/inbox/ws");
    ws.onmessage = (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch (_) { return; }
      if (frame.type === "ready") {
        $("connection").textContent = "";
        const again = wsAttempt > 0;
        wsAttempt = 0;
        // Subscribed first, then (re)read: nothing falls between the two.
        loadMe().then(loadReplies).then(loadList).then(() => { if (again && open) fetchTimeline(open.lastSeq).then(markRead); })
          .catch((err) => { $("connection").textContent = fmt("failed", { reason: err.message }); });
        return;
      }
      onFrame(frame);
    };
    ws.onclose = (e) => {
      ws = null;
      if (e.code === 4001) { location.reload(); return; }
      $("connection").textContent = T.reconnecting;
      wsAttempt += 1;
      setTimeout(connect, Math.min(30000, 500 * 2 ** Math.min(wsAttempt, 6)));
    };
  }

  // --- files for the next reply: the button, a paste into the box, a drop on the form ----
  let pending = [];
  function renderPending() {
    $("reply-attachments").replaceChildren(...pending.map((f) => el("li", {}, f.name, " ",
      el("button", { type: "button", class: "link", "aria-label": fmt("remove", { name: f.name }),
                     "data-id": f.id }, "×"))));
  }
  async function uploadFiles(files) {
    if (!open || !files || !files.length) return;
    const id = open.id;
    $("reply-error").textContent = "";
    for (const file of files) {
      const form = new FormData();
      form.append("file", file);
      $("reply-error").textContent = fmt("uploading", { name: file.name });
      try {
        const res = await fetch(`/inbox/api/conversations/${encodeURIComponent(id)}/uploads`, {
          method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin", body: form,
        });
        const data = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
        if (open && open.id === id) pending.push(data);
        $("reply-error").textContent = "";
      } catch (err) {
        $("reply-error").textContent = fmt("failed", { reason: err.message });
      }
      renderPending();
    }
  }
  $("attach").addEventListener("click", () => $("reply-files").click());
  $("reply-files").addEventListener("change", (e) => { uploadFiles(e.target.files); e.target.value = ""; });
  $("reply").addEventListener("paste", (e) => {
    if (e.clipboardData && e.clipboardData.files.length) { e.preventDefault(); uploadFiles(e.clipboardData.files); }
  });
  $("reply-form").addEventListener("dragover", (e) => e.preventDefault());
  $("reply-form").addEventListener("drop", (e) => { e.preventDefault(); uploadFiles(e.dataTransfer.files); });
  $("reply-attachments").addEventListener("click", (e) => {
    const id = e.target.dataset && e.target.dataset.id;
    if (id) { pending = pending.filter((f) => f.id !== id); renderPending(); }
  });

  // --- operator actions ----------------------------------------------------------------
  let clientSeq = 0;
  async function send(event) {
    event.preventDefault();
    const box = $("reply");
    const text = box.value;
    const files = pending.map((f) => f.id);
    if (!open || (!text.trim() && !files.length)) return;
    const id = open.id;
    const clientId = "inbox-" + Date.now().toString(36) + "-" + (clientSeq += 1);
    const button = $("reply-form").querySelector("button");
    button.disabled = true;
    $("reply-error").textContent = "";
    const internal = $("note-toggle").checked;
    try {
      const data = await api("POST", `/conversations/${encodeURIComponent(id)}/messages`,
        { text, clientId, attachments: files, internal });
      if (box.value === text) box.value = "";
      pending = pending.filter((f) => !files.includes(f.id));
      renderPending();
      hideSuggestions();
      sendTyping(false);
      if (open && open.id === id) addToTimeline(data.message);
    } catch (err) {
      $("reply-error").textContent = fmt("failed", { reason: err.message });
    } finally {
      button.disabled = false;
      box.focus();
    }
  }

  function sendTyping(active) {
    if (!open || !ws || ws.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    if (active && now - typingSentAt < 2000) return;
    typingSentAt = active ? now : 0;
    ws.send(JSON.stringify({ type: "typing", sessionId: open.id, active }));
  }

  async function toggleStatus() {
    if (!open) return;
    const c = convs.get(open.id);
    const action = c && c.status === "closed" ? "reopen" : "close";
    try {
      const data = await api("POST", `/conversations/${encodeURIComponent(open.id)}/${action}`);
      const next = upsert(data.session);
      renderHead(next);
      renderList();
    } catch (err) {
      $("reply-error").textContent = fmt("failed", { reason: err.message });
    }
  }

  async function assign(who) {
    if (!open) return;
    try {
      const data = await api("POST", `/conversations/${encodeURIComponent(open.id)}/assign`, { assignee: who });
      renderHead(upsert(data.session));
      renderList();
    } catch (err) {
      $("reply-error").textContent = fmt("failed", { reason: err.message });
      const c = convs.get(open.id);
      if (c) renderAssignee(c);
    }
  }

  async function loadMe() {
    const data = await api("GET", "/me");
    me.id = data.operator.id;
    me.team = data.team;
    me.projects = data.projects;
    const filter = $("project-filter");
    const chosen = filter.value;
    filter.replaceChildren(el("option", { value: "" }, T.allProjects),
      ...data.projects.map((p) => el("option", { value: p.id }, p.name)));
    filter.value = chosen;
  }

  async function toggleAi() {
    if (!open) return;
    const box = $("ai-toggle");
    try {
      const data = await api("POST", `/conversations/${encodeURIComponent(open.id)}/ai`, { enabled: box.checked });
      upsert(data.session);
    } catch (err) {
      box.checked = !box.checked;
      $("reply-error").textContent = fmt("failed", { reason: err.message });
    }
  }

  $("reply-form").addEventListener("submit", send);
  $("search-form").addEventListener("submit", runSearch);
  $("search-clear").addEventListener("click", clearSearch);
  $("reply").addEventListener("keydown", (e) => {
    if (suggestKey(e)) return;
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("reply-form").requestSubmit(); }
  });
  $("reply").addEventListener("input", suggest);
  $("note-toggle").addEventListener("change", () => {
    $("reply-form").classList.toggle("note", $("note-toggle").checked);
  });
  $("replies-open").addEventListener("click", showReplies);
  $("stats-open").addEventListener("click", showStats);
  $("stats-close").addEventListener("click", hideStats);
  $("stats-project").addEventListener("change", loadStats);
  $("stats-since").addEventListener("change", loadStats);
  $("replies-close").addEventListener("click", hideReplies);
  $("reply-add").addEventListener("submit", addReply);
  $("keys-open").addEventListener("click", () => $("keys").showModal());
  document.addEventListener("keydown", onKey);
  for (const [id, key] of [["mute-toggle", "pocketping.mute"], ["sound-toggle", "pocketping.sound"]]) {
    $(id).checked = localStorage.getItem(key) === "1";
    $(id).addEventListener("change", () => localStorage.setItem(key, $(id).checked ? "1" : "0"));
  }
  if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
  $("reply").addEventListener("input", () => sendTyping(true));
  $("reply").addEventListener("blur", () => sendTyping(false));
  $("status-toggle").addEventListener("click", toggleStatus);
  $("ai-toggle").addEventListener("change", toggleAi);
  $("assignee").addEventListener("change", (e) => assign(e.target.value || null));
  for (const id of ["view", "project-filter", "sort"]) $(id).addEventListener("change", renderList);
  $("more").addEventListener("click", async () => {
    cursors.closed = await loadPage("closed", cursors.closed);
    renderList();
  });
  document.addEventListener("visibilitychange", markRead);
  window.addEventListener("hashchange", route);
  connect();
  route();
})();
