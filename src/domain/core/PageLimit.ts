/**
 * One rule for how many rows a caller may ask for, on HTTP (`limit=`) and on the command line
 * (`--limit`): a whole number from 1 on, and for an answer given as one page at most
 * `api.maxPageSize` (a streamed answer has no page to bound).
 */
export const pageLimitProblem = (name: string, limit: number, maxPageSize?: number): string | undefined =>
  Number.isSafeInteger(limit) && limit >= 1 && (maxPageSize === undefined || limit <= maxPageSize)
    ? undefined
    : maxPageSize === undefined
      ? `${name} must be a whole number of at least 1`
      : `${name} must be a whole number between 1 and ${maxPageSize}`
