//go:build race

package drill_test

// raceDetector: the race detector slows the real libraries about tenfold.
const raceDetector = true
