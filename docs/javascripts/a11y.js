// Material's search overlay is a role="dialog" without an accessible name (WCAG 4.1.2);
// name it after the search field it holds.
for (const dialog of document.querySelectorAll('[data-md-component="search"][role="dialog"]')) {
  dialog.setAttribute("aria-label", "Search");
}

// pymdownx.tasklist wraps each checklist box in a label with no text of its own, so a screen
// reader announces an unnamed checkbox (WCAG 4.1.2, axe's "label" rule); name each box after its
// item. document$ emits on every page, instant navigation included.
function nameChecklistBoxes() {
  for (const box of document.querySelectorAll(".task-list-control > input[type='checkbox']")) {
    const item = box.closest(".task-list-item");
    if (item && !box.hasAttribute("aria-label")) {
      box.setAttribute("aria-label", item.textContent.trim());
    }
  }
}
if (typeof document$ !== "undefined") {
  document$.subscribe(nameChecklistBoxes);
} else {
  nameChecklistBoxes();
}
