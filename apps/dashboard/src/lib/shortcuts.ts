// Keyboard shortcuts. `/` moves focus to a page's search box (as on GitHub
// and MDN), except while the user is typing somewhere: a `/` typed into a
// field, a select or an editable region is text, not a command.

/** Tags whose focus means "typing": the shortcut leaves their keys alone. */
const TYPING_TAGS = new Set(['INPUT', 'TEXTAREA', 'SELECT']);

/** Whether a key press aimed at `target` is text entry (then no shortcut applies). */
export function isTypingTarget(target: { tagName?: string; isContentEditable?: boolean } | null | undefined): boolean {
  if (!target) return false;
  return target.isContentEditable === true || TYPING_TAGS.has(String(target.tagName ?? '').toUpperCase());
}

/** Whether a keydown is the plain `/` shortcut (no modifier: Ctrl+/ and friends belong to the browser). */
export function isSearchShortcut(e: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean; target: EventTarget | null }): boolean {
  return e.key === '/' && !e.ctrlKey && !e.metaKey && !e.altKey && !isTypingTarget(e.target as HTMLElement | null);
}
