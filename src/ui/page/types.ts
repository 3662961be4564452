/**
 * What the API answers, as the page reads it: the store's own types (the API's schemas are checked against
 * them in src/api/Api.ts), imported as types only, so nothing of the server reaches the page's bundle.
 */
export type { Activation } from "../../store/Activations.js"
export type { AnomalyRecord as Anomaly } from "../../store/Mirror.js"
export type { ResyncReport } from "../../store/ResyncReports.js"
export type { RefusedRecord, Row } from "../../store/Store.js"
export type { ChangeRow } from "../../store/Store.js"
