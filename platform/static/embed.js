// Chorus embeds. One file, two roles:
// - on a member's own website, each <script src=".../static/embed.js" data-chorus-embed="URL"> becomes
//   an iframe showing URL (the campaign's /embed page) whose height follows its content;
// - inside that iframe (the embed and the thanks page it leads to), it tells the parent page its height
//   through postMessage whenever it changes. Only the height crosses origins; the form, its CSRF token
//   and the supporter's answers stay inside the frame, on Chorus's own origin.
(function () {
  var framed = window.parent !== window && document.body && document.body.classList.contains("embed");
  if (framed) {
    var last = 0;
    var report = function () {
      // The content's own height (not scrollHeight, which never drops below the frame's height).
      var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      if (height !== last) {
        last = height;
        window.parent.postMessage({ chorus: "height", height: height }, "*");
      }
    };
    window.addEventListener("load", report);
    if (window.ResizeObserver) new ResizeObserver(report).observe(document.body);
    setInterval(report, 1000);
    report();
    return;
  }
  var scripts = document.querySelectorAll("script[data-chorus-embed]");
  Array.prototype.forEach.call(scripts, function (script) {
    if (script.getAttribute("data-chorus-ready")) return;
    script.setAttribute("data-chorus-ready", "1");
    var src = script.getAttribute("data-chorus-embed");
    var origin = new URL(src, document.baseURI).origin;
    var frame = document.createElement("iframe");
    frame.src = src;
    frame.title = script.getAttribute("data-chorus-title") || "Campaign";
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.style.height = "640px";
    frame.setAttribute("loading", "lazy");
    script.parentNode.insertBefore(frame, script.nextSibling);
    window.addEventListener("message", function (event) {
      if (event.origin !== origin || event.source !== frame.contentWindow) return;
      var data = event.data || {};
      if (data.chorus === "height" && typeof data.height === "number" && data.height > 0 && data.height < 20000) {
        frame.style.height = data.height + "px";
      }
    });
  });
})();
