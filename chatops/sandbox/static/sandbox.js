// chatops sandbox page: polls /sandbox/state (long-poll), shows the workspace as Slack would,
// and sends what you do to /sandbox/act, which signs it and posts it to /slack/events.
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  const NETWORKS = {x: "X", facebook: "Facebook", instagram: "Instagram", line: "LINE", mastodon: "Mastodon",
                    bluesky: "Bluesky", webhook: "Webhook"};
  const ui = {
    lang: params.get("lang") || localStorage.getItem("sandbox.lang") ||
          ((navigator.language || "en").startsWith("ja") ? "ja" : "en"),
    user: params.get("user") || localStorage.getItem("sandbox.user") || "",
    channel: params.get("channel") || "all",   // a channel id, "all" or "home"
    version: -1, state: null, strings: {}, modalKey: null, drafts: {}, generation: 0, autoplayAsked: false,
  };
  const $ = (id) => document.getElementById(id);
  const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const s = (key, params) => (ui.strings[key] || key).replace(/\{(\w+)\}/g, (_, name) => (params || {})[name] ?? "");
  const time = (ts) => new Date(parseFloat(ts) * 1000).toLocaleTimeString(ui.lang === "ja" ? "ja-JP" : "en-GB");

  async function post(url, body) {
    const response = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    let data = {};
    try { data = await response.json(); } catch (e) { /* empty answer */ }
    return {status: response.status, data};
  }

  async function loadStrings() {
    ui.strings = await (await fetch(`/sandbox/strings?lang=${ui.lang}`)).json();
    document.documentElement.lang = ui.lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = s(el.dataset.i18n); });
    $("command-text").placeholder = s("command_placeholder");
    $("customer-text").placeholder = s("message");
    $("lang").value = ui.lang;
    document.title = s("title");
  }

  // -- polling ----------------------------------------------------------------------------------
  async function poll(generation) {
    while (generation === ui.generation) {
      try {
        const url = `/sandbox/state?since=${ui.version}&user=${encodeURIComponent(ui.user)}&lang=${ui.lang}`;
        const response = await fetch(url);
        if (generation !== ui.generation) return;
        const state = await response.json();
        $("live").textContent = "● " + s("connected");
        if (state.version !== ui.version || !ui.state) { ui.version = state.version; render(state); }
      } catch (e) {
        $("live").textContent = "○ " + s("disconnected");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
  function restart() { ui.version = -1; ui.state = null; ui.modalKey = null; ui.generation += 1; poll(ui.generation); }

  // -- rendering --------------------------------------------------------------------------------
  function render(state) {
    ui.state = state;
    if (!state.users.some((u) => u.id === ui.user)) { ui.user = state.users[0].id; }
    const users = $("user");
    if (users.options.length !== state.users.length || users.dataset.lang !== ui.lang) {
      users.innerHTML = state.users.map((u) => `<option value="${esc(u.id)}">${esc(u.name)}</option>`).join("");
      users.dataset.lang = ui.lang;
    }
    users.value = ui.user;
    renderReplay(state.replay);
    renderChannels(state);
    renderPane(state);
    renderEphemerals(state);
    renderCustomer(state);
    renderModal(state.modal);
    maybeAutoplay(state);
  }

  function renderReplay(replay) {
    const status = $("replay-status");
    $("replay").disabled = replay.running;
    if (replay.running) status.textContent = s("replay_progress", replay);
    else if (replay.started) status.textContent = s("replay_done", replay);
    else status.textContent = "";
  }

  function renderChannels(state) {
    const total = state.channels.reduce((n, c) => n + c.messages.length, 0);
    const rows = [`<li data-channel="all" class="${ui.channel === "all" ? "active" : ""}"># all <span class="count">${total}</span></li>`];
    for (const channel of state.channels) {
      rows.push(`<li data-channel="${esc(channel.id)}" class="${ui.channel === channel.id ? "active" : ""}">${esc(channel.name)}` +
                (channel.messages.length ? ` <span class="count">${channel.messages.length}</span>` : "") + "</li>");
    }
    $("channels").innerHTML = rows.join("");
    $("home-link").classList.toggle("active", ui.channel === "home");
  }

  function messageHtml(message, channelName, withThread) {
    const head = `<span class="who">${esc(message.author)}</span><span class="when">${time(message.ts)}</span>` +
      (channelName ? `<span class="when">${esc(channelName)}</span>` : "") +
      (message.edited ? `<span class="edited">${esc(s("edited"))}</span>` : "");
    const files = message.files.map((f) => /\.(png|jpe?g|gif|webp)$/i.test(f.name)
      ? `<div class="file"><img src="${esc(f.url)}" alt="${esc(f.name)}"><br>${esc(f.name)}</div>`
      : `<div class="file">📎 <a href="${esc(f.url)}" download>${esc(f.name)}</a></div>`).join("");
    let thread = "";
    if (withThread) {
      const key = `${message.channel}:${message.ts}`;
      thread = `<div class="thread">${message.replies.map((r) => messageHtml(r, null, false)).join("")}` +
        `<form class="note" data-channel="${esc(message.channel)}" data-thread="${esc(message.ts)}">` +
        `<input data-draft="${esc(key)}" placeholder="${esc(s("thread_reply"))}" value="${esc(ui.drafts[key] || "")}">` +
        `<button type="submit">${esc(s("send"))}</button></form></div>`;
    }
    return `<div class="msg" data-channel="${esc(message.channel)}" data-ts="${esc(message.ts)}"` +
      (message.ticket ? ` data-ticket="${esc(message.ticket)}"` : "") + `><div>${head}</div>` +
      `<div class="body">${message.html}</div>${files}</div>${thread}`;
  }

  function renderPane(state) {
    const box = $("messages");
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    if (ui.channel === "home") {
      $("pane-title").textContent = s("home");
      $("pane-topic").textContent = "";
      box.innerHTML = `<div class="home" data-home="1"><button type="button" id="refresh-home">${esc(s("refresh_home"))}</button>` +
        (state.home || `<p class="hint">${esc(s("home_empty"))}</p>`) + "</div>";
      return;
    }
    let messages = [];
    if (ui.channel === "all") {
      $("pane-title").textContent = "# all";
      $("pane-topic").textContent = "";
      for (const channel of state.channels) messages.push(...channel.messages.map((m) => [m, channel.name]));
      messages.sort((a, b) => parseFloat(a[0].ts) - parseFloat(b[0].ts));
    } else {
      const channel = state.channels.find((c) => c.id === ui.channel) || state.channels[0];
      ui.channel = channel.id;
      $("pane-title").textContent = channel.name;
      $("pane-topic").textContent = channel.topic;
      messages = channel.messages.map((m) => [m, null]);
    }
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.draft : null;
    box.innerHTML = messages.length ? messages.map(([m, name]) => messageHtml(m, name, true)).join("")
                                    : `<p class="hint">${esc(s("empty_channel"))}</p>`;
    if (focused) { const again = box.querySelector(`[data-draft="${CSS.escape(focused)}"]`); if (again) again.focus(); }
    if (nearBottom) box.scrollTop = box.scrollHeight;
  }

  function renderEphemerals(state) {
    $("ephemerals").innerHTML = state.ephemerals.map((e) =>
      `<div class="ephemeral" data-ephemeral="${e.id}"><span class="tag">👁 ${esc(s("only_you"))}</span>${e.html}</div>`).join("");
  }

  function renderCustomer(state) {
    const feed = $("customer-feed");
    if (!state.customer.length) { feed.innerHTML = `<p class="hint">${esc(s("customer_empty"))}</p>`; return; }
    feed.innerHTML = state.customer.slice().reverse().map((p) =>
      `<div class="post ${p.direction}" data-ticket="${esc(p.ticket || "")}" data-network="${esc(p.network)}"` +
      ` data-conversation="${esc(p.conversation_id || "")}" data-author="${esc(p.author)}">` +
      `<span class="meta">${esc(NETWORKS[p.network] || p.network)} · ${esc(p.author)}` +
      (p.direction === "in" ? ` → ${esc(p.account)}` : "") + (p.ticket ? ` · ${esc(p.ticket)}` : "") +
      ` · ${time(p.at)}</span>${esc(p.text)}</div>`).join("");
  }

  function renderModal(modal) {
    const backdrop = $("modal-backdrop");
    if (!modal) { backdrop.hidden = true; ui.modalKey = null; return; }
    const key = `${modal.id}:${modal.hash}`;
    if (ui.modalKey !== key) {
      ui.modalKey = key;
      $("modal-title").innerHTML = modal.title;
      $("modal-body").innerHTML = modal.html;
      $("modal-body").dataset.viewId = modal.id;
      $("modal-close").innerHTML = modal.close;
      $("modal-submit").hidden = !modal.submit;
      $("modal-submit").innerHTML = modal.submit || "";
    }
    $("modal-body").querySelectorAll(".bk-error").forEach((el) => { el.textContent = modal.errors[el.dataset.errorFor] || ""; });
    backdrop.hidden = false;
  }

  function maybeAutoplay(state) {
    if (params.get("autoplay") === "0" || ui.autoplayAsked || state.replay.started) return;
    if (state.tickets) return;
    ui.autoplayAsked = true;
    startReplay();
  }

  // -- actions ----------------------------------------------------------------------------------
  async function act(body) {
    const result = await post("/sandbox/act", {user: ui.user, ...body});
    if (result.status >= 400) alert(`${s("error")}: ${result.data.error || result.status}`);
    return result;
  }

  function context(el) {
    const view = el.closest("[data-view-id]");
    if (view) return {view_id: view.dataset.viewId};
    if (el.closest("[data-home]")) return {home: true};
    const message = el.closest(".msg[data-ts]");
    return message ? {channel: message.dataset.channel, ts: message.dataset.ts} : null;
  }

  function startReplay() {
    post("/sandbox/replay", {speed: $("replay-speed").value, limit: $("replay-count").value});
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.bk-button[data-action-id]");
    if (button) {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;  // Slack's confirm dialog
      const where = context(button);
      if (where) act({kind: "action", action_id: button.dataset.actionId, block_id: button.dataset.blockId,
                      value: button.dataset.value, ...where});
      return;
    }
    const permalink = event.target.closest("a[data-goto-ts]");
    if (permalink) {
      // a link to a message: close the modal it sits in (Slack does too) and show the thread
      event.preventDefault();
      if (!$("modal-backdrop").hidden) close();
      ui.channel = permalink.dataset.gotoChannel; render(ui.state);
      const target = document.querySelector(`.msg[data-ts="${CSS.escape(permalink.dataset.gotoTs)}"]`);
      if (target) target.scrollIntoView({block: "center"});
      return;
    }
    const channel = event.target.closest("#channels li[data-channel]");
    if (channel) { ui.channel = channel.dataset.channel; render(ui.state); return; }
    if (event.target.id === "home-link") {
      event.preventDefault(); ui.channel = "home"; render(ui.state); act({kind: "home"}); return;
    }
    if (event.target.id === "refresh-home") act({kind: "home"});
  });

  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-dispatch='1']");
    if (!select || !select.value) return;
    const where = context(select);
    if (where) act({kind: "action", action_id: select.dataset.actionId, block_id: select.dataset.blockId,
                    value: select.value, ...where});
    if (select.dataset.type === "overflow") select.value = "";
  });

  document.addEventListener("input", (event) => {
    if (event.target.dataset && event.target.dataset.draft) ui.drafts[event.target.dataset.draft] = event.target.value;
  });

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.note");
    if (!form) return;
    event.preventDefault();
    const input = form.querySelector("input");
    const text = input.value.trim();
    if (!text) return;
    delete ui.drafts[input.dataset.draft];
    input.value = "";
    await act({kind: "message", channel: form.dataset.channel, thread_ts: form.dataset.thread, text});
  });

  $("modal-submit").addEventListener("click", () => {
    const body = $("modal-body");
    const values = {};
    body.querySelectorAll("[data-action-id][data-dispatch='0']").forEach((el) => {
      (values[el.dataset.blockId] = values[el.dataset.blockId] || {})[el.dataset.actionId] =
        el.multiple ? Array.from(el.selectedOptions, (option) => option.value) : el.value;
    });
    act({kind: "submit", view_id: body.dataset.viewId, values});
  });
  const close = () => act({kind: "close", view_id: $("modal-body").dataset.viewId});
  $("modal-close").addEventListener("click", close);
  $("modal-x").addEventListener("click", close);

  $("command").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("command-text").value.trim();
    if (!text) return;
    const channel = ui.state.channels.find((c) => c.id === ui.channel) || ui.state.channels[0];
    $("command-text").value = "";
    act({kind: "command", channel: channel.id, text});
  });

  $("customer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("customer-text").value.trim();
    if (!text) return;
    const result = await post("/sandbox/customer", {network: $("customer-network").value,
                                                    handle: $("customer-handle").value, text, lang: ui.lang,
                                                    conversation_id: ui.replyTo ? ui.replyTo.conversation : null});
    $("customer-error").textContent = result.status >= 300 ? (result.data.error || result.status) : "";
    if (result.status < 300) { $("customer-text").value = ""; setReplyTo(null); }
  });

  // Clicking a post in the customer panel answers in that conversation (a follow-up on its ticket).
  function setReplyTo(post) {
    ui.replyTo = post && post.dataset.conversation ? {conversation: post.dataset.conversation, ticket: post.dataset.ticket} : null;
    $("customer-reply-to").textContent = ui.replyTo ? `↩ ${s("reply_to")} ${ui.replyTo.ticket || ""}` : "";
    if (post) $("customer-network").value = post.dataset.network;
    if (post && post.dataset.author && post.classList.contains("in")) $("customer-handle").value = post.dataset.author;
  }
  $("customer-feed").addEventListener("click", (event) => {
    const post = event.target.closest(".post");
    if (post) setReplyTo(post);
  });
  $("customer-reply-to").addEventListener("click", () => setReplyTo(null));

  $("replay").addEventListener("click", startReplay);
  $("user").addEventListener("change", (event) => {
    ui.user = event.target.value; localStorage.setItem("sandbox.user", ui.user); restart();
  });
  $("lang").addEventListener("change", async (event) => {
    ui.lang = event.target.value; localStorage.setItem("sandbox.lang", ui.lang); await loadStrings(); restart();
  });

  loadStrings().then(restart);
})();
