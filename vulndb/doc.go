// Package vulndb keeps Customs' vulnerability advisories: it reads OSV
// records as published (an ecosystem's all.zip, a directory of JSON files,
// one JSON file, or the same layout over HTTP), imports them into a Store
// incrementally and in one transaction per source, and matches package
// inventories against them with each ecosystem's own version ordering
// (osv-scalibr's semantic package).
//
// It is not a store: persistence, the status of each ecosystem and the
// inventories to re-match belong to the Store implementations, which this
// package reaches only through the small interfaces it declares. It does not
// find packages in images either; the analyzers do.
//
// The record format is the OSV schema, https://ossf.github.io/osv-schema/.
package vulndb
