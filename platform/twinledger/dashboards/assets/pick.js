/* twinledger: which row button was pressed, decided in the browser.

   Rows are redrawn as data arrives, and each redraw fires a pattern-matching callback with every
   button unclicked. Were the choice made on the server, a redraw's call could overtake a click's
   (the browser keeps only the newest answer of a callback) and the click would be lost. Here the
   click becomes {key, at} in a store at once, and the server acts on the store. */
(function () {
  "use strict";
  function pick(clicks) {
    const dc = window.dash_clientside;
    const fired = (dc.callback_context.triggered || []).filter((t) => t.value);
    if (!fired.length) return dc.no_update;
    const id = JSON.parse(fired[0].prop_id.slice(0, fired[0].prop_id.lastIndexOf(".")));
    return { key: id.key, at: Date.now() };
  }
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.twinledger = Object.assign(window.dash_clientside.twinledger || {}, { pick });
})();
