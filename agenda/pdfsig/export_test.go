package pdfsig

// ParseDate exposes parseDate to the external tests.
var ParseDate = parseDate
