// Material's search overlay is a role="dialog" without an accessible name (WCAG 4.1.2);
// name it after the search field it holds.
for (const dialog of document.querySelectorAll('[data-md-component="search"][role="dialog"]')) {
  dialog.setAttribute("aria-label", "Search");
}
