// Searching a check's failing items. The API pages them (`failingItems(first, after)`) but
// cannot filter them, so a search reads pages of 500 and filters here, up to a limit.
export interface ItemLike {
  resourceId: string;
  name?: string | null;
  reason: string;
}

export function matchesItem(item: ItemLike, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [item.resourceId, item.name ?? "", item.reason].some((field) => field.toLowerCase().includes(q));
}

export const SEARCH_PAGE = 500;
export const SEARCH_LIMIT = 5000;

export interface Page<T> {
  items: T[];
  endCursor: string | null;
  hasNextPage: boolean;
}

/** Read pages with `fetchPage` until done or `limit` items were read; the matches and how many were read. */
export async function searchPages<T extends ItemLike>(
  fetchPage: (after: string | null) => Promise<Page<T>>,
  query: string,
  limit = SEARCH_LIMIT,
): Promise<{ matches: T[]; read: number; complete: boolean }> {
  const matches: T[] = [];
  let read = 0;
  let after: string | null = null;
  for (;;) {
    const page = await fetchPage(after);
    read += page.items.length;
    matches.push(...page.items.filter((item) => matchesItem(item, query)));
    if (!page.hasNextPage || !page.endCursor) return { matches, read, complete: true };
    if (read >= limit) return { matches, read, complete: false };
    after = page.endCursor;
  }
}
