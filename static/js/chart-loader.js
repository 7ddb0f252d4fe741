// Loads Chart.js once and exposes window.vppChartReady, a promise of window.Chart.
// With data-cdn it first tries the pinned CDN copy (checked by its SRI hash); if that
// fails, or has not arrived within data-timeout-ms, it loads the vendored copy of the
// same version. Without data-cdn it loads only the vendored copy. The CDN is asked
// only after the page's load event, which it therefore never holds back.
(function () {
  "use strict";
  var me = document.currentScript;
  var cfg = me.dataset;
  window.vppChartReady = new Promise(function (resolve, reject) {
    var settled = false;
    function done() {
      if (!settled && window.Chart) { settled = true; resolve(window.Chart); }
    }
    function add(src, integrity, onFail) {
      var s = document.createElement("script");
      s.src = src;
      s.async = true;
      if (integrity) { s.integrity = integrity; s.crossOrigin = "anonymous"; }
      s.onload = done;
      s.onerror = onFail;
      document.head.appendChild(s);
    }
    var fellBack = false;
    function vendored() {
      if (fellBack || settled) return;
      fellBack = true;
      add(cfg.vendored, null, function () {
        if (!settled) { settled = true; reject(new Error("Chart.js could not be loaded")); }
      });
    }
    function fromCdn() {
      add(cfg.cdn, cfg.integrity, vendored);
      setTimeout(vendored, parseInt(cfg.timeoutMs || "1500", 10));
    }
    if (!cfg.cdn) {
      vendored();
    } else if (document.readyState === "complete") {
      fromCdn();
    } else {
      // Asked for only once the page has loaded: a CDN that hangs must not hold the
      // page's load event (a script added before it would).
      window.addEventListener("load", fromCdn);
    }
  });
})();
