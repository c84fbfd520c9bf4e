//go:build !race

package drill_test

const raceDetector = false
