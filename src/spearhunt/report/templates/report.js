// Filter and sort evidence tables. Reads and writes text only (textContent, dataset, hidden):
// every cell came from an attacker, so nothing here parses HTML.
(function () {
  "use strict";
  function rank(cell) {
    var r = cell.getAttribute("data-sort");
    return r === null ? cell.textContent.trim().toLowerCase() : r;
  }
  function sortBy(table, index, th) {
    var body = table.tBodies[0];
    var asc = !th.classList.contains("asc");
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.classList.remove("asc", "desc"); });
    th.classList.add(asc ? "asc" : "desc");
    var rows = Array.prototype.slice.call(body.rows);
    var numeric = th.classList.contains("num");
    rows.sort(function (a, b) {
      var x = rank(a.cells[index]), y = rank(b.cells[index]);
      if (numeric) { x = parseFloat(x) || 0; y = parseFloat(y) || 0; }
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function filter(box) {
    var table = document.getElementById(box.getAttribute("data-table"));
    if (!table) { return; }
    var text = (box.querySelector("input").value || "").toLowerCase();
    var kind = box.querySelector("select").value;
    var shown = 0;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var ok = (!kind || row.getAttribute("data-kind") === kind) &&
               (!text || row.textContent.toLowerCase().indexOf(text) !== -1);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    var count = box.querySelector(".count");
    if (count) { count.textContent = shown + " shown"; }
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.addEventListener("click", function () { sortBy(table, i, th); });
    });
  });
  document.querySelectorAll(".tools[data-table]").forEach(function (box) {
    box.querySelector("input").addEventListener("input", function () { filter(box); });
    box.querySelector("select").addEventListener("change", function () { filter(box); });
    filter(box);
  });
}());
