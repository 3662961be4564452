/** Real zip files for the readers' tests (the writer the register simulator uses too). */
export { writeZip, type ZipFileEntry, zipBytes } from "../../src/ingest/ZipWrite.js"
