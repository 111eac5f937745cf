// Package agenda owns the paperless agenda of a meeting: its draft items,
// the documents attached to them, published versions frozen as canonical
// JSON manifests linked in a hash chain, and the detached CMS signatures
// over those manifests (an official's uploaded .p7s or Cầu's organisation
// seal). It also sniffs uploaded files, makes file names safe, decides who
// may read an item's documents, and builds the verification bundle that lets
// anyone re-check a published agenda with openssl alone.
//
// It knows nothing of HTTP: package web turns its errors into JSON. Trust
// decisions about signatures belong to agenda/sigverify and agenda/pdfsig;
// this package only calls them and records their verdicts.
package agenda
