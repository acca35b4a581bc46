// Live counter: polls tally.json (cheap, cached by ETag) and updates every element marked for it.
(function () {
  var root = document.querySelector("[data-tally-url]");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-tally-url");
  function update() {
    fetch(url, { cache: "no-cache" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (t) {
      if (!t) return;
      document.querySelectorAll("[data-tally-total]").forEach(function (el) { el.textContent = t.total.toLocaleString(document.documentElement.lang || undefined); });
      document.querySelectorAll("[data-tally-bar]").forEach(function (el) {
        var target = Number(el.parentNode.getAttribute("aria-valuemax")) || t.goal;  // the milestone shown
        el.style.width = Math.min(100, Math.round((100 * t.total) / target)) + "%";
        el.parentNode.setAttribute("aria-valuenow", String(t.total));
      });
      Object.keys(t.by_org).forEach(function (slug) {
        var el = document.querySelector('[data-tally-org="' + slug + '"]');
        if (el) el.textContent = t.by_org[slug].toLocaleString(document.documentElement.lang || undefined);
      });
    }).catch(function () {});
  }
  setInterval(update, 10000);
})();
