// Package pipeline is Meerkat's write path: the one goroutine that owns the
// engine's State. Event loops hand it Requests through a bounded queue; it
// takes everything queued as one batch, applies the batch in order, publishes
// one new immutable View, and returns each loop its completed requests in one
// call. It also owns what only the state's owner may decide: session ids,
// session expiry (a closeSession entry) and the sweep of empty containers and
// expired TTL nodes (deleteContainer entries).
//
// Readers never come here: they load the View (one atomic load) and answer
// from it. A request reaches its loop only after the View that holds its
// effect is published, and the View's Changes are linked before the View, so
// a loop that delivers the watch events of every version up to the one it
// reads from sends each event before any reply that shows its change.
//
// Goroutines: Submit, Offer and View are safe from any goroutine; Completer.Complete
// is called from the pipeline goroutine and must not block.
package pipeline
