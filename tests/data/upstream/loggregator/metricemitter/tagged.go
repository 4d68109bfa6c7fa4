// Fixture written for picf's tests.
package metricemitter

// Tagged carries the tags of a metric.
type Tagged struct {
	tags map[string]string
}
