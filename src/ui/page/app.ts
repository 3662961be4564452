/** The page's state: the URL's hash, read and written in one place. */
import { formatState, parseState, type UiState } from "../UiState.js"

export const current = (): UiState => parseState(location.hash)

/** Go to a new state: a new history entry (Back returns), or `replace` for small steps such as paging inputs. */
export const go = (change: Partial<UiState>, replace = false) => {
  const next = formatState({ ...current(), ...change })
  const url = `${location.pathname}${location.search}${next}`
  if (replace) history.replaceState(null, "", url)
  else history.pushState(null, "", url)
  window.dispatchEvent(new Event("skygge:state"))
}

/** A link to a state (so it opens in a new tab too). */
export const hrefOf = (change: Partial<UiState>): string => `${location.pathname}${formatState({ ...current(), ...change })}`
