// Export progress: polls the status JSON of every unfinished export on the page and updates its row
// (progress bar, row count, download link) until all are done or failed; gives up after an hour.
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-export-url]"));
  if (!rows.length || !window.fetch) return;
  var FINISHED = { done: true, failed: true };
  // The texts in the admin's language, from the page (templates/admin/_exports.html).
  var table = document.querySelector("[data-export-texts]");
  var TEXTS = table ? JSON.parse(table.getAttribute("data-export-texts")) : {};
  var LANG = document.documentElement.lang || undefined;
  var INTERVAL = 1500;
  var deadline = Date.now() + 60 * 60 * 1000;

  function unfinished() {
    return rows.filter(function (row) { return !FINISHED[row.getAttribute("data-export-status")]; });
  }

  function show(row, s) {
    row.setAttribute("data-export-status", s.status);
    row.querySelector("[data-export-state]").textContent = (TEXTS.status || {})[s.status] || s.status;
    var bar = row.querySelector("progress");
    bar.value = s.percent;
    bar.textContent = s.percent + "%";
    row.querySelector("[data-export-text]").textContent = s.status === "failed"
      ? TEXTS.failed
      : TEXTS.rows.replace("{done}", s.rows_done.toLocaleString(LANG)).replace("{total}", s.rows_total.toLocaleString(LANG));
    if (s.download_url) {
      var link = row.querySelector("[data-export-download]");
      link.href = s.download_url;
      link.hidden = false;
    }
  }

  function poll() {
    var pending = unfinished();
    if (!pending.length || Date.now() > deadline) return;
    Promise.all(pending.map(function (row) {
      return fetch(row.getAttribute("data-export-url"), { cache: "no-store", credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) { if (s && s.status) show(row, s); })
        .catch(function () {});
    })).then(function () { setTimeout(poll, INTERVAL); });
  }

  setTimeout(poll, INTERVAL);
})();
