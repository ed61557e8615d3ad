import { describe, expect, it } from 'vitest';
import { isSearchShortcut, isTypingTarget } from './shortcuts';

const key = (k: string, target: object | null, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) =>
  ({ key: k, ctrlKey: false, metaKey: false, altKey: false, ...mods, target }) as Parameters<typeof isSearchShortcut>[0];

describe('the / search shortcut', () => {
  it('applies on the page body and on buttons and links', () => {
    expect(isSearchShortcut(key('/', { tagName: 'BODY' }))).toBe(true);
    expect(isSearchShortcut(key('/', { tagName: 'BUTTON' }))).toBe(true);
    expect(isSearchShortcut(key('/', { tagName: 'A' }))).toBe(true);
    expect(isSearchShortcut(key('/', null))).toBe(true);
  });
  it('leaves typing alone: inputs, text areas, selects, editable regions', () => {
    for (const t of ['INPUT', 'TEXTAREA', 'SELECT', 'input']) expect(isTypingTarget({ tagName: t })).toBe(true);
    expect(isTypingTarget({ tagName: 'DIV', isContentEditable: true })).toBe(true);
    expect(isSearchShortcut(key('/', { tagName: 'INPUT' }))).toBe(false);
    expect(isSearchShortcut(key('/', { tagName: 'DIV', isContentEditable: true }))).toBe(false);
  });
  it('is only the plain / key', () => {
    expect(isSearchShortcut(key('?', { tagName: 'BODY' }))).toBe(false);
    expect(isSearchShortcut(key('/', { tagName: 'BODY' }, { ctrlKey: true }))).toBe(false);
    expect(isSearchShortcut(key('/', { tagName: 'BODY' }, { metaKey: true }))).toBe(false);
    expect(isSearchShortcut(key('/', { tagName: 'BODY' }, { altKey: true }))).toBe(false);
  });
});
