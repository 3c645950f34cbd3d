//go:build race

package zktest

// RaceEnabled is set when the test binary runs under the race detector:
// the Meerkat binary it starts is built with -race too.
const RaceEnabled = true
