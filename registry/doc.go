// Package registry owns who and what takes part in Cầu's meetings: the
// levels of government, the bridge points in their hierarchy and their device
// credentials, people's accounts, scheduled meetings with their scope and
// invitation list, and the role table that says who may do what. It persists
// through storage and knows nothing of media, WebSockets or HTTP.
package registry
