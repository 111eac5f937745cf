// Package storage owns Cầu's persistence: the metadata database (SQLite,
// embedded by default, with numbered migrations) here, and the object store
// for documents and manifests in storage/objstore. It knows table layouts and
// transactions, not the rules of meetings or agendas: those live in the
// packages that call it.
package storage
