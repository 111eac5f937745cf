// Package web owns Cầu's HTTP surface: the chi router, the REST API under
// /api/v1, health checks, the signaling WebSocket route and the embedded web
// app. Handlers stay plain http.Handlers; the package holds no media or
// meeting logic of its own.
package web
