// Fixture written for picf's lint tests: the same package, a different concern.
package uidmap
