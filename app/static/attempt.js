// ccpq – taking a questionnaire: autosave, offline replay, server-synced timer.
// No inline script anywhere (strict CSP): this file reads what it needs from data-* attributes.
// Loaded by every page of an attempt (questions and review): the saves waiting in this
// browser are replayed from any of them, and no page of the attempt is left before they
// are sent.
(function () {
  "use strict";

  var root = document.querySelector("[data-attempt-id]");
  var form = document.getElementById("question-form");
  var timerEl = document.getElementById("timer");
  var announceEl = document.getElementById("timer-announce");
  var autoSubmit = document.getElementById("auto-submit");
  var banner = document.getElementById("connection-banner");
  var statusEl = document.getElementById("save-status");
  var csrfInput = document.querySelector("input[name=csrf_token]");
  var csrf = csrfInput ? csrfInput.value : "";
  var attemptId = root ? root.dataset.attemptId : null;
  var questionId = form ? form.dataset.questionId : null;
  var kind = form ? form.dataset.questionType : null;
  var pendingKey = "ccpq:attempt:" + attemptId + ":pending";
  var seqKey = "ccpq:attempt:" + attemptId + ":seq:" + questionId;
  var flushing = null;
  var retryTimer = null;
  var submitting = false;
  var leaving = false;

  function ignore() { /* handled: the banner and the status say what happened */ }

  // ---------------------------------------------------------------- timer
  // The server sends the remaining seconds; we count down with a monotonic clock from
  // that value (never the client's wall clock) and re-sync at every save.
  var remainingAtSync = timerEl ? parseInt(timerEl.dataset.remaining, 10) : null;
  var syncedAt = performance.now();
  var announced = {};
  var ANNOUNCE_AT = [[900, "Il reste 15 minutes."], [300, "Il reste 5 minutes."], [60, "Il reste 1 minute."]];

  function secondsLeft() {
    return Math.max(0, Math.round(remainingAtSync - (performance.now() - syncedAt) / 1000));
  }

  function syncTimer(seconds) {
    if (typeof seconds !== "number" || !timerEl) return;
    remainingAtSync = seconds;
    syncedAt = performance.now();
    // Thresholds already passed before this page loaded are not announced again.
    ANNOUNCE_AT.forEach(function (entry) { if (seconds < entry[0] - 5) announced[entry[0]] = true; });
  }

  function format(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + " min " + (s < 10 ? "0" : "") + s + " s";
  }

  function tick() {
    if (!timerEl) return;
    var left = secondsLeft();
    timerEl.textContent = format(left);
    ANNOUNCE_AT.forEach(function (entry) {
      if (left <= entry[0] && !announced[entry[0]]) {
        announced[entry[0]] = true;
        announceEl.textContent = entry[1];
      }
    });
    if (left === 0 && !submitting && autoSubmit) {
      submitting = true;
      announceEl.textContent = "Temps écoulé : le questionnaire est remis.";
      flush().then(function () { autoSubmit.submit(); }, function () { autoSubmit.submit(); });
    }
  }

  // ---------------------------------------------------------------- pending saves
  function readPending() {
    if (!attemptId) return {};
    try { return JSON.parse(localStorage.getItem(pendingKey)) || {}; } catch (e) { return {}; }
  }
  function writePending(pending) {
    localStorage.setItem(pendingKey, JSON.stringify(pending));
  }
  function hasPending() { return Object.keys(readPending()).length > 0; }

  function setStatus(text) { if (statusEl) statusEl.textContent = text; }

  function showOffline(offline) {
    if (banner) banner.hidden = !offline;
    document.body.classList.toggle("is-offline", offline);
  }

  function sendOne(id, entry) {
    return fetch(entry.url, {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(entry.payload)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body };
      });
    }).then(function (result) {
      var pending = readPending();
      var still = pending[id];
      if (result.status === 200) {
        if (still && still.payload.seq <= entry.payload.seq) { delete pending[id]; writePending(pending); }
        syncTimer(result.body.remaining_seconds);
        if (form && id === questionId) {
          var saved = new Date(result.body.saved_at);
          setStatus("Enregistré à " + saved.toLocaleTimeString("fr-FR", { timeZone: "Europe/Paris" }));
          form.dataset.seq = String(result.body.seq);
        }
        markAnswered(id, entry.payload);
      } else if (result.status >= 400 && result.status < 500) {
        // Refused for good (time over, already submitted, invalid): say so, stop retrying it.
        if (still && still.payload.seq <= entry.payload.seq) { delete pending[id]; writePending(pending); }
        if (id === questionId) setStatus(result.body.detail || "Réponse refusée.");
        if (result.status === 401) { window.location.reload(); }
      } else {
        throw new Error("server " + result.status);
      }
    });
  }

  // Sends every pending save, oldest question first; on a network failure keeps them
  // in localStorage, shows the banner and retries. The promise rejects while offline.
  function flush() {
    if (flushing) return flushing;
    var pending = readPending();
    var ids = Object.keys(pending);
    if (ids.length === 0) { showOffline(false); return Promise.resolve(); }
    var chain = Promise.resolve();
    ids.forEach(function (id) { chain = chain.then(function () { return sendOne(id, pending[id]); }); });
    flushing = chain.then(function () {
      flushing = null;
      showOffline(false);
      if (hasPending()) return flush();
    }, function () {
      flushing = null;
      showOffline(true);
      setStatus("Connexion perdue : réponse conservée dans ce navigateur, en attente d'envoi.");
      clearTimeout(retryTimer);
      retryTimer = setTimeout(replay, 3000);
      throw new Error("offline");
    });
    return flushing;
  }

  // Sends what this browser kept (another page of the attempt may have queued it). The
  // review page counts the answers on the server: it is reloaded once they have arrived.
  function replay() {
    var had = hasPending();
    return flush().then(function () {
      if (had && !form && !submitting && !leaving) window.location.reload();
    }, ignore);
  }

  function markAnswered(id, payload) {
    var link = document.querySelector(".nav-item[data-question-id='" + id + "']");
    if (!link) return;
    var answered = payload.value ? payload.value !== "" : (payload.selected || []).length > 0;
    link.classList.toggle("is-answered", answered);
  }

  // Leaving the page (a link, the flag or review form…) waits for the pending saves;
  // offline, the candidate stays here with the banner instead of a browser error page.
  function leaveAfterFlush(event, go) {
    if (!hasPending()) return;
    event.preventDefault();
    leaving = true;
    flush().then(go, function () { leaving = false; });
  }

  if (attemptId) {
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[href]") : null;
      if (!link || event.defaultPrevented || event.button !== 0) return;
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      if (link.target || link.hasAttribute("download") || link.origin !== window.location.origin) return;
      if (link.pathname === window.location.pathname && link.search === window.location.search) return;
      leaveAfterFlush(event, function () { window.location.href = link.href; });
    });
    document.addEventListener("submit", function (event) {
      var other = event.target;
      if (event.defaultPrevented || other === form || other === autoSubmit) return;
      leaveAfterFlush(event, function () { HTMLFormElement.prototype.submit.call(other); });
    });
    window.addEventListener("online", replay);
  }

  // ---------------------------------------------------------------- autosave
  function nextSeq() {
    // The sequence number only grows, shared by every tab of this browser.
    var stored = parseInt(localStorage.getItem(seqKey) || "0", 10);
    var next = Math.max(stored, parseInt(form.dataset.seq || "0", 10)) + 1;
    localStorage.setItem(seqKey, String(next));
    return next;
  }

  function currentPayload() {
    if (kind === "numeric") {
      return { value: form.querySelector("input[name=value]").value.trim() };
    }
    var selected = [];
    form.querySelectorAll("input[name=selected]:checked").forEach(function (input) { selected.push(input.value); });
    return { selected: selected };
  }

  function queueSave() {
    var payload = currentPayload();
    if (kind === "numeric" && payload.value === "") return;
    payload.seq = nextSeq();
    var pending = readPending();
    pending[questionId] = { url: form.dataset.saveUrl, payload: payload };
    writePending(pending);
    setStatus("Enregistrement…");
    flush().catch(ignore);
  }

  if (form) {
    var debounce = null;
    form.addEventListener("change", function (event) {
      if (event.target.name === "selected" || event.target.name === "value") queueSave();
    });
    form.addEventListener("input", function (event) {
      if (event.target.name !== "value") return;
      clearTimeout(debounce);
      debounce = setTimeout(queueSave, 800);
    });
    // With JavaScript the answer is already saved: the buttons only navigate, after the
    // pending saves are sent (or kept for later when offline).
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button) return;
      event.preventDefault();
      var go = button.value;
      var links = { precedente: -1, suivante: 1 };
      flush().then(function () {
        if (go === "relecture") { window.location.href = "/tentatives/" + attemptId + "/relecture"; return; }
        var position = parseInt(form.action.split("/").pop(), 10) + (links[go] || 0);
        window.location.href = "/tentatives/" + attemptId + "/questions/" + position;
      }, ignore);
    });
  }

  // Started last: the first tick may already submit, and needs everything above.
  if (timerEl) {
    syncTimer(remainingAtSync);
    tick();
    setInterval(tick, 1000);
  }
  if (attemptId) replay();
})();
