package event

// DecodeSeeds are the fuzz seeds, for the tests of package event_test.
var DecodeSeeds = decodeSeeds
