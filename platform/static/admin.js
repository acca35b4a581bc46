// Admin forms: the slug proposed from the title or name (until edited by hand), and a live preview of
// a member's colours with the WCAG contrast of every text/background pair (the server checks it too).
(function () {
  "use strict";

  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60).replace(/-+$/, "");
  }

  document.querySelectorAll("form[data-slug-from]").forEach(function (form) {
    var source = form.querySelector("#" + form.dataset.slugFrom);
    var slug = form.querySelector("#slug");
    if (!source || !slug) { return; }
    var touched = slug.value !== "" && slug.value !== slugify(source.value);
    slug.addEventListener("input", function () { touched = slug.value !== ""; });
    source.addEventListener("input", function () { if (!touched) { slug.value = slugify(source.value); } });
  });

  // Fields of one kind of campaign (letters' fields) show only when that kind is chosen.
  document.querySelectorAll("form[data-kind-form]").forEach(function (form) {
    var kind = form.querySelector("#kind");
    if (!kind) { return; }
    function show() {
      form.querySelectorAll("[data-for-kind]").forEach(function (part) {
        part.hidden = part.dataset.forKind !== kind.value;
      });
    }
    kind.addEventListener("change", show);
    show();
  });

  function luminance(hex) {
    var rgb = [1, 3, 5].map(function (i) {
      var c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  }
  function contrast(a, b) {
    var l = [luminance(a), luminance(b)].sort(function (x, y) { return y - x; });
    return (l[0] + 0.05) / (l[1] + 0.05);
  }

  var preview = document.querySelector("[data-theme-preview]");
  var primary = document.getElementById("primary_color");
  var accent = document.getElementById("accent_color");
  if (!preview || !primary || !accent) { return; }
  var report = preview.querySelector("[data-contrast-report]");
  // The texts in the admin's language, from the page (templates/admin/_colours.html).
  var texts = JSON.parse(preview.getAttribute("data-contrast-texts"));
  var lang = document.documentElement.lang || undefined;
  var valid = /^#[0-9a-fA-F]{6}$/;

  // As chorus.services.theme draws pages: a text colour that reads on each colour, whatever was chosen.
  function ink(background, preferred, other) { return contrast(preferred, background) >= 4.5 ? preferred : other; }
  function darken(hex) {
    var rgb = [1, 3, 5].map(function (i) { return parseInt(hex.slice(i, i + 2), 16); });
    for (var step = 0; step <= 20; step++) {
      var mixed = "#" + rgb.map(function (c) {
        return ("0" + Math.round(c * (1 - step / 20)).toString(16)).slice(-2);
      }).join("");
      if (contrast(mixed, "#fafafa") >= 4.5) { return mixed; }
    }
    return "#000000";
  }

  function update() {
    if (!valid.test(primary.value) || !valid.test(accent.value)) { return; }
    preview.style.setProperty("--brand", primary.value);
    preview.style.setProperty("--brand-text", darken(primary.value));
    preview.style.setProperty("--brand-ink", ink(primary.value, "#ffffff", "#000000"));
    preview.style.setProperty("--accent", accent.value);
    preview.style.setProperty("--accent-ink", ink(accent.value, "#000000", "#ffffff"));
    var pairs = [
      [texts.pairs[0], "#ffffff", primary.value],
      [texts.pairs[1], primary.value, "#fafafa"],
      [texts.pairs[2], "#000000", accent.value]
    ];
    report.textContent = "";
    pairs.forEach(function (pair) {
      var ratio = contrast(pair[1], pair[2]);
      var item = document.createElement("li");
      item.className = ratio >= 4.5 ? "pass" : "fail";
      item.textContent = (ratio >= 4.5 ? texts.passes : texts.fails)
        .replace("{pair}", pair[0].charAt(0).toUpperCase() + pair[0].slice(1)).replace("{ratio}", ratio.toLocaleString(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
      report.appendChild(item);
    });
  }
  primary.addEventListener("input", update);
  accent.addEventListener("input", update);
  update();
})();
